// The int8 "copy" ops whose input and output tensors carry different quantization parameters,
// on hand-built one-op files: TFLite's RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, GATHER, SLICE,
// ... move the int8 bytes and do not requantize (the output's parameters only say how the same
// bytes read), CONCATENATION requantizes, PACK refuses. Each file is run by the real interpreter
// and by nnport's integer runtime (and its float reference runtime) on the same int8 input; the
// bytes must be equal. A file with the output's parameters equal to the input's is run too: an op
// that copies gives the same bytes both ways.
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType as Act } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../../../src/formats/generated/tflite/concatenation-options.js';
import { DepthToSpaceOptions } from '../../../src/formats/generated/tflite/depth-to-space-options.js';
import { GatherOptions } from '../../../src/formats/generated/tflite/gather-options.js';
import { MirrorPadMode } from '../../../src/formats/generated/tflite/mirror-pad-mode.js';
import { MirrorPadOptions } from '../../../src/formats/generated/tflite/mirror-pad-options.js';
import { PackOptions } from '../../../src/formats/generated/tflite/pack-options.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { Pool2DOptions } from '../../../src/formats/generated/tflite/pool2-doptions.js';
import { ResizeNearestNeighborOptions } from '../../../src/formats/generated/tflite/resize-nearest-neighbor-options.js';
import { SpaceToDepthOptions } from '../../../src/formats/generated/tflite/space-to-depth-options.js';
import { SplitOptions } from '../../../src/formats/generated/tflite/split-options.js';
import { SplitVOptions } from '../../../src/formats/generated/tflite/split-voptions.js';
import { SqueezeOptions } from '../../../src/formats/generated/tflite/squeeze-options.js';
import { StridedSliceOptions } from '../../../src/formats/generated/tflite/strided-slice-options.js';
import { UnpackOptions } from '../../../src/formats/generated/tflite/unpack-options.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildOpModel, type OpSpec, type OpTensor } from './op-model.js';

const oracle = useTfliteOracle();

const X_SHAPE = [1, 4, 4, 4];
const IN_Q = { scale: 0.05, zeroPoint: 3 };
const OUT_Q = { scale: 0.1, zeroPoint: -5 };
const i32 = (shape: number[], data: number[]): OpTensor => ({ shape, dtype: 'int32', data });

/** What TFLite does with int8 input and output tensors of different parameters (measured with its interpreter). */
type Kind = 'copy' | 'copy, pads with the output zero point' | 'refused';

interface CopyCase {
  code: Op;
  name: string;
  kind: Kind;
  /** the op's constant inputs */
  extra?: OpTensor[];
  /** the op's inputs: 0 is x, k the k-th constant (default x, then the constants in order) */
  order?: number[];
  /** output shapes */
  outs: number[][];
  options?: OpSpec['options'];
}

const pool = (b: Parameters<NonNullable<OpSpec['options']>>[0]): [BuiltinOptions, number] => [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(b, Padding.VALID, 2, 2, 2, 2, Act.NONE)];

