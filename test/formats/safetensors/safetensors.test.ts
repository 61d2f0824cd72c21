import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readNpz, writeNpz } from '../../../src/formats/numpy/index.js';
import { readPytorch } from '../../../src/formats/pytorch/index.js';
import { detectFormat } from '../../../src/formats/registry.js';
import { readSafetensors, writeSafetensors } from '../../../src/formats/safetensors/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { CACHE, ensureCache, FIXTURES, havePythonTorch, PY } from '../pytorch/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'nnport-st-'));

/** An independent safetensors parser, straight from the spec (not src/formats/safetensors). */
function parseSpec(bytes: Uint8Array): Map<string, { dtype: string; shape: number[]; data: Uint8Array }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { dtype: string; shape: number[]; data: Uint8Array }>();
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    out.set(k, { dtype: v.dtype, shape: v.shape, data: bytes.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) });
  }
  return out;
}

const SPEC_DTYPE: Record<string, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int8: 'I8', uint8: 'U8', int16: 'I16', int32: 'I32', int64: 'I64', bool: 'BOOL' };

// torch.load is fine here: these are our own trusted fixtures, and it is the reference.
const VERIFY = `
import sys, json, numpy as np, torch
pt, npz, st = sys.argv[1:4]
obj = torch.load(pt, map_location='cpu')
def flat(o, p=''):
    if isinstance(o, torch.Tensor): return [(p or 'tensor', o)]
    out = []
    if isinstance(o, dict):
        for k, v in o.items(): out += flat(v, f'{p}.{k}' if p else str(k))
    elif isinstance(o, (list, tuple)):
        for i, v in enumerate(o): out += flat(v, f'{p}.{i}' if p else str(i))
    return out
tensors = flat(obj)
z = np.load(npz, allow_pickle=False)
assert sorted(z.files) == sorted(n for n, _ in tensors), (z.files, [n for n, _ in tensors])
for n, t in tensors:
    a = z[n]
    ref = (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()
    assert a.dtype == ref.dtype and a.shape == ref.shape and a.tobytes() == ref.tobytes(), n
raw = open(st, 'rb').read()
hn = int.from_bytes(raw[:8], 'little')
header = json.loads(raw[8:8 + hn])
data = raw[8 + hn:]
TD = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I8': torch.int8, 'U8': torch.uint8,
      'I16': torch.int16, 'I32': torch.int32, 'I64': torch.int64, 'BOOL': torch.bool}
assert sorted(k for k in header if k != '__metadata__') == sorted(n for n, _ in tensors)
for n, t in tensors:
    h = header[n]
    b, e = h['data_offsets']
    buf = bytearray(data[b:e])
    got = torch.frombuffer(buf, dtype=TD[h['dtype']]).reshape(h['shape']) if e > b else torch.zeros(h['shape'], dtype=TD[h['dtype']])
    assert got.dtype == t.dtype and list(got.shape) == list(t.shape) and torch.equal(got, t), n
print('OK', len(tensors))
`;

function checkWithPyTorch(pt: string): void {
  const m = readPytorch(new Uint8Array(readFileSync(pt)), { fileName: pt, key: '' });
  const npz = join(dir, 'out.npz');
  const st = join(dir, 'out.safetensors');
  writeFileSync(npz, writeNpz(m.tensors));
  writeFileSync(st, writeSafetensors(m.tensors));
  const out = execFileSync(PY, ['-c', VERIFY, pt, npz, st], { encoding: 'utf8' });
  expect(out.trim()).toBe(`OK ${m.tensors.size}`);
}

