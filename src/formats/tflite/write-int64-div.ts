// ONNX Div of int64 tensors in a TFLite file. TFLite's DIV and FLOOR_DIV have no int64 kernel, but
// SUB / MUL / FLOOR_MOD / MAXIMUM / CAST / ROUND do: the quotient of the magnitudes is exact from
// float32 estimates corrected in int64. With A = |a|, B = |b| and M = A - FLOOR_MOD(A, B) (a multiple
// of B), q0 = round(M / B) in float32 is off by at most 2^41 (relative error of three float32
// roundings, ~2^-22.4, of q < 2^63); each step q += round((M - q·B) / B) shrinks that by ~2^22, and the
// third lands within 0.5 of the exact integer quotient, so rounding gives it. The sign is ONNX's
// (truncation toward zero): -q where a and b differ in sign. (Torchvision's detectors divide int64
// indices by the class count: RetinaNet's `topk_idxs // num_classes`.)
import { UnsupportedError } from '../../ir/errors.js';
import type { Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { DivOptions } from '../generated/tflite/div-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { SubOptions } from '../generated/tflite/sub-options.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { SelectV2Options } from '../generated/tflite/select-v2-options.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import type { Converter, WriteContext } from './ops-write.js';

const NONE = ActivationFunctionType.NONE;

export const int64Div: Converter = (n: Node, c: WriteContext) => {
  const a = c.tensor(n.inputs[0]!);
  const b = c.tensor(n.inputs[1]!);
  const y = c.tensor(n.outputs[0]!);
  const yi = c.info(y);
  if (c.info(a).dtype !== 'int64' || c.info(b).dtype !== 'int64' || yi.dtype !== 'int64') throw new UnsupportedError(`Div of ${c.info(a).dtype} / ${c.info(b).dtype} in a TFLite file`, `node '${n.name}'`);
  const like = (dtype: 'int64' | 'float32' | 'bool', of: string) => ({ name: '', dtype, shape: c.info(of).shape, signature: c.info(of).signature });
  let step = 0;
  const op = (code: BuiltinOperator, inputs: string[], dtype: 'int64' | 'float32' | 'bool', of: string, options?: Parameters<WriteContext['emit']>[0]['options']) => {
    const t = c.addTensor(`${y}_div${step++}`, like(dtype, of));
    c.emit({ code, inputs, outputs: [t], options });
    return t;
  };
  const sub = (x: string, z: string, of: string) => op(BuiltinOperator.SUB, [x, z], 'int64', of, (o) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(o, NONE, false)]);
  const zero = c.addConstant(`${y}_zero`, Tensor.scalar('int64', 0));
  const magnitude = (x: string) => op(BuiltinOperator.MAXIMUM, [x, sub(zero, x, x)], 'int64', x);
  const A = magnitude(a);
  const B = magnitude(b);
  const M = sub(A, op(BuiltinOperator.FLOOR_MOD, [A, B], 'int64', y), y);
  const Bf = op(BuiltinOperator.CAST, [B], 'float32', b);
  // round(x / B) in float32, back to int64
  const estimate = (x: string) => {
    const xf = op(BuiltinOperator.CAST, [x], 'float32', x);
    const ratio = op(BuiltinOperator.DIV, [xf, Bf], 'float32', y, (o) => [BuiltinOptions.DivOptions, DivOptions.createDivOptions(o, NONE)]);
    return op(BuiltinOperator.CAST, [op(BuiltinOperator.ROUND, [ratio], 'float32', y)], 'int64', y);
  };
  let q = estimate(M);
  for (let k = 0; k < 3; k++) {
    const residual = sub(M, op(BuiltinOperator.MUL, [q, B], 'int64', y, (o) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(o, NONE)]), y);
    q = op(BuiltinOperator.ADD, [q, estimate(residual)], 'int64', y, (o) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(o, NONE, false)]);
  }
  const negative = (x: string) => op(BuiltinOperator.LESS, [x, zero], 'bool', x);
  const same = op(BuiltinOperator.EQUAL, [negative(a), negative(b)], 'bool', y);
  c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [same, q, sub(zero, q, y)], outputs: [y], options: (o) => [BuiltinOptions.SelectV2Options, SelectV2Options.createSelectV2Options(o)] });
};
