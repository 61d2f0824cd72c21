// The TFLite writer's wider op rows (ops-more-write.ts): small ONNX graphs, each written to ONNX
// and run by onnxruntime-node, and written to .tflite and run by the real TFLite interpreter, on
// the same inputs; the outputs must match. NCHW graphs (LRN) go through the layout pass.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { DType } from '../../../src/ir/dtypes.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, opNameOf, tfliteOpNames, useTfliteOracle, type FlatcOps } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const oracle = useTfliteOracle();

const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const int = (value: number): Attr => ({ type: 'int', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const float = (value: number): Attr => ({ type: 'float', value });

interface WriteCase {
  name: string;
  inputs: { name: string; dtype: DType; shape: number[]; values?: number[] }[];
  outputs: { name: string; dtype: DType }[];
  nodes: Node[];
  initializers?: [string, Tensor][];
  /** TFLite builtins the written file must hold */
  ops: string[];
  tol?: number;
  nchw?: boolean;
  /** how many times each builtin must occur (int8: where the float fallback's DEQUANTIZE/QUANTIZE go) */
  counts?: Record<string, number>;
}

const x234 = { name: 'x', dtype: 'float32' as DType, shape: [2, 3, 4] };
const unaryCase = (opType: string, tfl: string, tol = 0, values?: number[]): WriteCase => ({
  name: opType,
  inputs: [{ ...x234, values }],
  outputs: [{ name: 'y', dtype: 'float32' }],
  nodes: [node(opType, ['x'], ['y'])],
  ops: [tfl],
  tol,
});
const toInt32 = (from: string, to: string) => node('Cast', [from], [to], { to: int(6) });

const CASES: WriteCase[] = [
  {
    name: 'ArgMax keepdims=0 (int64, then Cast to int32)',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'int32' }],
    nodes: [node('ArgMax', ['x'], ['i'], { axis: int(-1), keepdims: int(0) }), toInt32('i', 'y')],
    ops: ['ARG_MAX', 'CAST'],
  },
  {
    name: 'ArgMin keepdims=1',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'int32' }],
    nodes: [node('ArgMin', ['x'], ['i'], { axis: int(1) }), toInt32('i', 'y')],
    ops: ['ARG_MIN', 'RESHAPE'],
  },
  { name: 'Tile', inputs: [x234], outputs: [{ name: 'y', dtype: 'float32' }], nodes: [node('Tile', ['x', 'reps'], ['y'])], initializers: [['reps', Tensor.int64([3], [2, 1, 3])]], ops: ['TILE'] },
  {
    name: 'Expand (both-way broadcast)',
    inputs: [{ name: 'x', dtype: 'float32', shape: [3, 1] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('Expand', ['x', 'shape'], ['y'])],
    initializers: [['shape', Tensor.int64([3], [2, 1, 4])]],
    ops: ['BROADCAST_TO'],
  },
  {
    name: 'Where of Greater, Less, Equal, LessOrEqual, GreaterOrEqual, And, Or, Xor, Not',
    inputs: [x234, { name: 'z', dtype: 'float32', shape: [3, 1] }],
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'b', dtype: 'bool' },
    ],
    nodes: [
      node('Greater', ['x', 'z'], ['gt']),
      node('Less', ['x', 'half'], ['lt']),
      node('LessOrEqual', ['x', 'z'], ['le']),
      node('GreaterOrEqual', ['z', 'half'], ['ge']),
      node('Round', ['x'], ['xr']),
      node('Equal', ['xr', 'one'], ['eq']),
      node('And', ['gt', 'lt'], ['and']),
      node('Or', ['and', 'eq'], ['or']),
      node('Xor', ['or', 'le'], ['xor']),
      node('Not', ['xor'], ['not']),
      node('Or', ['not', 'ge'], ['b']),
      node('Where', ['b', 'x', 'z'], ['y']),
    ],
    initializers: [
      ['half', Tensor.float32([], [0.5])],
      ['one', Tensor.float32([], [1])],
    ],
    ops: ['GREATER', 'LESS', 'LESS_EQUAL', 'GREATER_EQUAL', 'EQUAL', 'LOGICAL_AND', 'LOGICAL_OR', 'NOT_EQUAL', 'LOGICAL_NOT', 'SELECT_V2', 'ROUND'],
  },
  {
    name: 'Equal on int32',
    inputs: [
      { name: 'a', dtype: 'int32', shape: [2, 5] },
      { name: 'c', dtype: 'int32', shape: [5] },
    ],
    outputs: [{ name: 'y', dtype: 'bool' }],
    nodes: [node('Equal', ['a', 'c'], ['y'])],
    ops: ['EQUAL'],
  },
  {
    name: 'ReduceProd axes [1]',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('ReduceProd', ['x', 'axes'], ['y'], { keepdims: int(0) })],
    initializers: [['axes', Tensor.int64([1], [1])]],
    ops: ['REDUCE_PROD'],
    tol: 1e-6,
  },
  {
    name: 'ReduceL2 and ReduceSumSquare (F.normalize)',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }, { name: 's', dtype: 'float32' }],
    nodes: [node('ReduceL2', ['x', 'axes'], ['n'], { keepdims: int(1) }), node('Div', ['x', 'n'], ['y']), node('ReduceSumSquare', ['x', 'axes'], ['s'], { keepdims: int(0) })],
    initializers: [['axes', Tensor.int64([1], [-1])]],
    ops: ['SUM', 'SQRT', 'SQUARE'],
    tol: 1e-6,
  },
  unaryCase('Sin', 'SIN', 1e-6),
  unaryCase('Cos', 'COS', 1e-6),
  unaryCase('Floor', 'FLOOR'),
  unaryCase('Ceil', 'CEIL'),
  unaryCase('Round', 'ROUND', 0, [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 1.51, ...Array.from({ length: 16 }, (_, i) => i * 0.37 - 3)]),
  unaryCase('Sign', 'SIGN', 0, [0, -1, 2, ...Array.from({ length: 21 }, (_, i) => i - 10)]),
  unaryCase('Reciprocal', 'DIV', 1e-6),
  {
    name: 'LRN (NCHW, through the layout pass)',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 7, 3, 4] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('LRN', ['x'], ['y'], { size: int(5), alpha: float(0.002), beta: float(0.75), bias: float(1.5) })],
    ops: ['LOCAL_RESPONSE_NORMALIZATION'],
    tol: 1e-5,
    nchw: true,
  },
  {
    name: 'GatherND',
    inputs: [{ name: 'x', dtype: 'float32', shape: [3, 4, 2] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('GatherND', ['x', 'idx'], ['y'])],
    initializers: [['idx', Tensor.int64([4, 2], [0, 0, 2, 3, 1, 1, 2, 0])]],
    ops: ['GATHER_ND'],
  },
  {
    name: 'OneHot with negative indices (ONNX counts them from the back)',
    inputs: [{ name: 'i32', dtype: 'int32', shape: [2, 3], values: [0, 3, -1, -4, 2, 1] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    // int64 indices (what onnxruntime's OneHot takes), from an int32 input (what the interpreter's web API can feed)
    nodes: [node('Cast', ['i32'], ['i'], { to: int(7) }), node('OneHot', ['i', 'depth', 'values'], ['y'], { axis: int(1) })],
    initializers: [
      ['depth', Tensor.int64([], [4])],
      ['values', Tensor.float32([2], [-1, 5])],
    ],
    ops: ['ONE_HOT'],
  },
  {
    name: 'CumSum exclusive reverse',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('CumSum', ['x', 'axis'], ['y'], { exclusive: int(1), reverse: int(1) })],
    initializers: [['axis', Tensor.int64([], [1])]],
    ops: ['CUMSUM'],
    tol: 1e-6,
  },
  {
    name: 'Mod (floor remainder) on int32',
    inputs: [
      { name: 'a', dtype: 'int32', shape: [8], values: [7, -7, 7, -7, 0, 9, -9, 5] },
      { name: 'c', dtype: 'int32', shape: [8], values: [2, 2, -2, -2, 3, 3, 3, -5] },
    ],
    outputs: [{ name: 'y', dtype: 'int32' }],
    nodes: [node('Mod', ['a', 'c'], ['y'])],
    ops: ['FLOOR_MOD'],
  },
  {
    name: 'TopK (int64 indices by a CAST)',
    inputs: [{ name: 'x', dtype: 'float32', shape: [3, 7] }],
    outputs: [{ name: 'v', dtype: 'float32' }, { name: 'y', dtype: 'int32' }],
    nodes: [node('TopK', ['x', 'k'], ['v', 'i'], { axis: int(-1) }), toInt32('i', 'y')],
    initializers: [['k', Tensor.int64([1], [4])]],
    ops: ['TOPK_V2'],
  },
  {
    name: 'Pad reflect (MIRROR_PAD)',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('Pad', ['x', 'pads'], ['y'], { mode: { type: 'string', value: 'reflect' } })],
    initializers: [['pads', Tensor.int64([6], [0, 2, 1, 0, 0, 3])]],
    ops: ['MIRROR_PAD'],
  },
  {
    name: 'DepthToSpace DCR and SpaceToDepth (NCHW, through the layout pass)',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8, 3, 2] }],
    outputs: [{ name: 'y', dtype: 'float32' }, { name: 'z', dtype: 'float32' }],
    nodes: [node('DepthToSpace', ['x'], ['y'], { blocksize: int(2), mode: { type: 'string', value: 'DCR' } }), node('SpaceToDepth', ['y'], ['z'], { blocksize: int(2) })],
    ops: ['DEPTH_TO_SPACE', 'SPACE_TO_DEPTH'],
    nchw: true,
  },
  {
    name: 'Sum of three (ADD_N), variadic Max (a MAXIMUM chain) and Min of one',
    inputs: [x234, { name: 'z', dtype: 'float32', shape: [2, 3, 4] }, { name: 'w', dtype: 'float32', shape: [4] }],
    outputs: [{ name: 'y', dtype: 'float32' }, { name: 'm', dtype: 'float32' }, { name: 'o', dtype: 'float32' }],
    nodes: [node('Sum', ['x', 'z', 'x'], ['y']), node('Max', ['x', 'w', 'z'], ['m']), node('Min', ['x'], ['o'])],
    ops: ['ADD_N', 'MAXIMUM'],
    counts: { MAXIMUM: 2 },
    tol: 1e-6,
  },
  // int8: QDQ islands. TILE's kernel copies int8 bytes (input and output share parameters); SIN has
  // no integer kernel, so its island is written as DEQUANTIZE, SIN, QUANTIZE (the float fallback)
  {
    name: 'int8 Tile island (integer TILE)',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('QuantizeLinear', ['x', 's', 'zp'], ['xq']), node('DequantizeLinear', ['xq', 's', 'zp'], ['xd']), node('Tile', ['xd', 'reps'], ['t']), node('QuantizeLinear', ['t', 's', 'zp'], ['tq']), node('DequantizeLinear', ['tq', 's', 'zp'], ['y'])],
    initializers: [
      ['s', Tensor.float32([], [0.03])],
      ['zp', new Tensor('int8', [], Int8Array.of(5))],
      ['reps', Tensor.int64([3], [1, 2, 2])],
    ],
    ops: ['TILE'],
    counts: { QUANTIZE: 1, DEQUANTIZE: 1, TILE: 1 },
  },
  {
    name: 'int8 Sin island (float fallback)',
    inputs: [x234],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes: [node('QuantizeLinear', ['x', 's', 'zp'], ['xq']), node('DequantizeLinear', ['xq', 's', 'zp'], ['xd']), node('Sin', ['xd'], ['t']), node('QuantizeLinear', ['t', 's2', 'zp'], ['tq']), node('DequantizeLinear', ['tq', 's2', 'zp'], ['y'])],
    initializers: [
      ['s', Tensor.float32([], [0.03])],
      ['s2', Tensor.float32([], [1 / 100])],
      ['zp', new Tensor('int8', [], Int8Array.of(5))],
    ],
    ops: ['SIN'],
    counts: { QUANTIZE: 2, DEQUANTIZE: 2, SIN: 1 },
    tol: 1 / 100 + 1e-6,
  },
];

