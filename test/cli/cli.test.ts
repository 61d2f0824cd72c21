import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/formats/numpy/index.js';
import { emptyGraph, runtimeInputs, type Graph } from '../../src/ir/graph.js';
import { loadModelFile } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { corpusPath } from '../support/corpus.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { cli } from '../support/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LENET = join(ROOT, 'examples/lenet');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-cli-'));

function maxTensorDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return maxAbsDiff(a.toNumbers(), b.toNumbers());
}

describe('nnport CLI', () => {
  it('prints usage and fails without a command, and names unknown commands', async () => {
    expect((await cli()).code).toBe(1);
    const r = await cli('frobnicate');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown command 'frobnicate'/);
    expect((await cli('run', '--help')).out).toMatch(/usage: nnport run/);
  });

  it('gives one clear line for missing files, random bytes and unknown options', async () => {
    let r = await cli('inspect', join(tmp, 'nope.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.onnx: no such file/);
    expect(r.err.split('\n')).toHaveLength(1);

    const junk = join(tmp, 'junk.bin');
    writeFileSync(junk, Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 251));
    r = await cli('inspect', junk);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/junk\.bin: not a model file nnport recognises/);
    expect(r.err.split('\n')).toHaveLength(1);

    r = await cli('inspect', junk, '--frobnicate');
    expect(r.err).toMatch(/unknown option --frobnicate/);
  });

  it('runs the shipped LeNet and matches PyTorch', async () => {
    const out = join(tmp, 'lenet-out.npy');
    const r = await cli('run', join(LENET, 'model.onnx'), '--input', join(LENET, 'input.npy'), '-o', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const got = readNpy(readFileSync(out));
    const want = readNpy(readFileSync(join(LENET, 'expected.npy')));
    expect(maxTensorDiff(got, want)).toBeLessThanOrEqual(1e-4);
  });

  it('dumps every intermediate tensor with an index', async () => {
    const dump = join(tmp, 'dump');
    const r = await cli('run', join(LENET, 'model.onnx'), '--input', join(LENET, 'input.npy'), '--dump', dump);
    expect(r.code).toBe(0);
    const index = JSON.parse(readFileSync(join(dump, 'index.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(index).length).toBeGreaterThan(3);
    for (const f of Object.values(index)) expect(existsSync(join(dump, f))).toBe(true);
    expect(readdirSync(dump).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a wrong input shape and a missing input by name', async () => {
    const bad = join(tmp, 'bad.npy');
    writeFileSync(bad, writeNpy(Tensor.float32([1, 1, 5, 5])));
    let r = await cli('run', join(LENET, 'model.onnx'), '--input', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.npy: input '.*' must have shape \[.*\], got \[1, 1, 5, 5\]/);
    r = await cli('run', join(LENET, 'model.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing --input for/);
  });

  it('inspects as text and JSON', async () => {
    const r = await cli('inspect', join(LENET, 'model.onnx'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ONNX model/);
    expect(r.out).toMatch(/Conv\s+2/);
    const j = JSON.parse((await cli('inspect', join(LENET, 'model.onnx'), '--json')).out);
    expect(j.format).toBe('onnx');
    expect(j.totalParameters).toBeGreaterThan(1000);
    expect(j.inputs).toHaveLength(1);
  });

  it('inspect shows the inferred dtype and shape of every value', async () => {
    const r = await cli('inspect', join(LENET, 'model.onnx'));
    expect(r.out).toMatch(/values \(inferred dtype and shape/);
    const j = JSON.parse((await cli('inspect', join(LENET, 'model.onnx'), '--json')).out);
    const values = j.values as Array<{ name: string; dtype: string; shape: Array<number | string | null>; op: string }>;
    const nodes = (await loadModelFile(join(LENET, 'model.onnx'))) as { kind: string; graph: Graph };
    const names = [...runtimeInputs(nodes.graph).map((v) => v.name), ...nodes.graph.nodes.flatMap((n) => n.outputs.filter(Boolean))];
    expect(values.map((v) => v.name)).toEqual(names);
    // LeNet-5 on 1x28x28: conv 5x5 pad 2 keeps 28, max pool halves, conv 5x5 gives 10, avg pool 5
    const byOp = (op: string) => values.filter((v) => v.op === op).map((v) => v.shape);
    expect(byOp('Conv')).toEqual([[1, 6, 28, 28], [1, 16, 10, 10]]);
    expect(byOp('MaxPool')).toEqual([[1, 6, 14, 14]]);
    expect(byOp('Flatten')).toEqual([[1, 400]]);
    expect(values[values.length - 1]).toEqual({ name: nodes.graph.outputs[0]!.name, dtype: 'float32', shape: [1, 10], op: 'Gemm' });
    expect(j.shapeNotes).toBeUndefined();
  });

  it('converts ONNX to ONNX, and refuses to overwrite its input', async () => {
    const src = join(LENET, 'model.onnx');
    const out = join(tmp, 'copy.onnx');
    expect((await cli('convert', src, '-o', out)).code).toBe(0);
    const o1 = join(tmp, 'a.npy');
    await cli('run', out, '--input', join(LENET, 'input.npy'), '-o', o1);
    const want = readNpy(readFileSync(join(LENET, 'expected.npy')));
    expect(maxTensorDiff(readNpy(readFileSync(o1)), want)).toBeLessThanOrEqual(1e-4);
    const before = readFileSync(src);
    const r = await cli('convert', src, '-o', src);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing to overwrite the input/);
    expect(readFileSync(src).equals(before)).toBe(true);
  });

  it('the installed bin exits 1 with one line on stderr', () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: ROOT, stdio: 'ignore' });
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nnport.js'), 'inspect', join(tmp, 'missing.onnx')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('compares a model with its conversion, per output and per layer', async () => {
    const src = join(LENET, 'model.onnx');
    const copy = join(tmp, 'cmp-copy.onnx');
    await cli('convert', src, '-o', copy);
    const r = await cli('compare', src, copy, '--input', join(LENET, 'input.npy'), '--layers', '--json', '--atol', '0');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.outputs).toHaveLength(1);
    expect(rep.outputs[0].maxAbs).toBe(0);
    expect(rep.layers.length).toBeGreaterThan(3);
  });

  it('compares an NCHW model with a .tflite that has no channels-last op left (a BatchNormalization as MUL + ADD) by its NHWC input', async () => {
    const dir = corpusPath('onnx/onnx-backend-batchnorm2d-eval');
    const tfl = join(tmp, 'bn.tflite');
    expect((await cli('convert', dir, '-o', tfl)).code).toBe(0);
    const x = join(tmp, 'bn-x.npy');
    writeFileSync(x, writeNpy(Tensor.float32([2, 3, 6, 6], Array.from({ length: 216 }, (_, i) => Math.cos(i)))));
    const r = await cli('compare', dir, tfl, '--input', x, '--json');
    expect(r.err).toBe('');
    const rep = JSON.parse(r.out);
    expect(rep.outputs[0].shape).toEqual([2, 6, 6, 3]);
    expect(rep.outputs[0].maxAbs).toBeLessThan(1e-5);
  });

  it('an op the runtime lacks is one line naming the model and the op', async () => {
    const g = emptyGraph('unsupported');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 2] });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, 2] });
    g.nodes.push({ name: 'lppool', opType: 'LpPool', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} });
    const model = join(tmp, 'lppool.onnx');
    writeFileSync(model, writeOnnx(g, {}));
    const x = join(tmp, 'x22.npy');
    writeFileSync(x, writeNpy(Tensor.float32([2, 2], [1, 2, 3, 4])));
    const r = await cli('run', model, '--input', x);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/lppool\.onnx: unsupported: op LpPool/);
    expect(r.err.split('\n')).toHaveLength(1);
  });
});
