// The channels-last files written from one model of a run-time height / width (.tflite, .pb, TF.js graph
// model, optionally Keras .h5), run on one NHWC input and compared against onnxruntime-node on the source
// export: what dynamic-hw-write, ceil-pool-dynamic and dynamic-hw-shuffle tests each did in their own copy.
import { expect } from 'vitest';
import type { LoadedModel } from '../../src/formats/model.js';
import { run } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { relErr } from '../support/error-metrics.js';
import type { TfliteOracle } from '../support/tflite-oracle.js';
import { withStoredDim } from '../support/tflite-test.js';
import { predict, type tf } from './keras/tfjs-oracle.js';
import { runGraphModel } from './tfjs/graph-oracle.js';

export interface ChannelsLastFiles {
  /** the TF.js graph model, loaded */
  graphModel: tf.GraphModel;
  /** the .pb read back by nnport's TF reader */
  back: LoadedModel;
  tflite: Uint8Array;
  /** the Keras .h5 loaded by TF.js as a layers model, where the test writes one */
  keras?: tf.LayersModel;
}

/**
 * Each file run on the NHWC input `xh` (the .tflite with its input's stored batch / height / width set to
 * xh's, the interpreter at `threads`, default its own count): its outputs named `outputs`, in that order.
 */
export async function runChannelsLast(files: ChannelsLastFiles, oracle: Pick<TfliteOracle, 'run'>, xh: Tensor, outputs: string[], threads?: number): Promise<Record<string, Tensor[]>> {
  const fromPb = (await run(files.back, { x: xh })).outputs;
  const sized = [0, 1, 2].reduce((b, a) => withStoredDim(b, a, xh.shape[a] as number), files.tflite);
  const fromTflite = await oracle.run(sized, [xh.toFloat32()], 1, threads);
  return {
    'TF.js graph model': await runGraphModel(files.graphModel, [xh], undefined, outputs),
    '.pb read back': outputs.map((o) => fromPb.get(o)!),
    interpreter: outputs.map((o, k) => {
      const y = fromTflite.find((t) => t.name === o || t.name.startsWith(`${o}__`)) ?? fromTflite[k]!;
      return new Tensor('float32', y.shape, y.data as Float32Array);
    }),
    ...(files.keras ? { 'Keras .h5 in TF.js': predict(files.keras, [xh]) } : {}),
  };
}

/**
 * Every file's every output against onnxruntime's `want` (made NCHW first where `nhwc(o)`): the same shape and
 * within `limit` by `metric` (relative error unless given), each logged under `label`.
 */
export function expectLikeOnnxruntime(got: Record<string, Tensor[]>, want: ReadonlyMap<string, Tensor>, outputs: string[], label: string, options: { nhwc?: (output: string) => boolean; metric?: (a: Float32Array, b: Float32Array) => number; limit?: number } = {}): void {
  const { nhwc = () => true, metric = relErr, limit = 1e-5 } = options;
  for (const [who, ys] of Object.entries(got)) {
    outputs.forEach((o, k) => {
      const y = nhwc(o) && ys[k]!.rank === 4 ? ys[k]!.permute([0, 3, 1, 2]) : ys[k]!;
      expect(y.shape, `${who} ${o} ${label}`).toEqual(want.get(o)!.shape);
      const err = metric(y.toFloat32(), want.get(o)!.toFloat32());
      console.log(`${label} ${o} -> ${JSON.stringify(y.shape)}: ${who} ${err.toExponential(2)} from onnxruntime`);
      expect(err, `${who} ${o} ${label}`).toBeLessThan(limit);
    });
  }
}
