// Tiny files that claim huge work: each is generated here, given to the real CLI (spawned, so
// its memory can be measured), and must be refused with a typed one-line error, quickly and in
// bounded memory. The bounds are generous (the machine may be busy): a bomb that got through
// would take tens of seconds and gigabytes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32, deflateRawSync, constants as zc } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { writeSafetensors } from '../../src/formats/safetensors/index.js';
import { emptyGraph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { writeZip } from '../../src/io/zip.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-bombs-'));
const MAX_SECONDS = 15;
const MAX_RSS_KB = 500 * 1024;

interface Outcome {
  code: number | null;
  stderr: string;
  seconds: number;
  rssKb: number;
}

/** Run the built CLI under /usr/bin/time: exit code, stderr, wall seconds, peak RSS. */
function nnport(...args: string[]): Outcome {
  const timing = join(tmp, `time-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timing, process.execPath, join(ROOT, 'bin/nnport.js'), ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  const [seconds, rss] = readFileSync(timing, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { code: r.status, stderr: r.stderr.trim(), seconds: seconds!, rssKb: rss! };
}

function expectRefused(o: Outcome, message: RegExp): void {
  expect(o.code, o.stderr).toBe(1);
  expect(o.stderr).toMatch(message);
  expect(o.stderr.split('\n')).toHaveLength(1);
  expect(o.stderr).not.toMatch(/internal error/);
  expect(o.seconds, o.stderr).toBeLessThan(MAX_SECONDS);
  expect(o.rssKb, o.stderr).toBeLessThan(MAX_RSS_KB);
}

/** A one-node model: x [1] is fed; the node's other inputs are initializers. */
function opModel(name: string, node: Omit<Node, 'name' | 'domain' | 'outputs' | 'attrs'> & { attrs?: Node['attrs'] }, inits: Record<string, Tensor>): string {
  const g = emptyGraph(name);
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.outputs.push({ name: 'y', dtype: 'float32' });
  for (const [k, t] of Object.entries(inits)) g.initializers.set(k, t);
  g.nodes.push({ name, domain: '', outputs: ['y'], attrs: {}, ...node });
  const p = join(tmp, `${name}.onnx`);
  writeFileSync(p, writeOnnx(g));
  return p;
}

const x = join(tmp, 'x.npy');
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: ROOT, stdio: 'ignore' });
  writeFileSync(x, writeNpy(Tensor.float32([1], [1])));
});

describe('runtime ops whose output size comes from data are checked before allocating', () => {
  const cases: Array<[string, () => string]> = [
    ['Expand', () => opModel('expand', { opType: 'Expand', inputs: ['x', 's'] }, { s: Tensor.int64([2], [50_000, 50_000]) })],
    ['Tile', () => opModel('tile', { opType: 'Tile', inputs: ['x', 'r'] }, { r: Tensor.int64([1], [2_000_000_000]) })],
    ['Range', () => opModel('range', { opType: 'Range', inputs: ['a', 'b', 'c'] }, { a: Tensor.float32([], [0]), b: Tensor.float32([], [1e12]), c: Tensor.float32([], [1]) })],
    ['ConstantOfShape', () => opModel('cos', { opType: 'ConstantOfShape', inputs: ['s'] }, { s: Tensor.int64([3], [4000, 4000, 4000]) })],
    ['Pad', () => opModel('pad', { opType: 'Pad', inputs: ['x', 'p'] }, { p: Tensor.int64([2], [0, 2_000_000_000]) })],
    ['OneHot', () => opModel('onehot', { opType: 'OneHot', inputs: ['i', 'd', 'v'] }, { i: Tensor.int64([1000], new Array(1000).fill(1)), d: Tensor.int64([], [10_000_000]), v: Tensor.float32([2], [0, 1]) })],
    ['Resize', () => opModel('resize', { opType: 'Resize', inputs: ['x4', '', 'sc'] }, { x4: Tensor.float32([1, 1, 1, 1], [1]), sc: Tensor.float32([4], [1, 1, 30_000, 30_000]) })],
  ];
  for (const [op, make] of cases) {
    it(`${op}: a ResourceError naming the node and --max-memory`, () => {
      const o = nnport('run', make(), '--input', x);
      expectRefused(o, new RegExp(`node '.*' \\(${op}\\).*over the limit of .*raise it with --max-memory`));
    });
  }

  it('--max-memory lowers (and raises) the limit', () => {
    const m = opModel('expand-small', { opType: 'Expand', inputs: ['x', 's'] }, { s: Tensor.int64([1], [1 << 20]) });
    expect(nnport('run', m, '--input', x).code).toBe(0);
    expectRefused(nnport('run', m, '--input', x, '--max-memory', '1M'), /4\.00 MiB .*over the limit of 1\.00 MiB/);
    expectRefused(nnport('run', m, '--input', x, '--max-memory', 'lots'), /--max-memory needs a size/);
  });
});

describe('readers bound what a small file can make them allocate', () => {
  it('an npz whose honest deflate inflates 512 KiB into 512 MiB', () => {
    // 32 independent full-flush deflate chunks of 16 MiB (the first starts with the .npy header)
    const chunk = 16 << 20;
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${(32 * chunk - 128) / 4},), }`;
    const header = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, 118, 0]), Buffer.from(dict.padEnd(117) + '\n')]);
    expect(header.length).toBe(128);
    const first = Buffer.concat([Buffer.from(header), Buffer.alloc(chunk - 128)]);
    const zeros = Buffer.alloc(chunk);
    const defl = (b: Buffer) => deflateRawSync(b, { level: 9, finishFlush: zc.Z_FULL_FLUSH });
    const body = Buffer.concat([defl(first), ...Array.from({ length: 31 }, () => defl(zeros)), Buffer.from([0x03, 0x00])]);
    let crc = crc32(first);
    for (let i = 0; i < 31; i++) crc = crc32(zeros, crc);
    // a stored zip of the compressed bytes, then its fields patched to say "deflated, 512 MiB"
    const zip = Buffer.from(writeZip([{ name: 'w.npy', data: body }]));
    const patch = (at: number, method: number, crcAt: number) => {
      zip.writeUInt16LE(method, at);
      zip.writeUInt32LE(crc >>> 0, crcAt);
    };
    patch(8, 8, 14);
    zip.writeUInt32LE(32 * chunk, 22);
    const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    patch(cd + 10, 8, cd + 16);
    zip.writeUInt32LE(32 * chunk, cd + 24);
    const npz = join(tmp, 'bomb.npz');
    writeFileSync(npz, zip);
    expectRefused(nnport('inspect', npz), /bomb\.npz: inflating zip entry 'w\.npy'.*512\.0 MiB.*over the limit of 256\.0 MiB.*--max-memory/);
  });

  it('a .pth of stride-0 views that would expand 4 KB into gigabytes', () => {
    const pth = join(tmp, 'expanded.pth');
    execFileSync('/usr/bin/python3', ['-c', `import torch; torch.save({f"w{i}": torch.zeros(1).expand(64 << 20) for i in range(24)}, ${JSON.stringify(pth)})`]);
    const o = nnport('inspect', pth);
    expectRefused(o, /expanded\.pth: tensor 'w\d+' \[67108864\] gathered from a strided view .*over the limit of 256\.0 MiB/);
  });

  it('a 10 MB pickle of ten million opcodes', () => {
    const ops = new Uint8Array(10 << 20).fill(0x4e); // NONE
    const data = new Uint8Array(ops.length + 3);
    data.set([0x80, 2]);
    data.set(ops, 2);
    data[data.length - 1] = 0x2e;
    const pt = join(tmp, 'ops.pt');
    writeFileSync(pt, writeZip([{ name: 'archive/data.pkl', data }, { name: 'archive/version', data: new TextEncoder().encode('3\n') }]));
    expectRefused(nnport('inspect', pt), /ops\.pt: data\.pkl: the number of opcodes .* over the limit of \d+/);
  });

  it('an ONNX initializer of rank one million', () => {
    const g = emptyGraph('rank');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
    g.outputs.push({ name: 'x', dtype: 'float32', shape: [1] });
    const model = writeOnnx(g);
    // append an initializer TensorProto (graph field 5) with a million dims of 1
    const dims = new Uint8Array(1_000_000).fill(1);
    const tensor = Buffer.concat([Buffer.from([0x0a]), varint(dims.length), Buffer.from(dims), Buffer.from([0x10, 0x01, 0x42, 0x01, 0x77])]);
    const init = Buffer.concat([Buffer.from([0x2a]), varint(tensor.length), tensor]);
    const p = join(tmp, 'rank.onnx');
    writeFileSync(p, Buffer.concat([Buffer.from(model), Buffer.from([0x3a]), varint(init.length), init]));
    expectRefused(nnport('inspect', p), /rank.*is 1000000, over the limit of 64/);
  });

  it('a safetensors file of 150k tensors is listed, not a stack overflow', () => {
    const m = new Map<string, Tensor>();
    for (let i = 0; i < 150_000; i++) m.set(`t${i}`, new Tensor('float32', [1], Float32Array.of(i)));
    const p = join(tmp, 'many.safetensors');
    writeFileSync(p, writeSafetensors(m));
    const o = nnport('inspect', p);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stderr).toBe('');
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