function inputTensor(v: WriteCase['inputs'][number], seed: number): Tensor {
  const r = rng(seed);
  const n = v.shape.reduce((p, d) => p * d, 1);
  const values = v.values ?? Array.from({ length: n }, () => (v.dtype === 'float32' ? r() * 6 - 3 : v.dtype === 'bool' ? (r() < 0.5 ? 1 : 0) : Math.floor(r() * 11) - 5));
  const t = Tensor.zeros(v.dtype, v.shape);
  (t.data as unknown as { set(a: ArrayLike<number | bigint>): void }).set(v.dtype === 'int64' ? values.map((x) => BigInt(x)) : values);
  return t;
}


describe('TFLite writer: more ONNX ops against onnxruntime and the interpreter', () => {
  it.each(CASES.map((c, k) => [c.name, c, k] as const))('%s', async (_name, c, k) => {
    const g: Graph = {
      name: 'ops',
      inputs: c.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
      outputs: c.outputs,
      nodes: c.nodes,
      initializers: new Map(c.initializers ?? []),
      opsets: { '': 18 },
    };
    const feeds = c.inputs.map((v, i) => inputTensor(v, 300 + 10 * k + i));
    const ort = await runOrt(writeOnnx(g), Object.fromEntries(c.inputs.map((v, i) => [v.name, feeds[i]!])));
    const file = await writeTflite(g, { keepNchwIo: c.nchw });
    const ops = tfliteOpNames(file, `w${k}`);
    for (const op of c.ops) expect(ops).toContain(op);
    for (const [op, count] of Object.entries(c.counts ?? {})) expect(ops.filter((o) => o === op).length, `${op} count in ${ops.join(' ')}`).toBe(count);
    const theirs = await oracle.run(file, feeds.map((t) => t.data as ArrayBufferView));
    c.outputs.forEach((o, i) => {
      const want = ort[o.name]!;
      const got = theirs[i]!;
      expect(got.shape, `${o.name} shape`).toEqual(want.dims);
      const wantT = new Tensor(o.dtype, [...want.dims], (o.dtype === 'bool' ? new Uint8Array((want.bytes as Uint8Array).slice().buffer) : new (Tensor.zeros(o.dtype, [0]).data.constructor as new (b: ArrayBuffer) => never)((want.bytes as Uint8Array).slice().buffer)) as never);
      const a = Array.from(got.data as ArrayLike<number>);
      const b = wantT.toNumbers();
      let worst = 0;
      for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!) / Math.max(1, Math.abs(b[j]!)));
      expect(worst, `${o.name}`).toBeLessThanOrEqual(c.tol ?? 0);
    });
  });
});

