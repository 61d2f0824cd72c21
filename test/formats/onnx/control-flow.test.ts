// ONNX exported from torch.jit.script modules with Python control flow (scripts/fixtures/
// onnx_control_flow.py, made into .fixtures-cache/control-flow/): a `for` loop over the time dim
// (a Loop whose body reads the main graph's weights and input by name) and an `if` on the data
// (an If), run by nnport's runtime and compared with PyTorch's outputs and with onnxruntime-node,
// for inputs taking either branch and of two sequence lengths. Converted: with the time dim fixed
// the Loop unrolls and the If on the shape inlines (src/passes/inline-control-flow.ts), so the
// .tflite runs in the real TFLite interpreter and the .pb in the NumPy GraphDef runner against
// PyTorch; the .onnx keeps its subgraphs and runs in onnxruntime-node; control flow that stays (an
// If on the data, a trip count from an open dim) is refused by name for every other format.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { runOrt } from './ort-helpers.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/control-flow');
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('onnx_control_flow.py', 'control-flow', ['branch_loop', 'loop_rnn']);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, net, f))), f);
const model = (net: string): Uint8Array => new Uint8Array(readFileSync(join(CACHE, net, 'model.onnx')));

async function compare(net: string, graph: Graph, input: string): Promise<{ torch: number; ort: number; y: Tensor }> {
  const x = npy(net, `input${input}.npy`);
  const want = npy(net, `output${input}.npy`);
  const y = (await runGraph(graph, { x })).outputs.get('y')!;
  const ort = (await runOrt(model(net), { x })).y!;
  expect(y.shape).toEqual(want.shape);
  expect(ort.dims).toEqual(want.shape);
  const ortY = new Float32Array((ort.bytes as Uint8Array).slice().buffer);
  return { torch: maxAbsDiff(y.toFloat32(), want.toFloat32()), ort: maxAbsDiff(y.toFloat32(), ortY), y };
}

describe('ONNX If and Loop from torch.jit.script (PyTorch and onnxruntime-node)', () => {
  it('branch_loop: a recurrence as a Loop over the time dim, then an If on x.sum() > 0, both branches and two lengths', async () => {
    const graph = await readOnnx(model('branch_loop'), { fileName: 'branch_loop.onnx' });
    expect(graph.nodes.map((n) => n.opType)).toEqual(expect.arrayContaining(['Loop', 'If']));
    const outs: Tensor[] = [];
    for (const input of ['_pos', '_neg', '_long']) {
      const { torch, ort, y } = await compare('branch_loop', graph, input);
      expect(torch, input).toBeLessThan(1e-5);
      expect(ort, input).toBeLessThan(1e-5);
      outs.push(y);
    }
    // the two branches: out(h) and 2 * out(-h), far apart
    expect(maxAbsDiff(outs[0]!.toFloat32(), outs[1]!.toFloat32())).toBeGreaterThan(0.1);
  });

  it('loop_rnn: two carried values, and an If on the time dim', async () => {
    const graph = await readOnnx(model('loop_rnn'), { fileName: 'loop_rnn.onnx' });
    const { torch, ort } = await compare('loop_rnn', graph, '');
    expect(torch).toBeLessThan(1e-5);
    expect(ort).toBeLessThan(1e-5);
  });

  it('shape inference through the Loop and the If: y is [batch, 3]', async () => {
    const graph = await readOnnx(model('branch_loop'), { fileName: 'branch_loop.onnx' });
    expect(inferShapes(graph).values.get('y')).toMatchObject({ dtype: 'float32', shape: ['batch', 3] });
  });
});

describe('control flow converted (the TFLite interpreter, the NumPy GraphDef runner, onnxruntime-node vs PyTorch)', () => {
  it('loop_rnn with the time dim fixed: the Loop unrolled and the If inlined; .tflite and .pb match PyTorch', async () => {
    const model = await loadModel(new Uint8Array(readFileSync(join(CACHE, 'loop_rnn', 'model.onnx'))), { fileName: 'loop_rnn.onnx', inputShapes: { x: [1, 6, 4] } });
    const x = npy('loop_rnn', 'input.npy');
    const want = npy('loop_rnn', 'output.npy');
    const tfl = await convert(model, 'loop_rnn.tflite');
    expect(tfl.notes).toEqual(expect.arrayContaining([expect.stringMatching(/Loop '.*' unrolled: 6 iterations/), expect.stringMatching(/1 If with a constant condition inlined/)]));
    const ops = tfliteOpNames(tfl.bytes, 'loop_rnn');
    expect(ops.filter((o) => o === 'TANH')).toHaveLength(6);
    const [y] = await oracle.run(tfl.bytes, [x.toFloat32()]);
    expect(y!.shape).toEqual(want.shape);
    const err = maxAbsDiff(y!.data as Float32Array, want.toFloat32());
    console.log(`loop_rnn .tflite vs PyTorch: max abs ${err.toExponential(2)} (${ops.length} ops)`);
    expect(err).toBeLessThan(1e-5);
    const pb = await convert(model, 'loop_rnn.pb');
    const fromPb = pythonRun('numpy', 'control-flow-loop_rnn', pb.bytes, x, ['y']).get('y')!;
    const errPb = maxAbsDiff(fromPb.toFloat32(), want.toFloat32());
    console.log(`loop_rnn .pb (NumPy runner) vs PyTorch: max abs ${errPb.toExponential(2)}`);
    expect(errPb).toBeLessThan(1e-5);
  });

  it('branch_loop written as .onnx keeps If and Loop: onnxruntime-node runs it as PyTorch does, both branches', async () => {
    const model = await loadModel(new Uint8Array(readFileSync(join(CACHE, 'branch_loop', 'model.onnx'))), { fileName: 'branch_loop.onnx' });
    const written = await convert(model, 'branch_loop.onnx');
    const back = await readOnnx(written.bytes, { fileName: 'branch_loop.onnx' });
    expect(back.nodes.map((n) => n.opType)).toEqual(expect.arrayContaining(['Loop', 'If']));
    for (const input of ['_pos', '_neg', '_long']) {
      const want = npy('branch_loop', `output${input}.npy`);
      const ort = (await runOrt(written.bytes, { x: npy('branch_loop', `input${input}.npy`) })).y!;
      expect(ort.dims).toEqual(want.shape);
      expect(maxAbsDiff(new Float32Array((ort.bytes as Uint8Array).slice().buffer), want.toFloat32()), input).toBeLessThan(1e-5);
    }
  });

  it('control flow that stays is refused by name for every format without it (the .tflite, .pb and TF.js graph writers keep it: test/formats/tflite/control-flow-write.test.ts, test/formats/tensorflow/write-control-flow.test.ts)', async () => {
    // an If on the data (branch_loop), a Loop over an open dim (loop_rnn without --input-shape)
    const branch = await loadModel(new Uint8Array(readFileSync(join(CACHE, 'branch_loop', 'model.onnx'))), { fileName: 'branch_loop.onnx', inputShapes: { x: [2, 5, 4] } });
    const open = await loadModel(new Uint8Array(readFileSync(join(CACHE, 'loop_rnn', 'model.onnx'))), { fileName: 'loop_rnn.onnx' });
    for (const out of ['m.h5', 'm.keras', 'm.json']) {
      await expect(convert(branch, out), out).rejects.toThrow(/unsupported: If \(control flow\).*node '\/If' \(If\) stays: its condition is computed from the data/);
      await expect(convert(open, out), out).rejects.toThrow(/unsupported: Loop, If \(control flow\).*its trip count is not a constant \(fix the input shapes/);
    }
  });
});
