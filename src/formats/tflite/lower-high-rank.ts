// TFLite's builtin kernels stop at a rank, and past it a file either fails to load (SLICE, PAD:
// "Can't initialize model") or aborts the interpreter at invoke (a broadcasting ADD above 6-D, a
// comparison above 4-D: tfjs-tflite's WASM build has no checks left there). Video models reach such
// ranks for real: Video Swin's window partition (an 8-D permute), MViT's pooling attention (8-D
// broadcasting ADDs). An op above its limit is brought down without changing what it computes by
// merging adjacent axes that behave alike, between RESHAPEs (which only relabel the row-major order):
// for a broadcasting op, axes on which every operand is full or broadcast the same way; for a slice,
// a pad or a reduction, the runs of axes it does not touch. RESHAPE has a limit too: it reads a
// 12-D input but makes nothing above 8-D ("too many dimensions"), so an op whose output is above
// 8-D cannot be given it back. CONCATENATION, TILE, GATHER, SOFTMAX and the reductions ran at 12-D,
// BROADCAST_TO at 8-D: none of them is merged below that (their outputs would be above 8-D too),
// only a reduction that drops axes can be; with int16 activations SOFTMAX stops at 4-D and ADD / MUL
// broadcast up to 4-D. What cannot be brought under the limit is refused by name here, at
// conversion time, never left for the interpreter to crash on.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, type Attr, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';
import { mapSubgraphs } from '../../passes/layout-subgraphs.js';
import { dequantizeLike, dequantizerOf, quantizeLike, soleQuantizerOf } from '../../passes/quantized-side.js';

interface RankLimit {
  /** the TFLite op the IR op is written as */
  tflite: string;
  /** the highest rank the interpreter ran it at with float32, int8 and int16 (int16x8) activations */
  float: number;
  int8: number;
  int16: number;
}

/**
 * The highest rank each op ran at in tfjs-tflite 0.0.1-alpha.10's interpreter (its SIMD WASM build,
 * XNNPACK delegate on for float; test/formats/tflite/high-rank.test.ts runs the lowered forms),
 * measured on 4-D to 8-D (and up to 12-D where 8-D ran) files of one op each, the broadcasting ops
 * with every axis broadcast one way or the other, against onnxruntime. One rank more aborted the
 * interpreter at invoke (the broadcasting ops) or failed to load (SLICE, STRIDED_SLICE, PAD, PADV2,
 * BROADCAST_TO); 12 is the highest rank tried, where the op still ran (CONCATENATION, TILE, GATHER,
 * the reductions, SOFTMAX). The same-shape (not broadcasting) binary ops ran at 8-D, but merged
 * they are 1-D anyway. TRANSPOSE's 5 is collapse-transpose.ts' (TFLite before 2.12). int16 (int16x8):
 * ADD and MUL broadcast up to 4-D, SUB, MAXIMUM, MINIMUM 5-D; CONCATENATION, GATHER, MEAN, REDUCE_MAX ran at 8-D
 * (the highest tried); the ops nnport has no 16x8 kernel for (int16x8's list in write.ts) keep their int8 limit.
 * int8 (one-op QDQ files at 3-D to 8-D, the lowering off, against onnxruntime on the QDQ model): an int8
 * tensor above 6-D makes the XNNPACK delegate fail for the whole graph ('failed to create XNNPACK Value',
 * 'Restored original execution plan'), and an int8 graph is lowered exactly when it holds such tensors, so
 * its limits are the builtin kernels' (measured with the op's inputs made by an int8 7-D tensor): ADD and MUL
 * broadcast up to 4-D, SUB, MAXIMUM, MINIMUM 5-D (with the delegate they ran at 6-D). The ops an int8 file
 * computes in float between DEQUANTIZE and QUANTIZE (DIV, POW, SELECT_V2, FLOOR_MOD: FLOAT_ONLY_WRITE_OPS;
 * the comparisons, whose bool output no QuantizeLinear takes) stop where the builtin float kernels do: DIV
 * and SELECT_V2 at 5-D, POW and the comparisons at 4-D. int8 LOG_SOFTMAX ran at 12-D, as did float
 * LOG_SOFTMAX (neither has a 16x8 kernel: int16 files write it float).
 * float: the broadcasting ops' column is the builtin kernels' too (ADD / MUL 4-D, SUB / DIV / MAXIMUM / MINIMUM 5-D,
 * measured with the delegate off), not the XNNPACK delegate's 6-D: the interpreter runs a float graph with
 * dynamic-sized tensors without its delegate (a 5-D broadcasting ADD there aborted it, high-rank.test.ts), and so does
 * any runtime without XNNPACK. A broadcast that does not merge under them (or whose merged axes would hold two dims
 * known only at run time in one operand) is made full by BROADCAST_TO, to a shape computed at run time where the
 * output has such dims; only one whose dims may or may not broadcast is left to the delegate up to its 6-D
 * (XNNPACK_FLOAT_LIMITS). int8 alike, the BROADCAST_TO on the integer side of a DequantizeLinear (an operand
 * quantized per axis is refused); int16 ADD / SUB / MUL go to writeTflite's 16x8 check instead.
 */
