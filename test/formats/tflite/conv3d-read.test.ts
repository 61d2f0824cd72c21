// The TFLite reader on CONV_3D / CONV_3D_TRANSPOSE (hand-built files: strides, dilations, SAME /
// VALID, fused ReLU-type activations, no bias, a transposed output reaching past the full output, an
// output_shape computed from SHAPE at run time over open D / H / W) and on nnport's own 3-D file
// (tflite_gap_models.py's conv3d_net written by the TFLite writer): each file run by the real TFLite
// interpreter (tfjs-tflite in headless Chromium), by nnport (read, reference runtime) and by
// onnxruntime on the .onnx nnport converts it to, at two input sizes where dims are open.
import type { Builder } from 'flatbuffers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType as Act } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { AddOptions } from '../../../src/formats/generated/tflite/add-options.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Conv3DOptions } from '../../../src/formats/generated/tflite/conv3-doptions.js';
import { MulOptions } from '../../../src/formats/generated/tflite/mul-options.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { ShapeOptions } from '../../../src/formats/generated/tflite/shape-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { buildOpModel, type OpSpec, type OpTensor } from './op-model.js';

const oracle = useTfliteOracle();

const rand = (n: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
};
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
const f = (shape: number[], data?: number[], signature?: number[]): OpTensor => ({ shape, data, signature });
const i32 = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'int32', data });

const conv3dOpts =
  (pad: Padding, s: number[], d: number[], act = Act.NONE): OpSpec['options'] =>
  (b: Builder) => [BuiltinOptions.Conv3DOptions, Conv3DOptions.createConv3DOptions(b, pad, s[0]!, s[2]!, s[1]!, act, d[0]!, d[2]!, d[1]!)];

interface Case {
  name: string;
  tensors: OpTensor[];
  ops: OpSpec[];
  /** input shapes to run at (NDHWC); several where the file's dims are open */
  sizes: number[][];
  /** ONNX-side op types the read graph must hold */
  expect?: string[];
}

/** CONV_3D of x [1, d, h, w, ci] by weights [kd, kh, kw, ci, co] (+ bias). */
function conv3dCase(name: string, x: number[], k: number[], co: number, pad: Padding, s: number[], d: number[], act: Act, bias: boolean, seed: number, signature?: number[], sizes?: number[][]): Case {
  const w = [...k, x[4]!, co];
  const tensors = [f(x, undefined, signature), f(w, rand(size(w), seed)), ...(bias ? [f([co], rand(co, seed + 1))] : []), f([1, 1, 1, 1, co], undefined, signature && [...signature.slice(0, 4), co])];
  const out = tensors.length - 1;
  return { name, tensors, ops: [{ code: Op.CONV_3D, inputs: bias ? [0, 1, 2] : [0, 1], outputs: [out], options: conv3dOpts(pad, s, d, act) }], sizes: sizes ?? [x], expect: ['Conv'] };
}

/** CONV_3D_TRANSPOSE of x [1, d, h, w, ci] to a constant output_shape, weights [kd, kh, kw, co, ci]. */
function transposeCase(name: string, x: number[], k: number[], outShape: number[], pad: Padding, s: number[], d: number[], act: Act, bias: boolean, seed: number): Case {
  const co = outShape[4]!;
  const w = [...k, co, x[4]!];
  const tensors = [i32([5], outShape), f(w, rand(size(w), seed)), f(x), ...(bias ? [f([co], rand(co, seed + 1))] : []), f(outShape)];
  const out = tensors.length - 1;
  return { name, tensors, ops: [{ code: Op.CONV_3D_TRANSPOSE, inputs: bias ? [0, 1, 2, 3] : [0, 1, 2], outputs: [out], options: conv3dOpts(pad, s, d, act) }], sizes: [x], expect: ['ConvTranspose'] };
}

