// Pre-quantized (QDQ) ONNX models with ops above the TFLite interpreter's rank limits
// (lower-high-rank.ts, collapse-transpose.ts): the merging Reshapes go on the integer side of the
// DequantizeLinear / QuantizeLinear (quantized-side.ts), so the op stays in its QDQ island and is
// written int8, not in float between DEQUANTIZE and QUANTIZE. The models are quantize_static's QDQ
// layout (scripts/fixtures/onnx_qdq_high_rank.py); the real TFLite interpreter runs the .tflite
// against onnxruntime-node on the .onnx, and nnport's integer runtime runs the file against the
// interpreter. Then the int8 rank limits measured for TFLITE_RANK_LIMITS, on one-op QDQ graphs: the
// op at its limit written as it is, one rank more merged under it, both against onnxruntime.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { lowerHighRank, TFLITE_RANK_LIMITS } from '../../../src/formats/tflite/lower-high-rank.js';
import { convert, loadModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { emptyGraph, type Attr, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const NETS = ['add8', 'mul_add7', 'swin8'] as const;
const oracle = useTfliteOracle();
let cache = '';

beforeAll(async () => {
  await initKernels();
  cache = ensureScriptFixtures('onnx_qdq_high_rank.py', 'onnx-qdq-high-rank', NETS);
}, 600_000);

type Json = { operator_codes: { builtin_code?: string }[]; subgraphs: { tensors: { shape?: number[]; type?: string }[]; operators: { opcode_index?: number; inputs: number[]; outputs: number[] }[] }[] };
interface FileOp {
  op: string;
  rank: number;
  /** the types of its tensors (inputs then outputs; constants included) */
  types: string[];
}
/** Each operator of the file: its builtin name, the highest rank among its tensors, their types. */
function fileOps(bytes: Uint8Array, name: string): FileOp[] {
  const j = flatcJson<Json>(bytes, name);
  const sg = j.subgraphs[0]!;
  return sg.operators.map((o) => {
    const ts = [...o.inputs, ...o.outputs].filter((t) => t >= 0).map((t) => sg.tensors[t]!);
    return { op: j.operator_codes[o.opcode_index ?? 0]!.builtin_code ?? 'ADD', rank: Math.max(...ts.map((t) => t.shape?.length ?? 0)), types: ts.map((t) => t.type ?? 'FLOAT32') };
  });
}
const show = (ops: FileOp[]) => ops.map((o) => `${o.op}@${o.rank}`).join(' ');

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** The scale of the DequantizeLinear making the graph's (first) output. */
function outputStep(g: Graph): number {
  const dq = g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === g.outputs[0]!.name)!;
  return g.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
}

/** nnport's integer runtime (XNNPACK's requantization) on the file: its first output's distance from the interpreter's, in output LSB. */
async function integerVsInterpreter(bytes: Uint8Array, x: Tensor[], theirs: Float32Array): Promise<number> {
  const back = await readTflite(bytes);
  const mine = [...(await runInteger(back, Object.fromEntries(back.inputs.map((v, i) => [v.name, x[i]!])), { requantization: 'xnnpack' })).outputs.values()][0]!.toFloat32();
  return maxAbs(mine, theirs) / outputStep(back);
}

describe('pre-quantized QDQ models above the rank limits -> .tflite: the op int8, vs onnxruntime and the integer runtime', () => {
  // the op each net is about, and its limit with int8 activations
  const subject: Record<(typeof NETS)[number], string[]> = { add8: ['ADD'], mul_add7: ['MUL', 'ADD'], swin8: ['TRANSPOSE'] };
  for (const net of NETS) {
    it(net, async () => {
      const bytes = new Uint8Array(readFileSync(join(cache, net, 'model.onnx')));
      const model = await loadModel(bytes, { fileName: `${net}.onnx` });
      if (model.kind !== 'graph') throw new Error('no graph');
      const x = model.graph.inputs.map((_, i) => readNpy(new Uint8Array(readFileSync(join(cache, net, `x${i}.npy`))), `x${i}.npy`));
      const want = [...(await ortRun(bytes, x)).values()][0]!.toFloat32();
      const step = outputStep(model.graph);
      const file = (await convert(model, `${net}.tflite`)).bytes;
      const ops = fileOps(file, net);
      // the subject ops on int8 tensors, under their int8 limits; the float only at the edges (QUANTIZE in, DEQUANTIZE out)
      const limits = new Map(Object.values(TFLITE_RANK_LIMITS).flatMap((l) => l.tflite.split(' / ').map((t) => [t, l.int8] as const)));
      for (const op of subject[net]) {
        const found = ops.filter((o) => o.op === op);
        expect(found.length, op).toBeGreaterThan(0);
        for (const o of found) {
          expect(o.types.filter((t) => t !== 'INT32'), op).toEqual(o.types.filter((t) => t !== 'INT32').map(() => 'INT8'));
          expect(o.rank, op).toBeLessThanOrEqual(limits.get(op)!);
        }
      }
      expect(ops.filter((o) => o.op === 'DEQUANTIZE').length).toBe(1);
      expect(ops.filter((o) => o.op === 'QUANTIZE').length).toBe(x.length);
      expect(ops.every((o) => ['QUANTIZE', 'DEQUANTIZE'].includes(o.op) || o.types.every((t) => t === 'INT8' || t === 'INT32')), show(ops)).toBe(true);
      const [got] = await oracle.run(file, x.map((t) => t.toFloat32()));
      const vsOrt = maxAbs(got!.data as Float32Array, want) / step;
      const vsInteger = await integerVsInterpreter(file, x, got!.data as Float32Array);
      console.log(`${net}: ${show(ops)}; interpreter vs onnxruntime ${vsOrt.toFixed(2)} LSB (LSB ${step.toExponential(2)}), integer runtime vs interpreter ${vsInteger} LSB`);
      // (mul_add7: the product is requantized in fixed point before the ADD, ORT rounds it exactly: a step there can add one at the output)
      expect(vsOrt).toBeLessThanOrEqual((net === 'mul_add7' ? 2 : 1) + 1e-4);
      expect(vsInteger).toBeLessThanOrEqual(1);
    });
  }
});

/** A one-op QDQ graph: each float input through QuantizeLinear / DequantizeLinear (scale 0.02, zero point 3), the op, its output quantized (`out`) or left as it is (bool). */
function qdqOp(op: string, shapes: number[][], out: { scale: number; zeroPoint: number } | undefined, attrs: Record<string, Attr> = {}): Graph {
  const g = emptyGraph(`qdq_${op}`);
  g.opsets[''] = 17;
  const params = (k: string, s: number, z: number) => {
    g.initializers.set(`${k}_scale`, Tensor.float32([], [s]));
    g.initializers.set(`${k}_zero_point`, new Tensor('int8', [], Int8Array.of(z)));
  };
  const node = (name: string, opType: string, inputs: string[], output: string, a: Record<string, Attr> = {}) => g.nodes.push({ name, opType, domain: '', inputs, outputs: [output], attrs: a });
  params('x', 0.02, 3);
  const ins = shapes.map((s, i) => {
    g.inputs.push({ name: `x${i}`, dtype: 'float32', shape: s });
    node(`q${i}`, 'QuantizeLinear', [`x${i}`, 'x_scale', 'x_zero_point'], `x${i}_q`);
    node(`dq${i}`, 'DequantizeLinear', [`x${i}_q`, 'x_scale', 'x_zero_point'], `x${i}_dq`);
    return `x${i}_dq`;
  });
  node('op', op, ins, out ? 'y_float' : 'y', attrs);
  if (out) {
    params('y', out.scale, out.zeroPoint);
    node('qy', 'QuantizeLinear', ['y_float', 'y_scale', 'y_zero_point'], 'y_q');
    node('dqy', 'DequantizeLinear', ['y_q', 'y_scale', 'y_zero_point'], 'y');
  }
  g.outputs.push({ name: 'y', dtype: out ? 'float32' : 'bool' });
  return g;
}

const feeds = (shapes: number[][], seed: number): Tensor[] => {
  const r = rng(seed);
  return shapes.map((s) => Tensor.float32(s, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r() * 4 - 2)));
};