const CASES: CopyCase[] = [
  { code: Op.RESHAPE, name: 'RESHAPE', kind: 'copy', extra: [i32([2], [1, 64])], outs: [[1, 64]] },
  { code: Op.SQUEEZE, name: 'SQUEEZE', kind: 'copy', outs: [[4, 4, 4]], options: (b) => [BuiltinOptions.SqueezeOptions, SqueezeOptions.createSqueezeOptions(b, SqueezeOptions.createSqueezeDimsVector(b, [0]))] },
  { code: Op.TRANSPOSE, name: 'TRANSPOSE', kind: 'copy', extra: [i32([4], [0, 2, 1, 3])], outs: [[1, 4, 4, 4]] },
  { code: Op.GATHER, name: 'GATHER', kind: 'copy', extra: [i32([2], [2, 0])], outs: [[1, 2, 4, 4]], options: (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, 1, 0)] },
  { code: Op.GATHER_ND, name: 'GATHER_ND', kind: 'copy', extra: [i32([2, 2], [0, 1, 0, 3])], outs: [[2, 4, 4]] },
  { code: Op.SLICE, name: 'SLICE', kind: 'copy', extra: [i32([4], [0, 1, 0, 0]), i32([4], [1, 2, 4, 4])], outs: [[1, 2, 4, 4]] },
  {
    code: Op.STRIDED_SLICE,
    name: 'STRIDED_SLICE',
    kind: 'copy',
    extra: [i32([4], [0, 0, 0, 0]), i32([4], [1, 4, 4, 4]), i32([4], [1, 2, 1, 1])],
    outs: [[1, 2, 4, 4]],
    options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)],
  },
  { code: Op.TILE, name: 'TILE', kind: 'copy', extra: [i32([4], [1, 1, 1, 2])], outs: [[1, 4, 4, 8]] },
  { code: Op.REVERSE_V2, name: 'REVERSE_V2', kind: 'copy', extra: [i32([1], [1])], outs: [[1, 4, 4, 4]] },
  { code: Op.DEPTH_TO_SPACE, name: 'DEPTH_TO_SPACE', kind: 'copy', outs: [[1, 8, 8, 1]], options: (b) => [BuiltinOptions.DepthToSpaceOptions, DepthToSpaceOptions.createDepthToSpaceOptions(b, 2)] },
  { code: Op.SPACE_TO_DEPTH, name: 'SPACE_TO_DEPTH', kind: 'copy', outs: [[1, 2, 2, 16]], options: (b) => [BuiltinOptions.SpaceToDepthOptions, SpaceToDepthOptions.createSpaceToDepthOptions(b, 2)] },
  { code: Op.BATCH_TO_SPACE_ND, name: 'BATCH_TO_SPACE_ND', kind: 'copy', extra: [i32([2], [1, 1]), i32([2, 2], [0, 0, 0, 0])], outs: [[1, 4, 4, 4]] },
  { code: Op.SPLIT, name: 'SPLIT', kind: 'copy', extra: [i32([], [3])], order: [1, 0], outs: [[1, 4, 4, 2], [1, 4, 4, 2]], options: (b) => [BuiltinOptions.SplitOptions, SplitOptions.createSplitOptions(b, 2)] },
  { code: Op.SPLIT_V, name: 'SPLIT_V', kind: 'copy', extra: [i32([2], [1, 3]), i32([], [1])], outs: [[1, 1, 4, 4], [1, 3, 4, 4]], options: (b) => [BuiltinOptions.SplitVOptions, SplitVOptions.createSplitVOptions(b, 2)] },
  { code: Op.MIRROR_PAD, name: 'MIRROR_PAD', kind: 'copy', extra: [i32([4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], outs: [[1, 6, 6, 4]], options: (b) => [BuiltinOptions.MirrorPadOptions, MirrorPadOptions.createMirrorPadOptions(b, MirrorPadMode.REFLECT)] },
  { code: Op.MAX_POOL_2D, name: 'MAX_POOL_2D', kind: 'copy', outs: [[1, 2, 2, 4]], options: pool },
  { code: Op.AVERAGE_POOL_2D, name: 'AVERAGE_POOL_2D', kind: 'copy', outs: [[1, 2, 2, 4]], options: pool },
  { code: Op.RESIZE_NEAREST_NEIGHBOR, name: 'RESIZE_NEAREST_NEIGHBOR', kind: 'copy', extra: [i32([2], [8, 8])], outs: [[1, 8, 8, 4]], options: (b) => [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, false, false)] },
  { code: Op.PAD, name: 'PAD', kind: 'copy, pads with the output zero point', extra: [i32([4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], outs: [[1, 6, 6, 4]] },
  { code: Op.SPACE_TO_BATCH_ND, name: 'SPACE_TO_BATCH_ND', kind: 'copy, pads with the output zero point', extra: [i32([2], [2, 2]), i32([2, 2], [1, 1, 1, 1])], outs: [[4, 3, 3, 4]] },
  { code: Op.EXPAND_DIMS, name: 'EXPAND_DIMS', kind: 'refused', extra: [i32([1], [0])], outs: [[1, 1, 4, 4, 4]] },
  { code: Op.CONCATENATION, name: 'CONCATENATION', kind: 'refused', order: [0, 0], outs: [[1, 4, 4, 8]], options: (b) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, 3, Act.NONE)] },
  { code: Op.PACK, name: 'PACK', kind: 'refused', order: [0, 0], outs: [[2, 1, 4, 4, 4]], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, 2, 0)] },
  { code: Op.UNPACK, name: 'UNPACK', kind: 'refused', outs: [[4, 4, 4]], options: (b) => [BuiltinOptions.UnpackOptions, UnpackOptions.createUnpackOptions(b, 1, 0)] },
];