/** CONV_3D_TRANSPOSE over open D / H / W: output_shape = SHAPE(x) · [1, 2, 2, 2, 0] + [0, e, e, e, co] (what nnport's writer emits for TRANSPOSE_CONV). */
function computedTransposeCase(name: string, pad: Padding, k: number, e: number, seed: number): Case {
  const ci = 3;
  const co = 4;
  const w = [k, k, k, co, ci];
  const tensors = [
    f([1, 3, 4, 5, ci], undefined, [-1, -1, -1, -1, ci]), // 0 x
    i32([5]), // 1 SHAPE(x)
    i32([5], [1, 2, 2, 2, 0]), // 2
    i32([5]), // 3 scaled
    i32([5], [0, e, e, e, co]), // 4
    i32([5]), // 5 output_shape
    f(w, rand(size(w), seed)), // 6
    f([co], rand(co, seed + 1)), // 7 bias
    f([1, 1, 1, 1, co], undefined, [-1, -1, -1, -1, co]), // 8 y
  ];
  const ops: OpSpec[] = [
    { code: Op.SHAPE, inputs: [0], outputs: [1], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] },
    { code: Op.MUL, inputs: [1, 2], outputs: [3], options: (b) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, Act.NONE)] },
    { code: Op.ADD, inputs: [3, 4], outputs: [5], options: (b) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, Act.NONE, false)] },
    { code: Op.CONV_3D_TRANSPOSE, inputs: [5, 6, 0, 7], outputs: [8], options: conv3dOpts(pad, [2, 2, 2], [1, 1, 1], Act.RELU) },
  ];
  return { name, tensors, ops, sizes: [[1, 3, 4, 5, ci], [2, 4, 7, 3, ci]], expect: ['ConvTranspose', 'Shape', 'Slice'] };
}

const CASES: Case[] = [
  conv3dCase('CONV_3D SAME, strides (1, 2, 2), dilation (2, 1, 1), bias, RELU6', [1, 5, 9, 8, 3], [3, 3, 2], 4, Padding.SAME, [1, 2, 2], [2, 1, 1], Act.RELU6, true, 11),
  conv3dCase('CONV_3D VALID, dilation (1, 2, 3), no bias', [2, 4, 9, 10, 2], [2, 3, 2], 5, Padding.VALID, [1, 1, 1], [1, 2, 3], Act.NONE, false, 12),
  conv3dCase('CONV_3D SAME, strides (2, 3, 1), RELU_N1_TO_1', [1, 7, 8, 5, 3], [3, 2, 3], 2, Padding.SAME, [2, 3, 1], [1, 1, 1], Act.RELU_N1_TO_1, true, 13),
  conv3dCase('CONV_3D SAME, strides 2, RELU, open batch / D / H / W', [1, 5, 6, 7, 3], [3, 3, 3], 4, Padding.SAME, [2, 2, 2], [1, 1, 1], Act.RELU, true, 14, [-1, -1, -1, -1, 3], [[1, 5, 6, 7, 3], [2, 4, 9, 3, 3]]),
  transposeCase('CONV_3D_TRANSPOSE SAME, stride 2, kernel 3, bias, RELU', [1, 3, 4, 5, 3], [3, 3, 3], [1, 6, 8, 10, 4], Padding.SAME, [2, 2, 2], [1, 1, 1], Act.RELU, true, 21),
  transposeCase('CONV_3D_TRANSPOSE VALID, strides (1, 2, 3), kernel (2, 3, 3), no bias', [2, 3, 4, 2, 2], [2, 3, 3], [2, 4, 9, 6, 3], Padding.VALID, [1, 2, 3], [1, 1, 1], Act.NONE, false, 22),
  transposeCase('CONV_3D_TRANSPOSE VALID past the full output (bias-only rows), stride 3, kernel 2', [1, 3, 2, 3, 2], [2, 2, 2], [1, 10, 6, 9, 3], Padding.VALID, [3, 3, 3], [1, 1, 1], Act.NONE, true, 23),
  transposeCase('CONV_3D_TRANSPOSE SAME, stride 2, kernel 1 (an output larger than the full one)', [1, 3, 4, 2, 2], [1, 1, 1], [1, 6, 8, 4, 3], Padding.SAME, [2, 2, 2], [1, 1, 1], Act.RELU6, true, 24),
  computedTransposeCase('CONV_3D_TRANSPOSE SAME, output_shape SHAPE(x)·2 at run time, open batch / D / H / W', Padding.SAME, 3, 0, 31),
  computedTransposeCase('CONV_3D_TRANSPOSE VALID, output_shape SHAPE(x)·2 + 1 at run time (kernel 3: full size)', Padding.VALID, 3, 1, 32),
  computedTransposeCase('CONV_3D_TRANSPOSE VALID, output_shape SHAPE(x)·2 + 2 at run time (a bias-only row past the full output)', Padding.VALID, 3, 2, 33),
];

