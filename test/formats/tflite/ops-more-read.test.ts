// The TFLite reader's wider op rows (ops-more.ts) on hand-built one-op files: each file is run by
// the real TFLite interpreter and by nnport (read, reference runtime) on the same inputs, and the
// outputs must match (shape, and values exactly or within float rounding).
import type { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { ArgMaxOptions } from '../../../src/formats/generated/tflite/arg-max-options.js';
import { ArgMinOptions } from '../../../src/formats/generated/tflite/arg-min-options.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { CumsumOptions } from '../../../src/formats/generated/tflite/cumsum-options.js';
import { L2NormOptions } from '../../../src/formats/generated/tflite/l2-norm-options.js';
import { LocalResponseNormalizationOptions } from '../../../src/formats/generated/tflite/local-response-normalization-options.js';
import { MirrorPadMode } from '../../../src/formats/generated/tflite/mirror-pad-mode.js';
import { MirrorPadOptions } from '../../../src/formats/generated/tflite/mirror-pad-options.js';
import { OneHotOptions } from '../../../src/formats/generated/tflite/one-hot-options.js';
import { SplitVOptions } from '../../../src/formats/generated/tflite/split-voptions.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { UnpackOptions } from '../../../src/formats/generated/tflite/unpack-options.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import type { DType } from '../../../src/ir/dtypes.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildOpModel, type OpSpec, type OpTensor } from './op-model.js';

const oracle = useTfliteOracle();

type Opts = OpSpec['options'];

interface ReadCase {
  name: string;
  tensors: OpTensor[];
  code: Op;
  inputs: number[];
  outputs: number[];
  options?: Opts;
  /** fixed input values by tensor index (else random: floats in [-3, 3), ints in [-5, 5], bools) */
  feed?: Record<number, number[]>;
  /** max abs difference allowed (default 1e-6 relative to magnitude 1) */
  tol?: number;
  /** ops after the case's op (the web API reads no int64 output: a CAST to int32 follows) */
  then?: OpSpec[];
  /** the operator code's version (the interpreter registers BROADCAST_TO from version 2) */
  version?: number;
  /** the ONNX op types the graph read must contain */
  expect?: string[];
}

const f = (shape: number[], data?: number[]): OpTensor => ({ shape, data });
const i32 = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'int32', data });
const bool = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'bool', data });
const q8 = (shape: number[], scale = 0.05, zeroPoint = 3, data?: number[]): OpTensor => ({ shape, dtype: 'int8', quant: { scale, zeroPoint }, data });
const opts =
  <T>(type: BuiltinOptions, make: (b: Builder) => number): Opts =>
  (b) => [type, make(b)];

/** A binary op on two inputs of one dtype, broadcasting [2,3,4] against [3,1] (or [2,3,4]). */
const binaryCase = (name: string, code: Op, dtype: 'float32' | 'int32', out: 'float32' | 'int32' | 'bool', broadcast = true): ReadCase => ({
  name,
  tensors: [
    { shape: [2, 3, 4], dtype },
    { shape: broadcast ? [3, 1] : [2, 3, 4], dtype },
    { shape: [2, 3, 4], dtype: out },
  ],
  code,
  inputs: [0, 1],
  outputs: [2],
});

