// A GraphDef over protobuf's 2 GiB limit through every CLI command that reads a .pb: the CLI
// must read it by positioned reads (readGraphDefPath -> readGraphDefFile), never whole. The file
// is y = Relu(x·W + b) (W a 2 MiB Const, so even the live weights are read from the file by
// position) plus a dead 2 GiB + 64 KiB Const between the live nodes whose tensor_content is a
// hole made by writing past it (a sparse file: a few MiB on disk). OpenCV dnn runs the same
// graph without the dead node (OpenCV cannot read a protobuf over 2 GiB): that is the oracle.
// Each command runs as the real CLI under /usr/bin/time: reading the file whole would take over
// 2 GiB of RSS (the hole is read as zeros), the positioned reads take a few hundred MB.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../src/formats/generated/tensorflow.js';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { rng } from '../support/rng.js';
import { maxAbsDiff, npyTensor } from '../formats/tensorflow/helpers.js';
import { pythonRun } from '../formats/tensorflow/python-runs.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-graphdef-large-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const IN = 1024;
const OUT = 512;
/** float32 elements of the dead Const: 2 GiB + 64 KiB of tensor_content */
const DEAD = 2 ** 29 + 2 ** 14;
/** peak RSS a command may take: reading the file whole would need more than 2 GiB */
const MAX_RSS_KB = 1024 * 1024;

function varint(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const F = { type: 1 };
/** GraphDef field 1 (node) holding this NodeDef */
const nodeField = (n: tensorflow.NodeDef.$Properties): Uint8Array => {
  const b = tensorflow.NodeDef.encode(n).finish();
  return cat(varint(0x0a), varint(b.length), b);
};
const constNode = (name: string, shape: number[], data: Float32Array): Uint8Array =>
  nodeField({ name, op: 'Const', attr: { dtype: F, value: { tensor: { dtype: 1, tensor_shape: { dim: shape.map((size) => ({ size })) }, tensor_content: new Uint8Array(data.buffer) } } } });

/** The head of the dead Const's node, up to where its tensor_content's DEAD * 4 bytes begin. */
function deadConstHead(): Uint8Array {
  const head = tensorflow.NodeDef.encode({ name: 'unused/big_table', op: 'Const', attr: { dtype: F } }).finish();
  const proto = cat(tensorflow.TensorProto.encode({ dtype: 1, tensor_shape: { dim: [{ size: DEAD }] } }).finish(), varint(0x22), varint(DEAD * 4));
  const tensorLen = proto.length + DEAD * 4;
  const attrValue = cat(varint(0x42), varint(tensorLen));
  const entry = cat(varint(0x0a), varint(5), new TextEncoder().encode('value'), varint(0x12), varint(attrValue.length + tensorLen));
  const entryLen = entry.length + attrValue.length + tensorLen;
  const attrField = cat(varint(0x2a), varint(entryLen));
  const nodeLen = head.length + attrField.length + entryLen;
  return cat(varint(0x0a), varint(nodeLen), head, attrField, entry, attrValue, proto);
}

const r = rng(2026);
const W = Float32Array.from({ length: IN * OUT }, () => (r() - 0.5) / 16);
const b = Float32Array.from({ length: OUT }, () => r() - 0.5);
const x = Tensor.float32([1, IN], Float32Array.from({ length: IN }, () => r() * 2 - 1));
const zeroBefore = [
  nodeField({ name: 'x', op: 'Placeholder', attr: { dtype: F, shape: { shape: { dim: [{ size: 1 }, { size: IN }] } } } }),
  constNode('dense/kernel', [IN, OUT], new Float32Array(IN * OUT)),
];
const before = [
  nodeField({ name: 'x', op: 'Placeholder', attr: { dtype: F, shape: { shape: { dim: [{ size: 1 }, { size: IN }] } } } }),
  constNode('dense/kernel', [IN, OUT], W),
];
const tail = (bias: Float32Array): Uint8Array[] => [
  constNode('dense/bias', [OUT], bias),
  nodeField({ name: 'dense/MatMul', op: 'MatMul', input: ['x', 'dense/kernel'], attr: { T: F, transpose_a: { b: false }, transpose_b: { b: false } } }),
  nodeField({ name: 'dense/BiasAdd', op: 'BiasAdd', input: ['dense/MatMul', 'dense/bias'], attr: { T: F } }),
  nodeField({ name: 'y', op: 'Relu', input: ['dense/BiasAdd'], attr: { T: F } }),
];
const after = tail(b);

const big = join(tmp, 'big.pb');
const small = join(tmp, 'small.pb');
/** the same graph with zero weights: a transplant target */
const zeroed = join(tmp, 'zeroed.pb');
const xNpy = join(tmp, 'x.npy');
let want: Tensor;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: ROOT, stdio: 'ignore' });
  const smallBytes = cat(...before, ...after);
  writeFileSync(small, smallBytes);
  writeFileSync(zeroed, cat(...zeroBefore, ...tail(new Float32Array(OUT))));
  writeFileSync(xNpy, writeNpy(x));
  // big.pb: the live nodes with the dead Const between them; its tensor_content is left a hole
  const fd = openSync(big, 'w');
  let at = 0;
  for (const part of [...before, deadConstHead()]) at += writeSync(fd, part, 0, part.length, at);
  at += DEAD * 4;
  for (const part of after) at += writeSync(fd, part, 0, part.length, at);
  closeSync(fd);
  want = pythonRun('opencv', 'cli-graphdef-large', smallBytes, x, ['y']).get('y')!;
}, 120_000);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  rssKb: number;
}

