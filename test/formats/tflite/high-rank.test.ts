// Ops above the TFLite interpreter's rank limits (lower-high-rank.ts, TFLITE_RANK_LIMITS): ONNX
// graphs with 7-D and 8-D tensors, as video models make them (MViT's broadcasting ADDs of relative
// positions, Video Swin's 8-D window partition), written to .tflite with their alike axes merged,
// run by the real TFLite interpreter (tfjs-tflite in headless Chromium) against onnxruntime-node on
// the same input. Without the merge the broadcasting ADD aborts the interpreter and the 7-D SLICE
// fails to load. An int8 file is checked against the float one and nnport's integer runtime; an op
// whose axes cannot merge under the limit is refused by name at conversion.
import { beforeAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { emptyGraph, type Attr, type Dim, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { lowerHighRank, TFLITE_RANK_LIMITS } from '../../../src/formats/tflite/lower-high-rank.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
});

interface Op {
  op: string;
  inputs: { name: string; shape: number[]; dtype?: 'float32' | 'bool' }[];
  attrs?: Record<string, Attr>;
  constants?: Record<string, Tensor>;
  /** node inputs after the graph inputs (constants by name) */
  extra?: string[];
}

/** A graph of `pre` nodes then the op (output y). */
function graphOf(o: Op, pre: Graph['nodes'] = []): Graph {
  const g = emptyGraph('high_rank');
  g.opsets[''] = 17;
  for (const i of o.inputs) g.inputs.push({ name: i.name, dtype: i.dtype ?? 'float32', shape: i.shape });
  for (const [k, t] of Object.entries(o.constants ?? {})) g.initializers.set(k, t);
  g.nodes.push(...pre);
  const first = pre.length ? [pre[pre.length - 1]!.outputs[0]!, ...o.inputs.slice(1).map((i) => i.name)] : o.inputs.map((i) => i.name);
  g.nodes.push({ name: o.op.toLowerCase(), opType: o.op, domain: '', inputs: [...first, ...(o.extra ?? [])], outputs: ['y'], attrs: o.attrs ?? {} });
  g.outputs.push({ name: 'y', dtype: 'float32' });
  return g;
}

const int64 = (v: number[]) => Tensor.int64([v.length], v);

function feeds(o: Op, seed: number): Tensor[] {
  const r = rng(seed);
  return o.inputs.map((i) => {
    const n = i.shape.reduce((a, b) => a * b, 1);
    if (i.dtype === 'bool') return new Tensor('bool', i.shape, Uint8Array.from({ length: n }, () => (r() > 0.5 ? 1 : 0)));
    return Tensor.float32(i.shape, Float32Array.from({ length: n }, () => r() * 4 - 2));
  });
}

