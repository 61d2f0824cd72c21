// Conv2DBackpropInput whose input_sizes is computed at run time (the batch read by Shape, as nnport's
// GraphDef writer takes it for a detector's per-box mask head), read by nnport's TF reader as a
// ConvTranspose, on hand-made GraphDefs of a batch unknown while reading, against TensorFlow.js's
// tf.conv2dTranspose (an independent implementation of TF's kernel): SAME with an even and an odd
// output (TF's odd pad at the end), VALID with rows past the last window (output_padding), a
// dilation-free 3x3 stride 1 SAME. input_sizes that do not convolve back to the input is a
// ShapeError (TF's own check). A height / width known only at run time (a Keras Conv2DTranspose on
// an input of unknown size: input_sizes = Pack(batch, h·s, w·s, filters) of Shape(x); or input_sizes
// fed) is a transposed conv with no pads, sliced at run time to TF's window: against TF.js at two
// input sizes of one graph; written on as .onnx (onnxruntime-node), .tflite (the TFLite interpreter,
// the input's stored size set to each) and a TF.js graph model (the GraphDef writer's Conv2DBackpropInput
// of an output shape from Shape(x)), each at both sizes against TF.js.
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { convert } from '../../../src/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef, readGraphDefModel } from '../../../src/formats/tensorflow/read.js';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  registerAllFormats();
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
  it('EXPLICIT padding with a height / width known only at run time is refused by name', async () => {
    const k: Case = { what: '', hw: [4, 4], kernel: [2, 2], strides: [2, 2], padding: 'VALID', out: [8, 8] };
    const gd = tensorflow.GraphDef.decode(graph(k, data(2 * 2 * COUT * CIN, 1), true));
    const y = gd.node.find((n) => n.name === 'y')!;
    y.attr!.padding = text('EXPLICIT');
    y.attr!.explicit_paddings = { list: { i: [0, 0, 0, 0, 0, 0, 0, 0] } };
    await expect(readGraphDef(enc(gd), { fileName: 'hw.pb', outputs: ['y'] })).rejects.toThrow(UnsupportedError);
  });
});

interface RunTimeCase {
  what: string;
  kernel: [number, number];
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  /** the output size of an input size, as the graph computes it (Keras' deconv_output_length, or fed) */
  out: (h: number, i: number) => number;
  fed?: boolean;
}

const i32 = (name: string, values: number[], scalar = false) => constOf(name, 3, scalar ? [] : [values.length], Int32Array.from(values));

/** x [?, ?, ?, CIN] -> Conv2DBackpropInput(input_sizes, filter, x), input_sizes fed or Keras' Pack of Shape(x) (h·s, plus k − s for VALID). */
function runTimeGraph(k: RunTimeCase, filter: Float32Array): Uint8Array {
  const element = (name: string, i: number) => ({ name, op: 'StridedSlice', input: ['x_shape', `${name}_b`, `${name}_e`, 'one'], attr: { T: I32, Index: I32, shrink_axis_mask: { i: 1 } } });
  const spatial = (i: number): tensorflow.NodeDef.$Properties[] => {
    const nodes: tensorflow.NodeDef.$Properties[] = [element(`d${i}`, i + 1), i32(`d${i}_b`, [i + 1]), i32(`d${i}_e`, [i + 2]), i32(`s${i}`, [k.strides[i]!], true), { name: `m${i}`, op: 'Mul', input: [`d${i}`, `s${i}`], attr: { T: I32 } }];
    if (k.padding === 'SAME') return [...nodes, { name: `o${i}`, op: 'Identity', input: [`m${i}`], attr: { T: I32 } }];
    return [...nodes, i32(`extra${i}`, [Math.max(k.kernel[i]! - k.strides[i]!, 0)], true), { name: `o${i}`, op: 'AddV2', input: [`m${i}`, `extra${i}`], attr: { T: I32 } }];
  };
  const sizeNodes: tensorflow.NodeDef.$Properties[] = k.fed
    ? [{ name: 'sizes', op: 'Placeholder', attr: { dtype: I32, shape: { shape: shape(4) } } }]
    : [
        { name: 'x_shape', op: 'Shape', input: ['x'], attr: { T: { type: 1 }, out_type: I32 } },
        i32('one', [1]),
        element('batch', 0),
        i32('batch_b', [0]),
        i32('batch_e', [1]),
        ...spatial(0),
        ...spatial(1),
        i32('cout', [COUT], true),
        { name: 'sizes', op: 'Pack', input: ['batch', 'o0', 'o1', 'cout'], attr: { T: I32, N: { i: 4 }, axis: { i: 0 } } },
      ];
  return enc({
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: shape(-1, -1, -1, CIN) } } },
      constOf('filter', 1, [...k.kernel, COUT, CIN], filter),
      ...sizeNodes,
      { name: 'y', op: 'Conv2DBackpropInput', input: ['sizes', 'filter', 'x'], attr: { T: { type: 1 }, strides: { list: { i: [1, ...k.strides, 1] } }, padding: text(k.padding), data_format: text('NHWC') } },
    ],
  });
}

