// What the TFLite writer suite (tflite-writer.test.ts) and its read-back (tflite-readback.test.ts)
// share: how a case's model is made writable (int32Io), how a written file lays out a case's values
// (layoutOf, permute) and the float16 tolerance.
import type { DType } from '../../src/ir/dtypes.js';
import type { Node } from '../../src/ir/graph.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { LoadedModel } from '../../src/formats/model.js';
import { channelsLastPerm } from '../../src/passes/layout.js';
import { DEFAULT_TOLERANCE, type Tolerance } from './harness.js';

export type Mode = 'float32' | 'float16';

/**
 * float16 weights: each weight rounded to 11 significant bits (relative 2^-11), summed over a
 * dot product or a conv window; 1e-2 relative as issue #10 states, with an absolute floor of
 * 1e-3 of the output's largest magnitude for outputs near zero, where such sums cancel (the
 * pytorch-converted convs have a few such elements: 9e-5 expected, 2.9e-4 computed, of outputs up to 1).
 */
export const FLOAT16_RTOL = 1e-2;
export const FLOAT16_ATOL = 1e-3;

export function toleranceFor(mode: Mode, expected: Tensor): Tolerance {
  if (mode === 'float16') {
    const e = expected.toNumbers();
    let max = 0;
    for (const v of e) if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
    return { rtol: FLOAT16_RTOL, atol: Math.max(DEFAULT_TOLERANCE.atol, FLOAT16_ATOL * max) };
  }
  return DEFAULT_TOLERANCE;
}

/** `values` (row-major, `shape`) with its axes reordered: output axis i is input axis perm[i]. */
export function permute<T extends { length: number; [i: number]: number }>(values: T, shape: readonly number[], perm: readonly number[], out: T): T {
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const outShape = perm.map((p) => shape[p]!);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < values.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i]! * strides[perm[i]!]!;
    out[o] = values[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

export const inverse = (perm: readonly number[]): number[] => perm.map((_, i) => perm.indexOf(i));
export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);

/**
 * How the written file holds a value of ONNX shape `onnx` that it declares as `file`: as is, or
 * channels-last (the layout pass' declared I/O); 'ambiguous' when both read the same shape.
 */
export function layoutOf(onnx: readonly number[], file: readonly number[], relaid: boolean): 'as-is' | 'channels-last' | 'ambiguous' | 'mismatch' {
  const last = onnx.length >= 3 ? channelsLastPerm(onnx.length).map((p) => onnx[p]!) : undefined;
  const asIs = sameShape(onnx, file);
  const cl = !!last && sameShape(last, file) && relaid;
  if (asIs && cl) {
    // the same data either way when the axes longer than 1 keep their order
    const moved = channelsLastPerm(onnx.length).filter((p) => onnx[p] !== 1);
    return moved.every((p, i) => i === 0 || p > moved[i - 1]!) ? 'as-is' : 'ambiguous';
  }
  return asIs ? 'as-is' : cl ? 'channels-last' : 'mismatch';
}

/**
 * The Web API carries no int64 tensor in or out (its data() of one is empty): each int64 input of
 * the model becomes an int32 one and a Cast to int64, each int64 output a Cast to int32, in the
 * ONNX graph before it is converted (exact for the cases' values, which fit in int32; the writer
 * still writes every op of the case on int64 tensors).
 */
export function int32Io(model: LoadedModel): LoadedModel {
  if (model.kind !== 'graph') return model;
  const g = model.graph;
  const wide = (v: { name: string; dtype?: DType }) => v.dtype === 'int64' && !g.initializers.has(v.name);
  if (!g.inputs.some(wide) && !g.outputs.some(wide)) return model;
  const cast = (from: string, to: string, dtype: number): Node => ({ name: `${to}/cast`, opType: 'Cast', domain: '', inputs: [from], outputs: [to], attrs: { to: { type: 'int', value: dtype } } });
  const nodes: Node[] = [];
  const inputs = g.inputs.map((v) => {
    if (!wide(v)) return v;
    nodes.push(cast(`${v.name}__int32`, v.name, 7));
    return { ...v, name: `${v.name}__int32`, dtype: 'int32' as const };
  });
  const tail: Node[] = [];
  const outputs = g.outputs.map((v) => {
    if (!wide(v)) return v;
    tail.push(cast(v.name, `${v.name}__int32`, 6));
    return { ...v, name: `${v.name}__int32`, dtype: 'int32' as const };
  });
  return { ...model, graph: { ...g, inputs, outputs, nodes: [...nodes, ...g.nodes, ...tail] } };
}
