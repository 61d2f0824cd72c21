// CropAndResize read by nnport's TF reader (written by write-roi-align.ts for ONNX RoiAlign; read as
// ONNX GridSample with align_corners over the boxes' Gathered images and Where for
// extrapolation_value), on a hand-made GraphDef, against TensorFlow.js's tf.image.cropAndResize
// (an independent implementation of TF's kernel): boxes inside, partly outside (extrapolated),
// flipped (y2 < y1), a single-row crop, box_ind choosing among images. Nearest is refused by name.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { rng } from '../../support/rng.js';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
});

const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
const constOf = (name: string, dtype: number, dims: number[], data: Float32Array | Int32Array) => ({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensor_shape: shape(...dims), tensor_content: new Uint8Array(data.buffer as ArrayBuffer) } } } });

function graph(dims: number[], boxes: number[], ind: number[], crop: [number, number], method: string, extrap: number): Uint8Array {
  return enc({
    node: [
      { name: 'image', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: shape(...dims) } } },
      constOf('boxes', 1, [ind.length, 4], Float32Array.from(boxes)),
      constOf('box_ind', 3, [ind.length], Int32Array.from(ind)),
      constOf('crop_size', 3, [2], Int32Array.from(crop)),
      { name: 'crops', op: 'CropAndResize', input: ['image', 'boxes', 'box_ind', 'crop_size'], attr: { T: { type: 1 }, method: { s: new TextEncoder().encode(method) }, extrapolation_value: { f: extrap } } },
    ],
  });
}

const BOXES = [0.1, 0.2, 0.8, 0.9, -0.3, -0.1, 0.6, 1.4, 0.9, 0.7, 0.2, 0.1, 0.5, 0, 0.5, 1, 0, 0, 1, 1];
const IND = [0, 1, 2, 1, 0];

describe('CropAndResize read back, against tf.image.cropAndResize (TF.js)', () => {
  for (const [crop, extrap] of [[[5, 4], 0], [[1, 3], -2.5], [[7, 1], 0.25]] as [[number, number], number][]) {
    it(`crop ${crop.join('x')}, extrapolation ${extrap}`, async () => {
      const dims = [3, 6, 9, 2];
      const r = rng(7);
      const image = Tensor.float32(dims, Array.from({ length: 3 * 6 * 9 * 2 }, () => r() * 2 - 1));
      const want = tf.image.cropAndResize(tf.tensor4d(image.toFloat32(), dims as [number, number, number, number]), tf.tensor2d(BOXES, [5, 4]), IND, crop, 'bilinear', extrap);
      const w = want.dataSync();
      const g = await readGraphDef(graph(dims, BOXES, IND, crop, 'bilinear', extrap), { fileName: 'crop.pb', outputs: ['crops'] });
      const got = (await runGraph(g, new Map([['image', image]]))).outputs.get('crops')!;
      expect(got.shape).toEqual(want.shape);
      const ours = got.toFloat32();
      let err = 0;
      for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(ours[i]! - w[i]!));
      console.log(`crop ${crop.join('x')}: max abs diff ${err.toExponential(2)} of TF.js`);
      expect(err).toBeLessThan(1e-5);
    });
  }
  it('nearest is refused by name', async () => {
    await expect(readGraphDef(graph([1, 4, 4, 1], [0, 0, 1, 1], [0], [2, 2], 'nearest', 0), { fileName: 'n.pb', outputs: ['crops'] })).rejects.toThrow(UnsupportedError);
  });
});
