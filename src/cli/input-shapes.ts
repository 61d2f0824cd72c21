// `--input-shape NAME=N,C,H,W` (repeatable; `N,C,H,W` alone for a model with one input):
// the shapes of the model's inputs where the file leaves dims open (src/ir/input-shapes.ts), or for Caffe deploy nets instead of the file's.
import { UsageError } from '../ir/errors.js';

export const INPUT_SHAPE_HELP = '  --input-shape [NAME=]N,C,H,W  shape of an input where the file leaves dims open (Caffe: instead of the file\'s); repeat per input';
export const FUSE_SCALE_HELP = '  --fuse-scale        Caffe: fold each Scale after a BatchNorm into one BatchNormalization';

/** The option's values as name -> shape; an unnamed shape is keyed '' (the only input). */
export function parseInputShapes(values: readonly string[], command: string): Record<string, number[]> | undefined {
  if (!values.length) return undefined;
  const out: Record<string, number[]> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    const name = eq >= 0 ? v.slice(0, eq) : '';
    const dims = (eq >= 0 ? v.slice(eq + 1) : v).split(/[,x]/).map((d) => d.trim());
    const shape = dims.map(Number);
    if (!dims.length || shape.some((d, i) => !/^\d+$/.test(dims[i]!) || d <= 0 || !Number.isSafeInteger(d))) {
      throw new UsageError(`${command}: --input-shape '${v}' must be [NAME=]N,C,H,W with positive integers`);
    }
    if (Object.hasOwn(out, name)) throw new UsageError(`${command}: --input-shape given twice for ${name ? `'${name}'` : 'the input'}`);
    out[name] = shape;
  }
  return out;
}