describe('TFLite writer: the new ops under --quantize int8', () => {
  it('Tile, Expand, GatherND stay int8 (shared parameters); Sin, Where, CumSum fall back to float between QUANTIZE and DEQUANTIZE', async () => {
    const g: Graph = {
      name: 'int8',
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      nodes: [
        node('Tile', ['x', 'reps'], ['t']),
        node('Expand', ['t', 'shape'], ['e']),
        node('GatherND', ['e', 'idx'], ['gn']),
        node('Sin', ['gn'], ['s']),
        node('Greater', ['gn', 'zero'], ['pos']),
        node('Where', ['pos', 's', 'gn'], ['w']),
        node('CumSum', ['w', 'axis'], ['y']),
      ],
      initializers: new Map<string, Tensor>([
        ['reps', Tensor.int64([3], [1, 2, 1])],
        ['shape', Tensor.int64([4], [2, 1, 1, 1])],
        ['idx', Tensor.int64([3, 2], [0, 1, 1, 1, 1, 0])],
        ['zero', Tensor.float32([], [0])],
        ['axis', Tensor.int64([], [1])],
      ]),
      opsets: { '': 18 },
    };
    const samples = [0, 1, 2, 3].map((k) => [inputTensor({ name: 'x', dtype: 'float32', shape: [2, 3, 4] }, 900 + k)]);
    const file = await writeTflite(g, { quantize: { mode: 'int8', calibration: samples } });
    const j = flatcJson<FlatcOps<{ inputs: number[] }, { tensors: { type?: string }[] }>>(file, 'int8-ops');
    const sg = j.subgraphs[0]!;
    const inputType = (op: string, input = 0) => sg.tensors[sg.operators.find((o) => opNameOf(j, o) === op)!.inputs[input]!]!.type ?? 'FLOAT32';
    expect(['TILE', 'BROADCAST_TO', 'GATHER_ND'].map((op) => inputType(op))).toEqual(['INT8', 'INT8', 'INT8']);
    expect(['SIN', 'SELECT_V2', 'CUMSUM'].map((op) => inputType(op, op === 'SELECT_V2' ? 1 : 0))).toEqual(['FLOAT32', 'FLOAT32', 'FLOAT32']);
    const x = inputTensor({ name: 'x', dtype: 'float32', shape: [2, 3, 4] }, 901);
    const want = new Float32Array(((await runOrt(writeOnnx(g), { x })).y!.bytes as Uint8Array).slice().buffer);
    const [got] = await oracle.run(file, [x.data as Float32Array]);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got!.data[i]!));
    // measured 0.044: int8 steps of the ~[-3, 3] input and of the cumulative sums, a few added up
    expect(worst).toBeLessThan(0.1);
  });
});
