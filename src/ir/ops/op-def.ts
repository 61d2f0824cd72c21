// What an op definition is: attribute parsing (once, with defaults and validation), shape and
// dtype inference over possibly symbolic dims, and the op's layout class. Defined once here and
// used by readers, passes, writers and the runtime alike.
import type { DType } from '../dtypes.js';
import { ShapeError } from '../errors.js';
import type { Dim, Graph, Node, ValueKind } from '../graph.js';
import type { Tensor } from '../tensor.js';

/**
 * How an op relates to the data layout, for layout passes and readers:
 * - `elementwise`: each output element depends on the same-position input element(s); any layout works (Relu, Cast).
 * - `broadcast`: elementwise with numpy broadcasting across inputs (Add, Where); layout works if every input is permuted alike.
 * - `channel`: per-channel parameters on axis 1 of NCHW data (BatchNormalization, PRelu with a [C,1,1] slope, QDQ per-axis).
 * - `spatial`: a window over the spatial axes of NCHW data (Conv, pools, Resize, DepthToSpace).
 * - `axis`: works along attribute-given axes (Softmax, Concat, reductions, Gather); a layout change remaps the axes.
 * - `shape`: rearranges or computes shapes (Reshape, Transpose, Shape, Flatten): layout-sensitive, needs care.
 * - `matmul`: contracts the last axes (MatMul, Gemm).
 * - `source`: makes a tensor from attributes or shape values (Constant, Range, EyeLike).
 */
export type LayoutClass = 'elementwise' | 'broadcast' | 'channel' | 'spatial' | 'axis' | 'shape' | 'matmul' | 'source';

/**
 * What is known about a value during inference: its dtype and shape (either may be unknown),
 * and for small rank-0/1 tensors (shape computations, constant axes/scales) the elements
 * themselves as dims: a number, a symbolic dim name carried from a Shape, or null when unknown.
 */
export interface ValueType {
  dtype?: DType;
  /** undefined: rank unknown */
  shape?: Dim[];
  /** the elements (rank 0: one element), when known; only for small rank-0/1 tensors */
  data?: Dim[];
  /** a sequence / optional (dtype and shape are then its tensors'); absent: a tensor */
  kind?: ValueKind;
}

export interface InferContext<A> {
  readonly node: Node;
  readonly opset: number;
  readonly attrs: A;
  /** one entry per node input; undefined for an omitted optional input */
  readonly inputs: ReadonlyArray<ValueType | undefined>;
  /**
   * For a node with subgraphs (If / Loop / Scan): the types of a subgraph's outputs given its
   * inputs' (undefined: as the subgraph declares them), seeing the values around the node.
   */
  readonly inferSubgraph?: (graph: Graph, inputs: ReadonlyArray<ValueType | undefined>) => ValueType[];
}

/** One op: its attributes, its output types and its layout class. */
export interface OpDef<A = unknown> {
  readonly opType: string;
  /** '' is the default ONNX domain */
  readonly domain: string;
  readonly layout: LayoutClass;
  /** Parse and validate the node's attributes (typed errors; the caller names the node). */
  attrs(node: Node, opset: number): A;
  /** Output dtypes and shapes (one per node output) from what is known of the inputs. */
  infer(ctx: InferContext<A>): ValueType[];
}

export type OpDefTable = Record<string, OpDef<any>>;

export function defineOpDef<A>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** For ops without attributes. */
export const noAttrs = (): Record<string, never> => ({});

// ---- dims ----

export const fmtShape = (s: readonly Dim[] | undefined): string => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[?]');

/** The value type of input `i`; a ShapeError when a required input is missing. */
export function input(ctx: InferContext<unknown>, i: number, what: string): ValueType {
  const v = ctx.inputs[i];
  if (!v) throw new ShapeError(`${ctx.node.opType}: missing required input ${i} (${what})`);
  return v;
}

/** An axis in [-rank, rank) made non-negative. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) throw new ShapeError(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Distinct, non-negative axes. */
export function normAxes(axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(a, rank, what));
  if (new Set(out).size !== out.length) throw new ShapeError(`${what} [${axes.join(', ')}] repeats an axis`);
  return out;
}

