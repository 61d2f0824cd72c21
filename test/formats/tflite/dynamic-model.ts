// Hand-built dynamic-dim TFLite files (shape_signature -1, stored placeholder) for the reader's
// dynamic paths: dynamic-dims.test.ts runs them against the interpreter, the fuzzer mutates them.
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { PackOptions } from '../../../src/formats/generated/tflite/pack-options.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { ShapeOptions } from '../../../src/formats/generated/tflite/shape-options.js';
import { StridedSliceOptions } from '../../../src/formats/generated/tflite/strided-slice-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { TransposeConvOptions } from '../../../src/formats/generated/tflite/transpose-conv-options.js';
import { rng } from '../../support/rng.js';
import { ResizeBilinearOptions } from '../../../src/formats/generated/tflite/resize-bilinear-options.js';
import { ResizeNearestNeighborOptions } from '../../../src/formats/generated/tflite/resize-nearest-neighbor-options.js';
import { buildOpModel, type OpTensor } from './op-model.js';

/**
 * A quantized dynamic-batch file: x -> QUANTIZE -> RESIZE_BILINEAR (half pixel) -> RESIZE_NEAREST_NEIGHBOR
 * -> DEQUANTIZE, on int8 or int16 (zero point 0) activations, every quantized tensor on one grid.
 */
export function quantizedResizeFile(dtype: 'int8' | 'int16'): Uint8Array {
  const quant = dtype === 'int8' ? { scale: 1 / 64, zeroPoint: 3 } : { scale: 1 / 16384, zeroPoint: 0 };
  const q = (shape: number[]): OpTensor => ({ shape, signature: [-1, ...shape.slice(1)], dtype, quant });
  const i32 = (data: number[]): OpTensor => ({ shape: [2], dtype: 'int32', data });
  const tensors: OpTensor[] = [
    { shape: [1, 3, 4, 2], signature: [-1, 3, 4, 2] }, // 0 x
    q([1, 3, 4, 2]), // 1 QUANTIZE
    i32([6, 7]), // 2 size
    q([1, 6, 7, 2]), // 3 RESIZE_BILINEAR
    i32([9, 14]), // 4 size
    q([1, 9, 14, 2]), // 5 RESIZE_NEAREST_NEIGHBOR
    { shape: [1, 9, 14, 2], signature: [-1, 9, 14, 2] }, // 6 DEQUANTIZE
  ];
  const v = dtype === 'int8' ? 2 : 4;
  return buildOpModel(
    tensors,
    [
      { code: Op.QUANTIZE, inputs: [0], outputs: [1], version: dtype === 'int8' ? 2 : 1 },
      { code: Op.RESIZE_BILINEAR, inputs: [1, 2], outputs: [3], version: Math.max(v, 3), options: (b) => [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, false, true)] },
      { code: Op.RESIZE_NEAREST_NEIGHBOR, inputs: [3, 4], outputs: [5], version: v, options: (b) => [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, false, false)] },
      { code: Op.DEQUANTIZE, inputs: [5], outputs: [6], version: 2 },
    ],
    [6],
  );
}

/** SPLIT_V on a dynamic time axis with size_splits [1, -1, 2, 0] (the -1 part follows the length), int8 or float. */
export function splitVFile(dtype: 'float32' | 'int8'): Uint8Array {
  const quant = dtype === 'int8' ? { scale: 1 / 64, zeroPoint: -2 } : undefined;
  const t = (shape: number[]): OpTensor => ({ shape, signature: [1, -1, 3], dtype, quant });
  const tensors: OpTensor[] = [
    t([1, 5, 3]), // 0 x
    { shape: [4], dtype: 'int32', data: [1, -1, 2, 0] }, // 1 size_splits
    { shape: [], dtype: 'int32', data: [1] }, // 2 axis
    t([1, 1, 3]), // 3
    t([1, 2, 3]), // 4
    t([1, 2, 3]), // 5
    t([1, 0, 3]), // 6
  ];
  return buildOpModel(
    tensors,
    [{ code: Op.SPLIT_V, inputs: [0, 1, 2], outputs: [3, 4, 5, 6], version: dtype === 'int8' ? 2 : 1, options: (b) => [BuiltinOptions.SplitVOptions, (b.startObject(1), b.addFieldInt32(0, 4, 0), b.endObject())] }],
    [3, 4, 5],
  );
}

/**
 * TRANSPOSE_CONV (stride 2, SAME, bias) over a dynamic batch with its output_shape computed as TF's
 * converter writes it: SHAPE -> STRIDED_SLICE (the batch, shrunk) -> PACK(batch, 8, 10, 2).
 */
export function transposeConvFile(): Uint8Array {
  const r = rng(14);
  const rand = (n: number) => Array.from({ length: n }, () => r() * 2 - 1);
  const i32 = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'int32', data });
  const tensors: OpTensor[] = [
    { shape: [1, 4, 5, 3], signature: [-1, 4, 5, 3] }, // 0 x
    i32([4]), // 1 SHAPE
    i32([1], [0]), // 2 begin
    i32([1], [1]), // 3 end
    i32([1], [1]), // 4 strides
    i32([]), // 5 the batch
    i32([], [8]), // 6
    i32([], [10]), // 7
    i32([], [2]), // 8
    i32([4]), // 9 PACK
    { shape: [2, 3, 3, 3], data: rand(54) }, // 10 weights OHWI
    { shape: [2], data: rand(2) }, // 11 bias
    { shape: [1, 8, 10, 2], signature: [-1, 8, 10, 2] }, // 12 y
  ];
  return buildOpModel(
    tensors,
    [
      { code: Op.SHAPE, inputs: [0], outputs: [1], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] },
      { code: Op.STRIDED_SLICE, inputs: [1, 2, 3, 4], outputs: [5], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 1, false)] },
      { code: Op.PACK, inputs: [5, 6, 7, 8], outputs: [9], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, 4, 0)] },
      { code: Op.TRANSPOSE_CONV, inputs: [9, 10, 0, 11], outputs: [12], version: 3, options: (b) => [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(b, Padding.SAME, 2, 2, 0, TensorType.FLOAT32)] },
    ],
    [12],
  );
}