const CASES: ReadCase[] = [
  {
    name: 'ARG_MAX int32 over axis 1',
    tensors: [f([2, 5, 3]), i32([1], [1]), i32([2, 3])],
    code: Op.ARG_MAX,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.ArgMaxOptions, (b) => ArgMaxOptions.createArgMaxOptions(b, TensorType.INT32)),
    feed: { 0: [1, 2, 2, 0, 5, 5, 3, 1, 0, 2, 2, 9, 1, 1, 1, 4, 0, 0, 7, 7, 7, 7, 7, 7, 0, 0, 0, 1, 1, 1] },
    expect: ['ArgMax'],
  },
  {
    name: 'ARG_MIN int32 over the last axis',
    tensors: [f([3, 4]), i32([1], [-1]), i32([3])],
    code: Op.ARG_MIN,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.ArgMinOptions, (b) => ArgMinOptions.createArgMinOptions(b, TensorType.INT32)),
    expect: ['ArgMin'],
  },
  { name: 'CAST float32 -> int32 (truncates)', tensors: [f([2, 6]), i32([2, 6])], code: Op.CAST, inputs: [0], outputs: [1], expect: ['Cast'] },
  { name: 'CAST int32 -> float32', tensors: [i32([7]), f([7])], code: Op.CAST, inputs: [0], outputs: [1] },
  { name: 'CAST bool -> float32', tensors: [bool([5]), f([5])], code: Op.CAST, inputs: [0], outputs: [1] },
  {
    name: 'SPLIT_V with a -1 size on axis 2',
    tensors: [f([2, 3, 7]), i32([3], [2, -1, 1]), i32([], [2]), f([2, 3, 2]), f([2, 3, 4]), f([2, 3, 1])],
    code: Op.SPLIT_V,
    inputs: [0, 1, 2],
    outputs: [3, 4, 5],
    options: opts(BuiltinOptions.SplitVOptions, (b) => SplitVOptions.createSplitVOptions(b, 3)),
    expect: ['Split'],
  },
  {
    name: 'UNPACK axis 1',
    tensors: [f([2, 3, 4]), f([2, 4]), f([2, 4]), f([2, 4])],
    code: Op.UNPACK,
    inputs: [0],
    outputs: [1, 2, 3],
    options: opts(BuiltinOptions.UnpackOptions, (b) => UnpackOptions.createUnpackOptions(b, 3, 1)),
  },
  { name: 'TILE', tensors: [f([2, 3]), i32([2], [2, 3]), f([4, 9])], code: Op.TILE, inputs: [0, 1], outputs: [2], expect: ['Tile'] },
  { name: 'TILE int32', tensors: [i32([1, 3]), i32([2], [3, 1]), i32([3, 3])], code: Op.TILE, inputs: [0, 1], outputs: [2] },
  { name: 'BROADCAST_TO', tensors: [f([3, 1]), i32([3], [2, 3, 4]), f([2, 3, 4])], code: Op.BROADCAST_TO, version: 2, inputs: [0, 1], outputs: [2], expect: ['Expand'] },
  { name: 'REVERSE_V2 axis 1', tensors: [f([2, 3, 4]), i32([1], [1]), f([2, 3, 4])], code: Op.REVERSE_V2, inputs: [0, 1], outputs: [2], expect: ['Slice'] },
  { name: 'SQUARED_DIFFERENCE', tensors: [f([2, 3, 4]), f([4]), f([2, 3, 4])], code: Op.SQUARED_DIFFERENCE, inputs: [0, 1], outputs: [2], tol: 1e-5 },
  {
    name: 'MIRROR_PAD REFLECT',
    tensors: [f([1, 4, 5, 2]), i32([4, 2], [0, 0, 2, 1, 1, 3, 0, 0]), f([1, 7, 9, 2])],
    code: Op.MIRROR_PAD,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.MirrorPadOptions, (b) => MirrorPadOptions.createMirrorPadOptions(b, MirrorPadMode.REFLECT)),
    expect: ['Pad'],
  },
  {
    name: 'MIRROR_PAD SYMMETRIC',
    tensors: [f([1, 4, 5, 2]), i32([4, 2], [0, 0, 2, 4, 5, 1, 0, 0]), f([1, 10, 11, 2])],
    code: Op.MIRROR_PAD,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.MirrorPadOptions, (b) => MirrorPadOptions.createMirrorPadOptions(b, MirrorPadMode.SYMMETRIC)),
  },
  {
    name: 'L2_NORMALIZATION',
    tensors: [f([2, 3, 5]), f([2, 3, 5])],
    code: Op.L2_NORMALIZATION,
    inputs: [0],
    outputs: [1],
    options: opts(BuiltinOptions.L2NormOptions, (b) => L2NormOptions.createL2NormOptions(b, ActivationFunctionType.NONE)),
    tol: 1e-6,
  },
  {
    name: 'LOCAL_RESPONSE_NORMALIZATION radius 2',
    tensors: [f([1, 3, 4, 7]), f([1, 3, 4, 7])],
    code: Op.LOCAL_RESPONSE_NORMALIZATION,
    inputs: [0],
    outputs: [1],
    options: opts(BuiltinOptions.LocalResponseNormalizationOptions, (b) => LocalResponseNormalizationOptions.createLocalResponseNormalizationOptions(b, 2, 1.5, 0.3, 0.75)),
    tol: 1e-5,
    expect: ['LRN'],
  },
  {
    name: 'SPACE_TO_BATCH_ND with padding',
    tensors: [f([1, 5, 6, 2]), i32([2], [2, 3]), i32([2, 2], [1, 0, 0, 0]), f([6, 3, 2, 2])],
    code: Op.SPACE_TO_BATCH_ND,
    inputs: [0, 1, 2],
    outputs: [3],
  },
  {
    name: 'BATCH_TO_SPACE_ND with crops',
    tensors: [f([6, 3, 2, 2]), i32([2], [2, 3]), i32([2, 2], [1, 0, 0, 1]), f([1, 5, 5, 2])],
    code: Op.BATCH_TO_SPACE_ND,
    inputs: [0, 1, 2],
    outputs: [3],
  },
  binaryCase('EQUAL int32', Op.EQUAL, 'int32', 'bool'),
  binaryCase('NOT_EQUAL int32', Op.NOT_EQUAL, 'int32', 'bool'),
  binaryCase('LESS float', Op.LESS, 'float32', 'bool'),
  binaryCase('LESS_EQUAL int32', Op.LESS_EQUAL, 'int32', 'bool'),
  binaryCase('GREATER float', Op.GREATER, 'float32', 'bool'),
  binaryCase('GREATER_EQUAL int32', Op.GREATER_EQUAL, 'int32', 'bool'),
  { name: 'SELECT_V2 broadcasting', tensors: [bool([3, 1]), f([2, 3, 4]), f([4]), f([2, 3, 4])], code: Op.SELECT_V2, inputs: [0, 1, 2], outputs: [3], expect: ['Where'] },
  { name: 'SELECT same shapes', tensors: [bool([2, 3]), f([2, 3]), f([2, 3]), f([2, 3])], code: Op.SELECT, inputs: [0, 1, 2], outputs: [3] },
  { name: 'SELECT 1-D condition picks rows', tensors: [bool([3]), f([3, 4]), f([3, 4]), f([3, 4])], code: Op.SELECT, inputs: [0, 1, 2], outputs: [3] },
  { name: 'LOGICAL_AND', tensors: [bool([2, 3]), bool([2, 3]), bool([2, 3])], code: Op.LOGICAL_AND, inputs: [0, 1], outputs: [2] },
  { name: 'LOGICAL_OR', tensors: [bool([2, 3]), bool([2, 3]), bool([2, 3])], code: Op.LOGICAL_OR, inputs: [0, 1], outputs: [2] },
  { name: 'LOGICAL_NOT', tensors: [bool([6]), bool([6])], code: Op.LOGICAL_NOT, inputs: [0], outputs: [1] },
  {
    name: 'FLOOR_DIV int32 (negative operands)',
    tensors: [i32([8]), i32([8]), i32([8])],
    code: Op.FLOOR_DIV,
    inputs: [0, 1],
    outputs: [2],
    feed: { 0: [7, -7, 7, -7, 0, 9, -9, 5], 1: [2, 2, -2, -2, 3, 3, 3, -5] },
  },
  { name: 'FLOOR_DIV float', tensors: [f([2, 3, 4]), f([3, 1], [0.7, -1.3, 2.1]), f([2, 3, 4])], code: Op.FLOOR_DIV, inputs: [0, 1], outputs: [2] },
  {
    name: 'FLOOR_MOD int32 (negative operands)',
    tensors: [i32([8]), i32([8]), i32([8])],
    code: Op.FLOOR_MOD,
    inputs: [0, 1],
    outputs: [2],
    feed: { 0: [7, -7, 7, -7, 0, 9, -9, 5], 1: [2, 2, -2, -2, 3, 3, 3, -5] },
  },
  { name: 'FLOOR_MOD float', tensors: [f([2, 3, 4]), f([3, 1], [0.7, -1.3, 2.1]), f([2, 3, 4])], code: Op.FLOOR_MOD, inputs: [0, 1], outputs: [2], tol: 1e-6 },
  { name: 'ZEROS_LIKE', tensors: [f([2, 3]), f([2, 3])], code: Op.ZEROS_LIKE, inputs: [0], outputs: [1] },
  { name: 'FILL', tensors: [i32([2], [2, 3]), f([]), f([2, 3])], code: Op.FILL, inputs: [0, 1], outputs: [2], feed: { 1: [2.5] } },
  { name: 'SHAPE int32', tensors: [f([2, 3, 5]), i32([3])], code: Op.SHAPE, inputs: [0], outputs: [1], options: (b) => [BuiltinOptions.ShapeOptions, (b.startObject(1), b.addFieldInt8(0, TensorType.INT32, 0), b.endObject())] },
  { name: 'RANGE int32', tensors: [i32([]), i32([]), i32([]), i32([4])], code: Op.RANGE, inputs: [0, 1, 2], outputs: [3], feed: { 0: [3], 1: [-9], 2: [-3] } },
  { name: 'RANGE float', tensors: [f([]), f([]), f([]), f([5])], code: Op.RANGE, inputs: [0, 1, 2], outputs: [3], feed: { 0: [0.5], 1: [3], 2: [0.5] } },
  { name: 'GATHER_ND', tensors: [f([3, 4, 2]), i32([5, 2]), f([5, 2])], code: Op.GATHER_ND, inputs: [0, 1], outputs: [2], feed: { 1: [0, 0, 2, 3, 1, 1, 2, 0, 0, 3] }, expect: ['GatherND'] },
  {
    name: 'ONE_HOT axis -1',
    tensors: [i32([2, 3]), i32([], [4]), f([], [2]), f([], [-1]), f([2, 3, 4])],
    code: Op.ONE_HOT,
    inputs: [0, 1, 2, 3],
    outputs: [4],
    options: opts(BuiltinOptions.OneHotOptions, (b) => OneHotOptions.createOneHotOptions(b, -1)),
    feed: { 0: [0, 3, 1, -1, 2, 4] },
  },
  {
    name: 'ONE_HOT axis 0',
    tensors: [i32([3]), i32([], [3]), f([], [1]), f([], [0]), f([3, 3])],
    code: Op.ONE_HOT,
    inputs: [0, 1, 2, 3],
    outputs: [4],
    options: opts(BuiltinOptions.OneHotOptions, (b) => OneHotOptions.createOneHotOptions(b, 0)),
    feed: { 0: [2, 0, 1] },
  },
  {
    name: 'CUMSUM exclusive reverse',
    tensors: [f([2, 5]), i32([], [1]), f([2, 5])],
    code: Op.CUMSUM,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.CumsumOptions, (b) => CumsumOptions.createCumsumOptions(b, true, true)),
    tol: 1e-5,
  },
  { name: 'CUMSUM', tensors: [f([3, 4]), i32([], [0]), f([3, 4])], code: Op.CUMSUM, inputs: [0, 1], outputs: [2], tol: 1e-5 },
  {
    name: 'TOPK_V2',
    tensors: [f([3, 7]), i32([], [3]), f([3, 3]), i32([3, 3])],
    code: Op.TOPK_V2,
    inputs: [0, 1],
    outputs: [2, 3],
    expect: ['TopK'],
  },
  { name: 'ADD_N', tensors: [f([2, 3]), f([2, 3]), f([2, 3]), f([2, 3])], code: Op.ADD_N, inputs: [0, 1, 2], outputs: [3], tol: 1e-6, expect: ['Sum'] },
  {
    name: 'WHERE (coordinates of the true elements)',
    tensors: [bool([3, 4]), { shape: [6, 2], dtype: 'int64' }, i32([6, 2])],
    code: Op.WHERE,
    inputs: [0],
    outputs: [2],
    then: [{ code: Op.CAST, inputs: [1], outputs: [2] }],
    feed: { 0: [1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1] },
    expect: ['NonZero'],
  },
  { name: 'RANK', tensors: [f([2, 3, 5]), i32([])], code: Op.RANK, inputs: [0], outputs: [1] },
  { name: 'SIGN', tensors: [f([6]), f([6])], code: Op.SIGN, inputs: [0], outputs: [1], feed: { 0: [-2, 0, 3, -0.5, 0, 1e-3] } },
  { name: 'ROUND (half to even)', tensors: [f([8]), f([8])], code: Op.ROUND, inputs: [0], outputs: [1], feed: { 0: [0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.5] } },
  // int8 (QDQ around the float op; ops that only move data stay integer): raw int8 values compared,
  // within 1 where TFLite's integer kernel rounds differently from the float op
  { name: 'int8 TILE', tensors: [q8([2, 3]), i32([2], [2, 2]), q8([4, 6])], code: Op.TILE, inputs: [0, 1], outputs: [2] },
  { name: 'int8 REVERSE_V2', tensors: [q8([2, 3, 4]), i32([1], [2]), q8([2, 3, 4])], code: Op.REVERSE_V2, inputs: [0, 1], outputs: [2] },
  {
    name: 'int8 MIRROR_PAD SYMMETRIC',
    tensors: [q8([1, 3, 4, 2]), i32([4, 2], [0, 0, 1, 2, 2, 0, 0, 0]), q8([1, 6, 6, 2])],
    code: Op.MIRROR_PAD,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.MirrorPadOptions, (b) => MirrorPadOptions.createMirrorPadOptions(b, MirrorPadMode.SYMMETRIC)),
  },
  { name: 'int8 SPACE_TO_BATCH_ND', tensors: [q8([1, 4, 4, 3]), i32([2], [2, 2]), i32([2, 2], [1, 1, 0, 2]), q8([4, 3, 3, 3])], code: Op.SPACE_TO_BATCH_ND, inputs: [0, 1, 2], outputs: [3] },
  { name: 'int8 BATCH_TO_SPACE_ND', tensors: [q8([4, 3, 3, 3]), i32([2], [2, 2]), i32([2, 2], [1, 1, 0, 2]), q8([1, 4, 4, 3])], code: Op.BATCH_TO_SPACE_ND, inputs: [0, 1, 2], outputs: [3] },
  {
    name: 'int8 ARG_MAX',
    tensors: [q8([3, 6]), i32([1], [1]), i32([3])],
    code: Op.ARG_MAX,
    inputs: [0, 1],
    outputs: [2],
    options: opts(BuiltinOptions.ArgMaxOptions, (b) => ArgMaxOptions.createArgMaxOptions(b, TensorType.INT32)),
  },
  { name: 'int8 GREATER (same scale)', tensors: [q8([2, 5]), q8([2, 5]), bool([2, 5])], code: Op.GREATER, inputs: [0, 1], outputs: [2] },
  { name: 'int8 SELECT_V2', tensors: [bool([2, 3]), q8([2, 3]), q8([2, 3]), q8([2, 3])], code: Op.SELECT_V2, inputs: [0, 1, 2], outputs: [3] },
  { name: 'int8 SQUARED_DIFFERENCE', tensors: [q8([2, 6]), q8([2, 6], 0.04, -2), q8([2, 6], 0.5, -128)], code: Op.SQUARED_DIFFERENCE, inputs: [0, 1], outputs: [2], tol: 1 },
  {
    name: 'int8 L2_NORMALIZATION',
    tensors: [q8([2, 8]), q8([2, 8], 1 / 128, 0)],
    code: Op.L2_NORMALIZATION,
    inputs: [0],
    outputs: [1],
    options: opts(BuiltinOptions.L2NormOptions, (b) => L2NormOptions.createL2NormOptions(b, ActivationFunctionType.NONE)),
    tol: 1,
  },
];