/** The numeric value of a known dim, else undefined. */
export const known = (d: Dim | undefined): number | undefined => (typeof d === 'number' ? d : undefined);

/** Apply `f` to dims that are numbers; a symbolic or unknown operand gives null. */
export function dimMap(d: Dim, f: (n: number) => number): Dim {
  return typeof d === 'number' ? f(d) : null;
}

/** Product of dims: a number when all are numbers, one symbol times 1s stays the symbol, else null. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  let sym: Dim | undefined;
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else if (d === null) return dims.includes(0) ? 0 : null;
    else if (sym === undefined) sym = d;
    else return dims.includes(0) ? 0 : null;
  }
  if (sym === undefined) return n;
  return n === 1 ? sym : n === 0 ? 0 : null;
}

/** Sum of dims: numbers add; a symbol plus zeros stays the symbol; otherwise unknown. */
export function dimSum(dims: readonly Dim[]): Dim {
  let n = 0;
  let sym: Dim | undefined;
  for (const d of dims) {
    if (typeof d === 'number') n += d;
    else if (d === null || sym !== undefined) return null;
    else sym = d;
  }
  return sym === undefined ? n : n === 0 ? sym : null;
}

/** Two dims that must be the same size: the more specific one, or a ShapeError when both are numbers and differ. */
export function mergeDim(a: Dim, b: Dim, what: string | (() => string)): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a !== b) throw new ShapeError(`${typeof what === 'string' ? what : what()}: ${a} and ${b} differ`);
    return a;
  }
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b;
}

/** Numpy broadcasting of shapes with symbolic dims; undefined when any rank is unknown. */
export function broadcastDims(shapes: ReadonlyArray<readonly Dim[] | undefined>, op: string): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as ReadonlyArray<readonly Dim[]>;
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let r: Dim = 1;
    for (const s of ss) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (r === 1) r = d;
      else if (typeof r === 'number' && typeof d === 'number') {
        if (r !== d) throw new ShapeError(`${op}: shapes ${ss.map((x) => fmtShape(x)).join(' and ')} do not broadcast`);
      } else if (typeof d === 'number') r = d; // a size > 1 wins over a dim that can only be it or 1
      else if (typeof r === 'string' && d !== r) r = null;
      else if (r === null && typeof d === 'string') r = null;
    }
    out.push(r);
  }
  return out;
}

/** Same shape as `v` (or unknown), with `dtype`. */
export const like = (v: ValueType | undefined, dtype?: DType): ValueType => ({ dtype: dtype ?? v?.dtype, shape: v?.shape ? [...v.shape] : undefined });

/** Rank-`n` shape of unknown dims, or unknown when `n` is. */
export const unknownDims = (n: number | undefined): Dim[] | undefined => (n === undefined ? undefined : new Array<Dim>(n).fill(null));

/** The known elements of a small integer input as numbers; undefined if any is unknown or symbolic. */
export function intsOf(v: ValueType | undefined): number[] | undefined {
  if (!v?.data) return undefined;
  if (v.data.some((d) => typeof d !== 'number')) return undefined;
  return v.data as number[];
}

/** Rank-0 or rank-1 length-1 known number. */
export function scalarOf(v: ValueType | undefined): number | undefined {
  const d = v?.data;
  return d && d.length === 1 && typeof d[0] === 'number' ? d[0] : undefined;
}

/** Largest element count whose values inference carries (shape vectors, axes, scales). */
export const MAX_DATA = 64;

/** The elements of a small numeric rank-0/1 tensor as data (int64 beyond 2^53 clamps, as Slice's INT64_MAX ends need). */
export function tensorData(t: Tensor): Dim[] | undefined {
  // decided from the shape: a weight's data is not touched (nor a device tensor's downloaded)
  if (t.shape.length > 1 || (t.shape.length === 1 && t.shape[0]! > MAX_DATA) || t.dtype === 'string' || !t.onHost) return undefined;
  const d = t.data as ArrayLike<number | bigint>;
  if (typeof d[0] === 'bigint') {
    return Array.from(d as ArrayLike<bigint>, (v) => (v > 9007199254740991n ? Number.MAX_SAFE_INTEGER : v < -9007199254740991n ? -Number.MAX_SAFE_INTEGER : Number(v)));
  }
  return t.toNumbers();
}
