// BroadcastArgs read back (the GraphDef writer emits it for an ONNX Expand to a run-time shape,
// write-shape-ops.ts): the reader folds it on constants and otherwise computes it as
// Shape(Expand(ConstantOfShape(s0), s1)). Oracle: the NumPy GraphDef runner
// (scripts/fixtures/tf_numpy_run.py, np.broadcast_shapes) on the same hand-made .pb, with the first
// shape fed at run time and the second a Const; zero-size dims and both int32 and int64 included.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { pythonRun } from './python-runs.js';

beforeAll(async () => {
  await initKernels();
});

const DT = { int32: 3, int64: 9 } as const;
const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });

function shapeTensor(dtype: 'int32' | 'int64', v: number[]): Tensor {
  return dtype === 'int32' ? new Tensor('int32', [v.length], Int32Array.from(v)) : new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
}

/** z = BroadcastArgs(x: Placeholder, y: Const). */
function graph(dtype: 'int32' | 'int64', xs: number[], ys: number[], constX = false): Uint8Array {
  const t = DT[dtype];
  const y = shapeTensor(dtype, ys);
  const constOf = (name: string, v: Tensor) => ({ name, op: 'Const', attr: { dtype: { type: t }, value: { tensor: { dtype: t, tensor_shape: shape(v.shape[0] as number), tensor_content: new Uint8Array((v.data as Int32Array | BigInt64Array).buffer as ArrayBuffer) } } } });
  return enc({
    node: [
      constX ? constOf('x', shapeTensor(dtype, xs)) : { name: 'x', op: 'Placeholder', attr: { dtype: { type: t }, shape: { shape: shape(xs.length) } } },
      constOf('y', y),
      { name: 'z', op: 'BroadcastArgs', input: ['x', 'y'], attr: { T: { type: t } } },
    ],
  });
}

const CASES: ['int32' | 'int64', number[], number[]][] = [
  ['int32', [2, 1, 3], [4, 1]],
  ['int32', [5, 1, 1], [1, 4, 1]],
  ['int32', [1], [0, 5]],
  ['int32', [3, 1, 0], [1, 7, 1]],
  ['int64', [1, 6], [2, 3, 1]],
];

describe('BroadcastArgs read back, against the NumPy runner', () => {
  it.each(CASES)('%s %j with %j', async (dtype, xs, ys) => {
    const pb = graph(dtype, xs, ys);
    const x = shapeTensor(dtype, xs);
    const want = pythonRun('numpy', `read-broadcast-args-${dtype}-${xs.join('x')}-${ys.join('x')}`, pb, x, ['z']).get('z')!;
    const g = await readGraphDef(pb, { fileName: 'broadcast-args.pb', outputs: ['z'] });
    expect(g.nodes.map((n) => n.opType)).toContain('Expand');
    const got = (await runGraph(g, new Map([['x', x]]))).outputs.get('z')!;
    expect(got.dtype).toBe(dtype);
    expect(got.toNumbers()).toEqual(want.toNumbers());
    // both shapes constant: folded by the reader to the same vector
    const folded = await readGraphDef(graph(dtype, xs, ys, true), { fileName: 'broadcast-args-const.pb', outputs: ['z'] });
    expect(folded.nodes.filter((n) => n.opType !== 'Identity')).toEqual([]);
    expect((await runGraph(folded, new Map())).outputs.get('z')!.toNumbers()).toEqual(want.toNumbers());
  });
});