/** The file with its input's stored shape set to `shape` (what ResizeInputTensor does). */
const storedAs = (bytes: Uint8Array, shape: number[]): Uint8Array => shape.reduce((b, d, a) => withStoredDim(b, a, d), bytes);

async function compareAll(name: string, bytes: Uint8Array, g: Graph, sizes: number[][], seed: number, tol = 1e-5): Promise<void> {
  const onnx = (await convert(await readModel(bytes, { fileName: `${name}.tflite` }), `${name}.onnx`)).bytes;
  for (const [k, shape] of sizes.entries()) {
    const x = Tensor.float32(shape, rand(size(shape), seed + k));
    const theirs = (await oracle.run(storedAs(bytes, shape), [x.data as Float32Array], 1, 1))[0]!;
    const mine = [...(await runGraph(g, { [g.inputs[0]!.name]: x })).outputs.values()][0]!;
    const viaOnnx = await ortFirst(onnx, [x]);
    expect(mine.shape, `${name} at [${shape.join(', ')}]: nnport's shape`).toEqual(theirs.shape);
    expect(viaOnnx.shape, `${name} at [${shape.join(', ')}]: onnxruntime's shape`).toEqual(theirs.shape);
    const want = theirs.data as Float32Array;
    const e = relErr(mine.toFloat32(), want);
    const o = relErr(viaOnnx.toFloat32(), want);
    console.log(`${name} at [${shape.join(', ')}]: nnport ${e.toExponential(2)}, onnxruntime on the .onnx ${o.toExponential(2)} of the interpreter (relative)`);
    expect(e).toBeLessThanOrEqual(tol);
    expect(o).toBeLessThanOrEqual(tol);
  }
}

describe('TFLite reader: CONV_3D / CONV_3D_TRANSPOSE against the interpreter', () => {
  it.each(CASES.map((c, k) => [c.name, c, k] as const))('%s', async (_name, c, k) => {
    const bytes = buildOpModel(c.tensors, c.ops);
    const g = await readTflite(bytes, { fileName: `conv3d_${k}.tflite` });
    for (const op of c.expect ?? []) expect(g.nodes.map((n) => n.opType)).toContain(op);
    await compareAll(`conv3d_${k}`, bytes, g, c.sizes, 100 + 10 * k);
  });

  it('a grouped CONV_3D (input channels 4, weights for 2) is refused by name, as the interpreter refuses it', async () => {
    const c = conv3dCase('grouped', [1, 3, 4, 4, 4], [1, 1, 1], 4, Padding.VALID, [1, 1, 1], [1, 1, 1], Act.NONE, true, 41);
    c.tensors[1] = f([1, 1, 1, 2, 4], rand(8, 41));
    const bytes = buildOpModel(c.tensors, c.ops);
    await expect(readTflite(bytes, { fileName: 'grouped.tflite' })).rejects.toThrow(/grouped TFLite CONV_3D.*no groups/);
    await expect(oracle.run(bytes, [new Float32Array(size([1, 3, 4, 4, 4]))])).rejects.toThrow();
  });

  it('a fused TANH on CONV_3D (which the kernel ignores) and int8 3-D convolutions are refused by name; bad shapes are FormatErrors', async () => {
    const tanh = conv3dCase('tanh', [1, 3, 4, 4, 2], [1, 1, 1], 2, Padding.VALID, [1, 1, 1], [1, 1, 1], Act.TANH, true, 42);
    await expect(readTflite(buildOpModel(tanh.tensors, tanh.ops), { fileName: 'tanh.tflite' })).rejects.toThrow(/CONV_3D with fused TANH/);
    // (the interpreter gives the un-activated result: values outside [-1, 1] come out)
    const plain = conv3dCase('plain', [1, 3, 4, 4, 2], [1, 1, 1], 2, Padding.VALID, [1, 1, 1], [1, 1, 1], Act.NONE, true, 42);
    const x = new Float32Array(rand(96, 42).map((v) => 4 * v));
    const [withTanh, without] = await Promise.all([tanh, plain].map(async (c) => (await oracle.run(buildOpModel(c.tensors, c.ops), [x]))[0]!.data as Float32Array));
    expect(Array.from(withTanh!)).toEqual(Array.from(without!));
    expect(Math.max(...Array.from(without!).map(Math.abs))).toBeGreaterThan(1);
    const q = conv3dCase('int8', [1, 3, 4, 4, 2], [1, 1, 1], 2, Padding.VALID, [1, 1, 1], [1, 1, 1], Act.NONE, false, 43);
    q.tensors[0] = { shape: [1, 3, 4, 4, 2], dtype: 'int8', quant: { scale: 0.1, zeroPoint: 0 } };
    await expect(readTflite(buildOpModel(q.tensors, q.ops), { fileName: 'int8.tflite' })).rejects.toThrow(/CONV_3D of quantized tensors/);
    const rank4 = conv3dCase('rank4', [1, 3, 4, 4, 2], [1, 1, 1], 2, Padding.VALID, [1, 1, 1], [1, 1, 1], Act.NONE, false, 44);
    rank4.tensors[1] = f([1, 1, 2, 2], rand(4, 44));
    await expect(readTflite(buildOpModel(rank4.tensors, rank4.ops), { fileName: 'rank4.tflite' })).rejects.toThrow(/weights 't1' has shape \[1, 1, 2, 2\], expected rank 5/);
    const stride0 = conv3dCase('stride0', [1, 3, 4, 4, 2], [1, 1, 1], 2, Padding.VALID, [0, 1, 1], [1, 1, 1], Act.NONE, false, 45);
    const dilated = transposeCase('dilated', [1, 4, 5, 6, 2], [3, 2, 2], [1, 4, 5, 6, 3], Padding.SAME, [1, 1, 1], [2, 1, 2], Act.NONE, true, 25);
    await expect(readTflite(buildOpModel(dilated.tensors, dilated.ops), { fileName: 'dilated.tflite' })).rejects.toThrow(/dilated TFLite CONV_3D_TRANSPOSE \(dilations \[2, 1, 2\]\)/);
    await expect(readTflite(buildOpModel(stride0.tensors, stride0.ops), { fileName: 'stride0.tflite' })).rejects.toThrow(/strides \[0, 1, 1\].*at least 1/);
    const negative = transposeCase('negative', [1, 3, 4, 5, 3], [3, 3, 3], [1, 6, -8, 10, 4], Padding.SAME, [2, 2, 2], [1, 1, 1], Act.NONE, true, 46);
    negative.tensors[negative.tensors.length - 1] = f([1, 6, 8, 10, 4]);
    await expect(readTflite(buildOpModel(negative.tensors, negative.ops), { fileName: 'negative.tflite' })).rejects.toThrow(/output_shape \[1, 6, -8, 10, 4\]/);
    const short = computedTransposeCase('short', Padding.SAME, 3, 0, 47);
    short.tensors[5] = i32([4]);
    await expect(readTflite(buildOpModel(short.tensors, short.ops), { fileName: 'short.tflite' })).rejects.toThrow(/output_shape 't5' has shape \[4\], expected \[5\]/);
  });
});