export const TFLITE_RANK_LIMITS: Readonly<Record<string, RankLimit>> = {
  Add: { tflite: 'ADD', float: 4, int8: 4, int16: 4 },
  Sub: { tflite: 'SUB', float: 5, int8: 5, int16: 5 },
  Mul: { tflite: 'MUL', float: 4, int8: 4, int16: 4 },
  Div: { tflite: 'DIV', float: 5, int8: 5, int16: 5 },
  Max: { tflite: 'MAXIMUM', float: 5, int8: 5, int16: 5 },
  Min: { tflite: 'MINIMUM', float: 5, int8: 5, int16: 5 },
  Pow: { tflite: 'POW', float: 4, int8: 4, int16: 4 },
  Equal: { tflite: 'EQUAL', float: 4, int8: 4, int16: 4 },
  Less: { tflite: 'LESS', float: 4, int8: 4, int16: 4 },
  Greater: { tflite: 'GREATER', float: 4, int8: 4, int16: 4 },
  LessOrEqual: { tflite: 'LESS_EQUAL', float: 4, int8: 4, int16: 4 },
  GreaterOrEqual: { tflite: 'GREATER_EQUAL', float: 4, int8: 4, int16: 4 },
  Where: { tflite: 'SELECT_V2', float: 5, int8: 5, int16: 5 },
  And: { tflite: 'LOGICAL_AND', float: 4, int8: 4, int16: 4 },
  Or: { tflite: 'LOGICAL_OR', float: 4, int8: 4, int16: 4 },
  // FLOOR_MOD and its sign fix-up (NOT_EQUAL, LESS, LOGICAL_AND, SELECT_V2: ops-more-write.ts)
  Mod: { tflite: 'FLOOR_MOD', float: 4, int8: 4, int16: 4 },
  // PRELU broadcasts in 4-D only (the int8 one aborts above); above 4-D a float PRelu is written as MAXIMUM / MINIMUM /
  // MUL / ADD (ops-write.ts), after this pass, so it is merged to 4-D first
  PRelu: { tflite: 'PRELU', float: 4, int8: 4, int16: 4 },
  Transpose: { tflite: 'TRANSPOSE', float: 5, int8: 5, int16: 5 },
  Slice: { tflite: 'SLICE / STRIDED_SLICE', float: 5, int8: 5, int16: 5 },
  Pad: { tflite: 'PAD / PADV2', float: 5, int8: 5, int16: 5 },
  Concat: { tflite: 'CONCATENATION', float: 12, int8: 12, int16: 8 },
  Tile: { tflite: 'TILE', float: 12, int8: 12, int16: 12 },
  Expand: { tflite: 'BROADCAST_TO', float: 8, int8: 8, int16: 8 },
  Gather: { tflite: 'GATHER', float: 12, int8: 12, int16: 8 },
  ReduceMean: { tflite: 'MEAN', float: 12, int8: 12, int16: 8 },
  ReduceSum: { tflite: 'SUM', float: 12, int8: 12, int16: 12 },
  ReduceMax: { tflite: 'REDUCE_MAX', float: 12, int8: 12, int16: 8 },
  // int16 SOFTMAX: 'Only 1D, 2D, 3D and 4D tensors supported for int16 input with int16 output' at invoke
  Softmax: { tflite: 'SOFTMAX', float: 12, int8: 12, int16: 4 },
  LogSoftmax: { tflite: 'LOG_SOFTMAX', float: 12, int8: 12, int16: 12 },
};

/**
 * The broadcasting float ops' limits under the interpreter's XNNPACK delegate, above the builtin kernels' (the table's
 * float column): measured as the table, the delegate on. A broadcast neither merged nor made full (two dims known only
 * at run time that may or may not broadcast to each other) is written as it is up to these.
 */
