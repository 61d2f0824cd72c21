// Ceil-mode pools of an input height / width known only at run time (scripts/fixtures/ceil_pool_models.py:
// PyTorch exports with dynamic batch / height / width axes, and one hand-made ONNX AveragePool of
// count_include_pad 1) written to .tflite, .pb and a TF.js graph model, run at two input sizes (odd and even
// ceil overhangs on each axis) against onnxruntime-node on the export (itself checked against PyTorch):
// - AvgPool2d(3, 2) / (2, 2), pads 0 or 1, count_include_pad True and False: the average over zero pads
//   divided by the same average of ones over the input (src/passes/ceil-pool-as-pads.ts; in Keras, which
//   has no layer for either, times each window's size over its real cells found by a softmax over its taps);
// - MaxPool2d(2, 2, padding 1) of negative data, whose last window is dropped at odd sizes: floor mode
//   over end pads of min(pe + s − 1, k − 1).
// TF.js runs the graph model and the Keras .h5 (as a layers model), nnport's TF reader reads the .pb back,
// the TFLite interpreter runs the .tflite (its input's stored size set to each); all channels-last.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../src/formats/generated/tensorflow.js';
import { readNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../src/index.js';
import { withInputShapes } from '../../src/ir/input-shapes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { ceilPoolAsPads } from '../../src/passes/ceil-pool-as-pads.js';
import { initKernels } from '../../src/wasm/loader.js';
import { relErr } from '../support/error-metrics.js';
import { ensureScriptFixtures } from '../support/fixture-script.js';
import { ortRun } from '../support/ort.js';
import { tfliteOpNames, useTfliteOracle } from '../support/tflite-test.js';
import { expectLikeOnnxruntime, runChannelsLast } from './channels-last-runs.js';
import { predict, tfjsModelFromH5 } from './keras/tfjs-oracle.js';
import { loadWrittenGraphModel, tf } from './tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

/** each net: its outputs, the .pb op that shows the path, whether its Keras .h5 is written (max pooling pads of negative data are not Keras layers) */
const NETS: Record<string, { outputs: string[]; op: string; keras: boolean }> = {
  avg3: { outputs: ['y', 'z', 'w'], op: 'RealDiv', keras: true },
  avg2: { outputs: ['y', 'w'], op: 'RealDiv', keras: true },
  avg_cip1: { outputs: ['y', 'z'], op: 'RealDiv', keras: true },
  max2: { outputs: ['y'], op: 'MaxPool', keras: false },
};
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('ceil_pool_models.py', 'ceil-pool-models', Object.keys(NETS));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxOf = (net: string): Uint8Array => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));

describe('ceil-mode pools of a run-time height / width in .tflite, .pb and TF.js graph models, against onnxruntime-node', () => {
  for (const [net, spec] of Object.entries(NETS)) {
    it(net, { timeout: 120_000 }, async () => {
      const onnx = onnxOf(net);
      const model = await loadModel(onnx, { fileName: `${net}.onnx` });
      const web = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
      const graphModel = await loadWrittenGraphModel({ json: web.bytes, sidecars: web.sidecars });
      const pb = (await convert(model, `${net}.pb`)).bytes;
      expect(tensorflow.GraphDef.decode(pb).node.map((n) => n.op)).toContain(spec.op);
      const back = await loadModel(pb, { fileName: `${net}.pb` });
      const tflite = (await convert(model, `${net}.tflite`)).bytes;
      expect(tfliteOpNames(tflite, `${net}.tflite`)).toContain(net.startsWith('avg') ? 'AVERAGE_POOL_2D' : 'MAX_POOL_2D');
      // (no FILL of a shape: a dynamic-sized tensor would keep the interpreter off its XNNPACK delegate)
      expect(tfliteOpNames(tflite, `${net}.tflite`)).not.toContain('FILL');
      const keras = spec.keras ? await tfjsModelFromH5((await convert(model, `${net}.h5`)).bytes) : undefined;
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const want = await ortRun(onnx, { x });
        for (const o of spec.outputs) {
          expect(want.get(o)!.shape, `onnxruntime vs PyTorch ${o} shape`).toEqual(npy(net, `${o}_${c}`).shape);
          expect(relErr(want.get(o)!.toFloat32(), npy(net, `${o}_${c}`).toFloat32()), `onnxruntime vs PyTorch ${o}`).toBeLessThan(1e-5);
        }
        // (the interpreter at its own thread count: no dynamic-sized tensor keeps the file off XNNPACK)
        const got = await runChannelsLast({ graphModel, back, tflite, keras }, oracle, x.permute([0, 2, 3, 1]), spec.outputs);
        expectLikeOnnxruntime(got, want, spec.outputs, `${net} x_${c} ${JSON.stringify(x.shape)}`);
      }
      graphModel.dispose();
      keras?.dispose();
    });
  }
});

describe('ceil-mode average pools of a known size whose last window runs past the padded input', () => {
  // count_include_pad 1 (avg_cip1's y: 3x3 / 2 pad 1 over a width of 38 or 41): the TFLite writer's and Keras' zero
  // pads counted the overhang too (27% / 30% off onnxruntime in the interpreter before); count_include_pad 0 (avg3):
  // the GraphDef writer and Keras refused them. Now the average over pads divided by a constant of real cells
  // (Keras: times the window size over its real cells, as above). (avg2's w, a floor-mode-like pool of pads 1
  // not counted, stays refused by Keras at a known size: no ceil overhang, Keras has only SAME.)
  for (const net of ['avg_cip1', 'avg3', 'avg2']) {
    it(net, { timeout: 120_000 }, async () => {
      const model = await loadModel(onnxOf(net), { fileName: `${net}.onnx` });
      if (model.kind !== 'graph') throw new Error(`${net}.onnx: not a graph`);
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const fixed = { ...model, graph: withInputShapes(model.graph, { x: x.shape as number[] }, `${net}.onnx`) };
        const want = await ortRun(onnxOf(net), { x });
        const xh = x.permute([0, 2, 3, 1]);
        const fromPb = (await run(await loadModel((await convert(fixed, `${net}.pb`)).bytes, { fileName: `${net}.pb` }), { x: xh })).outputs;
        const fromTflite = await oracle.run((await convert(fixed, `${net}.tflite`)).bytes, [xh.toFloat32()], 1, 1);
        const keras = net !== 'avg2' ? await tfjsModelFromH5((await convert(fixed, `${net}.h5`)).bytes) : undefined;
        const fromKeras = keras ? predict(keras, [xh]) : [];
        keras?.dispose();
        const outputs = NETS[net]!.outputs;
        const got: Record<string, Tensor[]> = {
          '.pb read back': outputs.map((o) => fromPb.get(o)!),
          interpreter: outputs.map((o, k) => {
            const t = fromTflite.find((y) => y.name === o || y.name.startsWith(`${o}__`)) ?? fromTflite[k]!;
            return new Tensor('float32', t.shape, t.data as Float32Array);
          }),
          ...(keras ? { 'Keras .h5 in TF.js': fromKeras } : {}),
        };
        expectLikeOnnxruntime(got, want, outputs, `${net} of known size ${JSON.stringify(x.shape)}`);
      }
    });
  }

  it('other pools of a known size are left to the writers as they were', async () => {
    const model = await loadModel(onnxOf('avg3'), { fileName: 'avg3.onnx' });
    if (model.kind !== 'graph') throw new Error('avg3.onnx: not a graph');
    const fixed = withInputShapes(model.graph, { x: [1, 3, 45, 38] }, 'avg3.onnx');
    expect(ceilPoolAsPads(fixed)).toBe(fixed);
  });
});