const ARRAYS: Partial<Record<DType, (n: number[]) => ArrayBufferView>> = {
  float32: (v) => Float32Array.from(v),
  int32: (v) => Int32Array.from(v),
  bool: (v) => Uint8Array.from(v),
  int8: (v) => Int8Array.from(v),
};

function feedOf(c: ReadCase, i: number, seed: number): Tensor {
  const t = c.tensors[i]!;
  const dtype = t.dtype ?? 'float32';
  const n = t.shape.reduce((p, d) => p * d, 1);
  const r = rng(seed);
  const values = c.feed?.[i] ?? Array.from({ length: n }, () => (dtype === 'float32' ? r() * 6 - 3 : dtype === 'bool' ? (r() < 0.5 ? 1 : 0) : dtype === 'int8' ? Math.floor(r() * 256) - 128 : Math.floor(r() * 11) - 5));
  return new Tensor(dtype, t.shape, ARRAYS[dtype]!(values) as never);
}

describe('TFLite reader: more builtin ops against the interpreter', () => {
  it.each(CASES.map((c, k) => [c.name, c, k] as const))('%s', async (_name, c, k) => {
    const first = { code: c.code, inputs: c.inputs, outputs: c.then ? c.then[0]!.inputs : c.outputs, options: c.options, version: c.version };
    const file = buildOpModel(c.tensors, [first, ...(c.then ?? [])], c.outputs);
    const g = await readTflite(file, { fileName: `op${k}.tflite` });
    for (const op of c.expect ?? []) expect(g.nodes.map((n) => n.opType)).toContain(op);
    const feeds = g.inputs.map((v) => feedOf(c, Number(v.name.slice(1)), 700 + k * 7 + Number(v.name.slice(1))));
    const theirs = await oracle.run(file, feeds.map((t) => t.data as ArrayBufferView));
    const feedMap = new Map(g.inputs.map((v, i) => [v.name, feeds[i]!]));
    const { outputs: floatOutputs } = await runGraph(g, feedMap);
    expect(theirs.length).toBe(c.outputs.length);
    // int8 files: the float runtime (QDQ simulated) and the integer runtime (islands it knows, the rest as QDQ)
    const runs = c.tensors.some((t) => t.quant) ? [floatOutputs, (await runInteger(g, feedMap)).outputs] : [floatOutputs];
    for (const outputs of runs) {
      c.outputs.forEach((o, i) => {
        const mine = outputs.get(g.outputs[i]!.name)!;
        const want = theirs[i]!;
        expect(mine.shape, `output ${i} shape`).toEqual(want.shape);
        const dtype = c.tensors[o]!.dtype ?? 'float32';
        expect(mine.dtype, `output ${i} dtype`).toBe(dtype);
        const a = mine.toNumbers();
        const b = Array.from(want.data as ArrayLike<number>);
        if (!c.tol) return void expect(a).toEqual(b);
        let worst = 0;
        const relative = dtype === 'float32';
        for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!) / (relative ? Math.max(1, Math.abs(b[j]!)) : 1));
        expect(worst, `output ${i}`).toBeLessThanOrEqual(c.tol);
      });
    }
  });
});