const XNNPACK_FLOAT_LIMITS: Readonly<Record<string, number>> = { Add: 6, Sub: 6, Mul: 6, Div: 6, Max: 6, Min: 6, PRelu: 6 };

/** TRANSPOSE's highest rank in any TFLite runtime (version 6, 2.12) */
const TRANSPOSE_MAX_RANK_ANY = 6;
/** the highest rank of a RESHAPE's output in the same interpreter (9-D fails to load) */
const RESHAPE_MAX_RANK = 8;

const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Where', 'PRelu', 'And', 'Or', 'Mod']);
/** the ops writeTflite's int16x8 check knows broadcasting above 4-D (it refuses them or writes them float) */
const INT16_FALLBACK = new Set(['Add', 'Sub', 'Mul']);
const REDUCTIONS = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax']);
/** from this opset on the reduction takes its axes as an input */
const AXES_INPUT_FROM: Record<string, number> = { ReduceMean: 18, ReduceSum: 13, ReduceMax: 18 };

export interface LowerHighRankOptions {
  /** the activations' type (default: a QDQ graph's, int8 or int16, else float: the float limits apply) */
  activations?: 'float' | 'int8' | 'int16';
  fileName?: string;
}

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** The graph (and its If / Loop bodies) with every op above its TFLite rank limit merged down, or refused. */
export function lowerHighRank(g: Graph, options: LowerHighRankOptions = {}): Graph {
  return mapSubgraphs(lowerGraph(g, options), (b) => lowerGraph(b, options));
}

type Activations = NonNullable<LowerHighRankOptions['activations']>;

/** A QDQ graph (a pre-quantized model) computes on its integer tensors: int16 where a QuantizeLinear makes int16, else int8. */
function qdqActivations(g: Graph): Activations {
  const quantizers = g.nodes.filter((n) => n.opType === 'QuantizeLinear' && isOnnx(n));
  if (!quantizers.length) return 'float';
  const int16 = quantizers.some((n) => {
    const z = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
    return z?.dtype === 'int16' || z?.dtype === 'uint16';
  });
  return int16 ? 'int16' : 'int8';
}

const limitOf = (n: Node, activations: Activations): number | undefined => {
  const l = isOnnx(n) ? TFLITE_RANK_LIMITS[n.opType] : undefined;
  return l && l[activations];
};

/**
 * How a lowered op reads merged axes: `labels[a]` for each axis of its reference shape (undefined:
 * a size-1 axis, which merges with anything); adjacent axes of one label merge.
 */
function runsOf(labels: readonly (string | undefined)[]): number[][] {
  const groups: number[][] = [];
  let label: string | undefined;
  let pending: number[] = [];
  labels.forEach((l, a) => {
    if (l === undefined) {
      if (groups.length) groups[groups.length - 1]!.push(a);
      else pending.push(a);
      return;
    }
    if (groups.length && l === label) groups[groups.length - 1]!.push(a);
    else groups.push([...pending, a]);
    pending = [];
    label = l;
  });
  if (pending.length) groups.push(pending);
  return groups;
}

/** A dim product over `axes` of `shape`: a number, or the one symbolic dim among 1s, or null (a product known only at run time). */
function product(shape: readonly Dim[], axes: readonly number[]): Dim {
  const open = axes.filter((a) => typeof shape[a] !== 'number');
  const known = axes.reduce((p, a) => (typeof shape[a] === 'number' ? p * (shape[a] as number) : p), 1);
  if (!open.length) return known;
  return open.length === 1 && known === 1 ? shape[open[0]!]! : null;
}

class Refusal extends Error {}