/** The QDQ graph written as .tflite (no quantization asked: the graph is pre-quantized), run by the interpreter against onnxruntime on the graph. */
async function againstOrt(name: string, g: Graph, x: Tensor[]): Promise<{ ops: FileOp[]; off: number; got: Float32Array | Uint8Array }> {
  const want = [...(await ortRun(g, x)).values()][0]!;
  const bytes = await writeTflite(g, { fileName: `${name}.tflite` });
  const ops = fileOps(bytes, name);
  const [got] = await oracle.run(bytes, x.map((t) => t.toFloat32()));
  expect(got!.shape).toEqual([...want.shape]);
  const off = want.dtype === 'bool' ? maxAbs(got!.data as Uint8Array, want.data as Uint8Array) : maxAbs(got!.data as Float32Array, want.toFloat32()) / outputStep(g);
  console.log(`${name}: ${show(ops)}; interpreter vs onnxruntime ${off}${want.dtype === 'bool' ? ' (bool)' : ' LSB'}`);
  return { ops, off, got: got!.data as Float32Array | Uint8Array };
}

describe('int8 rank limits (TFLITE_RANK_LIMITS, measured): the op at its limit as it is, one rank more merged', () => {
  it('LOG_SOFTMAX int8 runs at 12-D (the highest tried): 8-D and 12-D written as they are, equal to onnxruntime and the integer runtime', { timeout: 120_000 }, async () => {
    expect(TFLITE_RANK_LIMITS.LogSoftmax!.int8).toBe(12);
    const out = { scale: 16 / 256, zeroPoint: 127 };
    for (const rank of [8, 12]) {
      const shape = Array.from({ length: rank }, (_, a) => (a === rank - 1 ? 5 : a < 2 ? 2 : 1));
      const g = qdqOp('LogSoftmax', [shape], out, { axis: { type: 'int', value: -1 } });
      const x = feeds([shape], 40 + rank);
      const { ops, off, got } = await againstOrt(`log_softmax${rank}`, g, x);
      expect(ops.filter((o) => o.op === 'LOG_SOFTMAX').map((o) => [o.rank, ...o.types])).toEqual([[rank, 'INT8', 'INT8']]);
      expect(off).toBeLessThanOrEqual(1 + 1e-4);
      const bytes = await writeTflite(g, { fileName: `log_softmax${rank}.tflite` });
      expect(await integerVsInterpreter(bytes, x, got as Float32Array)).toBeLessThanOrEqual(1);
    }
  });

  it('a 13-D LogSoftmax is refused by name (RESHAPE cannot make its 13-D output back)', async () => {
    const shape = Array.from({ length: 13 }, (_, a) => (a === 12 ? 5 : 1));
    await expect(writeTflite(qdqOp('LogSoftmax', [shape], { scale: 16 / 256, zeroPoint: 127 }), { fileName: 'log_softmax13.tflite' })).rejects.toThrow(UnsupportedError);
    await expect(writeTflite(qdqOp('LogSoftmax', [shape], { scale: 16 / 256, zeroPoint: 127 }), { fileName: 'log_softmax13.tflite' })).rejects.toThrow(/LogSoftmax \(TFLite LOG_SOFTMAX\) of rank 13.*RESHAPE makes at most 8-D/);
  });

  // an int8 tensor above 6-D turns the XNNPACK delegate off: the builtin kernels' limits. The comparisons (bool
  // output), DIV and POW compute in float between DEQUANTIZE and QUANTIZE in an int8 file
  const broadcasting: Array<{ op: string; tflite: string; limit: number; out?: { scale: number; zeroPoint: number } }> = [
    { op: 'Add', tflite: 'ADD', limit: 4, out: { scale: 0.05, zeroPoint: 0 } },
    { op: 'Mul', tflite: 'MUL', limit: 4, out: { scale: 0.05, zeroPoint: 0 } },
    { op: 'Sub', tflite: 'SUB', limit: 5, out: { scale: 0.05, zeroPoint: 0 } },
    { op: 'Less', tflite: 'LESS', limit: 4 },
    { op: 'GreaterOrEqual', tflite: 'GREATER_EQUAL', limit: 4 },
    { op: 'Equal', tflite: 'EQUAL', limit: 4 },
    { op: 'Div', tflite: 'DIV', limit: 5, out: { scale: 0.25, zeroPoint: 0 } },
    { op: 'Pow', tflite: 'POW', limit: 4, out: { scale: 0.25, zeroPoint: 0 } },
  ];
  for (const { op, tflite, limit, out } of broadcasting) {
    it(`${op} (${tflite}) broadcasting at ${limit}-D as it is, at ${limit + 1}-D merged to ${limit}-D at most: equal to onnxruntime`, async () => {
      expect(TFLITE_RANK_LIMITS[op]!.int8).toBe(limit);
      for (const rank of [limit, limit + 1]) {
        // every axis broadcast one way or the other (the form the limits were measured on); at limit + 1 the last two axes
        // broadcast alike, so they merge
        const shapes = [0, 1].map((k) => Array.from({ length: rank }, (_, a) => ((Math.min(a, limit - 1) + k) % 2 ? 2 : 1)));
        // Pow of a positive base (a negative one to a fractional power is NaN), Div by a divisor away from 0
        const positive = (op === 'Pow' ? 0 : op === 'Div' ? 1 : -1);
        const x = feeds(shapes, 50 + rank).map((t, i) => (i === positive ? Tensor.float32(t.shape, t.toFloat32().map((v) => Math.abs(v) + 0.5)) : t));
        const { ops, off } = await againstOrt(`${op}${rank}`, qdqOp(op, shapes, out), x);
        expect(ops.filter((o) => o.op === tflite).map((o) => o.rank)).toEqual([limit]);
        expect(off).toBeLessThanOrEqual(out ? 1 + 1e-4 : 0);
      }
    });
  }
});