/** The one-op file: x (int8, IN_Q), the constants, the outputs (int8, `outQ`). */
function fileOf(c: CopyCase, outQ: { scale: number; zeroPoint: number }): Uint8Array {
  const tensors: OpTensor[] = [{ shape: X_SHAPE, dtype: 'int8', quant: IN_Q }, ...(c.extra ?? [])];
  const inputs = c.order ?? tensors.map((_, i) => i);
  const outputs = c.outs.map((shape) => tensors.push({ shape, dtype: 'int8', quant: outQ }) - 1);
  return buildOpModel(tensors, [{ code: c.code, inputs, outputs, options: c.options }], outputs);
}

const same = (a: Int8Array[], b: Int8Array[]): boolean => a.length === b.length && a.every((t, i) => t.length === b[i]!.length && t.every((v, j) => v === b[i]![j]));

describe('TFLite int8 data-movement ops with different input / output quantization', () => {
  const r = rng(7);
  const x = Int8Array.from({ length: 64 }, () => Math.floor(r() * 256) - 128);
  for (const c of CASES) {
    it(`${c.name}: ${c.kind}; nnport's integer and reference runtimes give the interpreter's bytes`, { timeout: 60_000 }, async () => {
      const diff = fileOf(c, OUT_Q);
      const asInput = (await oracle.run(fileOf(c, IN_Q), [x])).map((t) => t.data as Int8Array);
      if (c.kind === 'refused') {
        await expect(oracle.run(diff, [x])).rejects.toThrow(/initialize model/);
        return;
      }
      const interp = (await oracle.run(diff, [x])).map((t) => t.data as Int8Array);
      // a copy: the same bytes as with the input's own parameters (but for the padding's value)
      if (c.kind === 'copy') expect(same(interp, asInput)).toBe(true);
      else {
        const padded = interp[0]!.map((v, i) => (v === OUT_Q.zeroPoint && asInput[0]![i] === IN_Q.zeroPoint ? IN_Q.zeroPoint : v));
        expect(same([padded], asInput)).toBe(true);
        expect(interp[0]!.filter((v) => v === OUT_Q.zeroPoint).length).toBeGreaterThan(0);
      }
      const g = await readTflite(diff, { fileName: `${c.name}.tflite` });
      const feeds = { [g.inputs[0]!.name]: new Tensor('int8', X_SHAPE, x) };
      const integer = [...(await runInteger(g, feeds)).outputs.values()].map((t) => t.data as Int8Array);
      const reference = [...(await runGraph(g, feeds)).outputs.values()].map((t) => t.data as Int8Array);
      expect(same(integer, interp)).toBe(true);
      // the reference runtime's float mean may round a tie the other way (TFLite rounds the integer sum)
      if (c.code === Op.AVERAGE_POOL_2D) expect(Math.max(...reference[0]!.map((v, i) => Math.abs(v - interp[0]![i]!)))).toBeLessThanOrEqual(1);
      else expect(same(reference, interp)).toBe(true);
    });
  }
});

