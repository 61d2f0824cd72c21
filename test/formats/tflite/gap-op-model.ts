// A hand-built TFLite file (independent of nnport's writer) of the builtins the writer uses for ops
// TFLite has none of its own for: REVERSE_SEQUENCE -> SCATTER_ND -> ATAN2, for the reader's tests
// and the fuzzer's seeds.
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { ReverseSequenceOptions } from '../../../src/formats/generated/tflite/reverse-sequence-options.js';
import { buildOpModel } from './op-model.js';

/** x [4, 2, 3] reversed along axis 0 per batch (axis 1) by lengths [3, 4]; rows 1, 3, 3 of [4, 2, 3] zeros set from u [3, 2, 3] (row 3 twice: summed); atan2(reversed, scattered). */
export const GAP_OP_SHAPES = { x: [4, 2, 3], u: [3, 2, 3], lengths: [3, 4], rows: [1, 3, 3] } as const;

export function gapOpFile(): Uint8Array {
  const { x, u, lengths, rows } = GAP_OP_SHAPES;
  return buildOpModel(
    [
      { shape: [...x] },
      { shape: [2], dtype: 'int32', data: [...lengths] },
      { shape: [...x] },
      { shape: [3, 1], dtype: 'int32', data: [...rows] },
      { shape: [3], dtype: 'int32', data: [...x] },
      { shape: [...u] },
      { shape: [...x] },
      { shape: [...x] },
    ],
    [
      { code: BuiltinOperator.REVERSE_SEQUENCE, inputs: [0, 1], outputs: [2], options: (b) => [BuiltinOptions.ReverseSequenceOptions, ReverseSequenceOptions.createReverseSequenceOptions(b, 0, 1)] },
      { code: BuiltinOperator.SCATTER_ND, inputs: [3, 5, 4], outputs: [6] },
      { code: BuiltinOperator.ATAN2, inputs: [2, 6], outputs: [7] },
    ],
    [2, 6, 7],
  );
}
