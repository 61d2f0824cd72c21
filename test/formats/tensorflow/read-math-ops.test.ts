// TensorFlow's modulo / division ops read by nnport where the GraphDef writer's round trip does
// not reach them (the ONNX backend read-back, test/conformance/graphdef-readback.test.ts, covers
// the rest): FloorMod on floats (the divisor's sign: fmod, then + y where the signs differ),
// FloorMod / TruncateMod / TruncateDiv / FloorDiv on int32 and floats with every sign combination, and
// NotEqual. Oracle: the NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py: np.mod, np.fmod,
// truncation as |a| // |b| with the sign, np.floor_divide), run on the same hand-made .pb. NCDHW pools and NCHW
// DepthToSpace (no TF CPU kernel) are refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { pythonRun } from './python-runs.js';

beforeAll(async () => {
  await initKernels();
});

const DT = { float32: 1, int32: 3 } as const;
const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });

const X = [-7, -6.5, -3, -1, 0, 1, 2.5, 3, 7, 8, -8, 5.5, -0.5, 6];
const Y = [3, -3, 2, -2, 3, 3, -2, -2, -3, 3, 3, 2, 4, -4];

/** x (Placeholder) OP y (Const), both of `dtype`. */
function binaryGraph(op: string, dtype: 'float32' | 'int32'): { pb: Uint8Array; x: Tensor } {
  const xs = dtype === 'int32' ? X.map(Math.trunc) : X;
  const y = dtype === 'int32' ? new Tensor('int32', [Y.length], Int32Array.from(Y)) : Tensor.float32([Y.length], Y);
  const x = dtype === 'int32' ? new Tensor('int32', [xs.length], Int32Array.from(xs)) : Tensor.float32([xs.length], xs);
  const t = DT[dtype];
  const pb = enc({
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: t }, shape: { shape: shape(X.length) } } },
      { name: 'y', op: 'Const', attr: { dtype: { type: t }, value: { tensor: { dtype: t, tensor_shape: shape(Y.length), tensor_content: new Uint8Array(y.data.buffer as ArrayBuffer) } } } },
      { name: 'z', op, input: ['x', 'y'], attr: { T: { type: t } } },
    ],
  });
  return { pb, x };
}

describe('TF modulo / division ops read back, against the NumPy runner', () => {
  const cases: [string, 'float32' | 'int32'][] = [
    ['FloorMod', 'float32'],
    ['FloorMod', 'int32'],
    ['TruncateMod', 'float32'],
    ['TruncateMod', 'int32'],
    ['TruncateDiv', 'float32'],
    ['TruncateDiv', 'int32'],
    ['FloorDiv', 'float32'],
    ['FloorDiv', 'int32'],
    ['NotEqual', 'int32'],
  ];
  it.each(cases)('%s on %s', async (op, dtype) => {
    const { pb, x } = binaryGraph(op, dtype);
    const want = pythonRun('numpy', `read-${op}-${dtype}`, pb, x, ['z']).get('z')!.toNumbers();
    const graph = await readGraphDef(pb, { fileName: `${op}.pb`, outputs: ['z'] });
    const got = (await runGraph(graph, new Map([['x', x]]))).outputs.get('z')!;
    expect(got.dtype).toBe(op === 'NotEqual' ? 'bool' : dtype);
    const ours = got.toNumbers();
    // every sign combination is present, and the two remainders differ on some of them
    if (op === 'FloorMod') expect(ours.some((v, i) => Math.sign(v) !== 0 && Math.sign(v) !== Math.sign(Y[i]!))).toBe(false);
    for (const [i, w] of want.entries()) expect(ours[i], `element ${i}: ${x.toNumbers()[i]} ${op} ${Y[i]}`).toBeCloseTo(w, 5);
  });

  it('the same ops on constant inputs fold to the same values', async () => {
    for (const op of ['FloorMod', 'TruncateMod', 'TruncateDiv', 'FloorDiv']) {
      const { pb, x } = binaryGraph(op, 'float32');
      const want = pythonRun('numpy', `read-${op}-float32`, pb, x, ['z']).get('z')!.toNumbers();
      // the Placeholder replaced by a Const of the same values: folded by the reader
      const g = tensorflow.GraphDef.decode(pb);
      g.node[0] = tensorflow.NodeDef.create({ name: 'x', op: 'Const', attr: { dtype: { type: DT.float32 }, value: { tensor: { dtype: DT.float32, tensor_shape: shape(X.length), tensor_content: new Uint8Array(Float32Array.from(X).buffer) } } } });
      const graph = await readGraphDef(tensorflow.GraphDef.encode(g).finish(), { fileName: `${op}-const.pb`, outputs: ['z'] });
      expect(graph.nodes.filter((n) => n.opType !== 'Identity')).toEqual([]);
      const ours = (await runGraph(graph, new Map())).outputs.get('z')!.toNumbers();
      for (const [i, w] of want.entries()) expect(ours[i], `${op} element ${i}`).toBeCloseTo(w, 5);
    }
  });
});

describe('layouts TF has no CPU kernel for are refused by name', () => {
  const one = (op: string, attr: Record<string, tensorflow.AttrValue.$Properties>, rank: number) =>
    enc({
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: DT.float32 }, shape: { shape: shape(...new Array<number>(rank).fill(4)) } } },
        { name: 'z', op, input: ['x'], attr: { T: { type: DT.float32 }, ...attr } },
      ],
    });
  const cases: [string, Record<string, tensorflow.AttrValue.$Properties>, number][] = [
    ['MaxPool3D', { data_format: { s: new TextEncoder().encode('NCDHW') }, ksize: { list: { i: [1, 1, 2, 2, 2] } }, strides: { list: { i: [1, 1, 2, 2, 2] } }, padding: { s: new TextEncoder().encode('VALID') } }, 5],
    ['DepthToSpace', { data_format: { s: new TextEncoder().encode('NCHW') }, block_size: { i: 2 } }, 4],
  ];
  it.each(cases)('%s', async (op, attr, rank) => {
    const read = readGraphDef(one(op, attr, rank), { fileName: `${op}.pb`, outputs: ['z'] });
    await expect(read).rejects.toThrow(UnsupportedError);
    await expect(readGraphDef(one(op, attr, rank), { fileName: `${op}.pb`, outputs: ['z'] })).rejects.toThrow(new RegExp(`${op} with data_format`));
  });
});
