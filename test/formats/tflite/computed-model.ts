// Hand-built TFLite files whose paddings / sizes / shapes are computed when the model runs, from the
// input's SHAPE over open dims (shape_signature -1), as TF's converter writes them for dynamic
// inputs: MIRROR_PAD / PAD / PADV2 paddings, RESIZE_* sizes from another input's SHAPE, a RESHAPE to
// a PACKed target, TRANSPOSE_CONV's output_shape over an open height / width, CONV_3D_TRANSPOSE's
// likewise. Shared by the reader tests and the fuzzer's seeds.
import { ActivationFunctionType as Act } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { AddOptions } from '../../../src/formats/generated/tflite/add-options.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Conv3DOptions } from '../../../src/formats/generated/tflite/conv3-doptions.js';
import { FloorModOptions } from '../../../src/formats/generated/tflite/floor-mod-options.js';
import { MirrorPadMode } from '../../../src/formats/generated/tflite/mirror-pad-mode.js';
import { MirrorPadOptions } from '../../../src/formats/generated/tflite/mirror-pad-options.js';
import { MulOptions } from '../../../src/formats/generated/tflite/mul-options.js';
import { PackOptions } from '../../../src/formats/generated/tflite/pack-options.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { ResizeBilinearOptions } from '../../../src/formats/generated/tflite/resize-bilinear-options.js';
import { ResizeNearestNeighborOptions } from '../../../src/formats/generated/tflite/resize-nearest-neighbor-options.js';
import { ShapeOptions } from '../../../src/formats/generated/tflite/shape-options.js';
import { StridedSliceOptions } from '../../../src/formats/generated/tflite/strided-slice-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { TransposeConvOptions } from '../../../src/formats/generated/tflite/transpose-conv-options.js';
import { rng } from '../../support/rng.js';
import { buildOpModel, type OpSpec, type OpTensor } from './op-model.js';

const rand = (n: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
};
const f = (shape: number[], signature?: number[], data?: number[]): OpTensor => ({ shape, signature, data });
const i32 = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'int32', data });
const open4 = (c: number): OpTensor => f([1, 1, 1, c], [-1, -1, -1, c]);

const shapeOp = (x: number, y: number): OpSpec => ({ code: Op.SHAPE, inputs: [x], outputs: [y], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
const mul = (a: number, b: number, y: number): OpSpec => ({ code: Op.MUL, inputs: [a, b], outputs: [y], options: (fb) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(fb, Act.NONE)] });
const add = (a: number, b: number, y: number): OpSpec => ({ code: Op.ADD, inputs: [a, b], outputs: [y], options: (fb) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(fb, Act.NONE, false)] });
const pack = (inputs: number[], y: number, axis = 0): OpSpec => ({ code: Op.PACK, inputs, outputs: [y], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, inputs.length, axis)] });
/** element k of a 1-D int32 tensor as a scalar (STRIDED_SLICE, shrink_axis_mask 1) */
const element = (v: number, begin: number, end: number, stride: number, y: number): OpSpec => ({ code: Op.STRIDED_SLICE, inputs: [v, begin, end, stride], outputs: [y], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 1, false)] });

export type PadKind = 'REFLECT' | 'SYMMETRIC' | 'PAD' | 'PADV2';

/**
 * x [N, H, W, 3] open in N / H / W, padded by paddings computed from SHAPE(x):
 * before = SHAPE % [1, 3, 3, 1], after = SHAPE % [1, 2, 4, 1], PACKed into [4, 2] rows (all within the dims for H, W >= 4).
 */
export function computedPadFile(kind: PadKind, rows = 4): Uint8Array {
  const tensors: OpTensor[] = [
    f([1, 6, 7, 3], [-1, -1, -1, 3]), // 0 x
    i32([4]), // 1 SHAPE
    i32([4], [1, 3, 3, 1]), // 2
    i32([4]), // 3 before
    i32([4], [1, 2, 4, 1]), // 4
    i32([4]), // 5 after
    i32([rows, 2]), // 6 paddings
    open4(3), // 7 y
    f([], undefined, [0.5]), // 8 PADV2's value
  ];
  const floorMod = (a: number, b: number, y: number): OpSpec => ({ code: Op.FLOOR_MOD, inputs: [a, b], outputs: [y], options: (fb) => [BuiltinOptions.FloorModOptions, FloorModOptions.createFloorModOptions(fb)] });
  const pad: OpSpec =
    kind === 'PAD'
      ? { code: Op.PAD, inputs: [0, 6], outputs: [7] }
      : kind === 'PADV2'
        ? { code: Op.PADV2, inputs: [0, 6, 8], outputs: [7] }
        : { code: Op.MIRROR_PAD, inputs: [0, 6], outputs: [7], options: (b) => [BuiltinOptions.MirrorPadOptions, MirrorPadOptions.createMirrorPadOptions(b, kind === 'REFLECT' ? MirrorPadMode.REFLECT : MirrorPadMode.SYMMETRIC)] };
  return buildOpModel(tensors, [shapeOp(0, 1), floorMod(1, 2, 3), floorMod(1, 4, 5), pack([3, 5], 6, 1), pad], [7]);
}

