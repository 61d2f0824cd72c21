// PReLU as TensorFlow.js' converter writes Keras' PReLU into a graph model: fused into a conv or a
// matmul after its BiasAdd (fused_ops [BiasAdd, Prelu], args [bias, alpha]) or as its own `Prelu`
// node. Read from model.json and from a binary GraphDef of the same nodes; nnport's runtime and
// onnxruntime on the written .onnx against TF.js' executeAsync.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortFirst } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { cst, graphDefBytes, op, ph, tfjsModel, tfjsRun, type AttrSpec, type ModelSpec } from './tf-graph-spec.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'nnport-prelu-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const r = rng(21);
const vals = (n: number, s = 1) => Array.from({ length: n }, () => (r() * 2 - 1) * s);
const T: AttrSpec = { type: 'DT_FLOAT' };
const convAttrs = (fused: string[], numArgs: number): Record<string, AttrSpec> => ({
  T,
  strides: { ints: [1, 1, 1, 1] },
  padding: { s: 'SAME' },
  data_format: { s: 'NHWC' },
  dilations: { ints: [1, 1, 1, 1] },
  explicit_paddings: { ints: [] },
  fused_ops: { strings: fused },
  num_args: { i: numArgs },
  epsilon: { f: 0 },
});

/** conv + BiasAdd + Prelu fused, then a Prelu node with a [1, 1, C] slope; a matmul + BiasAdd + Prelu fused. */
const model = (): ModelSpec => ({
  nodes: [
    ph('x', [1, 6, 6, 3]),
    cst('w', 'float32', [3, 3, 3, 4], vals(108, 0.5)),
    cst('bias', 'float32', [4], vals(4, 0.2)),
    cst('alpha', 'float32', [4], [0.1, 0.25, -0.3, 0.5]),
    op('conv', '_FusedConv2D', ['x', 'w', 'bias', 'alpha'], convAttrs(['BiasAdd', 'Prelu'], 2)),
    cst('alpha2', 'float32', [1, 1, 4], [0.2, 0.02, 0.7, -0.1]),
    op('act', 'Prelu', ['conv', 'alpha2'], { T }),
    ph('v', [2, 5]),
    cst('m', 'float32', [5, 3], vals(15)),
    cst('mb', 'float32', [3], vals(3, 0.3)),
    cst('ma', 'float32', [3], [0.3, 0.05, 0.6]),
    op('dense', '_FusedMatMul', ['v', 'm', 'mb', 'ma'], { T, transpose_a: { b: false }, transpose_b: { b: false }, fused_ops: { strings: ['BiasAdd', 'Prelu'] }, num_args: { i: 2 }, epsilon: { f: 0 } }),
  ],
  functions: [],
  outputs: ['act', 'dense'],
});

let counter = 0;
async function fromJson(m: ModelSpec) {
  const { json, bin } = tfjsModel(m);
  const sub = mkdtempSync(join(dir, `m${counter++}-`));
  writeFileSync(join(sub, 'model.json'), JSON.stringify(json));
  writeFileSync(join(sub, 'w.bin'), bin);
  return loadModelFiles([join(sub, 'model.json')], { outputs: m.outputs });
}

describe('TF.js PReLU', () => {
  it('fused into a conv and a matmul, and as a Prelu node: nnport and onnxruntime = TF.js executeAsync', async () => {
    const m = model();
    const feeds = { x: Tensor.float32([1, 6, 6, 3], vals(108)), v: Tensor.float32([2, 5], vals(10)) };
    const want = await tfjsRun(m, feeds);
    const js = await fromJson(m);
    const pb = await loadModel(graphDefBytes(m), { fileName: 'prelu.pb', outputs: m.outputs });
    for (const [label, loaded] of [['model.json', js], ['.pb', pb]] as const) {
      if (loaded.kind !== 'graph') throw new Error('expected a graph');
      const got = await run(loaded, feeds);
      const outs = loaded.graph.outputs.map((o) => got.outputs.get(o.name)!);
      const onnx = await convert(loaded, 'm.onnx');
      const ort = await ortFirst(onnx.bytes, feeds);
      outs.forEach((t, i) => {
        const e = relErr(t.toFloat32(), want[i]!.toFloat32());
        console.log(`Prelu ${label} output ${m.outputs[i]}: nnport vs TF.js ${e.toExponential(2)}`);
        expect(t.shape).toEqual(want[i]!.shape);
        expect(e).toBeLessThanOrEqual(1e-6);
      });
      // (onnxruntime's first output: the conv branch)
      expect(relErr(ort.toFloat32(), want[0]!.toFloat32())).toBeLessThanOrEqual(1e-6);
    }
    // the slopes matter: a negative input gets alpha · x
    expect(want[0]!.toFloat32().some((y) => y < 0)).toBe(true);
  });

  it('fused ops that want more arguments than the node has: a typed error', async () => {
    const m = model();
    m.nodes[4] = op('conv', '_FusedConv2D', ['x', 'w', 'bias'], convAttrs(['BiasAdd', 'Prelu'], 1));
    await expect(loadModel(graphDefBytes(m), { fileName: 'bad.pb', outputs: m.outputs })).rejects.toThrow(FormatError);
    await expect(loadModel(graphDefBytes(m), { fileName: 'bad.pb', outputs: m.outputs })).rejects.toThrow(/need more than its 1 argument/);
    const nchw = model();
    nchw.nodes[0] = ph('x', [1, 3, 6, 6]);
    nchw.nodes[4] = op('conv', '_FusedConv2D', ['x', 'w', 'bias', 'alpha'], { ...convAttrs(['BiasAdd', 'Prelu'], 2), data_format: { s: 'NCHW' } });
    await expect(loadModel(graphDefBytes(nchw), { fileName: 'nchw.pb', outputs: ['conv'] })).rejects.toThrow(UnsupportedError);
  });
});
