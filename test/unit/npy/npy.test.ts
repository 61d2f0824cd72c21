import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../../src/formats/numpy/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';

const PY = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'nnport-npy-'));

function numpy(code: string): string {
  return execFileSync(PY, ['-c', `import numpy as np\n${code}`], { cwd: dir, encoding: 'utf8' });
}

describe('npy', () => {
  it('reads what NumPy writes, for every dtype, C and Fortran order, big-endian', () => {
    numpy(`
for name, dt in [('f4','<f4'),('f8','<f8'),('f2','<f2'),('i1','i1'),('u1','u1'),('i2','<i2'),('u2','<u2'),('i4','<i4'),('u4','<u4'),('i8','<i8'),('u8','<u8'),('b1','?'),('be','>f4')]:
    a = (np.arange(2*3*5) % 7 - 3).astype(dt).reshape(2,3,5)
    np.save(name + '.npy', a)
    np.save(name + '_F.npy', np.asfortranarray(a))
np.save('scalar.npy', np.float32(2.5))
np.save('empty.npy', np.zeros((0, 4), np.float32))
`);
    for (const name of ['f4', 'f8', 'f2', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'b1', 'be']) {
      const c = readNpy(readFileSync(join(dir, `${name}.npy`)), `${name}.npy`);
      const f = readNpy(readFileSync(join(dir, `${name}_F.npy`)), `${name}_F.npy`);
      expect(c.shape).toEqual([2, 3, 5]);
      expect(f.toNumbers()).toEqual(c.toNumbers());
      const want = Array.from({ length: 30 }, (_, i) => (i % 7) - 3);
      const got = c.toNumbers();
      if (name === 'b1') expect(got).toEqual(want.map((v) => (v ? 1 : 0)));
      else if (name.startsWith('u')) expect(got).toEqual(want.map((v) => Number(numpyUnsigned(v, name))));
      else expect(got).toEqual(want);
    }
    expect(readNpy(readFileSync(join(dir, 'scalar.npy'))).toNumbers()).toEqual([2.5]);
    expect(readNpy(readFileSync(join(dir, 'empty.npy'))).shape).toEqual([0, 4]);
  });

  it('writes files NumPy loads bit-exactly', () => {
    const t = Tensor.float32([2, 3], [1, -2.5, 3e-8, Infinity, -0, 6]);
    writeFileSync(join(dir, 'ours.npy'), writeNpy(t));
    writeFileSync(join(dir, 'ours64.npy'), writeNpy(Tensor.int64([3], [1, -2, 2 ** 40])));
    const out = numpy(`
a = np.load('ours.npy'); b = np.load('ours64.npy')
print(a.dtype, a.shape, a.tobytes().hex()); print(b.dtype, b.shape, b.tolist())`);
    const [l1, l2] = out.trim().split('\n');
    expect(l1).toBe(`float32 (2, 3) ${Buffer.from(t.bytes()).toString('hex')}`);
    expect(l2).toBe('int64 (3,) [1, -2, 1099511627776]');
  });

  it('rejects bad files with a FormatError naming the file', () => {
    expect(() => readNpy(new Uint8Array([1, 2, 3]), 'x.npy')).toThrow(FormatError);
    const good = writeNpy(Tensor.float32([4, 4]));
    expect(() => readNpy(good.subarray(0, good.length - 4), 'short.npy')).toThrow(/short\.npy.*needs 64/);
    const huge = new Uint8Array(good);
    const text = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }";
    for (let i = 0; i < text.length; i++) huge[10 + i] = text.charCodeAt(i);
    expect(() => readNpy(huge, 'huge.npy')).toThrow(FormatError);
  });

  /** `good` with its header dict replaced (same length, padded with spaces). */
  const withHeader = (dict: string): Uint8Array => {
    const good = writeNpy(Tensor.float32([4, 4]));
    const out = new Uint8Array(good);
    const len = new DataView(out.buffer).getUint16(8, true);
    const text = dict.padEnd(len - 1, ' ');
    for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
    return out;
  };

  it('a descr named like an Object.prototype property is unsupported, not a TypeError (found by fuzzing)', () => {
    for (const descr of ['constructor', '<__proto__', '|toString']) {
      const bytes = withHeader(`{'descr': '${descr}', 'fortran_order': False, 'shape': (4, 4), }`);
      expect(() => readNpy(bytes, 'proto.npy')).toThrow(UnsupportedError);
      expect(() => readNpy(bytes, 'proto.npy')).toThrow(/proto\.npy/);
    }
  });

  it('a dimension beyond 2^53 is a FormatError even when the array is empty (found by fuzzing)', () => {
    const bytes = withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 99999999999999999999), }");
    expect(() => readNpy(bytes, 'dims.npy')).toThrow(/dims\.npy.*bad dimension '99999999999999999999'/);
  });
});

function numpyUnsigned(v: number, name: string): number | bigint {
  if (v >= 0) return v;
  const bits = { u1: 8, u2: 16, u4: 32, u8: 64 }[name]!;
  return bits === 64 ? Number(2n ** 64n + BigInt(v)) : 2 ** bits + v;
}
