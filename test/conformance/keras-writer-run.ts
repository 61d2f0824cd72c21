// What keras-writer.test.ts (TF.js runs the written files) and keras-readback.test.ts (nnport's
// own Keras / TF.js readers read them back) share: the three formats written, and where a case's
// NCHW tensor sits in the channels-last Keras model.
import { channelsLastPerm } from '../../src/passes/layout.js';

export const FORMATS = [
  { id: 'h5', file: 'm.h5' },
  { id: 'tfjs', file: 'web/model.json' },
  { id: 'keras3', file: 'm.keras' },
] as const;
export type FormatId = (typeof FORMATS)[number]['id'];

export const isInt = (dtype: string) => !['float32', 'float64', 'float16', 'bfloat16'].includes(dtype);

/**
 * How the Keras model holds an ONNX tensor of shape `onnx`: the permutation `perm` with
 * keras[i] = onnx[perm[i]] (identity, or N..C for a value the layout pass made channels-last).
 * `declared` is the Keras shape (batch dim null). Where both orders give the same shape, the
 * layout pass decides: channels-last where the graph had NCHW ops and the value has rank >= 3.
 */
export function resolveLayout(onnx: readonly number[], declared: readonly (number | null)[] | undefined, channelsLastGraph: boolean): number[] {
  const r = onnx.length;
  const id = Array.from({ length: r }, (_, i) => i);
  const last = channelsLastPerm(r);
  const fits = (p: number[]) => !!declared && declared.length === r && p.every((a, i) => declared[i] === null || declared[i] === onnx[a]);
  const candidates = [id, last].filter((p, i) => (i === 0 || r >= 3) && fits(p));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) return id;
  return channelsLastGraph && r >= 3 ? last : id;
}