/** x [N, h, w, 3] resized to the height and width of a second input `skip` [N, H, W, 2] (STRIDED_SLICE of its SHAPE). */
export function resizeToSkipFile(mode: 'bilinear' | 'nearest', alignCorners = false, halfPixelCenters = false): Uint8Array {
  const tensors: OpTensor[] = [
    f([1, 4, 5, 3], [-1, -1, -1, 3]), // 0 x
    f([1, 8, 9, 2], [-1, -1, -1, 2]), // 1 skip
    i32([4]), // 2 SHAPE(skip)
    i32([1], [1]), // 3 begin
    i32([1], [3]), // 4 end
    i32([1], [1]), // 5 strides
    i32([2]), // 6 sizes
    open4(3), // 7 y
  ];
  const resize: OpSpec =
    mode === 'bilinear'
      ? { code: Op.RESIZE_BILINEAR, inputs: [0, 6], outputs: [7], version: 3, options: (b) => [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, alignCorners, halfPixelCenters)] }
      : { code: Op.RESIZE_NEAREST_NEIGHBOR, inputs: [0, 6], outputs: [7], version: 3, options: (b) => [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, alignCorners, halfPixelCenters)] };
  const slice: OpSpec = { code: Op.STRIDED_SLICE, inputs: [2, 3, 4, 5], outputs: [6], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)] };
  return buildOpModel(tensors, [shapeOp(1, 2), slice, resize], [7]);
}

/** x [N, H, W, 3] reshaped to PACK(N, -1, 3) or PACK(N, H·W, 3) (tf.reshape(x, [tf.shape(x)[0], -1, 3]) and the like). */
export function computedReshapeFile(product: boolean): Uint8Array {
  const tensors: OpTensor[] = [
    f([1, 4, 5, 3], [-1, -1, -1, 3]), // 0 x
    i32([4]), // 1 SHAPE
    i32([1], [0]), // 2
    i32([1], [1]), // 3
    i32([1], [1]), // 4 stride
    i32([]), // 5 N
    i32([], [-1]), // 6
    i32([], [3]), // 7
    i32([3]), // 8 target
    f([1, 20, 3], [-1, -1, 3]), // 9 y
    i32([1], [2]), // 10
    i32([1], [3]), // 11
    i32([]), // 12 H
    i32([]), // 13 W
    i32([]), // 14 H·W
  ];
  const ops: OpSpec[] = [shapeOp(0, 1), element(1, 2, 3, 4, 5)];
  if (product) ops.push(element(1, 3, 10, 4, 12), element(1, 10, 11, 4, 13), mul(12, 13, 14));
  ops.push(pack([5, product ? 14 : 6, 7], 8), { code: Op.RESHAPE, inputs: [0, 8], outputs: [9] });
  return buildOpModel(tensors, ops, [9]);
}

/**
 * TRANSPOSE_CONV (kernel 3, stride 2, 2 output channels, bias) of x [N, H, W, 3] open in N / H / W,
 * output_shape PACK(N, 2H + e, 2W + e, 2) from SHAPE(x) (e 0 for SAME, 1 for VALID: TF's Conv2DTranspose).
 */
export function transposeConvOpenFile(padding: Padding, seed = 7): Uint8Array {
  const e = padding === Padding.SAME ? 0 : 1;
  const tensors: OpTensor[] = [
    f([1, 4, 5, 3], [-1, -1, -1, 3]), // 0 x
    i32([4]), // 1 SHAPE
    i32([1], [0]), // 2
    i32([1], [1]), // 3
    i32([1], [2]), // 4
    i32([1], [3]), // 5
    i32([1], [1]), // 6 stride
    i32([]), // 7 N
    i32([]), // 8 H
    i32([]), // 9 W
    i32([], [2]), // 10
    i32([]), // 11 2H
    i32([]), // 12 2W
    i32([], [e]), // 13
    i32([]), // 14 2H + e
    i32([]), // 15 2W + e
    i32([], [2]), // 16 channels
    i32([4]), // 17 output_shape
    f([2, 3, 3, 3], undefined, rand(54, seed)), // 18 weights OHWI
    f([2], undefined, rand(2, seed + 1)), // 19 bias
    open4(2), // 20 y
  ];
  const ops: OpSpec[] = [
    shapeOp(0, 1),
    element(1, 2, 3, 6, 7),
    element(1, 3, 4, 6, 8),
    element(1, 4, 5, 6, 9),
    mul(8, 10, 11),
    mul(9, 10, 12),
    add(11, 13, 14),
    add(12, 13, 15),
    pack([7, 14, 15, 16], 17),
    { code: Op.TRANSPOSE_CONV, inputs: [17, 18, 0, 19], outputs: [20], version: 3, options: (b) => [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(b, padding, 2, 2, Act.NONE, TensorType.FLOAT32)] },
  ];
  return buildOpModel(tensors, ops, [20]);
}