describe('a per-axis quantized operand of an op above its limit (lowerHighRank on the QDQ graph, onnxruntime on both)', () => {
  /** 7-D x (2, 3, 1, 4, 1, 5, 2) through QuantizeLinear / DequantizeLinear, times an int8 constant of `shape` dequantized per axis 3 (4 scales). */
  function perAxisMul(shape: number[]): Graph {
    const g = qdqOp('Mul', [[2, 3, 1, 4, 1, 5, 2]], { scale: 0.05, zeroPoint: 0 });
    const r = rng(7);
    const size = shape.reduce((a, b) => a * b, 1);
    g.initializers.set('w_q', new Tensor('int8', shape, Int8Array.from({ length: size }, () => Math.round(r() * 200 - 100))));
    g.initializers.set('w_scale', Tensor.float32([4], [0.01, 0.02, 0.005, 0.015]));
    g.initializers.set('w_zero_point', new Tensor('int8', [4], new Int8Array(4)));
    g.nodes.splice(2, 0, { name: 'dq_w', opType: 'DequantizeLinear', domain: '', inputs: ['w_q', 'w_scale', 'w_zero_point'], outputs: ['w'], attrs: { axis: { type: 'int', value: 3 } } });
    const op = g.nodes.find((n) => n.opType === 'Mul')!;
    op.inputs.push('w');
    return g;
  }

  it('its axis alone in its merged group: the DequantizeLinear of the reshaped integers takes the merged axis, equal to the graph as it was', async () => {
    const g = perAxisMul([1, 1, 1, 4, 1, 1, 1]);
    const lowered = lowerHighRank(g);
    const dq = lowered.nodes.find((n) => n.opType === 'DequantizeLinear' && lowered.nodes.some((m) => m.opType === 'Mul' && m.inputs[1] === n.outputs[0]))!;
    const mul = lowered.nodes.find((n) => n.opType === 'Mul')!;
    expect(lowered.initializers.get(dq.inputs[0]!)!.shape).toEqual([1, 1, 4, 1]);
    expect(dq.attrs.axis).toEqual({ type: 'int', value: 2 });
    expect(lowered.nodes.find((n) => n.outputs[0] === mul.inputs[0])!.opType).toBe('DequantizeLinear');
    const x = feeds([[2, 3, 1, 4, 1, 5, 2]], 60);
    // (unoptimized: onnxruntime would fuse DequantizeLinear -> Mul -> QuantizeLinear into a QLinearMul, which takes no per-axis scales)
    const plain = { graphOptimizationLevel: 'disabled' } as const;
    const want = [...(await ortRun(g, x, plain)).values()][0]!.toFloat32();
    const got = [...(await ortRun(lowered, x, plain)).values()][0]!.toFloat32();
    expect(maxAbs(got, want)).toBe(0);
  });

  it('its axis merged with a neighbour: UnsupportedError naming the op and the per-axis operand', () => {
    const g = perAxisMul([1, 3, 1, 4, 1, 1, 1]);
    expect(() => lowerHighRank(g, { fileName: 'per_axis.tflite' })).toThrow(UnsupportedError);
    expect(() => lowerHighRank(g, { fileName: 'per_axis.tflite' })).toThrow(/Mul \(TFLite MUL\) of rank 7.*node 'op' in per_axis\.tflite.*input1 is quantized per axis \(axis 3\)/);
  });
});