type Json = { operator_codes: { builtin_code?: string }[]; subgraphs: { tensors: { shape?: number[] }[]; operators: { opcode_index?: number; inputs: number[]; outputs: number[] }[] }[] };
/** Each operator of the file: its builtin name and the highest rank among its tensors. */
function opRanks(bytes: Uint8Array, name: string): Array<[string, number]> {
  const j = flatcJson<Json>(bytes, name);
  const sg = j.subgraphs[0]!;
  return sg.operators.map((o) => [j.operator_codes[o.opcode_index ?? 0]!.builtin_code ?? 'ADD', Math.max(...[...o.inputs, ...o.outputs].filter((t) => t >= 0).map((t) => sg.tensors[t]?.shape?.length ?? 0))]);
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const forOracle = (t: Tensor) => (t.dtype === 'bool' ? (t.data as Uint8Array) : t.toFloat32());

/** The graph written as .tflite (float32), run by the interpreter and by onnxruntime on the same input: the file's ops and ranks. */
async function againstOrt(name: string, g: Graph, x: Tensor[]): Promise<Array<[string, number]>> {
  const want = [...(await ortRun(g, x)).values()][0]!;
  const bytes = await writeTflite(g, { fileName: `${name}.tflite` });
  const ops = opRanks(bytes, name);
  const [got] = await oracle.run(bytes, x.map(forOracle));
  expect(got!.shape).toEqual([...want.shape]);
  const err = maxAbs(got!.data as Float32Array, want.toFloat32());
  console.log(`${name}: ${ops.map(([o, r]) => `${o}@${r}`).join(' ')}; interpreter vs onnxruntime max |diff| ${err.toExponential(2)}`);
  expect(err).toBeLessThanOrEqual(1e-6);
  return ops;
}

/** Every op of the file at or under its measured limit (float32). */
function expectUnderLimits(ops: Array<[string, number]>): void {
  const limits = new Map(Object.values(TFLITE_RANK_LIMITS).flatMap((l) => l.tflite.split(' / ').map((t) => [t, l.float] as const)));
  for (const [op, r] of ops) if (limits.has(op)) expect(r, op).toBeLessThanOrEqual(limits.get(op)!);
}

// MViT's relative-position term: attn (B, heads, qt, qh, qw, kt, kh, kw) + rel_h[:, :, :, :, :, None, :, None]
const MVIT_ADD: Op = {
  op: 'Add',
  inputs: [
    { name: 'attn', shape: [1, 2, 2, 3, 3, 2, 3, 3] },
    { name: 'rel', shape: [1, 2, 2, 3, 3, 1, 3, 1] },
  ],
};
// a 7-D Mul broadcasting each operand over other runs of axes (and a size-1 axis in the output)
const MUL_7D: Op = {
  op: 'Mul',
  inputs: [
    { name: 'a', shape: [2, 3, 4, 1, 1, 5, 1] },
    { name: 'b', shape: [1, 1, 4, 3, 2, 5, 1] },
  ],
};

describe('TFLite writer: ops above the interpreter rank limits, merged, vs onnxruntime', () => {
  it('8-D broadcasting Add (MViT-like) and 7-D Mul: merged to 4-D, equal to onnxruntime', async () => {
    const add = await againstOrt('mvit_add', graphOf(MVIT_ADD), feeds(MVIT_ADD, 1));
    expect(add.filter(([o]) => o === 'ADD')).toEqual([['ADD', 4]]);
    const mul = await againstOrt('mul7', graphOf(MUL_7D), feeds(MUL_7D, 2));
    expect(mul.filter(([o]) => o === 'MUL')).toEqual([['MUL', 4]]);
  });

  it('5-D Add and 7-D Mul whose axes broadcast too differently to merge under 4-D: operands made full by BROADCAST_TO, the op 1-D', async () => {
    const add: Op = { op: 'Add', inputs: [{ name: 'a', shape: [2, 1, 3, 1, 4] }, { name: 'b', shape: [1, 5, 1, 2, 4] }] };
    const a = await againstOrt('add5_alternating', graphOf(add), feeds(add, 7));
    expect(a.filter(([o]) => o === 'BROADCAST_TO' || o === 'ADD')).toEqual([['BROADCAST_TO', 5], ['BROADCAST_TO', 5], ['ADD', 1]]);
    const mul: Op = { op: 'Mul', inputs: [{ name: 'a', shape: [2, 3, 1, 4, 5, 1, 2] }, { name: 'b', shape: [1, 3, 4, 4, 1, 6, 1] }] };
    const m = await againstOrt('mul7_alternating', graphOf(mul), feeds(mul, 8));
    expectUnderLimits(m);
    expect(m.filter(([o]) => o === 'MUL')).toEqual([['MUL', 1]]);
  });

  it('5-D broadcasting Add in a graph with dynamic-sized tensors (run without XNNPACK, whose builtin ADD broadcasts up to 4-D): merged to 3-D, reshaped back by its run-time shape', async () => {
    // x [2, 3, 4, H, W] + b [1, 3, 1, 1, 1]; x reshaped to Shape(x) is a second output: with two dims known
    // only at run time it is a RESHAPE by a SHAPE, so the file has dynamic-sized tensors and the interpreter
    // runs it without its XNNPACK delegate. Written 5-D (limit 6 before) the ADD aborted the interpreter.
    const g = emptyGraph('dynamic_add5');
    g.opsets[''] = 17;
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4, 'H', 'W'] });
    g.initializers.set('b', Tensor.float32([1, 3, 1, 1, 1], [0.5, -1, 2]));
    g.nodes.push(
      { name: 'shape', opType: 'Shape', domain: '', inputs: ['x'], outputs: ['s'], attrs: {} },
      { name: 'reshape', opType: 'Reshape', domain: '', inputs: ['x', 's'], outputs: ['r'], attrs: {} },
      { name: 'add', opType: 'Add', domain: '', inputs: ['x', 'b'], outputs: ['y'], attrs: {} },
    );
    g.outputs.push({ name: 'y', dtype: 'float32' }, { name: 'r', dtype: 'float32' });
    const [x] = feeds({ op: 'Add', inputs: [{ name: 'x', shape: [2, 3, 4, 5, 6] }] }, 9);
    const want = [...(await ortRun(g, [x!])).values()];
    const bytes = withStoredDim(withStoredDim(await writeTflite(g, { fileName: 'dynamic_add5.tflite' }), 3, 5), 4, 6);
    const ops = opRanks(bytes, 'dynamic_add5');
    expect(ops.filter(([o]) => o === 'ADD')).toEqual([['ADD', 3]]);
    const got = await oracle.run(bytes, [x!.toFloat32()]);
    const err = Math.max(...want.map((w, i) => maxAbs(got[i]!.data as Float32Array, w.toFloat32())));
    console.log(`dynamic_add5: ${ops.map(([o, r]) => `${o}@${r}`).join(' ')}; interpreter vs onnxruntime max |diff| ${err}`);
    expect(got[0]!.shape).toEqual([2, 3, 4, 5, 6]);
    expect(err).toBe(0);
  });

  it('6-D Where with three broadcasting operands (SELECT_V2 runs up to 5-D)', async () => {
    const o: Op = {
      op: 'Where',
      inputs: [
        { name: 'c', shape: [2, 3, 1, 1, 4, 2], dtype: 'bool' },
        { name: 'a', shape: [2, 3, 2, 3, 1, 1] },
        { name: 'b', shape: [1, 1, 1, 1, 4, 2] },
      ],
    };
    const ops = await againstOrt('where6', graphOf(o), feeds(o, 3));
    expect(ops.filter(([op]) => op === 'SELECT_V2')).toEqual([['SELECT_V2', 4]]);
  });

  it("8-D Transpose with Video Swin's window permutation (0, 1, 3, 5, 2, 4, 6, 7) after its 8-D view", async () => {
    // x.view(B, D/wd, wd, H/wh, wh, W/ww, ww, C).permute(0, 1, 3, 5, 2, 4, 6, 7) of (B, D, H, W, C) = (2, 4, 4, 6, 3), window (2, 2, 3)
    const view: Graph['nodes'][number] = { name: 'view', opType: 'Reshape', domain: '', inputs: ['x', 'windows'], outputs: ['x8'], attrs: {} };
    const o: Op = { op: 'Transpose', inputs: [{ name: 'x', shape: [2, 4, 4, 6, 3] }], attrs: { perm: { type: 'ints', value: [0, 1, 3, 5, 2, 4, 6, 7] } }, constants: { windows: int64([2, 2, 2, 2, 2, 2, 3, 3]) } };
    const ops = await againstOrt('swin_partition', graphOf(o, [view]), feeds(o, 4));
    expect(ops.some(([op]) => op === 'TRANSPOSE')).toBe(true);
    expectUnderLimits(ops);
  });

  it('7-D Slice of two axes (SLICE) and with a step (STRIDED_SLICE): 5-D at most', async () => {
    const x = { name: 'x', shape: [2, 3, 4, 5, 2, 3, 2] };
    const slice: Op = { op: 'Slice', inputs: [x], extra: ['starts', 'ends', 'axes'], constants: { starts: int64([1, 0]), ends: int64([3, 2]), axes: int64([2, -2]) } };
    const ops = await againstOrt('slice7', graphOf(slice), feeds(slice, 5));
    expect(ops.filter(([op]) => op === 'SLICE')).toEqual([['SLICE', 5]]);
    const strided: Op = { ...slice, extra: [...slice.extra!, 'steps'], constants: { ...slice.constants, steps: int64([2, 1]) } };
    const ops2 = await againstOrt('strided7', graphOf(strided), feeds(strided, 6));
    expect(ops2.filter(([op]) => op === 'STRIDED_SLICE')).toEqual([['STRIDED_SLICE', 5]]);
  });

  it('6-D Pad of one axis (PAD) and with a value (PADV2)', async () => {
    const x = { name: 'x', shape: [2, 3, 2, 2, 3, 2] };
    const pads = int64([0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
    const pad: Op = { op: 'Pad', inputs: [x], extra: ['pads'], constants: { pads } };
    expect((await againstOrt('pad6', graphOf(pad), feeds(pad, 7))).filter(([op]) => op === 'PAD')).toEqual([['PAD', 3]]);
    const padv2: Op = { op: 'Pad', inputs: [x], extra: ['pads', 'value'], constants: { pads, value: Tensor.float32([], [0.5]) } };
    expect((await againstOrt('padv2_6', graphOf(padv2), feeds(padv2, 8))).filter(([op]) => op === 'PADV2')).toEqual([['PADV2', 3]]);
  });

  it('7-D ReduceMean over two adjacent axes (keepdims 1 and 0): MEAN runs at 7-D as it is', async () => {
    for (const keepdims of [1, 0]) {
      const o: Op = { op: 'ReduceMean', inputs: [{ name: 'x', shape: [2, 3, 4, 5, 2, 3, 2] }], attrs: { axes: { type: 'ints', value: [2, 3] }, keepdims: { type: 'int', value: keepdims } } };
      const ops = await againstOrt(`mean7_keep${keepdims}`, graphOf(o), feeds(o, 9));
      expect(ops.filter(([op]) => op === 'MEAN')).toEqual([['MEAN', 7]]);
    }
  });

  it('6-D Softmax over axis 2 (written between TRANSPOSEs, which stop at 5-D): merged to 3-D', async () => {
    const o: Op = { op: 'Softmax', inputs: [{ name: 'x', shape: [2, 3, 4, 2, 3, 2] }], attrs: { axis: { type: 'int', value: 2 } } };
    const ops = await againstOrt('softmax6', graphOf(o), feeds(o, 12));
    expect(ops.filter(([op]) => op === 'SOFTMAX')).toEqual([['SOFTMAX', 3]]);
    expectUnderLimits(ops);
  });

  it('6-D LogSoftmax over axis 1; 6-D broadcasting Mod (FLOOR_MOD and its sign fix-up, 4-D at most) and Or (LOGICAL_OR, 4-D)', async () => {
    const log: Op = { op: 'LogSoftmax', inputs: [{ name: 'x', shape: [2, 3, 4, 2, 3, 2] }], attrs: { axis: { type: 'int', value: 1 } } };
    expect((await againstOrt('logsoftmax6', graphOf(log), feeds(log, 13))).filter(([op]) => op === 'LOG_SOFTMAX')).toEqual([['LOG_SOFTMAX', 3]]);
    const mod: Op = { op: 'Mod', inputs: MUL_7D.inputs.map((i) => ({ ...i, shape: i.shape.slice(1) })), attrs: { fmod: { type: 'int', value: 1 } } };
    const modOps = await againstOrt('mod6', graphOf(mod), feeds(mod, 14));
    expect(modOps.filter(([op]) => op === 'FLOOR_MOD')).toEqual([['FLOOR_MOD', 4]]);
    expect(Math.max(...modOps.filter(([op]) => op !== 'RESHAPE').map(([, r]) => r))).toBeLessThanOrEqual(4);
    const or: Op = { op: 'Or', inputs: mod.inputs.map((i) => ({ ...i, dtype: 'bool' })) };
    const g = graphOf(or);
    g.outputs[0]!.dtype = 'bool';
    const x = feeds(or, 15);
    const want = [...(await ortRun(g, x)).values()][0]!;
    const bytes = await writeTflite(g, { fileName: 'or6.tflite' });
    expect(opRanks(bytes, 'or6').filter(([op]) => op === 'LOGICAL_OR')).toEqual([['LOGICAL_OR', 4]]);
    const [got] = await oracle.run(bytes, x.map(forOracle));
    expect(Array.from(got!.data as Uint8Array)).toEqual(Array.from(want.data as Uint8Array));
  });

  // MEAN runs up to 12-D (the highest tried); a 13-D input reduced to 8-D (RESHAPE makes no more) is merged
  it('13-D ReduceMean to 8-D: merged to a 3-D MEAN', async () => {
    const o: Op = { op: 'ReduceMean', inputs: [{ name: 'x', shape: [2, 3, 1, 2, 1, 2, 2, 1, 1, 2, 1, 2, 3] }], attrs: { axes: { type: 'ints', value: [3, 5, 6, 9, 11] }, keepdims: { type: 'int', value: 0 } } };
    const ops = await againstOrt('mean13', graphOf(o), feeds(o, 10));
    expect(ops.filter(([op]) => op === 'MEAN')).toEqual([['MEAN', 3]]);
  });
});