function lowerGraph(g: Graph, options: LowerHighRankOptions): Graph {
  const activations: Activations = options.activations ?? qdqActivations(g);
  const where = options.fileName ?? 'the model';
  if (!g.nodes.some((n) => limitOf(n, activations) !== undefined)) return g;
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const shapeOf: ShapeOf = (v) => (v ? (g.initializers.get(v)?.shape ?? values.get(v)?.shape) : undefined);
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 17;
  // a (Log)Softmax over an axis that is not last is written between TRANSPOSEs of its rank (ops-write.ts): their limit too
  const limitAt = (n: Node): number | undefined => {
    const limit = limitOf(n, activations);
    const rank = shapeOf(n.inputs[0])?.length;
    if (limit === undefined || (n.opType !== 'Softmax' && n.opType !== 'LogSoftmax') || rank === undefined) return limit;
    const axis = attrInt(n, 'axis', opset >= 13 ? -1 : 1);
    return axis === -1 || axis === rank - 1 ? limit : Math.min(limit, TFLITE_RANK_LIMITS.Transpose![activations]);
  };
  const over = (n: Node, shapes: ShapeOf): boolean => {
    const limit = limitAt(n);
    return limit !== undefined && rankOf(n, shapes) > limit;
  };
  // a Transpose is collapsed to its runs of axes before (collapse-transpose.ts); one left above 5-D had two dims sized at
  // run time and is written as TRANSPOSE version 6 (the file asks for runtime 2.12, transpose-version.test.ts); none takes 7-D
  const transpose = g.nodes.find((n) => n.opType === 'Transpose' && isOnnx(n) && rankOf(n, shapeOf) > TRANSPOSE_MAX_RANK_ANY);
  if (transpose) throw new UnsupportedError(`Transpose (TFLite TRANSPOSE) of rank ${rankOf(transpose, shapeOf)}`, `node '${transpose.name}' in ${where}: TFLite runs TRANSPOSE up to 6-D (5-D before 2.12), and its axes could not be merged below that (more than one dim sized at run time)`);
  const candidates = g.nodes.filter((n) => n.opType !== 'Transpose' && over(n, shapeOf));
  if (!candidates.length) return g;
  const rw = new GraphRewriter(g);
  for (const n of candidates) {
    const limit = limitAt(n)!;
    const rank = rankOf(n, shapeOf);
    try {
      new Merger(rw, n, shapeOf, opset, limit, activations === 'float' || activations === 'int8').lower();
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      // int16x8: a broadcasting ADD / SUB / MUL the float limit takes is left to writeTflite's 16x8 check, which
      // refuses it by name or, with the float fallback, writes it float
      if (activations === 'int16' && INT16_FALLBACK.has(n.opType) && rank <= TFLITE_RANK_LIMITS[n.opType]!.float) continue;
      // float: a broadcast the builtin kernel cannot take, and BROADCAST_TO cannot make full (two dims known only at
      // run time, either of which may be the one broadcast), is left to the XNNPACK delegate, which the interpreter
      // runs a static float graph on
      if (activations === 'float' && rank <= (XNNPACK_FLOAT_LIMITS[n.opType] ?? 0)) continue;
      const l = TFLITE_RANK_LIMITS[n.opType]!;
      throw new UnsupportedError(`${n.opType} (TFLite ${l.tflite}) of rank ${rank}`, `node '${n.name}' in ${where}: the interpreter runs ${l.tflite} up to ${limit}-D${activations === 'float' ? '' : ` with ${activations} activations`}, and ${e.message}`);
    }
  }
  rw.sweep();
  return rw.toGraph();
}

type ShapeOf = (v: string | undefined) => readonly Dim[] | undefined;

/** The rank an op runs at: its output's for broadcasting and gathering ops, else its data input's. */
function rankOf(n: Node, shapeOf: ShapeOf): number {
  return Math.max(shapeOf(n.inputs[0])?.length ?? 0, shapeOf(n.outputs[0])?.length ?? 0);
}

/** One op above its limit rewritten over merged axes: Reshapes of its inputs, the op, a Reshape back. */
class Merger {
  private readonly name: string;
  constructor(
    private readonly rw: GraphRewriter,
    private readonly n: Node,
    private readonly shapeOf: ShapeOf,
    private readonly opset: number,
    private readonly limit: number,
    /** float and int8 activations: a broadcast whose axes do not merge under the limit may be made full by BROADCAST_TO
     * (int16: ADD / SUB / MUL are left to writeTflite's 16x8 check, which may write them float) */
    private readonly expand = false,
  ) {
    this.name = n.name || n.outputs[0]!;
  }

  /** Rewrites the node, or throws a Refusal where its axes do not merge under the limit (before any change, or a per-axis operand's: what was added is dead, swept). */
  lower(): void {
    const op = this.n.opType;
    const out = this.shapeOf(this.n.outputs[0]);
    if (out && out.length > RESHAPE_MAX_RANK) throw new Refusal(`its ${out.length}-D output could not be made back (TFLite's RESHAPE makes at most ${RESHAPE_MAX_RANK}-D)`);
    if (BROADCASTING.has(op)) this.broadcasting();
    else if (REDUCTIONS.has(op)) this.reduction();
    else if (op === 'Softmax' || op === 'LogSoftmax') this.softmax();
    else this.alongAxes();
  }

