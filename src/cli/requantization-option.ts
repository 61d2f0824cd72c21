// --requantization for the commands that run a model: which of the TFLite interpreter's int8
// roundings a quantized .tflite runs with (IntegerOptions.requantization). 'reference' (the
// default) is TFLite's reference kernels, what TFLite Micro runs; 'xnnpack' is the interpreter as
// tfjs-tflite and the Android / desktop runtimes run it with their default delegate; 'builtin' the
// interpreter without it. They differ by one step on rare values, which deep models amplify.
import { UsageError } from '../ir/errors.js';
import { REQUANTIZATION_MODES, type Requantization } from '../runtime/integer/requantization.js';

export const REQUANTIZATION_HELP = `  --requantization M  int8 / 16x8 .tflite: reference (TFLite's reference kernels, TFLite Micro;
                      default), xnnpack (the interpreter with its default XNNPACK delegate, as
                      tfjs-tflite and mobile runtimes run it) or builtin (the interpreter without it)`;

export const REQUANTIZATION_SPEC = { name: 'requantization', value: true } as const;

/** The --requantization value (undefined: not given). */
export function parseRequantization(value: string | undefined, command: string): Requantization | undefined {
  if (value === undefined) return undefined;
  if (!(REQUANTIZATION_MODES as readonly string[]).includes(value)) throw new UsageError(`${command}: --requantization must be ${REQUANTIZATION_MODES.join(', ')}, got '${value}'`);
  return value as Requantization;
}
