// Ceil-mode pools of an input height / width known only at run time (scripts/fixtures/ceil_pool_models.py:
// PyTorch exports with dynamic batch / height / width axes, and one hand-made ONNX AveragePool of
// count_include_pad 1) written to .tflite, .pb and a TF.js graph model, run at two input sizes (odd and even
// ceil overhangs on each axis) against onnxruntime-node on the export (itself checked against PyTorch):
// - AvgPool2d(3, 2) / (2, 2), pads 0 or 1, count_include_pad True and False: the average over zero pads
//   divided by the same average of ones over the input (src/passes/ceil-pool-as-pads.ts);
// - MaxPool2d(2, 2, padding 1) of negative data, whose last window is dropped at odd sizes: floor mode
//   over end pads of min(pe + s − 1, k − 1).
// TF.js runs the graph model, nnport's TF reader reads the .pb back, the TFLite interpreter runs the
// .tflite (its input's stored size set to each); all channels-last. Keras (no layer divides one tensor
// by another) refuses the average pools by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../src/formats/generated/tensorflow.js';
import { readNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../src/index.js';
import { UnsupportedError } from '../../src/ir/errors.js';
import { withInputShapes } from '../../src/ir/input-shapes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { ceilPoolAsPads } from '../../src/passes/ceil-pool-as-pads.js';
import { initKernels } from '../../src/wasm/loader.js';
import { relErr } from '../support/error-metrics.js';
import { ensureScriptFixtures } from '../support/fixture-script.js';
import { ortRun } from '../support/ort.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel, tf } from './tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

/** each net: its outputs, and the .pb op that shows the path */
const NETS: Record<string, { outputs: string[]; op: string }> = {
  avg3: { outputs: ['y', 'z', 'w'], op: 'RealDiv' },
  avg2: { outputs: ['y', 'w'], op: 'RealDiv' },
  avg_cip1: { outputs: ['y', 'z'], op: 'RealDiv' },
  max2: { outputs: ['y'], op: 'MaxPool' },
};
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('ceil_pool_models.py', 'ceil-pool-models', Object.keys(NETS));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const nchw = (t: Tensor): Tensor => (t.rank === 4 ? t.permute([0, 3, 1, 2]) : t);
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
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const want = await ortRun(onnx, { x });
        for (const o of spec.outputs) {
          expect(want.get(o)!.shape, `onnxruntime vs PyTorch ${o} shape`).toEqual(npy(net, `${o}_${c}`).shape);
          expect(relErr(want.get(o)!.toFloat32(), npy(net, `${o}_${c}`).toFloat32()), `onnxruntime vs PyTorch ${o}`).toBeLessThan(1e-5);
        }
        const xh = x.permute([0, 2, 3, 1]);
        const fromPb = (await run(back, { x: xh })).outputs;
        // (the ones' FILL is a dynamic-sized tensor: the interpreter runs without XNNPACK, its own CONV_2D on 1 thread, tflite-oracle.ts)
        const fromTflite = await oracle.run([0, 1, 2].reduce((b, a) => withStoredDim(b, a, xh.shape[a] as number), tflite), [xh.toFloat32()], 1, 1);
        const got: Record<string, Tensor[]> = {
          'TF.js graph model': await runGraphModel(graphModel, [xh], undefined, spec.outputs),
          '.pb read back': spec.outputs.map((o) => fromPb.get(o)!),
          interpreter: spec.outputs.map((o) => {
            const y = fromTflite.find((t) => t.name === o || t.name.startsWith(`${o}__`)) ?? fromTflite[spec.outputs.indexOf(o)]!;
            return new Tensor('float32', y.shape, y.data as Float32Array);
          }),
        };
        for (const [who, ys] of Object.entries(got)) {
          spec.outputs.forEach((o, k) => {
            const y = nchw(ys[k]!);
            expect(y.shape, `${who} ${o} ${c}`).toEqual(want.get(o)!.shape);
            const err = relErr(y.toFloat32(), want.get(o)!.toFloat32());
            console.log(`${net} ${o} x_${c} ${JSON.stringify(x.shape)} -> ${JSON.stringify(y.shape)}: ${who} ${err.toExponential(2)} (relative) from onnxruntime`);
            expect(err, `${who} ${o} ${c}`).toBeLessThan(1e-5);
          });
        }
      }
      graphModel.dispose();
    });
  }
});

it('a ceil-mode AvgPool of a run-time size is refused by name in a Keras .h5 (no layer divides one tensor by another)', async () => {
  const model = await loadModel(onnxOf('avg2'), { fileName: 'avg2.onnx' });
  const err = await convert(model, 'm.h5').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsupportedError);
  expect(String(err)).toMatch(/ceil.*node '\/a\/AveragePool'/);
});

it('pools of a known size are left to the writers as they were', async () => {
  const model = await loadModel(onnxOf('avg3'), { fileName: 'avg3.onnx' });
  if (model.kind !== 'graph') throw new Error('avg3.onnx: not a graph');
  const fixed = withInputShapes(model.graph, { x: [1, 3, 45, 38] }, 'avg3.onnx');
  expect(ceilPoolAsPads(fixed)).toBe(fixed);
});