describe("TFLite reader: nnport's own CONV_3D / CONV_3D_TRANSPOSE file read back", () => {
  it('conv3d_net (Conv3d + BatchNorm3d, stride (1, 2, 2), dilation 2, ConvTranspose3d k2 s2 and k3 s(1, 2, 2) p1 output_padding) read back: nnport and onnxruntime on the .onnx = the interpreter, and PyTorch', { timeout: 120_000 }, async () => {
    const dir = join(ensureScriptFixtures('tflite_gap_models.py', 'tflite-gaps', ['unet_bilinear', 'unet_align', 'unet_deconv', 'fpn', 'pad32', 'conv3d_net', 'c3d_block']), 'conv3d_net');
    const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'conv3d_net.onnx' });
    const bytes = await writeTflite((m as { graph: Graph }).graph, { fileName: 'conv3d_net.tflite' });
    const g = await readTflite(bytes, { fileName: 'conv3d_net.tflite' });
    expect(g.nodes.filter((n) => n.opType === 'ConvTranspose')).toHaveLength(2);
    const input = readNpy(readFileSync(join(dir, 'input0.npy')));
    const want = permuteTensor(readNpy(readFileSync(join(dir, 'output0_0.npy'))), [0, 2, 3, 4, 1]).toFloat32();
    const x = permuteTensor(input, [0, 2, 3, 4, 1]);
    const mine = [...(await runGraph(g, { [g.inputs[0]!.name]: x })).outputs.values()][0]!;
    const e = relErr(mine.toFloat32(), want);
    console.log(`conv3d_net read back: nnport ${e.toExponential(2)} of PyTorch (relative)`);
    expect(e).toBeLessThanOrEqual(1e-5);
    await compareAll('conv3d_net', bytes, g, [x.shape as number[]], 0);
  });
});