// The writer's side: a QDQ graph (DequantizeLinear -> op -> QuantizeLinear on other parameters)
// requantizes, so a byte-copying op must not carry the two sets of parameters itself. Expected
// values from plain loops of ONNX's QuantizeLinear / DequantizeLinear (inputs chosen off rounding
// ties, where TFLite's half-away and ONNX's half-even rounding part).
describe('TFLite writer: QDQ data movement on two sets of parameters', () => {
  const S1 = 0.05;
  const Z1 = 3;
  const S3 = 0.04;
  const Z3 = 1;
  const S2 = 0.07;
  const Z2 = -5;
  const x = Float32Array.from({ length: 16 }, (_, i) => (i - 8) * 0.37 + 0.011);
  const f32 = Math.fround;
  const q = (v: number, s: number, z: number) => {
    const r = v / f32(s);
    const fl = Math.floor(r);
    const even = r - fl === 0.5 ? (fl % 2 === 0 ? fl : fl + 1) : Math.round(r);
    return Math.min(127, Math.max(-128, even + z));
  };
  const fake = (v: number, s: number, z: number) => f32((q(v, s, z) - z) * f32(s));
  const init = (): Map<string, Tensor> =>
    new Map<string, Tensor>([
      ['s1', Tensor.float32([], [S1])],
      ['z1', new Tensor('int8', [], Int8Array.of(Z1))],
      ['s2', Tensor.float32([], [S2])],
      ['z2', new Tensor('int8', [], Int8Array.of(Z2))],
      ['s3', Tensor.float32([], [S3])],
      ['z3', new Tensor('int8', [], Int8Array.of(Z3))],
    ]);
  const node = (opType: string, inputs: string[], outputs: string[], attrs: Graph['nodes'][number]['attrs'] = {}) => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
  const qdq = (from: string, s: string, z: string, to: string) => [node('QuantizeLinear', [from, s, z], [`${to}_q`]), node('DequantizeLinear', [`${to}_q`, s, z], [to])];

  const CORES: { name: string; shape: number[]; nodes: Graph['nodes']; extra?: [string, Tensor][]; want: () => number[] }[] = [
    { name: 'Reshape', shape: [4, 4], extra: [['shape', Tensor.int64([2], [4, 4])]], nodes: [node('Reshape', ['a', 'shape'], ['core'])], want: () => Array.from(x, (v) => fake(fake(v, S1, Z1), S2, Z2)) },
    {
      name: 'Transpose',
      shape: [8, 2],
      nodes: [node('Transpose', ['a'], ['core'], { perm: { type: 'ints', value: [1, 0] } })],
      want: () => Array.from({ length: 16 }, (_, k) => fake(fake(x[(k % 2) * 8 + Math.floor(k / 2)]!, S1, Z1), S2, Z2)),
    },
    { name: 'Unsqueeze', shape: [1, 2, 8], extra: [['axes', Tensor.int64([1], [0])]], nodes: [node('Unsqueeze', ['a', 'axes'], ['core'])], want: () => Array.from(x, (v) => fake(fake(v, S1, Z1), S2, Z2)) },
    {
      name: 'Concat',
      shape: [4, 8],
      nodes: [...qdq('x', 's3', 'z3', 'b'), node('Concat', ['a', 'b'], ['core'], { axis: { type: 'int', value: 0 } })],
      want: () => [...Array.from(x, (v) => fake(fake(v, S1, Z1), S2, Z2)), ...Array.from(x, (v) => fake(fake(v, S3, Z3), S2, Z2))],
    },
  ];
  for (const c of CORES) {
    it(`${c.name}: a QUANTIZE after the copy, the interpreter within one step of ONNX's requantized values`, { timeout: 60_000 }, async () => {
      const initializers = init();
      for (const [k, v] of c.extra ?? []) initializers.set(k, v);
      const g = {
        name: c.name,
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 8] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: c.shape }],
        initializers,
        nodes: [...qdq('x', 's1', 'z1', 'a'), ...c.nodes, ...qdq('core', 's2', 'z2', 'y')],
        opsets: { '': 13 },
      } as unknown as Graph;
      const bytes = await writeTflite(g, { fileName: `${c.name}.tflite` });
      const got = Array.from((await oracle.run(bytes, [x]))[0]!.data as Float32Array);
      // TFLite's int8 -> int8 QUANTIZE (a fixed-point multiplier, rounded twice) may land one step
      // from ONNX's float requantization; a copy on the wrong parameters is off by far more
      const want = c.want();
      const steps = got.map((v, i) => Math.round(Math.abs(v - want[i]!) / S2));
      console.log(`${c.name}: ${steps.filter((d) => d === 0).length} of ${got.length} values exactly ONNX's, the rest ${Math.max(...steps)} step off`);
      expect(Math.max(...steps)).toBeLessThanOrEqual(1);
      expect(steps.filter((d) => d === 0).length).toBeGreaterThanOrEqual(0.75 * got.length);
      // nnport reads the file back: its integer runtime's int8 -> int8 QUANTIZE is the reference
      // kernel's (31-bit multiplier); the interpreter's rounds some values one step apart (as
      // XNNPACK's 8-bit-multiplier convert would)
      const back = await readTflite(bytes, { fileName: `${c.name}.tflite` });
      const mine = [...(await runInteger(back, { [back.inputs[0]!.name]: Tensor.float32([2, 8], x) })).outputs.values()][0]!.toNumbers();
      expect(Math.max(...mine.map((v, i) => Math.round(Math.abs(v - got[i]!) / S2)))).toBeLessThanOrEqual(1);
    });
  }
});
