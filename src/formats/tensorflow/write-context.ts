// What a GraphDef writer row works with: the writer it emits TF nodes and constants through
// (GraphDefWriter; write.ts implements it) and the attr / constant helpers every row family shares.
import type { Dim, Graph, Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { tfDataType } from './data-types.js';
import type { AttrValue } from './graph-def.js';

/** What an op row needs of the GraphDef writer: node names, nodes, constants, and the IR values' types. */
export interface GraphDefWriter {
  /** The graph being written, as prepareForGraphDef left it (channels-last, constants as initializers). */
  readonly g: Graph;
  /** The TF reference of an IR value that is not a node's first output ('name:i'), set by the row that writes it. */
  readonly refs: Map<string, string>;
  /** A node name not taken yet, from `base`. */
  fresh(base: string): string;
  /** Appends a node; returns its name. */
  add(name: string, op: string, input: string[], attr?: Record<string, AttrValue>): string;
  /** A Const node of `t`, named from `base`. */
  const(base: string, t: Tensor): string;
  /** TF's paddings: an int32 (rank, 2) matrix of [before, after] rows. */
  paddings(base: string, flat: number[]): string;
  int32(base: string, values: number[], scalar?: boolean): string;
  dtype(v: string): Tensor['dtype'];
  shape(v: string): readonly Dim[] | null;
  /** The TF reference of an IR value (node name; outputs i > 0 as name:i). */
  ref(v: string): string;
  /** True when every element of `v` is known to be >= 0 from the op that makes it. */
  nonNegative(v: string, depth?: number): boolean;
  /**
   * Writes `body` (prepared as the graph is; its inputs are the arguments, its outputs the
   * results) as a FunctionDef of the GraphDef's library, named from `base`; returns its name.
   */
  writeFunction(base: string, body: Graph): string;
}

/** One op table row: writes IR node `n` as TF nodes, its first output as the node named `out`. */
export type Row = (w: GraphDefWriter, n: Node, out: string) => void;

const utf8 = new TextEncoder();

export const T = (dtype: Tensor['dtype']): AttrValue => ({ type: tfDataType(dtype) });
export const s = (v: string): AttrValue => ({ s: utf8.encode(v) });
export const ints = (v: number[]): AttrValue => ({ list: { i: v } });

/** TF node names: [A-Za-z0-9.][A-Za-z0-9_./-]*; other characters become '_'. */
export function tfName(n: string): string {
  const r = n.replace(/[^A-Za-z0-9_./-]/g, '_');
  return /^[A-Za-z0-9.]/.test(r) ? r : `n${r}`;
}

/** One TF op of the same inputs, typed by the first. */
export const simple = (op: string): Row => (w, n, out) => w.add(out, op, n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)) });

export const isFloat = (d: Tensor['dtype']): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

/** A float scalar of `dtype` (Clip's, Elu's, Selu's constants). */
export function floatScalar(w: GraphDefWriter, base: string, dtype: Tensor['dtype'], v: number): string {
  return w.const(base, new Tensor(dtype, [], dtype === 'float64' ? Float64Array.of(v) : Float32Array.of(v)));
}

/** An int32 / int64 constant of `dtype` (a run-time operand's index type). */
export function indexConst(w: GraphDefWriter, base: string, dtype: Tensor['dtype'], shape: number[], values: number[]): string {
  return w.const(base, dtype === 'int32' ? new Tensor('int32', shape, Int32Array.from(values)) : Tensor.int64(shape, values));
}

/**
 * Dims [begin, begin + size) of TF value `x`'s run-time shape (Shape, then Slice), as an `outType`
 * vector, or with `scalar` the one dim as a scalar (a Reshape to []). `name` names the last node.
 */
export function runTimeDims(
  w: GraphDefWriter,
  base: string,
  x: { ref: string; dtype: Tensor['dtype'] },
  dims: { begin: number; size: number; outType?: 'int32' | 'int64'; scalar?: boolean; name?: string },
): string {
  const it = T(dims.outType ?? 'int32');
  const I = T('int32');
  const shape = w.add(w.fresh(`${base}/shape`), 'Shape', [x.ref], { T: T(x.dtype), out_type: it });
  const sliced = w.add(dims.scalar || !dims.name ? w.fresh(`${base}/dims`) : dims.name, 'Slice', [shape, w.int32(`${base}/dims_begin`, [dims.begin]), w.int32(`${base}/dims_size`, [dims.size])], { T: it, Index: I });
  if (!dims.scalar) return sliced;
  return w.add(dims.name ?? w.fresh(`${base}/dim`), 'Reshape', [sliced, w.int32(`${base}/scalar`, [])], { T: it, Tshape: I });
}