describe('TFLite writer: high-rank ops over a batch sized at run time', () => {
  it('8-D broadcasting Add of batch N: the merged axes holding N reshaped with -1; run at batch 1 and 3 as onnxruntime', async () => {
    const o: Op = { op: 'Add', inputs: MVIT_ADD.inputs.map((i) => ({ ...i, shape: [1, ...i.shape.slice(1)] })) };
    const g = graphOf(o);
    for (const v of g.inputs) v.shape = ['N', ...v.shape!.slice(1)];
    const bytes = await writeTflite(g, { fileName: 'mvit_add_dynamic.tflite' });
    expect(opRanks(bytes, 'mvit_add_dynamic').filter(([op]) => op === 'ADD')).toEqual([['ADD', 4]]);
    for (const n of [1, 3]) {
      const x = feeds({ ...o, inputs: o.inputs.map((i) => ({ ...i, shape: [n, ...i.shape.slice(1)] })) }, 20 + n);
      const want = [...(await ortRun(g, x)).values()][0]!;
      const [got] = await oracle.run(withStoredDim(withStoredDim(bytes, 0, n, 0), 0, n, 1), x.map(forOracle));
      expect(got!.shape).toEqual([...want.shape]);
      const err = maxAbs(got!.data as Float32Array, want.toFloat32());
      console.log(`mvit_add batch ${n} of N: interpreter vs onnxruntime max |diff| ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-6);
    }
  });
});

/**
 * A graph of one broadcasting op over inputs with dims known only at run time, beside a second output that reshapes
 * input 0 by its own SHAPE: with two run-time dims that is a RESHAPE by a SHAPE, so the file has dynamic-sized tensors
 * and the interpreter runs it without its XNNPACK delegate, on the builtin kernels' rank limits.
 */
function dynamicBroadcast(name: string, op: string, inputs: { name: string; shape: Dim[] }[], constants: Record<string, Tensor> = {}): Graph {
  const g = emptyGraph(name);
  g.opsets[''] = 17;
  for (const i of inputs) g.inputs.push({ name: i.name, dtype: 'float32', shape: i.shape });
  for (const [k, t] of Object.entries(constants)) g.initializers.set(k, t);
  const x = inputs[0]!.name;
  g.nodes.push(
    { name: 'shape', opType: 'Shape', domain: '', inputs: [x], outputs: ['s'], attrs: {} },
    { name: 'reshape', opType: 'Reshape', domain: '', inputs: [x, 's'], outputs: ['r'], attrs: {} },
    { name: op.toLowerCase(), opType: op, domain: '', inputs: [...inputs.map((i) => i.name), ...Object.keys(constants)], outputs: ['y'], attrs: {} },
  );
  g.outputs.push({ name: 'y', dtype: 'float32' }, { name: 'r', dtype: 'float32' });
  return g;
}

/** The graph written as .tflite, its inputs' run-time dims stored as `sizes` gives them, run by the interpreter and onnxruntime at each size. */
async function dynamicAgainstOrt(name: string, g: Graph, sizes: Record<string, number>[], seed: number, float16 = false): Promise<Array<[string, number]>> {
  const bytes = await writeTflite(g, { fileName: `${name}.tflite`, quantize: float16 ? { mode: 'float16' } : undefined });
  const ops = opRanks(bytes, name);
  for (const [k, size] of sizes.entries()) {
    const shapes = g.inputs.map((v) => v.shape!.map((d) => (typeof d === 'number' ? d : size[d as string]!)));
    const x = feeds({ op: '', inputs: g.inputs.map((v, i) => ({ name: v.name, shape: shapes[i]! })) }, seed + k);
    const want = [...(await ortRun(g, x)).values()];
    let file = bytes;
    g.inputs.forEach((v, i) => v.shape!.forEach((d, a) => typeof d !== 'number' && (file = withStoredDim(file, a, shapes[i]![a]!, i))));
    const got = await oracle.run(file, x.map(forOracle));
    want.forEach((w, i) => expect(got[i]!.shape, `${name} output ${i}`).toEqual([...w.shape]));
    const err = Math.max(...want.map((w, i) => maxAbs(got[i]!.data as Float32Array, w.toFloat32())));
    console.log(`${name} at ${JSON.stringify(size)}: ${ops.map(([o, r]) => `${o}@${r}`).join(' ')}; interpreter vs onnxruntime max |diff| ${err.toExponential(2)}`);
    // float16: the constant operand's weights rounded to half (|b| <= 1: half an ulp is 2^-12)
    expect(err).toBeLessThanOrEqual(float16 ? 2 ** -12 + 1e-6 : 1e-6);
  }
  return ops;
}

describe('TFLite writer: float broadcasts over run-time dims that do not merge under the builtin limit, in a graph with dynamic-sized tensors', () => {
  const sizes = [{ N: 1, H: 3 }, { N: 2, H: 5 }];

  it('5-D Add of x [N, 3, 1, H, 4] and a constant [1, 3, 5, 1, 4] (5 runs of axes, ADD takes 4-D)', async () => {
    const b = Tensor.float32([1, 3, 5, 1, 4], Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)));
    const g = dynamicBroadcast('dyn_add5_runs', 'Add', [{ name: 'x', shape: ['N', 3, 1, 'H', 4] }], { b });
    const ops = await dynamicAgainstOrt('dyn_add5_runs', g, sizes, 40);
    expectUnderLimits(ops);
    expect(ops.filter(([o]) => o === 'ADD' || o === 'BROADCAST_TO')).toEqual([['BROADCAST_TO', 5], ['BROADCAST_TO', 5], ['ADD', 1]]);
    // float16 weights: the constant is a DEQUANTIZE of half values, broadcast the same way
    const half = await dynamicAgainstOrt('dyn_add5_runs_f16', g, sizes, 45, true);
    expect(half.filter(([o]) => o === 'ADD' || o === 'BROADCAST_TO' || o === 'DEQUANTIZE')).toEqual([['DEQUANTIZE', 5], ['BROADCAST_TO', 5], ['BROADCAST_TO', 5], ['ADD', 1]]);
  });

  it('6-D Mul of a [N, 1, 3, H, 1, 2] and b [N, 4, 1, H, 5, 1]: neither operand full, the output shape made of both', async () => {
    const g = dynamicBroadcast('dyn_mul6', 'Mul', [{ name: 'a', shape: ['N', 1, 3, 'H', 1, 2] }, { name: 'b', shape: ['N', 4, 1, 'H', 5, 1] }]);
    const ops = await dynamicAgainstOrt('dyn_mul6', g, sizes, 50);
    expectUnderLimits(ops);
    expect(ops.filter(([o]) => o === 'MUL' || o === 'BROADCAST_TO')).toEqual([['BROADCAST_TO', 6], ['BROADCAST_TO', 6], ['MUL', 1]]);
  });

  it('7-D Mul of a [N, 3, 1, 4, 5, 1, 2] and b [1, 3, 4, 4, 1, 6, 1] (refused before): BROADCAST_TO at 7-D to a shape computed at run time, MUL 1-D', async () => {
    const g = dynamicBroadcast('dyn_mul7', 'Mul', [{ name: 'a', shape: ['N', 3, 1, 4, 5, 1, 'H'] }, { name: 'b', shape: [1, 3, 4, 4, 1, 6, 1] }]);
    const ops = await dynamicAgainstOrt('dyn_mul7', g, sizes, 70);
    expectUnderLimits(ops);
    expect(ops.filter(([o]) => o === 'MUL' || o === 'BROADCAST_TO')).toEqual([['BROADCAST_TO', 7], ['BROADCAST_TO', 7], ['MUL', 1]]);
  });

  it('5-D Add of x [N, 3, 4, H, 5] and a constant [1, 3, 1, 1, 5]: its runs fit 4-D, but two of them are sized at run time', async () => {
    const b = Tensor.float32([1, 3, 1, 1, 5], Float32Array.from({ length: 15 }, (_, i) => Math.cos(i)));
    const g = dynamicBroadcast('dyn_add5_two_runtime', 'Add', [{ name: 'x', shape: ['N', 3, 4, 'H', 5] }], { b });
    const ops = await dynamicAgainstOrt('dyn_add5_two_runtime', g, sizes, 60);
    expectUnderLimits(ops);
    expect(ops.filter(([o]) => o === 'ADD' || o === 'BROADCAST_TO')).toEqual([['BROADCAST_TO', 5], ['ADD', 1]]);
  });
});

describe('TFLite writer: high-rank int8', () => {
  it('8-D broadcasting Add, int8: close to the float file, and what nnport\'s integer runtime computes from the file', { timeout: 120_000 }, async () => {
    const g = graphOf(MVIT_ADD);
    const x = feeds(MVIT_ADD, 11);
    const calibration = [x, ...[12, 13, 14].map((s) => feeds(MVIT_ADD, s))];
    const bytes = await writeTflite(g, { fileName: 'mvit_add_int8.tflite', quantize: { mode: 'int8', calibration } });
    const ops = opRanks(bytes, 'mvit_add_int8');
    expect(ops.filter(([o]) => o === 'ADD')).toEqual([['ADD', 4]]);
    const [q] = await oracle.run(bytes, x.map(forOracle));
    const [f] = await oracle.run(await writeTflite(g, { fileName: 'mvit_add.tflite' }), x.map(forOracle));
    const back = await readTflite(bytes);
    const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0]!.name)!;
    const lsb = back.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
    const vsFloat = maxAbs(q!.data as Float32Array, f!.data as Float32Array);
    const mine = [...(await runInteger(back, Object.fromEntries(back.inputs.map((v, i) => [v.name, x[i]!])))).outputs.values()][0]!.toFloat32();
    const vsRuntime = maxAbs(mine, q!.data as Float32Array) / lsb;
    console.log(`mvit_add int8: ${ops.map(([o, r]) => `${o}@${r}`).join(' ')}; vs float file ${vsFloat.toExponential(2)} (output LSB ${lsb.toExponential(2)}), integer runtime vs interpreter ${vsRuntime} LSB`);
    expect(vsFloat).toBeLessThanOrEqual(3 * lsb);
    expect(vsRuntime).toBe(0);
  });
});

describe('TFLite writer: high-rank int16x8', () => {
  it('6-D broadcasting Add then Softmax, int16x8 (ADD broadcasts up to 4-D, SOFTMAX runs up to 4-D with int16): close to the float file, and what nnport\'s integer runtime computes', { timeout: 120_000 }, async () => {
    const g = emptyGraph('add_softmax');
    g.opsets[''] = 17;
    const inputs = [{ name: 'a', shape: [2, 3, 4, 1, 1, 5] }, { name: 'b', shape: [1, 1, 4, 3, 2, 5] }];
    for (const i of inputs) g.inputs.push({ name: i.name, dtype: 'float32', shape: i.shape });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['s'], attrs: {} });
    g.nodes.push({ name: 'softmax', opType: 'Softmax', domain: '', inputs: ['s'], outputs: ['y'], attrs: { axis: { type: 'int', value: -1 } } });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    const o: Op = { op: 'Add', inputs };
    const x = feeds(o, 30);
    const calibration = [x, ...[31, 32, 33].map((s) => feeds(o, s))];
    const bytes = await writeTflite(g, { fileName: 'add_softmax_int16.tflite', quantize: { mode: 'int16x8', calibration } });
    const ops = opRanks(bytes, 'add_softmax_int16');
    expect(ops.filter(([op]) => op === 'ADD' || op === 'SOFTMAX')).toEqual([['ADD', 4], ['SOFTMAX', 2]]);
    const [q] = await oracle.run(bytes, x.map(forOracle));
    const want = [...(await ortRun(g, x)).values()][0]!.toFloat32();
    const back = await readTflite(bytes);
    const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0]!.name)!;
    const lsb = back.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
    const vsFloat = maxAbs(q!.data as Float32Array, want);
    const mine = [...(await runInteger(back, Object.fromEntries(back.inputs.map((v, i) => [v.name, x[i]!])))).outputs.values()][0]!.toFloat32();
    const vsRuntime = maxAbs(mine, q!.data as Float32Array) / lsb;
    console.log(`add_softmax int16x8: ${ops.map(([op, r]) => `${op}@${r}`).join(' ')}; vs onnxruntime ${vsFloat.toExponential(2)} (output LSB ${lsb.toExponential(2)}), integer runtime vs interpreter ${vsRuntime} LSB`);
    expect(vsFloat).toBeLessThanOrEqual(1e-3);
    expect(vsRuntime).toBeLessThanOrEqual(1);
  });
});

describe('TFLite writer: high-rank ops that cannot be merged under the limit', () => {
  it('a 7-D Mul whose every axis broadcasts differently from its neighbours, over two dims known only at run time that may or may not broadcast to each other: UnsupportedError naming MUL, the rank, the limit and the node', async () => {
    const o: Op = { op: 'Mul', inputs: [{ name: 'a', shape: [2, 3, 1, 4, 5, 1, 2] }, { name: 'b', shape: [1, 3, 4, 4, 1, 6, 1] }] };
    const g = graphOf(o);
    g.inputs[0]!.shape = ['N', 3, 1, 4, 5, 1, 2];
    g.inputs[1]!.shape = ['M', 3, 4, 4, 1, 6, 1];
    const write = () => writeTflite(g, { fileName: 'mul_alternating.tflite' });
    await expect(write()).rejects.toThrow(UnsupportedError);
    await expect(write()).rejects.toThrow(/Mul \(TFLite MUL\) of rank 7.*node 'mul' in mul_alternating\.tflite.*up to 4-D.*may or may not broadcast/);
  });

  it('int8: a 5-D Add over two run-time dims that does not merge under ADD\'s 4-D (no integer BROADCAST_TO is written for it): UnsupportedError naming ADD and int8', () => {
    const b = Tensor.float32([1, 3, 5, 1, 4], new Float32Array(60).fill(0.5));
    const g = dynamicBroadcast('dyn_add5_int8', 'Add', [{ name: 'x', shape: ['N', 3, 1, 'H', 4] }], { b });
    const lower = () => lowerHighRank(g, { activations: 'int8', fileName: 'dyn_add5_int8.tflite' });
    expect(lower).toThrow(UnsupportedError);
    expect(lower).toThrow(/Add \(TFLite ADD\) of rank 5.*node 'add' in dyn_add5_int8\.tflite.*up to 4-D with int8 activations, and its axes merge to 5-D at the fewest/);
  });

  it('a 9-D Expand (BROADCAST_TO runs up to 8-D, and RESHAPE makes no 9-D tensor back): UnsupportedError naming BROADCAST_TO', async () => {
    const o: Op = { op: 'Expand', inputs: [{ name: 'x', shape: [2, 1, 1, 3, 1, 2, 2, 1, 3] }], extra: ['shape'], constants: { shape: int64([2, 2, 2, 3, 1, 2, 2, 2, 3]) } };
    await expect(writeTflite(graphOf(o), { fileName: 'expand9.tflite' })).rejects.toThrow(/Expand \(TFLite BROADCAST_TO\) of rank 9.*node 'expand'.*up to 8-D.*RESHAPE makes at most 8-D/);
  });
});
