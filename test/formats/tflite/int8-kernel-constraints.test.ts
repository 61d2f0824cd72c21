// TFLite's integer kernels' constraints on what --quantize writes, each checked in the interpreter.
// (1) A float constant read by an elementwise integer op under --quantize int8 / int16x8: a dense
// layer over a batch of matrices (MatMul, a FULLY_CONNECTED with keep_num_dims) + Add of a [T, O]
// constant (a position embedding: not one value per channel, so it is no bias the FULLY_CONNECTED
// could take; nn.Linear's own bias is, nd-dense-bias.test.ts) stays an ADD, whose constant operand
// must be integer too (the interpreter refuses an ADD of INT8 and FLOAT32). Checked: the interpreter
// loads and runs the file, nnport's integer runtime within 1 LSB of it, and its output against
// the float function computed here in plain arithmetic (x·W + p, then · 0.5 for the Mul case).
// (2) int8 CONCATENATION does not rescale: its inputs take the output's scale and zero point, and
// an input whose parameters are fixed elsewhere (a softmax's 1/256, -128) is requantized to them
// by an int8 -> int8 QUANTIZE in front, as TF's converter writes it.
// (3) BATCH_MATMUL takes two operands of one integer type: a MatMul by a constant batch of matrices (an
// Einsum by a table, MViT's relative positions) reads the constant as int8 (int16 under int16x8), checked
// against x·B computed here; and a QDQ graph that left such a constant float keeps the MatMul float between
// DEQUANTIZE and QUANTIZE, checked against onnxruntime on the same graph.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, opNameOf, tfliteOpNames, useTfliteOracle, type FlatcOps } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const [T, I, O] = [5, 8, 4];
const r = rng(3);
const W = Float32Array.from({ length: I * O }, () => r() - 0.5);
const b = Float32Array.from({ length: O }, () => r() - 0.5);
const P = Float32Array.from({ length: T * O }, () => r() - 0.5);
const HALF = Float32Array.of(0.5, -1.5, 2, 0.25);

/** x [1, T, I] -> MatMul W [I, O] -> Add p [T, O] (-> Mul c [O]) -> y */
function model(mul: boolean): Graph {
  const g = emptyGraph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, T, I] });
  g.initializers.set('W', Tensor.float32([I, O], W));
  g.initializers.set('p', Tensor.float32([T, O], P));
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['m'], attrs: {} });
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['m', 'p'], outputs: [mul ? 'a' : 'y'], attrs: {} });
  if (mul) {
    g.initializers.set('c', Tensor.float32([O], HALF));
    g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['a', 'c'], outputs: ['y'], attrs: {} });
  }
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, T, O] });
  return g;
}

function reference(x: Float32Array, mul: boolean): Float32Array {
  const y = new Float32Array(T * O);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < O; o++) {
      let s = P[t * O + o]!;
      for (let i = 0; i < I; i++) s += x[t * I + i]! * W[i * O + o]!;
      y[t * O + o] = mul ? s * HALF[o]! : s;
    }
  }
  return y;
}

const samples = (count: number, seed: number): Tensor[] => {
  const q = rng(seed);
  return Array.from({ length: count }, () => Tensor.float32([1, T, I], Float32Array.from({ length: T * I }, () => q() * 2 - 1)));
};

type FlatcModel = FlatcOps<{ inputs: number[]; outputs: number[] }, { tensors: { type?: string; quantization?: { scale?: number[]; zero_point?: number[] } }[] }>;

/** On held-out samples: the interpreter runs the file, nnport's integer runtime within 1 LSB of it, SNR against the float function above minSnr. */
async function heldOutChecks(bytes: Uint8Array, reference: (x: Float32Array) => Float32Array, minSnr: number): Promise<void> {
  for (const x of samples(3, 9)) {
    const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
    const got = theirs!.data as Float32Array;
    expect(await integerRuntimeLsbOff(bytes, x, got)).toBeLessThanOrEqual(1.0001);
    expect(pooledSnrDb([reference(x.toFloat32())], [got])).toBeGreaterThan(minSnr);
  }
}

/** The file's CONCATENATION, and whether all its tensors share one scale and zero point. */
function concatenation(json: FlatcModel): { op: FlatcModel['subgraphs'][number]['operators'][number]; oneGrid: boolean } {
  const sg = json.subgraphs[0]!;
  const op = sg.operators.find((o) => opNameOf(json, o) === 'CONCATENATION')!;
  return { op, oneGrid: new Set([...op.inputs, ...op.outputs].map((i) => JSON.stringify(sg.tensors[i]!.quantization))).size === 1 };
}