describe('an int8 broadcast whose axes do not merge under the limit: operands made full by an int8 BROADCAST_TO, the op 1-D', () => {
  const out = { scale: 0.05, zeroPoint: 0 };
  /** the BROADCAST_TOs and the op: rank and tensor types (the shape operand, INT32, left out) */
  const subject = (ops: FileOp[], op: string) => ops.filter((o) => o.op === op || o.op === 'BROADCAST_TO').map((o) => [o.op, o.rank, ...o.types.filter((t) => t !== 'INT32')]);

  it('5-D Add of [2, 1, 3, 1, 4] and [1, 5, 1, 2, 4] (5 runs of axes, int8 ADD takes 4-D): equal to onnxruntime and the integer runtime', async () => {
    const shapes = [[2, 1, 3, 1, 4], [1, 5, 1, 2, 4]];
    const g = qdqOp('Add', shapes, out);
    const x = feeds(shapes, 70);
    const { ops, off, got } = await againstOrt('add5_alternating_int8', g, x);
    expect(subject(ops, 'ADD')).toEqual([['BROADCAST_TO', 5, 'INT8', 'INT8'], ['BROADCAST_TO', 5, 'INT8', 'INT8'], ['ADD', 1, 'INT8', 'INT8', 'INT8']]);
    expect(off).toBeLessThanOrEqual(1 + 1e-4);
    const vsInteger = await integerVsInterpreter(await writeTflite(g, { fileName: 'add5_alternating_int8.tflite' }), x, got as Float32Array);
    console.log(`add5_alternating_int8: integer runtime vs interpreter ${vsInteger} LSB`);
    expect(vsInteger).toBeLessThanOrEqual(1);
  });

  it('a per-axis quantized operand to be made full (its axis would merge with the others): UnsupportedError naming MUL and the operand', () => {
    const g = qdqOp('Mul', [[2, 1, 3, 1, 4]], out);
    g.initializers.set('w_q', new Tensor('int8', [1, 5, 1, 2, 4], Int8Array.from({ length: 40 }, (_, i) => i - 20)));
    g.initializers.set('w_scale', Tensor.float32([4], [0.01, 0.02, 0.005, 0.015]));
    g.initializers.set('w_zero_point', new Tensor('int8', [4], new Int8Array(4)));
    g.nodes.splice(2, 0, { name: 'dq_w', opType: 'DequantizeLinear', domain: '', inputs: ['w_q', 'w_scale', 'w_zero_point'], outputs: ['w'], attrs: { axis: { type: 'int', value: 4 } } });
    g.nodes.find((n) => n.opType === 'Mul')!.inputs.push('w');
    expect(() => lowerHighRank(g, { fileName: 'per_axis5.tflite' })).toThrow(UnsupportedError);
    expect(() => lowerHighRank(g, { fileName: 'per_axis5.tflite' })).toThrow(/Mul \(TFLite MUL\) of rank 5.*node 'op' in per_axis5\.tflite.*up to 4-D with int8 activations.*input1 is quantized per axis \(axis 4\)/);
  });

  it('6-D Mul of [N, 1, 3, H, 1, 2] and [N, 4, 1, H, 5, 1], N and H known only at run time: the output shape computed in the file, at (N, H) = (1, 3) and (2, 5) equal to onnxruntime', async () => {
    const g = qdqOp('Mul', [[1, 1, 3, 1, 1, 2], [1, 4, 1, 1, 5, 1]], out);
    g.inputs[0]!.shape = ['N', 1, 3, 'H', 1, 2];
    g.inputs[1]!.shape = ['N', 4, 1, 'H', 5, 1];
    const bytes = await writeTflite(g, { fileName: 'mul6_dynamic_int8.tflite' });
    const ops = fileOps(bytes, 'mul6_dynamic_int8');
    expect(subject(ops, 'MUL')).toEqual([['BROADCAST_TO', 6, 'INT8', 'INT8'], ['BROADCAST_TO', 6, 'INT8', 'INT8'], ['MUL', 1, 'INT8', 'INT8', 'INT8']]);
    for (const [n, h] of [[1, 3], [2, 5]] as const) {
      const shapes = [[n, 1, 3, h, 1, 2], [n, 4, 1, h, 5, 1]];
      const x = feeds(shapes, 80 + n);
      const want = [...(await ortRun(g, x)).values()][0]!;
      let file = bytes;
      for (const i of [0, 1]) file = withStoredDim(withStoredDim(file, 0, n, i), 3, h, i);
      const [got] = await oracle.run(file, x.map((t) => t.toFloat32()));
      expect(got!.shape).toEqual([...want.shape]);
      const off = maxAbs(got!.data as Float32Array, want.toFloat32()) / out.scale;
      console.log(`mul6_dynamic_int8 at N=${n}, H=${h}: ${show(ops)}; interpreter vs onnxruntime ${off} LSB`);
      expect(off).toBeLessThanOrEqual(1 + 1e-4);
    }
  });
});