describe('weights out without pickles: .safetensors and .npz', () => {
  for (const c of ['dtypes', 'views', 'nested']) {
    it(`${c}: NumPy (np.load) and a spec-level safetensors reader in Python see PyTorch's tensors`, (ctx) => {
      if (!havePythonTorch()) return ctx.skip();
      checkWithPyTorch(join(FIXTURES, `${c}.zip.pt`));
    });
  }

  it('resnet18: the same, for a real architecture', (ctx) => {
    if (!ensureCache('models', 'resnet18.zip.pt')) return ctx.skip();
    checkWithPyTorch(join(CACHE, 'resnet18.zip.pt'));
  });

  it('safetensors written by nnport parse per the spec, aligned, and read back as views', () => {
    const m = readPytorch(new Uint8Array(readFileSync(join(FIXTURES, 'dtypes.zip.pt'))));
    const bytes = writeSafetensors(m.tensors, { source: 'test' });
    const hn = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(hn % 8).toBe(0);
    const spec = parseSpec(bytes);
    expect(spec.size).toBe(m.tensors.size);
    for (const [name, t] of m.tensors) {
      const s = spec.get(name)!;
      expect(s.dtype).toBe(SPEC_DTYPE[t.dtype]);
      expect(s.shape).toEqual([...t.shape]);
      expect(Buffer.from(s.data).equals(Buffer.from(t.bytes()))).toBe(true);
      expect((s.data.byteOffset - 8 - hn) % Math.max(1, t.byteLength ? t.bytes().BYTES_PER_ELEMENT : 1)).toBe(0);
    }
    const back = readSafetensors(bytes, 'x.safetensors');
    expect(back.metadata).toEqual({ source: 'test' });
    for (const [name, t] of m.tensors) expect(Buffer.from(back.tensors.get(name)!.bytes()).equals(Buffer.from(t.bytes()))).toBe(true);
    registerAllFormats();
    expect(detectFormat(bytes, 'w.bin').id).toBe('safetensors');
  });

  it('npz round trip (bfloat16 widened to float32) and detection', () => {
    const t = new Map<string, Tensor>([
      ['a.weight', Tensor.float32([2, 2], [1, 2, 3, 4])],
      ['b', new Tensor('bfloat16', [2], new Uint16Array([0x3fc0, 0xc020]))],
    ]);
    const bytes = writeNpz(t);
    const back = readNpz(bytes);
    expect(back.get('a.weight')!.toNumbers()).toEqual([1, 2, 3, 4]);
    expect(back.get('b')!.dtype).toBe('float32');
    expect(back.get('b')!.toNumbers()).toEqual([1.5, -2.5]);
    registerAllFormats();
    expect(detectFormat(bytes, 'w.zip').id).toBe('npz');
  });

  it('reads an .npz NumPy wrote, compressed or not', (ctx) => {
    if (!havePythonTorch()) return ctx.skip();
    execFileSync(PY, ['-c', `import numpy as np\nnp.savez('${dir}/s.npz', x=np.arange(6, dtype=np.float32).reshape(2,3), y=np.array([True, False]))\nnp.savez_compressed('${dir}/c.npz', x=np.arange(1000, dtype=np.int64))`]);
    const s = readNpz(new Uint8Array(readFileSync(join(dir, 's.npz'))));
    expect(s.get('x')!.toNumbers()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.get('y')!.dtype).toBe('bool');
    const c = readNpz(new Uint8Array(readFileSync(join(dir, 'c.npz'))));
    expect(c.get('x')!.toNumbers()[999]).toBe(999);
  });
});

describe('safetensors reader refuses bad files', () => {
  const make = (header: object, dataLen: number): Uint8Array => {
    const h = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + dataLen);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    return out;
  };
  it('offsets outside the data, overlaps, holes, size mismatch, huge header claim, unknown dtypes', () => {
    expect(() => readSafetensors(make({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), 'x')).toThrow(/outside the 8-byte data/);
    expect(() => readSafetensors(make({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), 'x')).toThrow(/overlaps/);
    expect(() => readSafetensors(make({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'x')).toThrow(/hole/);
    expect(() => readSafetensors(make({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 'x')).toThrow(/8 bytes for 3 float32 elements/);
    expect(() => readSafetensors(make({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), 'x')).toThrow(UnsupportedError);
    const huge = make({}, 0);
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    expect(() => readSafetensors(huge, 'x')).toThrow(FormatError);
    expect(() => readSafetensors(make({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0), 'x')).toThrow(/bad shape/);
  });

  it('a dtype named like an Object.prototype property is unsupported, not a TypeError (found by fuzzing)', () => {
    for (const dtype of ['constructor', '__proto__', 'toString']) {
      expect(() => readSafetensors(make({ a: { dtype, shape: [1], data_offsets: [0, 4] } }, 4), 'proto.safetensors')).toThrow(UnsupportedError);
      expect(() => readSafetensors(make({ a: { dtype, shape: [1], data_offsets: [0, 4] } }, 4), 'proto.safetensors')).toThrow(/proto\.safetensors/);
    }
  });
});