describe('int8 / int16x8: the float constant of an ADD / MUL is quantized too', () => {
  for (const [mode, mul, typeName, minSnr] of [['int8', false, 'INT8', 30], ['int8', true, 'INT8', 30], ['int16x8', true, 'INT16', 40]] as const) {
    it(`${mode}, MatMul + Add${mul ? ' + Mul' : ''}: every ADD / MUL operand ${typeName}; the interpreter runs it; nnport's integer runtime <= 1 LSB; SNR against x·W + p`, async () => {
      const calibration = samples(16, 5).map((t) => [t]);
      const bytes = await writeTflite(model(mul), { fileName: 'linear.tflite', quantize: { mode, calibration } });
      const json = flatcJson<FlatcModel>(bytes, 'linear');
      const sg = json.subgraphs[0]!;
      const elementwise = sg.operators.filter((op) => ['ADD', 'MUL'].includes(opNameOf(json, op)));
      expect(elementwise).toHaveLength(mul ? 2 : 1);
      for (const op of elementwise) for (const i of op.inputs) expect(sg.tensors[i]!.type).toBe(typeName);
      await heldOutChecks(bytes, (x) => reference(x, mul), minSnr);
    }, 120_000);
  }
});

describe('int8: CONCATENATION inputs take the output\'s parameters (TFLite\'s int8 kernel does not rescale)', () => {
  // x [1, T, I] -> MatMul W -> a; MatMul 4W -> b; Concat(a, b, axis -1) -> y [1, T, 2O]
  const W4 = W.map((w) => 4 * w);
  function concatModel(): Graph {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, T, I] });
    g.initializers.set('W', Tensor.float32([I, O], W));
    g.initializers.set('W4', Tensor.float32([I, O], W4));
    g.nodes.push({ name: 'mm_a', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['a'], attrs: {} });
    g.nodes.push({ name: 'mm_b', opType: 'MatMul', domain: '', inputs: ['x', 'W4'], outputs: ['b'], attrs: {} });
    g.nodes.push({ name: 'cat', opType: 'Concat', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: { type: 'int', value: -1 } } });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, T, 2 * O] });
    return g;
  }
  const concatReference = (x: Float32Array): Float32Array => {
    const y = new Float32Array(T * 2 * O);
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let i = 0; i < I; i++) s += x[t * I + i]! * W[i * O + o]!;
        y[t * 2 * O + o] = s;
        y[t * 2 * O + O + o] = 4 * s;
      }
    }
    return y;
  };

  it('two dense outputs with different ranges: one scale and zero point on every CONCATENATION tensor; the interpreter runs it; integer runtime <= 1 LSB; SNR against the float function', async () => {
    const calibration = samples(16, 5).map((t) => [t]);
    const bytes = await writeTflite(concatModel(), { fileName: 'concat.tflite', quantize: { mode: 'int8', calibration } });
    expect(concatenation(flatcJson<FlatcModel>(bytes, 'concat')).oneGrid).toBe(true);
    await heldOutChecks(bytes, concatReference, 25);
  }, 120_000);

  it('a softmax output (parameters fixed at 1/256, -128) concatenated with a wider dense output: an int8 -> int8 QUANTIZE in front of the CONCATENATION; the interpreter runs it; integer runtime <= 1 LSB; SNR against the float function', async () => {
    // x -> MatMul W -> a -> Softmax -> s; MatMul 4W -> b; Concat(s, b) -> y
    const g = concatModel();
    g.nodes.splice(2, 0, { name: 'softmax', opType: 'Softmax', domain: '', inputs: ['a'], outputs: ['s'], attrs: { axis: { type: 'int', value: -1 } } });
    g.nodes[3]!.inputs = ['s', 'b'];
    const reference = (x: Float32Array): Float32Array => {
      const y = concatReference(x);
      for (let t = 0; t < T; t++) {
        const row = y.subarray(t * 2 * O, t * 2 * O + O);
        const m = Math.max(...row);
        let sum = 0;
        for (let o = 0; o < O; o++) sum += Math.exp(row[o]! - m);
        for (let o = 0; o < O; o++) row[o] = Math.exp(row[o]! - m) / sum;
      }
      return y;
    };
    const calibration = samples(16, 5).map((t) => [t]);
    const bytes = await writeTflite(g, { fileName: 'softmax-concat.tflite', quantize: { mode: 'int8', calibration } });
    const json = flatcJson<FlatcModel>(bytes, 'softmax-concat');
    const sg = json.subgraphs[0]!;
    const code = (op: { opcode_index?: number }) => opNameOf(json, op);
    const { op: cat, oneGrid } = concatenation(json);
    expect(oneGrid).toBe(true);
    // the softmax's output keeps TFLite's fixed parameters; a QUANTIZE from it (int8 -> int8) feeds the CONCATENATION
    const soft = sg.operators.find((op) => code(op) === 'SOFTMAX')!;
    const sq = sg.tensors[soft.outputs[0]!]!.quantization!;
    expect(sq.scale![0]).toBeCloseTo(1 / 256, 6);
    expect(sq.zero_point).toEqual([-128]);
    const requant = sg.operators.find((op) => code(op) === 'QUANTIZE' && op.inputs[0] === soft.outputs[0])!;
    expect(requant).toBeDefined();
    expect([sg.tensors[requant.inputs[0]!]!.type, sg.tensors[requant.outputs[0]!]!.type]).toEqual(['INT8', 'INT8']);
    expect(cat.inputs).toContain(requant.outputs[0]);
    await heldOutChecks(bytes, reference, 25);
  }, 120_000);
});