  /** The merged axes, checked against the limit before anything is rewritten. */
  private within(groups: number[][]): number[][] {
    if (groups.length > this.limit) throw new Refusal(`its axes merge to ${groups.length}-D at the fewest`);
    return groups;
  }

  private shape(v: string | undefined, what: string): readonly Dim[] {
    const s = this.shapeOf(v);
    if (!s) throw new Refusal(`the shape of its ${what} is not known`);
    if (s.some((d) => d === 0)) throw new Refusal(`its ${what} is empty`);
    return s;
  }

  private constant(i: number, what: string): number[] {
    const v = this.n.inputs[i];
    const t = v ? this.rw.constant(v) : undefined;
    if (!t) throw new Refusal(`its ${what} are computed at run time`);
    return t.toNumbers();
  }

  /** A Reshape target for the dims: a product known only at run time is -1 (one at most). */
  private target(dims: readonly Dim[]): number[] {
    const t = dims.map((d) => (typeof d === 'number' ? d : -1));
    if (t.filter((d) => d === -1).length > 1) throw new Refusal('more than one merged axis is sized at run time');
    return t;
  }

  /**
   * Value `v` viewed over the merged axes `groups` of `shape` (its dims aligned to the op's reference
   * shape: a broadcast operand's leading axes are 1): a constant reshaped in place, anything else
   * through a Reshape. A dequantized value is reshaped on its integer side (see quantized-side.ts).
   */
  private view(v: string, groups: number[][], shape: readonly Dim[], what: string): string {
    const t = this.rw.constant(v);
    const target = this.target(groups.map((gr) => product(shape, gr)));
    if (t && !this.rw.producer(v)) return this.rw.addInitializer(`${this.name}/${what}_merged`, t.reshape(target));
    const d = dequantizerOf(this.rw, v);
    if (d) return dequantizeLike(this.rw, d, this.view(d.node.inputs[0]!, groups, shape, `${what}_quantized`), `${this.name}/dequantize_${what}`, { axis: d.axis === undefined ? undefined : this.mergedAxis(v, d.axis, groups, shape, what) });
    // a Reshape read here alone (the one that gave the previous merged op its shape back) is skipped: a reshape depends only on the row-major order
    const p = this.rw.producer(v);
    const source = p && p.opType === 'Reshape' && isOnnx(p) && this.rw.consumers(v).length === 1 && !this.rw.isGraphOutput(v) ? p.inputs[0]! : v;
    return this.rw.add({ opType: 'Reshape', name: `${this.name}/merge_${what}`, inputs: [source, this.int64(`${what}_merged_shape`, target)], attrs: {} });
  }

  /** Where the quantization axis of a per-axis operand lands once merged: its group, when the other axes there are of size 1. */
  private mergedAxis(v: string, axis: number, groups: number[][], shape: readonly Dim[], what: string): number {
    const rank = this.shape(v, what).length;
    const a = (axis < 0 ? axis + rank : axis) + (shape.length - rank);
    const at = groups.findIndex((gr) => gr.includes(a));
    if (at < 0 || groups[at]!.some((b) => b !== a && shape[b] !== 1)) throw new Refusal(`its ${what} is quantized per axis (axis ${axis}), which would merge with its neighbours`);
    return at;
  }

  private int64(what: string, values: number[]): string {
    return this.rw.addInitializer(`${this.name}/${what}`, Tensor.int64([values.length], values));
  }