const RUN_TIME_CASES: RunTimeCase[] = [
  { what: 'Keras SAME, 3x3 stride 2', kernel: [3, 3], strides: [2, 2], padding: 'SAME', out: (h, i) => h * [2, 2][i]! },
  { what: 'Keras SAME, 4x4 stride 2 (a pad of 2 over the output: one each side)', kernel: [4, 4], strides: [2, 2], padding: 'SAME', out: (h) => h * 2 },
  { what: 'Keras SAME, 1x1 stride 2 (the window reaches past the full conv: zeros at the end)', kernel: [1, 1], strides: [2, 2], padding: 'SAME', out: (h) => h * 2 },
  { what: 'Keras SAME, 3x2 stride 1 x 3', kernel: [3, 2], strides: [1, 3], padding: 'SAME', out: (h, i) => h * [1, 3][i]! },
  { what: 'Keras VALID, 3x3 stride 2', kernel: [3, 3], strides: [2, 2], padding: 'VALID', out: (h) => h * 2 + 1 },
  { what: 'Keras VALID, 2x2 stride 2', kernel: [2, 2], strides: [2, 2], padding: 'VALID', out: (h) => h * 2 },
  { what: 'fed input_sizes, SAME 3x3 stride 2, odd output (the odd pad at the end)', kernel: [3, 3], strides: [2, 2], padding: 'SAME', out: (h) => h * 2 - 1, fed: true },
  { what: 'fed input_sizes, VALID 2x3 stride 2, rows past the last window', kernel: [2, 3], strides: [2, 2], padding: 'VALID', out: (h, i) => (h - 1) * 2 + [2, 3][i]! + 1, fed: true },
];

describe('Conv2DBackpropInput of a height / width known only at run time, against tf.conv2dTranspose (TF.js), one graph at two input sizes', () => {
  for (const [i, k] of RUN_TIME_CASES.entries()) {
    it(k.what, async () => {
      const f = data(k.kernel[0] * k.kernel[1] * COUT * CIN, 40 + i);
      const g = await readGraphDef(runTimeGraph(k, f), { fileName: 'deconv.pb', outputs: ['y'] });
      for (const hw of [[4, 5], [7, 3]] as const) {
        const batch = 2;
        const xs = [batch, ...hw, CIN];
        const x = data(batch * hw[0] * hw[1] * CIN, 60 + i + hw[0]);
        const out = hw.map((h, a) => k.out(h, a));
        const want = tf.conv2dTranspose(tf.tensor4d(x, xs as [number, number, number, number]), tf.tensor4d(f, [...k.kernel, COUT, CIN]), [batch, out[0]!, out[1]!, COUT], k.strides, k.padding === 'SAME' ? 'same' : 'valid');
        const feeds = new Map<string, Tensor>([['x', Tensor.float32(xs, x)]]);
        if (k.fed) feeds.set('sizes', new Tensor('int32', [4], Int32Array.from([batch, ...out, COUT])));
        const got = (await runGraph(g, feeds)).outputs.get('y')!;
        expect(got.shape).toEqual(want.shape);
        const diff = maxAbsDiff(got.toFloat32(), want.dataSync() as Float32Array);
        console.log(`${k.what} at ${hw.join('x')}: max abs diff ${diff.toExponential(2)} of TF.js`);
        expect(diff).toBeLessThan(1e-5);
      }
    });
  }
});

describe('a Keras Conv2DTranspose on an input of run-time size, read and written on: each file at two input sizes against tf.conv2dTranspose', () => {
  const written = RUN_TIME_CASES.filter((k) => !k.fed);
  for (const [i, k] of written.entries()) {
    it(k.what, { timeout: 120_000 }, async () => {
      const f = data(k.kernel[0] * k.kernel[1] * COUT * CIN, 80 + i);
      const model = await readGraphDefModel(runTimeGraph(k, f), { fileName: 'deconv.pb', outputs: ['y'] });
      const onnx = (await convert(model, 'deconv.onnx')).bytes;
      const tflite = (await convert(model, 'deconv.tflite')).bytes;
      const web = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
      const graphModel = await loadWrittenGraphModel({ json: web.bytes, sidecars: web.sidecars });
      for (const hw of [[4, 5], [7, 3]] as const) {
        const xs = [1, ...hw, CIN];
        const x = data(hw[0] * hw[1] * CIN, 90 + i + hw[0]);
        const out = hw.map((h, a) => k.out(h, a));
        const want = tf.conv2dTranspose(tf.tensor4d(x, xs as [number, number, number, number]), tf.tensor4d(f, [...k.kernel, COUT, CIN]), [1, out[0]!, out[1]!, COUT], k.strides, k.padding === 'SAME' ? 'same' : 'valid');
        const wantData = want.dataSync() as Float32Array;
        const got = {
          onnxruntime: (await ortRun(onnx, { x: Tensor.float32(xs, x) })).get('y')!,
          interpreter: await oracle.run(withStoredDim(withStoredDim(tflite, 1, hw[0]), 2, hw[1]), [x]).then(([y]) => new Tensor('float32', y!.shape, y!.data as Float32Array)),
          'TF.js graph model': (await runGraphModel(graphModel, [Tensor.float32(xs, x)]))[0]!,
        };
        for (const [who, y] of Object.entries(got)) {
          expect(y.shape, who).toEqual(want.shape);
          const diff = maxAbsDiff(y.toFloat32(), wantData);
          console.log(`${k.what} at ${hw.join('x')}: ${who} ${diff.toExponential(2)} from TF.js`);
          expect(diff, who).toBeLessThan(1e-5);
        }
        want.dispose();
      }
      graphModel.dispose();
    });
  }
});