describe('int8: a CONCATENATION input read by a second CONCATENATION (DenseNet\'s dense blocks)', () => {
  // c = x·W, a = x·4W, e = x·8W; y1 = Concat(c, a), y2 = Concat(a, e). a's range is y1's (it covers
  // c's): a took y1's parameters without being tied to y1, and y2 then retook it on its own; y1's
  // CONCATENATION read a on y2's grid and the interpreter refused the file (torchvision densenet121).
  it('each CONCATENATION on one grid (the second one requantizes the shared input); the interpreter runs it; integer runtime <= 1 LSB; SNR against the float function', async () => {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, T, I] });
    for (const k of [1, 4, 8]) g.initializers.set(`W${k}`, Tensor.float32([I, O], W.map((w) => k * w)));
    for (const [k, v] of [[1, 'c'], [4, 'a'], [8, 'e']] as const) g.nodes.push({ name: `mm_${v}`, opType: 'MatMul', domain: '', inputs: ['x', `W${k}`], outputs: [v], attrs: {} });
    const axis = { axis: { type: 'int' as const, value: -1 } };
    g.nodes.push({ name: 'cat1', opType: 'Concat', domain: '', inputs: ['c', 'a'], outputs: ['y1'], attrs: axis });
    g.nodes.push({ name: 'cat2', opType: 'Concat', domain: '', inputs: ['a', 'e'], outputs: ['y2'], attrs: axis });
    g.outputs.push({ name: 'y1', dtype: 'float32', shape: [1, T, 2 * O] }, { name: 'y2', dtype: 'float32', shape: [1, T, 2 * O] });
    const reference = (x: Float32Array, ks: [number, number]): Float32Array => {
      const y = new Float32Array(T * 2 * O);
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let i = 0; i < I; i++) s += x[t * I + i]! * W[i * O + o]!;
          y[t * 2 * O + o] = ks[0] * s;
          y[t * 2 * O + O + o] = ks[1] * s;
        }
      }
      return y;
    };
    const bytes = await writeTflite(g, { fileName: 'dense-block.tflite', quantize: { mode: 'int8', calibration: samples(16, 5).map((t) => [t]) } });
    const json = flatcJson<FlatcModel>(bytes, 'dense-block');
    const sg = json.subgraphs[0]!;
    const cats = sg.operators.filter((o) => opNameOf(json, o) === 'CONCATENATION');
    expect(cats).toHaveLength(2);
    for (const op of cats) expect(new Set([...op.inputs, ...op.outputs].map((i) => JSON.stringify(sg.tensors[i]!.quantization))).size).toBe(1);
    for (const x of samples(3, 9)) {
      const [y1, y2] = await oracle.run(bytes, [x.toFloat32()]);
      expect(await integerRuntimeLsbOff(bytes, x, y1!.data as Float32Array)).toBeLessThanOrEqual(1.0001);
      expect(pooledSnrDb([reference(x.toFloat32(), [1, 4])], [y1!.data as Float32Array])).toBeGreaterThan(25);
      expect(pooledSnrDb([reference(x.toFloat32(), [4, 8])], [y2!.data as Float32Array])).toBeGreaterThan(25);
    }
  }, 120_000);
});