  /**
   * The node on new inputs and attributes, its output back at its own shape (a Reshape, to `shape` where given). An output
   * quantized alone (QuantizeLinear, or a Relu / Clip then one) is quantized before the Reshape back.
   */
  private replace(inputs: string[], attrs: Record<string, Attr>, shape?: string): void {
    const out = this.n.outputs[0]!;
    const target = shape ?? this.backShape(out);
    this.rw.removeNode(this.n);
    let y = this.rw.add({ opType: this.n.opType, domain: this.n.domain, name: `${this.name}/merged`, inputs, attrs });
    const act = this.rw.soleConsumer(out);
    const fused = act && isOnnx(act) && (act.opType === 'Relu' || act.opType === 'Clip') && act.inputs[0] === out ? act : undefined;
    const q = soleQuantizerOf(this.rw, fused ? fused.outputs[0]! : out);
    if (!q) {
      this.rw.addNode({ opType: 'Reshape', name: `${this.name}/split`, inputs: [y, target], outputs: [out], attrs: {} });
      return;
    }
    if (fused) {
      this.rw.removeNode(fused);
      y = this.rw.add({ opType: fused.opType, name: `${this.name}/merged_${fused.opType.toLowerCase()}`, inputs: [y, ...fused.inputs.slice(1)], attrs: fused.attrs });
    }
    this.rw.removeNode(q.node);
    const yq = quantizeLike(this.rw, q, y, `${this.name}/quantize`);
    this.rw.addNode({ opType: 'Reshape', name: `${this.name}/split`, inputs: [yq, target], outputs: [q.node.outputs[0]!], attrs: {} });
  }

  /**
   * The Reshape target that gives the op's output its own shape back: a constant (one dim sized at run time
   * at most: -1), else the run-time shape of an input of exactly the output's shape.
   */
  private backShape(out: string): string {
    const shape = this.shape(out, 'output');
    if (shape.filter((d) => typeof d !== 'number').length <= 1) return this.int64('shape', this.target(shape));
    const same = (s: readonly Dim[] | undefined) => !!s && s.length === shape.length && s.every((d, a) => d !== null && d === shape[a]);
    const full = this.n.inputs.find((v) => v && same(this.shapeOf(v)));
    if (!full) throw new Refusal('more than one dim of its output is sized at run time');
    return this.rw.add({ opType: 'Shape', name: `${this.name}/output_shape`, inputs: [full], attrs: {} });
  }

  /** Broadcasting ops: per output axis, which operands are full there and which broadcast. */
  private broadcasting(): void {
    const out = this.shape(this.n.outputs[0], 'output');
    const r = out.length;
    const operands = this.n.inputs.map((v, k) => (v ? { v, k, s: this.shape(v, `input ${k}`) } : undefined));
    const aligned = (s: readonly Dim[], a: number): Dim => (a - (r - s.length) >= 0 ? s[a - (r - s.length)]! : 1);
    const padded = (s: readonly Dim[]) => out.map((_, a) => aligned(s, a));
    const labels = out.map((d, a) => {
      if (d === 1) return undefined;
      return operands
        .map((o) => {
          if (!o) return '';
          const x = aligned(o.s, a);
          if (x === 1) return 'b';
          if (x === d || (typeof x === 'number' && typeof d === 'number' && x === d)) return 'f';
          throw new Refusal(`input ${o.k}'s dim ${a} (${x}) may or may not broadcast to ${d}`);
        })
        .join();
    });
    // the batch axis kept to itself where the limit allows: a RESHAPE that merges it into other axes is one Keras
    // (the .tflite read back and written as .h5) cannot write. A merge fits when each operand's merged shape has one
    // axis sized at run time at most (its RESHAPE target's -1).
    const fits = (groups: number[][]) => groups.length <= this.limit && operands.every((o) => !o || groups.filter((gr) => typeof product(padded(o.s), gr) !== 'number').length <= 1);
    const fewest = runsOf(labels);
    const groups = [runsOf(labels.map((l, a) => (a === 0 ? 'batch' : l))), fewest].find(fits);
    const present = operands.flatMap((o) => (o ? [o] : []));
    if (!groups && this.expand && r <= TFLITE_RANK_LIMITS.Expand!.float) {
      // axes broadcast too differently to merge under the limit, or two merged axes sized at run time: the broadcast
      // operands made full (BROADCAST_TO, which runs up to 8-D) to the output's shape, a constant or computed at run
      // time; then the op is elementwise over one axis, and its output is given its shape back by that same vector
      const all = [out.map((_, a) => a)];
      const full = out.every((d) => typeof d === 'number') ? this.int64('broadcast_shape', out as number[]) : this.broadcastShape(out, present, aligned);
      const inputs = this.n.inputs.map((v, k) => {
        const o = operands[k];
        if (!o) return v;
        const x = padded(o.s).every((d, a) => d === out[a]) ? o.v : this.broadcastTo(o.v, full, `input${o.k}`);
        return this.view(x, all, out, `input${o.k}`);
      });
      return this.replace(inputs, this.n.attrs, full);
    }
    if (!groups) throw new Refusal(fewest.length > this.limit ? `its axes merge to ${fewest.length}-D at the fewest` : 'more than one merged axis is sized at run time');
    const inputs = this.n.inputs.map((v, k) => {
      const o = operands[k];
      if (!o) return v;
      return this.view(o.v, groups, padded(o.s), `input${k}`);
    });
    return this.replace(inputs, this.n.attrs, out.filter((d) => typeof d !== 'number').length > 1 ? this.broadcastShape(out, present, aligned) : undefined);
  }

