// ONNX Loop scan outputs of an element shape known only at run time in a TF.js graph model / .pb
// (src/formats/tensorflow/write-functions.ts): the StatelessWhile's accumulator starts as
// onnxruntime's output of a loop that never runs ((0, ...), 0 for each run-time dim) and each step
// re-shapes the items so far to (i, item's shape) before appending. Models from scripts/fixtures/
// onnx_loop_run_time_items.py: a Slice of x to a run-time length k in the body (x [3, L]) and a
// recurrence over x of symbolic [B, T] whose condition ends it early; trip counts of several
// iterations and of none; a Scan of x [T, D] (both symbolic) kept as a loop; a carried value that
// grows beside a scan output. The TF.js graph model runs in TF.js 4.9 (executeAsync) against
// onnxruntime-node on the same ONNX file (and onnxruntime against the script's NumPy, a check of
// the fixture); the .pb is read back by nnport's TF reader and run. Refused by name: a scan output
// whose shape follows the iteration (Range(0, i)) or a growing carried value, one of unknown rank.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import type { GraphModel } from '../../../src/formats/model.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff, relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = {
  slice_len: { inputs: ['x', 'n', 'k'], outputs: ['s', 'ys'], cases: ['_a', '_b', '_none'] },
  sym_dims: { inputs: ['x', 'n', 'limit'], outputs: ['h', 'hs'], cases: ['_a', '_early', '_none'] },
  // a Scan over a run-time length, made a Loop (src/passes/scan-to-loop.ts), of items of a symbolic dim
  scan_dims: { inputs: ['s0', 'x'], outputs: ['s', 'y'], cases: ['_a', '_b'] },
  // a carried value that grows (torch.cat in a scripted loop) beside a scan output
  grow_carried: { inputs: ['x', 'n'], outputs: ['acc', 'ys'], cases: ['_a', '_none'] },
} as const;
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('onnx_loop_run_time_items.py', 'loop-run-time-items', Object.keys(NETS));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxBytes = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const modelOf = async (net: string) => (await loadModel(onnxBytes(net), { fileName: `${net}.onnx` })) as GraphModel;

/** onnxruntime-node's outputs for one case, checked against the script's NumPy. */
async function oracle(net: keyof typeof NETS, c: string): Promise<{ feeds: Record<string, Tensor>; want: Map<string, Tensor> }> {
  const spec = NETS[net];
  const feeds = Object.fromEntries(spec.inputs.map((i) => [i, npy(net, i + c)]));
  const want = await ortRun(onnxBytes(net), feeds);
  for (const o of spec.outputs) {
    const numpy = npy(net, o + c);
    expect(want.get(o)!.shape, `${o}${c} onnxruntime`).toEqual(numpy.shape);
    expect(maxAbsDiff(want.get(o)!.toFloat32(), numpy.toFloat32()), `${o}${c} onnxruntime vs NumPy`).toBeLessThanOrEqual(1e-5);
  }
  return { feeds, want };
}

describe('Loop scan outputs of a run-time element shape', () => {
  for (const [net, spec] of Object.entries(NETS) as Array<[keyof typeof NETS, (typeof NETS)[keyof typeof NETS]]>) {
    it(`${net}: the TF.js graph model (executeAsync) matches onnxruntime-node`, async () => {
      const files = await convert(await modelOf(net), 'out/model.json', { tfjsFormat: 'graph' });
      expect(new TextDecoder().decode(files.bytes)).toContain('"StatelessWhile"');
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      for (const c of spec.cases) {
        const { feeds, want } = await oracle(net, c);
        const ys = await runGraphModel(m, spec.inputs.map((i) => feeds[i]!), [...spec.inputs], [...spec.outputs]);
        spec.outputs.forEach((o, k) => {
          expect(ys[k]!.shape, `${o}${c}`).toEqual(want.get(o)!.shape);
          const err = relErr(ys[k]!.toFloat32(), want.get(o)!.toFloat32());
          console.log(`${net} ${o}${c} ${JSON.stringify(want.get(o)!.shape)}: TF.js vs onnxruntime, max abs / max |want| ${err.toExponential(2)}`);
          expect(err, `${o}${c}`).toBeLessThanOrEqual(1e-6);
        });
      }
      m.dispose();
    });

    it(`${net}: the .pb, read back by nnport's TF reader, matches onnxruntime-node`, async () => {
      const { bytes } = await convert(await modelOf(net), `${net}.pb`);
      expect(tensorflow.GraphDef.decode(bytes).node.map((n) => n.op)).toContain('StatelessWhile');
      const back = await loadModel(bytes, { fileName: `${net}.pb` });
      for (const c of spec.cases) {
        const { feeds, want } = await oracle(net, c);
        const ys = (await run(back, feeds)).outputs;
        for (const o of spec.outputs) {
          const y = ys.get(o)!;
          expect(y.shape, `${o}${c}`).toEqual(want.get(o)!.shape);
          const err = relErr(y.toFloat32(), want.get(o)!.toFloat32());
          console.log(`${net} ${o}${c}: .pb read back vs onnxruntime, max abs / max |want| ${err.toExponential(2)}`);
          expect(err, `${o}${c}`).toBeLessThanOrEqual(1e-6);
        }
      }
    });
  }

  it('refuses a scan output whose shape follows a growing carried value by name', async () => {
    const model = await modelOf('grow_carried');
    const body = (model.graph.nodes[0]!.attrs.body as { type: 'graph'; value: Graph }).value;
    // the scan output: the accumulator so far, (i, 3) at step i
    body.nodes.push({ name: 'so_far', opType: 'Identity', domain: '', inputs: ['acc_in'], outputs: ['so_far'], attrs: {} });
    body.outputs[2] = { name: 'so_far', dtype: 'float32' };
    const err = await convert(model, 'm.pb').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/a Loop scan output whose element shape may change from one iteration to the next in a GraphDef.*node 'loop', scan output 0/);
  });

  it('refuses a scan output of unknown rank by name', async () => {
    // the item: x reshaped to a shape fed at run time, of unknown length
    const body: Graph = {
      ...emptyGraph('body'),
      inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }],
      nodes: [
        { name: 'keep', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attrs: {} },
        { name: 'reshape', opType: 'Reshape', domain: '', inputs: ['x', 'shape'], outputs: ['r'], attrs: {} },
      ],
      outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'r', dtype: 'float32' }],
    };
    const graph: Graph = {
      ...emptyGraph('any_rank'),
      inputs: [{ name: 'n', dtype: 'int64', shape: [] }, { name: 'cond', dtype: 'bool', shape: [] }, { name: 'x', dtype: 'float32', shape: [2, 6] }, { name: 'shape', dtype: 'int64' }],
      nodes: [{ name: 'loop', opType: 'Loop', domain: '', inputs: ['n', 'cond'], outputs: ['scan'], attrs: { body: { type: 'graph', value: body } } }],
      outputs: [{ name: 'scan', dtype: 'float32' }],
    };
    const err = await convert({ kind: 'graph', format: 'onnx', graph }, 'm.pb').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/a Loop scan output of unknown rank in a GraphDef.*node 'loop', scan output 0/);
  });
});