describe('int8: a bias too large for int32 on scale_x · scale_w', () => {
  // x [1, I] -> Mul 1e-9 -> Gemm (W, b) -> y: the dense layer reads a near-silent input (LR-ASPP's
  // high branch at random init reads values ~1e-10), so b / (scale_x · scale_w) is ~1e13 and the
  // int32 bias was clamped: the output lost its bias (0 dB; torchvision LR-ASPP int8 3.7 dB). The
  // weight scale now grows until the bias fits, as TF's converter does.
  it('the bias kept (weight scale widened); the interpreter runs it; integer runtime <= 1 LSB; SNR against the float function', async () => {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, I] });
    g.initializers.set('tiny', Tensor.float32([], [1e-9]));
    g.initializers.set('W', Tensor.float32([I, O], W));
    g.initializers.set('b', Tensor.float32([O], b));
    g.nodes.push({ name: 'quiet', opType: 'Mul', domain: '', inputs: ['x', 'tiny'], outputs: ['xq'], attrs: {} });
    g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['xq', 'W', 'b'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, O] });
    const reference = (x: Float32Array): Float32Array => Float32Array.from({ length: O }, (_, o) => {
      let s = b[o]!;
      for (let i = 0; i < I; i++) s += x[i]! * 1e-9 * W[i * O + o]!;
      return s;
    });
    const inputs = (count: number, seed: number): Tensor[] => {
      const q = rng(seed);
      return Array.from({ length: count }, () => Tensor.float32([1, I], Float32Array.from({ length: I }, () => q() * 2 - 1)));
    };
    const bytes = await writeTflite(g, { fileName: 'quiet.tflite', quantize: { mode: 'int8', calibration: inputs(16, 5).map((t) => [t]) } });
    expect(tfliteOpNames(bytes, 'quiet')).toContain('FULLY_CONNECTED');
    for (const x of inputs(3, 9)) {
      const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
      const got = theirs!.data as Float32Array;
      expect(await integerRuntimeLsbOff(bytes, x, got)).toBeLessThanOrEqual(1.0001);
      expect(pooledSnrDb([reference(x.toFloat32())], [got])).toBeGreaterThan(30);
    }
  }, 120_000);
});

describe('int8: a one-unit dense layer (a binary classifier head)', () => {
  // its int32 bias had a 1-D scale of one element and no axis: per-axis in ONNX (axis 1 by
  // default), so the runtime could not run the QDQ graph and --report failed (the corpus ECG model)
  it('the per-layer report runs; the interpreter runs the file; integer runtime <= 1 LSB; within 2 output steps of x·w + b', async () => {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, I] });
    g.initializers.set('w1', Tensor.float32([I, 1], W.slice(0, I)));
    g.initializers.set('b1', Tensor.float32([1], [0.25]));
    g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w1', 'b1'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, 1] });
    const inputs = (count: number, seed: number): Tensor[] => {
      const q = rng(seed);
      return Array.from({ length: count }, () => Tensor.float32([1, I], Float32Array.from({ length: I }, () => q() * 2 - 1)));
    };
    let rows = 0;
    const bytes = await writeTflite(g, { fileName: 'unit.tflite', quantize: { mode: 'int8', calibration: inputs(16, 5).map((t) => [t]), report: true, onReport: (r) => (rows = r.length) } });
    expect(rows).toBeGreaterThan(0);
    // samples of the calibration set: a held-out output outside the calibrated range would be clipped, as minmax does
    for (const x of inputs(3, 5)) {
      const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
      const got = theirs!.data as Float32Array;
      expect(await integerRuntimeLsbOff(bytes, x, got)).toBeLessThanOrEqual(1.0001);
      let want = 0.25;
      for (let i = 0; i < I; i++) want += x.toFloat32()[i]! * W[i]!;
      // within two steps of the int8 output grid over the largest |x·w + b| (|x| <= 1)
      const bound = (W.slice(0, I).reduce((a, w) => a + Math.abs(w), 0) + 0.25) / 127;
      expect(Math.abs(got[0]! - want)).toBeLessThan(2 * bound);
    }
  }, 120_000);
});