  /**
   * `v` made full by Expand (BROADCAST_TO) to `shape`: a dequantized value on its integer side, so that the op stays in
   * its QDQ island (an int8 BROADCAST_TO, then the DequantizeLinear); one dequantized per axis is refused.
   */
  private broadcastTo(v: string, shape: string, what: string): string {
    const d = dequantizerOf(this.rw, v);
    if (!d) return this.rw.add({ opType: 'Expand', name: `${this.name}/broadcast_${what}`, inputs: [v, shape], attrs: {} });
    if (d.axis !== undefined) throw new Refusal(`its ${what} is quantized per axis (axis ${d.axis}), which would merge with its neighbours`);
    return dequantizeLike(this.rw, d, this.broadcastTo(d.node.inputs[0]!, shape, `${what}_quantized`), `${this.name}/dequantize_${what}`);
  }

  /** The integer value a DequantizeLinear makes `v` of (the same shape: a SHAPE read there leaves the QDQ island whole), else `v`. */
  private integerSide(v: string): string {
    return dequantizerOf(this.rw, v)?.node.inputs[0] ?? v;
  }

  /**
   * A broadcast's output shape computed at run time (an int64 vector): the SHAPE of an operand of exactly the output's
   * shape, else each dim sized at run time gathered from the SHAPE of an operand full on that axis (the known dims
   * from a constant), which keeps a dim of 0 where a MAXIMUM of the shapes would make it 1.
   */
  private broadcastShape(out: readonly Dim[], operands: { v: string; k: number; s: readonly Dim[] }[], aligned: (s: readonly Dim[], a: number) => Dim): string {
    const same = operands.find((o) => o.s.length === out.length && o.s.every((d, a) => d !== null && d === out[a]));
    if (same) return this.rw.add({ opType: 'Shape', name: `${this.name}/output_shape`, inputs: [this.integerSide(same.v)], attrs: {} });
    const parts = [this.int64('known_dims', out.map((d) => (typeof d === 'number' ? d : 1)))];
    // where each operand's SHAPE starts in the concatenation of the parts
    const starts = new Map<number, number>();
    let next = out.length;
    const indices = out.map((d, a) => {
      if (typeof d === 'number') return a;
      const o = operands.find((p) => aligned(p.s, a) === d);
      if (!o) throw new Refusal(`no operand is full on its output's axis ${a}, sized at run time`);
      if (!starts.has(o.k)) {
        starts.set(o.k, next);
        next += o.s.length;
        parts.push(this.rw.add({ opType: 'Shape', name: `${this.name}/input${o.k}_shape`, inputs: [this.integerSide(o.v)], attrs: {} }));
      }
      return starts.get(o.k)! + a - (out.length - o.s.length);
    });
    const dims = this.rw.add({ opType: 'Concat', name: `${this.name}/dims`, inputs: parts, attrs: { axis: { type: 'int', value: 0 } } });
    return this.rw.add({ opType: 'Gather', name: `${this.name}/output_shape`, inputs: [dims, this.int64('output_dims', indices)], attrs: { axis: { type: 'int', value: 0 } } });
  }

  /** Slice / Pad along some axes of their data input: `touched` axes stay their own, the runs between merge. */
  private merged(touched: readonly number[], what = 'data'): { groups: number[][]; at: (a: number) => number; x: readonly Dim[] } {
    const x = this.shape(this.n.inputs[0], what);
    const groups = this.within(runsOf(x.map((d, a) => (touched.includes(a) ? `axis${a}` : d === 1 ? undefined : 'rest'))));
    return { groups, x, at: (a) => groups.findIndex((gr) => gr.includes(a)) };
  }

