// Conv2DBackpropInput whose input_sizes is computed at run time (the batch read by Shape, as nnport's
// GraphDef writer takes it for a detector's per-box mask head), read by nnport's TF reader as a
// ConvTranspose, on hand-made GraphDefs of a batch unknown while reading, against TensorFlow.js's
// tf.conv2dTranspose (an independent implementation of TF's kernel): SAME with an even and an odd
// output (TF's odd pad at the end), VALID with rows past the last window (output_padding), a
// dilation-free 3x3 stride 1 SAME. input_sizes that do not convolve back to the input is a
// ShapeError (TF's own check); a height / width computed at run time is refused by name.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
});

const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
const text = (s: string) => ({ s: new TextEncoder().encode(s) });
const constOf = (name: string, dtype: number, dims: number[], data: Float32Array | Int32Array) => ({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensor_shape: shape(...dims), tensor_content: new Uint8Array(data.buffer as ArrayBuffer) } } } });
const I32 = { type: 3 };

interface Case {
  what: string;
  hw: [number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  out: [number, number];
}

const CIN = 3;
const COUT = 2;

/** x [?, h, w, CIN] -> Conv2DBackpropInput(ConcatV2(Slice(Shape(x), 0, 1), [oh, ow, COUT]), filter, x); `fed` makes input_sizes a placeholder. */
function graph(k: Case, filter: Float32Array, fed = false): Uint8Array {
  const sizeNodes: tensorflow.NodeDef.$Properties[] = fed
    ? [{ name: 'sizes', op: 'Placeholder', attr: { dtype: I32, shape: { shape: shape(4) } } }]
    : [
        { name: 'batch', op: 'Slice', input: ['x_shape', 'begin', 'size1'], attr: { T: I32, Index: I32 } },
        constOf('size1', 3, [1], Int32Array.from([1])),
        constOf('rest', 3, [3], Int32Array.from([...k.out, COUT])),
        { name: 'sizes', op: 'ConcatV2', input: ['batch', 'rest', 'axis'], attr: { T: I32, N: { i: 2 }, Tidx: I32 } },
      ];
  return enc({
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: shape(-1, ...k.hw, CIN) } } },
      constOf('filter', 1, [...k.kernel, COUT, CIN], filter),
      { name: 'x_shape', op: 'Shape', input: ['x'], attr: { T: { type: 1 }, out_type: I32 } },
      constOf('begin', 3, [1], Int32Array.from([0])),
      constOf('axis', 3, [], Int32Array.from([0])),
      ...sizeNodes,
      {
        name: 'y',
        op: 'Conv2DBackpropInput',
        input: ['sizes', 'filter', 'x'],
        attr: { T: { type: 1 }, strides: { list: { i: [1, ...k.strides, 1] } }, padding: text(k.padding), data_format: text('NHWC') },
      },
    ],
  });
}

const CASES: Case[] = [
  { what: 'SAME, stride 2, even output', hw: [4, 5], kernel: [3, 3], strides: [2, 2], padding: 'SAME', out: [8, 10] },
  { what: 'SAME, stride 2, odd output', hw: [4, 5], kernel: [3, 2], strides: [2, 2], padding: 'SAME', out: [7, 9] },
  { what: 'VALID, stride 2, rows past the last window', hw: [3, 4], kernel: [2, 3], strides: [2, 2], padding: 'VALID', out: [7, 10] },
  { what: 'VALID, stride 2 (torchvision mask head)', hw: [5, 5], kernel: [2, 2], strides: [2, 2], padding: 'VALID', out: [10, 10] },
  { what: 'SAME, stride 1, 3x3', hw: [5, 4], kernel: [3, 3], strides: [1, 1], padding: 'SAME', out: [5, 4] },
];

const data = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

describe('Conv2DBackpropInput of a computed input_sizes, against tf.conv2dTranspose (TF.js)', () => {
  for (const [i, k] of CASES.entries()) {
    it(k.what, async () => {
      const batch = 3;
      const xs = [batch, ...k.hw, CIN];
      const x = data(batch * k.hw[0] * k.hw[1] * CIN, 10 + i);
      const f = data(k.kernel[0] * k.kernel[1] * COUT * CIN, 20 + i);
      const want = tf.conv2dTranspose(tf.tensor4d(x, xs as [number, number, number, number]), tf.tensor4d(f, [...k.kernel, COUT, CIN]), [batch, ...k.out, COUT], k.strides, k.padding === 'SAME' ? 'same' : 'valid');
      const g = await readGraphDef(graph(k, f), { fileName: 'deconv.pb', outputs: ['y'] });
      const got = (await runGraph(g, new Map([['x', Tensor.float32(xs, x)]]))).outputs.get('y')!;
      expect(got.shape).toEqual(want.shape);
      const diff = maxAbsDiff(got.toFloat32(), want.dataSync() as Float32Array);
      console.log(`${k.what}: max abs diff ${diff.toExponential(2)} of TF.js`);
      expect(diff).toBeLessThan(1e-5);
    });
  }
  it('input_sizes that do not convolve back to the input are a ShapeError', async () => {
    const k: Case = { what: '', hw: [4, 4], kernel: [2, 2], strides: [2, 2], padding: 'VALID', out: [10, 8] };
    await expect(readGraphDef(graph(k, data(2 * 2 * COUT * CIN, 1)), { fileName: 'bad.pb', outputs: ['y'] })).rejects.toThrow(ShapeError);
  });
  it('a height / width computed at run time is refused by name', async () => {
    const k: Case = { what: '', hw: [4, 4], kernel: [2, 2], strides: [2, 2], padding: 'VALID', out: [8, 8] };
    await expect(readGraphDef(graph(k, data(2 * 2 * COUT * CIN, 1), true), { fileName: 'hw.pb', outputs: ['y'] })).rejects.toThrow(UnsupportedError);
  });
});