/** The built CLI under /usr/bin/time: exit code, output and peak RSS. */
function nnport(...args: string[]): Outcome {
  const timing = join(tmp, `time-${Math.random().toString(36).slice(2)}.txt`);
  const o = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timing, process.execPath, join(ROOT, 'bin/nnport.js'), ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 });
  const rssKb = Number(readFileSync(timing, 'utf8').trim().split('\n').pop());
  return { code: o.status, stdout: o.stdout, stderr: o.stderr.trim(), rssKb };
}

function expectOk(o: Outcome): void {
  expect(o.stderr).toBe('');
  expect(o.code).toBe(0);
  expect(o.rssKb, `peak RSS ${(o.rssKb / 1024).toFixed(0)} MB`).toBeLessThan(MAX_RSS_KB);
}

describe('CLI on a GraphDef over 2 GiB (read by positioned reads, never whole)', () => {
  it('the file is over the limit and sparse', () => {
    const st = statSync(big);
    expect(st.size).toBeGreaterThan(2 ** 31);
    // a file system without holes would hold the 2 GiB; the test then still holds, only costs disk
    expect(st.size).toBe(readFileSync(small).length + deadConstHead().length + DEAD * 4);
  });

  it('run: y equals OpenCV dnn on the graph without the dead node', { timeout: 120_000 }, () => {
    const out = join(tmp, 'y.npy');
    expectOk(nnport('run', big, '--input', xNpy, '-o', out));
    const y = npyTensor(out);
    expect(y.shape).toEqual([1, OUT]);
    expect(maxAbsDiff(y.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });

  it('convert to .pb: OpenCV dnn runs the written graph to the same output', { timeout: 120_000 }, () => {
    const out = join(tmp, 'out.pb');
    expectOk(nnport('convert', big, '-o', out));
    const pb = new Uint8Array(readFileSync(out));
    expect(pb.length).toBeLessThan(4 * IN * OUT + 65536);
    const got = pythonRun('opencv', 'cli-graphdef-large-converted', pb, x, ['y']).get('y')!;
    expect(maxAbsDiff(got.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });

  it('transplant: its weights into the zeroed graph; OpenCV dnn runs the result to the same output', { timeout: 120_000 }, () => {
    const out = join(tmp, 'transplanted.pb');
    const o = nnport('transplant', big, '--into', zeroed, '-o', out);
    expectOk(o);
    expect(o.stdout).toMatch(/matched 2, skipped 0, unmatched source 0, unmatched target 0/);
    const got = pythonRun('opencv', 'cli-graphdef-large-transplanted', new Uint8Array(readFileSync(out)), x, ['y']).get('y')!;
    expect(maxAbsDiff(got.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });

  it('inspect: lists the dead 2 GiB Const without reading it', { timeout: 120_000 }, () => {
    const o = nnport('inspect', big);
    expectOk(o);
    expect(o.stdout).toMatch(/unused\/big_table\s.*Const/);
    expect(o.stdout).toContain(String(DEAD));
    expect(o.stdout).toMatch(/dense\/kernel/);
  });

  it('compare: the large file against the small one, equal outputs', { timeout: 120_000 }, () => {
    const o = nnport('compare', big, small, '--input', xNpy);
    expectOk(o);
    const maxAbs = /y \[1, 512\]: max abs (\S+)/.exec(o.stdout);
    expect(maxAbs, o.stdout).not.toBeNull();
    expect(Number(maxAbs![1])).toBe(0);
  });
});
