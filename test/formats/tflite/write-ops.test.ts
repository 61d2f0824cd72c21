// Writer op coverage on a small hand-built channels-last graph: the .tflite nnport writes is run
// by the TFLite interpreter and compared with the same computation in TensorFlow.js (CPU).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { startTfliteOracle, type TfliteOracle } from '../../support/tflite-oracle.js';

let oracle: TfliteOracle;
beforeAll(async () => {
  await tf.setBackend('cpu');
  oracle = await startTfliteOracle();
}, 120_000);
afterAll(async () => {
  await oracle?.close();
});

const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const ints = (value: number[]): Attr => ({ type: 'ints', value });

it('LeakyRelu, HardSwish, Elu, PRelu, Sub/Max/Min, Transpose, Slice, Split, Concat, ReduceSum/Max, Resize, MatMul, Softmax', async () => {
  const r = rng(5);
  const xs = Float32Array.from({ length: 2 * 4 * 6 * 3 }, () => r() * 4 - 2);
  const slope = Float32Array.of(0.1, 0.2, 0.3);
  const m = Float32Array.from({ length: 3 * 5 }, () => r() - 0.5);
  const g: Graph = {
    name: 'ops',
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 4, 6, 3] }],
    outputs: [
      { name: 'y1', dtype: 'float32' },
      { name: 'y2', dtype: 'float32' },
      { name: 'y3', dtype: 'float32' },
    ],
    initializers: new Map<string, Tensor>([
      ['slope', Tensor.float32([3], slope)],
      ['half', Tensor.float32([], [0.5])],
      ['m', Tensor.float32([3, 5], m)],
      ['starts', Tensor.int64([2], [1, 2])],
      ['ends', Tensor.int64([2], [3, 6])],
      ['axes', Tensor.int64([2], [1, 2])],
      ['sumAxes', Tensor.int64([1], [2])],
      ['sizes', Tensor.int64([4], [2, 8, 12, 3])],
    ]),
    nodes: [
      node('LeakyRelu', ['x'], ['a'], { alpha: { type: 'float', value: 0.1 } }),
      node('HardSwish', ['a'], ['b']),
      node('PRelu', ['x', 'slope'], ['c']),
      node('Elu', ['c'], ['d']),
      node('Sub', ['b', 'd'], ['e']),
      node('Max', ['e', 'half'], ['f']),
      node('Min', ['f', 'x'], ['g']),
      node('Slice', ['g', 'starts', 'ends', 'axes'], ['h']),
      node('Split', ['h'], ['h1', 'h2'], { axis: { type: 'int', value: 2 }, num_outputs: { type: 'int', value: 2 } }),
      node('Concat', ['h2', 'h1'], ['i'], { axis: { type: 'int', value: -1 } }),
      node('ReduceSum', ['i', 'sumAxes'], ['y1'], { keepdims: { type: 'int', value: 0 } }),
      node('Transpose', ['x'], ['t'], { perm: ints([0, 2, 1, 3]) }),
      node('ReduceMax', ['t', 'sumAxes'], ['tm'], { keepdims: { type: 'int', value: 1 } }),
      node('Resize', ['x', '', '', 'sizes'], ['y2'], { mode: { type: 'string', value: 'nearest' }, coordinate_transformation_mode: { type: 'string', value: 'asymmetric' }, nearest_mode: { type: 'string', value: 'floor' } }),
      node('MatMul', ['tm', 'm'], ['mm']),
      node('Softmax', ['mm'], ['y3'], { axis: { type: 'int', value: -1 } }),
    ],
    opsets: { '': 18 },
  };
  g.nodes.find((n) => n.opType === 'Resize')!.domain = 'nnport';
  const bytes = await writeTflite(g);
  const got = await oracle.run(bytes, [xs]);

  const x = tf.tensor4d(xs, [2, 4, 6, 3]);
  const a = tf.leakyRelu(x, 0.1);
  const b = tf.mul(a, tf.div(tf.relu6(tf.add(a, 3)), 6));
  const c = tf.prelu(x, tf.tensor1d(slope) as unknown as tf.Tensor4D);
  const d = tf.elu(c);
  const gg = tf.minimum(tf.maximum(tf.sub(b, d), 0.5), x);
  const h = tf.slice(gg, [0, 1, 2, 0], [2, 2, 4, 3]);
  const [h1, h2] = tf.split(h, 2, 2);
  const y1 = tf.sum(tf.concat([h2!, h1!], -1), 2);
  const y2 = tf.image.resizeNearestNeighbor(x, [8, 12]);
  const tm = tf.max(tf.transpose(x, [0, 2, 1, 3]), 2, true);
  const y3 = tf.softmax(tf.matMul(tm.reshape([-1, 3]), tf.tensor2d(m, [3, 5])).reshape([2, 6, 1, 5]));
  const want = [y1, y2, y3];
  for (let k = 0; k < 3; k++) {
    const w = want[k]!.dataSync();
    expect(got[k]!.shape).toEqual(want[k]!.shape);
    let err = 0;
    for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(w[i]! - got[k]!.data[i]!));
    expect({ k, err: err <= 1e-5 }).toEqual({ k, err: true });
  }
});