describe('int8: a ReLU after a pool (Caffe\'s conv -> pool -> relu: the corpus CIFAR-10 nets)', () => {
  // The ReLU is fused into the MAX_POOL_2D / AVERAGE_POOL_2D, whose int8 kernels copy (average)
  // the integers without requantizing: the pool keeps its input's parameters and an int8 -> int8
  // QUANTIZE takes the ReLU's own (write-requantize.ts). Written with the ReLU's parameters on the
  // pool itself, the file read its values on the wrong grid: 7.6 dB (max) and -3.5 dB (average)
  // against the float model in the interpreter, and nnport's integer runtime refused it.
  for (const pool of ['MaxPool', 'AveragePool'] as const) {
    it(`${pool} -> Relu: the interpreter within 30 dB of the float function; integer runtime <= 1 LSB`, async () => {
      const C = 2;
      const g = emptyGraph();
      g.opsets = { '': 13 };
      g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, C, 4, 4] });
      g.initializers.set('w', Tensor.float32([C, C, 1, 1], [1, 0.5, -0.3, 1]));
      g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['c'], attrs: {} });
      g.nodes.push({ name: 'pool', opType: pool, domain: '', inputs: ['c'], outputs: ['p'], attrs: { kernel_shape: { type: 'ints', value: [2, 2] }, strides: { type: 'ints', value: [2, 2] } } });
      g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['p'], outputs: ['y'], attrs: {} });
      g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, C, 2, 2] });
      const q = rng(5);
      const mk = () => Tensor.float32([1, 4, 4, C], Float32Array.from({ length: 16 * C }, () => q() * 4 - 2));
      // NHWC: y[i, j, o] = relu(pool over the 2x2 block of x·w)
      const reference = (x: Float32Array): Float32Array => {
        const y = new Float32Array(4 * C);
        for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let o = 0; o < C; o++) {
          const v: number[] = [];
          for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) {
            const at = ((2 * i + di) * 4 + 2 * j + dj) * C;
            v.push(x[at]! * [1, 0.5, -0.3, 1][o * C]! + x[at + 1]! * [1, 0.5, -0.3, 1][o * C + 1]!);
          }
          const pooled = pool === 'MaxPool' ? Math.max(...v) : v.reduce((a, b) => a + b, 0) / 4;
          y[(i * 2 + j) * C + o] = Math.max(0, pooled);
        }
        return y;
      };
      const calibration = Array.from({ length: 8 }, () => [mk()]);
      const bytes = await writeTflite(g, { fileName: 'pool-relu.tflite', quantize: { mode: 'int8', calibration } });
      for (const [x] of calibration.slice(0, 3)) {
        const [theirs] = await oracle.run(bytes, [x!.toFloat32()]);
        const got = theirs!.data as Float32Array;
        expect(await integerRuntimeLsbOff(bytes, x!, got)).toBeLessThanOrEqual(1.0001);
        expect(pooledSnrDb([reference(x!.toFloat32())], [got])).toBeGreaterThan(30);
      }
    }, 120_000);
  }
});

describe('int8 / int16x8: a MatMul by a constant batch of matrices (an Einsum by a table: MViT\'s relative positions) reads it as integers', () => {
  // x [2, T, I] · B [2, I, O]: BATCH_MATMUL, whose kernel takes two operands of one integer type
  // (batch_matmul.cc: an INT8 lhs beside a FLOAT32 rhs and the interpreter cannot initialize the file)
  const B = Float32Array.from({ length: 2 * I * O }, () => r() - 0.5);
  const batchSamples = (count: number, seed: number): Tensor[] => {
    const q = rng(seed);
    return Array.from({ length: count }, () => Tensor.float32([2, T, I], Float32Array.from({ length: 2 * T * I }, () => q() * 2 - 1)));
  };
  function batchModel(): Graph {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, T, I] });
    g.initializers.set('B', Tensor.float32([2, I, O], B));
    g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'B'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, T, O] });
    return g;
  }
  const batchReference = (x: Float32Array): Float32Array => {
    const y = new Float32Array(2 * T * O);
    for (let n = 0; n < 2; n++) {
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let i = 0; i < I; i++) s += x[(n * T + t) * I + i]! * B[(n * I + i) * O + o]!;
          y[(n * T + t) * O + o] = s;
        }
      }
    }
    return y;
  };
  for (const [mode, typeName, minSnr] of [['int8', 'INT8', 30], ['int16x8', 'INT16', 40]] as const) {
    it(`${mode}: both BATCH_MATMUL operands ${typeName}; the interpreter runs it; nnport's integer runtime <= 1 LSB; SNR against x·B`, async () => {
      const bytes = await writeTflite(batchModel(), { fileName: 'bmm.tflite', quantize: { mode, calibration: batchSamples(16, 5).map((t) => [t]) } });
      const json = flatcJson<FlatcModel>(bytes, 'bmm');
      const sg = json.subgraphs[0]!;
      const bmm = sg.operators.filter((op) => opNameOf(json, op) === 'BATCH_MATMUL');
      expect(bmm).toHaveLength(1);
      expect(bmm[0]!.inputs.map((i) => sg.tensors[i]!.type)).toEqual([typeName, typeName]);
      for (const x of batchSamples(3, 9)) {
        const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
        const got = theirs!.data as Float32Array;
        // (1 step; int16 outputs dequantized in float32 carry up to ~0.002 LSB of rounding, measured 1.0008)
        expect(await integerRuntimeLsbOff(bytes, x, got)).toBeLessThanOrEqual(mode === 'int8' ? 1.0001 : 1.01);
        const snr = pooledSnrDb([batchReference(x.toFloat32())], [got]);
        console.log(`${mode} BATCH_MATMUL by a constant [2, ${I}, ${O}]: ${snr.toFixed(1)} dB from x·B`);
        expect(snr).toBeGreaterThan(minSnr);
      }
    }, 120_000);
  }
});