  private alongAxes(): void {
    const n = this.n;
    const x = this.shape(n.inputs[0], 'data');
    const r = x.length;
    const norm = (a: number) => (a < 0 ? a + r : a);
    switch (n.opType) {
      case 'Slice': {
        if (!n.inputs[1]) throw new Refusal('its starts are attributes (opset < 10)');
        const starts = this.constant(1, 'starts');
        const ends = this.constant(2, 'ends');
        const axes = n.inputs[3] ? this.constant(3, 'axes').map(norm) : starts.map((_, i) => i);
        const steps = n.inputs[4] ? this.constant(4, 'steps') : starts.map(() => 1);
        // an axis sliced whole (0 to its end, step 1) is untouched
        const whole = (i: number) => steps[i] === 1 && typeof x[axes[i]!] === 'number' && (starts[i] === 0 || starts[i]! <= -(x[axes[i]!] as number)) && ends[i]! >= (x[axes[i]!] as number);
        const kept = axes.flatMap((_, i) => (whole(i) ? [] : [i]));
        const { groups, at } = this.merged(kept.map((i) => axes[i]!));
        const data = this.view(n.inputs[0]!, groups, x, 'data');
        const ints = (name: string, v: number[]) => this.int64(name, kept.map((i) => v[i]!));
        return this.replace([data, ints('starts', starts), ints('ends', ends), this.int64('axes', kept.map((i) => at(axes[i]!))), ints('steps', steps)], {});
      }
      case 'Pad': {
        if (!n.inputs[1]) throw new Refusal('its pads are attributes (opset < 11)');
        if (n.inputs[3]) throw new Refusal('it takes an axes input');
        const pads = this.constant(1, 'pads');
        const touched = x.flatMap((_, a) => (pads[a] !== 0 || pads[a + r] !== 0 ? [a] : []));
        const { groups, at } = this.merged(touched);
        const data = this.view(n.inputs[0]!, groups, x, 'data');
        const merged = new Array<number>(2 * groups.length).fill(0);
        for (const a of touched) (merged[at(a)] = pads[a]!), (merged[at(a) + groups.length] = pads[a + r]!);
        return this.replace([data, this.int64('pads', merged), ...n.inputs.slice(2)], n.attrs);
      }
      default:
        throw new Refusal('nnport does not merge its axes');
    }
  }

  private reduction(): void {
    const n = this.n;
    const x = this.shape(n.inputs[0], 'data');
    const r = x.length;
    const fromInput = this.opset >= AXES_INPUT_FROM[n.opType]!;
    const given = fromInput ? (n.inputs[1] ? this.constant(1, 'axes') : undefined) : attrInts(n, 'axes');
    if (!given?.length && attrInt(n, 'noop_with_empty_axes', 0)) throw new Refusal('it reduces nothing');
    const axes = given?.length ? given.map((a) => (a < 0 ? a + r : a)) : x.map((_, a) => a);
    const groups = this.within(runsOf(x.map((d, a) => (d === 1 ? undefined : axes.includes(a) ? 'reduced' : 'kept'))));
    const reduced = groups.flatMap((gr, i) => (gr.some((a) => axes.includes(a) && x[a] !== 1) ? [i] : []));
    if (!reduced.length) {
      // every reduced axis of size 1: the values as they are, in the output's shape
      this.rw.removeNode(n);
      this.rw.addNode({ opType: 'Reshape', name: `${this.name}/as_reduced`, inputs: [n.inputs[0]!, this.int64('shape', this.target(this.shape(n.outputs[0], 'output')))], outputs: [n.outputs[0]!], attrs: {} });
      return;
    }
    const mergedAxes = reduced;
    const data = this.view(n.inputs[0]!, groups, x, 'data');
    const attrs: Record<string, Attr> = { ...n.attrs, keepdims: { type: 'int', value: 1 } };
    if (fromInput) return this.replace([data, this.int64('axes', mergedAxes)], attrs);
    return this.replace([data], { ...attrs, axes: { type: 'ints', value: mergedAxes } });
  }

  private softmax(): void {
    const r = this.shape(this.n.inputs[0], 'data').length;
    const given = attrInt(this.n, 'axis', this.opset >= 13 ? -1 : 1);
    const axis = given < 0 ? given + r : given;
    // before opset 13 Softmax works on the input flattened to 2-D at `axis`: the same only over the last axis
    if (this.opset < 13 && axis !== r - 1) throw new Refusal('its axis is not the last (opset < 13 flattens at it)');
    const { groups, x, at } = this.merged([axis]);
    const data = this.view(this.n.inputs[0]!, groups, x, 'data');
    this.replace([data], { ...this.n.attrs, axis: { type: 'int', value: at(axis) } });
  }
}
