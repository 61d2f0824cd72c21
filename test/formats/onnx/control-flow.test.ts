// ONNX exported from torch.jit.script modules with Python control flow (scripts/fixtures/
// onnx_control_flow.py, made into .fixtures-cache/control-flow/): a `for` loop over the time dim
// (a Loop whose body reads the main graph's weights and input by name) and an `if` on the data
// (an If), run by nnport's runtime and compared with PyTorch's outputs and with onnxruntime-node,
// for inputs taking either branch and of two sequence lengths.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import type { Graph } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { runOrt } from './ort-helpers.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/control-flow');

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