describe('a QDQ graph whose MatMul reads a float constant batch of matrices beside dequantized data', () => {
  // (an ONNX QDQ file that left the table float): the MatMul stays float between DEQUANTIZE and QUANTIZE,
  // since an integer BATCH_MATMUL cannot read a FLOAT32 operand; the interpreter against onnxruntime on the same graph
  it('BATCH_MATMUL in float32, DEQUANTIZE before and QUANTIZE after it; the interpreter within 1 LSB of onnxruntime', async () => {
    const B = Float32Array.from({ length: 2 * I * O }, () => r() - 0.5);
    const g = emptyGraph();
    g.opsets = { '': 13 };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, T, I] });
    g.initializers.set('B', Tensor.float32([2, I, O], B));
    g.initializers.set('sx', Tensor.float32([], [1 / 127]));
    g.initializers.set('zx', new Tensor('int8', [], Int8Array.of(0)));
    g.initializers.set('sy', Tensor.float32([], [0.02]));
    g.initializers.set('zy', new Tensor('int8', [], Int8Array.of(3)));
    g.nodes.push({ name: 'qx', opType: 'QuantizeLinear', domain: '', inputs: ['x', 'sx', 'zx'], outputs: ['xq'], attrs: {} });
    g.nodes.push({ name: 'dqx', opType: 'DequantizeLinear', domain: '', inputs: ['xq', 'sx', 'zx'], outputs: ['xd'], attrs: {} });
    g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['xd', 'B'], outputs: ['m'], attrs: {} });
    g.nodes.push({ name: 'qy', opType: 'QuantizeLinear', domain: '', inputs: ['m', 'sy', 'zy'], outputs: ['yq'], attrs: {} });
    g.nodes.push({ name: 'dqy', opType: 'DequantizeLinear', domain: '', inputs: ['yq', 'sy', 'zy'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, T, O] });
    const bytes = await writeTflite(g, { fileName: 'qdq-bmm.tflite' });
    const json = flatcJson<FlatcModel>(bytes, 'qdq-bmm');
    const sg = json.subgraphs[0]!;
    const bmm = sg.operators.find((op) => opNameOf(json, op) === 'BATCH_MATMUL')!;
    expect(bmm.inputs.map((i) => sg.tensors[i]!.type ?? 'FLOAT32')).toEqual(['FLOAT32', 'FLOAT32']);
    expect(tfliteOpNames(bytes, 'qdq-bmm')).toEqual(['QUANTIZE', 'DEQUANTIZE', 'BATCH_MATMUL', 'QUANTIZE', 'DEQUANTIZE']);
    const x = Tensor.float32([2, T, I], Float32Array.from({ length: 2 * T * I }, () => r() * 2 - 1));
    const want = (await ortFirst(writeOnnx(g), [x])).toFloat32();
    const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
    const got = theirs!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / 0.02);
    console.log(`QDQ MatMul by a float constant: interpreter ${worst.toFixed(3)} LSB from onnxruntime`);
    expect(worst).toBeLessThanOrEqual(1.0001);
  }, 120_000);
});