/** CONV_3D_TRANSPOSE (kernel 3, stride 2, ReLU) over open N / D / H / W: output_shape = SHAPE(x) · [1, 2, 2, 2, 0] + [0, e, e, e, 4]. */
export function conv3dTransposeOpenFile(padding: Padding, e: number, seed = 31): Uint8Array {
  const [ci, co, k] = [3, 4, 3];
  const tensors: OpTensor[] = [
    f([1, 3, 4, 5, ci], [-1, -1, -1, -1, ci]), // 0 x
    i32([5]), // 1 SHAPE(x)
    i32([5], [1, 2, 2, 2, 0]), // 2
    i32([5]), // 3 scaled
    i32([5], [0, e, e, e, co]), // 4
    i32([5]), // 5 output_shape
    f([k, k, k, co, ci], undefined, rand(k * k * k * co * ci, seed)), // 6 weights
    f([co], undefined, rand(co, seed + 1)), // 7 bias
    f([1, 1, 1, 1, co], [-1, -1, -1, -1, co]), // 8 y
  ];
  const ops: OpSpec[] = [
    shapeOp(0, 1),
    mul(1, 2, 3),
    add(3, 4, 5),
    { code: Op.CONV_3D_TRANSPOSE, inputs: [5, 6, 0, 7], outputs: [8], options: (b) => [BuiltinOptions.Conv3DOptions, Conv3DOptions.createConv3DOptions(b, padding, 2, 2, 2, Act.RELU, 1, 1, 1)] },
  ];
  return buildOpModel(tensors, ops, [8]);
}

/** CONV_3D (kernel 3, strides (1, 2, 2), dilation (2, 1, 1), SAME, RELU6, bias) over open N / D / H / W. */
export function conv3dOpenFile(seed = 41): Uint8Array {
  const [ci, co, k] = [3, 4, 3];
  const tensors: OpTensor[] = [
    f([1, 5, 6, 7, ci], [-1, -1, -1, -1, ci]), // 0 x
    f([k, k, k, ci, co], undefined, rand(k * k * k * ci * co, seed)), // 1 weights
    f([co], undefined, rand(co, seed + 1)), // 2 bias
    f([1, 1, 1, 1, co], [-1, -1, -1, -1, co]), // 3 y
  ];
  return buildOpModel(tensors, [{ code: Op.CONV_3D, inputs: [0, 1, 2], outputs: [3], options: (b) => [BuiltinOptions.Conv3DOptions, Conv3DOptions.createConv3DOptions(b, Padding.SAME, 1, 2, 2, Act.RELU6, 2, 1, 1)] }], [3]);
}

/** TRANSPOSE_CONV (kernel 2, stride 3, bias) to a constant output_shape past the full output (rows holding only the bias), SAME or VALID. */
export function transposeConvPastFullFile(padding: Padding, seed = 9): Uint8Array {
  // x [1, 3, 4, 2]: full output (3-1)·3 + 2 = 8 by (4-1)·3 + 2 = 11; VALID takes 8..10, SAME 7..9 by 10..12
  const out = padding === Padding.VALID ? [1, 10, 12, 3] : [1, 9, 12, 3];
  const tensors: OpTensor[] = [
    i32([4], out), // 0 output_shape
    f([3, 2, 2, 2], undefined, rand(24, seed)), // 1 weights OHWI
    f([1, 3, 4, 2]), // 2 x
    f([3], undefined, rand(3, seed + 1)), // 3 bias
    f(out), // 4 y
  ];
  return buildOpModel(tensors, [{ code: Op.TRANSPOSE_CONV, inputs: [0, 1, 2, 3], outputs: [4], version: 3, options: (b) => [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(b, padding, 3, 3, Act.NONE, TensorType.FLOAT32)] }], [4]);
}
