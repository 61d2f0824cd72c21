// Hand-built TFLite files for the reader paths added with ops-gap2-write.ts and the int8 byte copies
// (independent of nnport's writer): UNIQUE of a float vector, and an int8 RESHAPE -> PAD chain whose
// tensors carry three sets of quantization parameters.
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { UniqueOptions } from '../../../src/formats/generated/tflite/unique-options.js';
import { buildOpModel } from './op-model.js';

/** UNIQUE of a float32 [8] input: y (first-occurrence order, [-1]) and idx (int32 [8]). */
export function uniqueFile(): Uint8Array {
  return buildOpModel(
    [{ shape: [8] }, { shape: [8], signature: [-1] }, { shape: [8], dtype: 'int32' }],
    [{ code: Op.UNIQUE, inputs: [0], outputs: [1, 2], options: (b) => [BuiltinOptions.UniqueOptions, UniqueOptions.createUniqueOptions(b, TensorType.INT32)] }],
  );
}

/** int8 [1, 4, 4, 2] (0.05, 3) -> RESHAPE [1, 8, 4] (0.1, -5) -> PAD by 1 on axis 1 (0.02, 7): bytes copied, padded with 7. */
export function int8CopyChainFile(): Uint8Array {
  return buildOpModel(
    [
      { shape: [1, 4, 4, 2], dtype: 'int8', quant: { scale: 0.05, zeroPoint: 3 } },
      { shape: [3], dtype: 'int32', data: [1, 8, 4] },
      { shape: [1, 8, 4], dtype: 'int8', quant: { scale: 0.1, zeroPoint: -5 } },
      { shape: [3, 2], dtype: 'int32', data: [0, 0, 1, 1, 0, 0] },
      { shape: [1, 10, 4], dtype: 'int8', quant: { scale: 0.02, zeroPoint: 7 } },
    ],
    [
      { code: Op.RESHAPE, inputs: [0, 1], outputs: [2] },
      { code: Op.PAD, inputs: [2, 3], outputs: [4] },
    ],
  );
}
