// Einsum as plain ONNX ops, for the writers with no einsum of their own (TFLite, Keras .h5 /
// .keras, TF.js layers). The runtime's Einsum kernel (runtime/ops/linalg.ts) does the same
// contraction; here each step is a node:
//   1. a label repeated within one operand (a diagonal, 'ii->i'): its axes moved last, merged
//      (Reshape) and every (n^k - 1) / (n - 1)-th element taken (Slice with a step);
//   2. an ellipsis axis of extent 1 that broadcasts against another operand's: dropped (Reshape);
//   3. a label no other operand nor the output has: summed out (ReduceSum);
//   4. the operands contracted left to right, each pair's labels classed as batch (both operands
//      and later), contracted (both, not later), left-only and right-only, laid out as
//      [batch.., M, K] x [batch.., K, N] (Transpose, Reshape), multiplied (MatMul: a right operand
//      that is a constant without batch labels is a 2-D [K, N] weight, FULLY_CONNECTED / Dense), and
//      reshaped back; an outer product is a MatMul with K = 1 (exact: one product per element);
//   5. a Transpose to the output's order.
// Constant operands are laid out here (permuted, reshaped, summed) rather than by nodes, so a
// weight stays a weight. The shapes must be known, except one dim per Reshape (-1).
// `batchAxis` (Keras / TF.js layers, where axis 0 of every tensor is the batch and no layer moves
// or merges it): axis 0 stays first in every value, sums are a Dense with a kernel of ones, a
// product of two computed operands is a rank-3 MatMul (Keras' Dot) batched over axis 0 only, with
// further batch labels (attention's heads) unrolled into one Slice / MatMul per index and a Concat.
import { UnsupportedError } from '../ir/errors.js';
import { attrString, type Attr, type Dim, type Graph, type Node } from '../ir/graph.js';
import { ELLIPSIS_LABEL, einsumDims, einsumLabels, parseEinsumEquation } from '../ir/ops/linalg.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface LowerEinsumOptions {
  /** axis 0 of every computed value is the batch: kept first and never merged (Keras / TF.js layers) */
  batchAxis?: boolean;
  /** the format written, for error messages */
  format?: string;
  /** the most products one contraction's extra batch labels are unrolled into under `batchAxis` (default 64) */
  maxUnroll?: number;
}

export interface LowerEinsumResult {
  graph: Graph;
  /** the Einsum nodes lowered, by name */
  lowered: string[];
}

const isOnnx = (d: string): boolean => d === '' || d === 'ai.onnx';

/** An operand during the lowering: a value, one label per axis, its shape; `constant` when it is one. */
interface Term {
  value: string;
  labels: number[];
  shape: Dim[];
  constant?: Tensor;
}

const labelName = (l: number): string => (l >= ELLIPSIS_LABEL ? `...[${l - ELLIPSIS_LABEL}]` : String.fromCharCode(l));
const known = (d: Dim): d is number => typeof d === 'number';
const product = (ds: readonly Dim[]): Dim => (ds.every(known) ? (ds as number[]).reduce((a, b) => a * b, 1) : null);

export function lowerEinsum(graph: Graph, options: LowerEinsumOptions = {}): LowerEinsumResult {
  const targets = graph.nodes.filter((n) => n.opType === 'Einsum' && isOnnx(n.domain));
  if (!targets.length) return { graph, lowered: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const lowered: string[] = [];
  for (const n of targets) {
    new Lowering(rw, n, shapes, graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 12, options).run();
    lowered.push(n.name || n.outputs[0]!);
  }
  rw.sweep();
  return { graph: rw.toGraph(), lowered };
}

class Lowering {
  private readonly where: string;
  private readonly eq: string;
  private readonly mine = new Set<Node>();
  private dims = new Map<number, Dim>();
  /** under batchAxis: the label of axis 0 of the computed operands */
  private batchLabel?: number;

  constructor(
    private readonly rw: GraphRewriter,
    private readonly node: Node,
    private readonly shapes: ReadonlyMap<string, { dtype?: string; shape?: readonly Dim[] }>,
    private readonly opset: number,
    private readonly options: LowerEinsumOptions,
  ) {
    this.where = node.name || node.outputs[0]!;
    this.eq = attrString(node, 'equation') ?? '';
  }

  private refuse(why: string): never {
    throw new UnsupportedError(`Einsum '${this.eq}'${this.options.format ? ` in a ${this.options.format} file` : ''}`, `node '${this.where}': ${why}`);
  }

  run(): void {
    const n = this.node;
    if (!this.eq) this.refuse('no equation attribute');
    const attrs = parseEinsumEquation(this.eq);
    const terms: Term[] = n.inputs.map((v) => {
      const constant = this.rw.constant(v);
      const shape = constant ? [...constant.shape] : (this.shapes.get(v)?.shape ?? this.rw.valueInfoOf(v)?.shape);
      if (!shape) this.refuse(`operand '${v}' has an unknown shape`);
      return { value: v, labels: [], shape: [...shape], constant };
    });
    const labels = einsumLabels(attrs, terms.map((t) => t.shape.length));
    terms.forEach((t, i) => (t.labels = labels.inputs[i]!));
    this.dims = einsumDims(labels, terms.map((t) => t.shape), this.eq);
    const output = labels.output;
    if (this.options.batchAxis) this.checkBatchAxis(terms, output);
    this.rw.removeNode(n);
    let ops = terms.map((t) => this.squeezeBroadcast(this.diagonals(t)));
    // 3. labels only one operand has and the output lacks
    ops = ops.map((t, i) => {
      const elsewhere = new Set([...output, ...ops.filter((_, j) => j !== i).flatMap((o) => o.labels)]);
      const lone = t.labels.filter((l) => !elsewhere.has(l));
      return lone.length ? this.sum(t, lone) : t;
    });
    // 4. pairwise, left to right
    while (ops.length > 1) {
      const later = new Set([...output, ...ops.slice(2).flatMap((o) => o.labels)]);
      ops = [this.contract(ops[0]!, ops[1]!, later), ...ops.slice(2)];
    }
    // 5. the output's order
    const last = this.transpose(ops[0]!, output);
    this.finish(last.value);
  }

  /** Keras: every computed operand has the batch label on axis 0, and so does the output. */
  private checkBatchAxis(terms: Term[], output: number[]): void {
    const computed = terms.filter((t) => !t.constant);
    if (!computed.length) return;
    const b = computed[0]!.labels[0];
    if (b === undefined) this.refuse('a scalar operand has no batch axis');
    if (computed.some((t) => t.labels[0] !== b)) this.refuse(`the computed operands' first axes carry different labels (axis 0 is the batch in a layers model)`);
    if (computed.some((t) => t.labels.indexOf(b, 1) > 0)) this.refuse(`label '${labelName(b)}' is repeated with the batch axis`);
    if (output[0] !== b) this.refuse(`the output does not keep label '${labelName(b)}' (the batch axis) first`);
    if (terms.some((t) => t.constant && t.labels.includes(b))) this.refuse(`a constant operand carries the batch label '${labelName(b)}'`);
    this.batchLabel = b;
  }

  // ---- node emitters ----

  private emit(opType: string, name: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const node = this.rw.addNode({ opType, name: `${this.where}/${name}`, inputs, attrs });
    this.mine.add(node);
    return node.outputs[0]!;
  }

  private int64(name: string, values: number[]): string {
    return this.rw.addInitializer(`${this.where}/${name}`, Tensor.int64([values.length], values));
  }

  private constantTerm(t: Tensor, labels: number[], name: string): Term {
    return { value: this.rw.addInitializer(`${this.where}/${name}`, t), labels, shape: [...t.shape], constant: t };
  }

  /** The value as `shape` (labels: one per new axis, given by the caller). One dim may be unknown (-1); axis 0 copies under batchAxis. */
  private reshape(t: Term, shape: Dim[], labels: number[], name: string): Term {
    if (shape.length === t.shape.length && shape.every((d, i) => d === t.shape[i])) return { ...t, labels };
    if (t.constant) {
      if (!shape.every(known)) this.refuse(`a constant operand reshaped to [${shape.join(', ')}]`);
      return this.constantTerm(t.constant.reshape(shape), labels, name);
    }
    const keepBatch = this.batchLabel !== undefined;
    const target = shape.map((d, i) => (keepBatch && i === 0 ? 0 : known(d) ? d : -1));
    if (target.filter((d) => d === -1).length > 1) this.refuse(`a reshape to [${shape.map((d) => d ?? '?').join(', ')}] with more than one dim of unknown size (fix them with --input-shape)`);
    const value = this.emit('Reshape', name, [t.value, this.int64(`${name}_shape`, target)]);
    return { value, labels, shape };
  }

  /** The operand with its axes in `order` (a permutation of its labels; labels distinct). */
  private transpose(t: Term, order: readonly number[]): Term {
    const perm = order.map((l) => t.labels.indexOf(l));
    if (perm.length !== t.labels.length || perm.some((p) => p < 0)) throw new Error(`lower-einsum: [${order.map(labelName)}] is not a permutation of [${t.labels.map(labelName)}]`);
    return this.permute(t, perm);
  }

  private permute(t: Term, perm: number[]): Term {
    if (perm.every((p, i) => p === i)) return t;
    const labels = perm.map((p) => t.labels[p]!);
    if (t.constant) return this.constantTerm(t.constant.permute(perm), labels, 'weight_t');
    if (this.batchLabel !== undefined && perm[0] !== 0) throw new Error('lower-einsum: a transpose would move the batch axis');
    const value = this.emit('Transpose', 'transpose', [t.value], { perm: { type: 'ints', value: perm } });
    return { value, labels, shape: perm.map((p) => t.shape[p]!) };
  }

  /** The last value under the Einsum's output name: its producer renamed, else an Identity. */
  private finish(value: string): void {
    const out = this.node.outputs[0]!;
    const p = this.rw.producer(value);
    if (p && this.mine.has(p)) this.rw.replaceNode(p, { outputs: [out] });
    else this.mine.add(this.rw.addNode({ opType: 'Identity', name: `${this.where}/output`, inputs: [value], outputs: [out] }));
  }

  // ---- steps ----

  /** 1. Each label repeated within the operand: its diagonal. */
  private diagonals(t: Term): Term {
    for (;;) {
      const l = t.labels.find((x, i) => t.labels.indexOf(x) !== i);
      if (l === undefined) return t;
      if (this.options.batchAxis) this.refuse(`label '${labelName(l)}' repeated within one operand (a diagonal) has no layer`);
      const axes = t.labels.flatMap((x, i) => (x === l ? [i] : []));
      const others = t.labels.flatMap((x, i) => (x === l ? [] : [i]));
      const n = t.shape[axes[0]!];
      if (!known(n)) this.refuse(`the diagonal of label '${labelName(l)}' of unknown size`);
      const k = axes.length;
      const moved = this.permute(t, [...others, ...axes]);
      const keep = others.map((i) => t.labels[i]!);
      const flat = this.reshape(moved, [...others.map((i) => t.shape[i]!), n ** k], [...keep, l], 'diagonal_flat');
      if (n === 1) {
        t = flat;
        continue;
      }
      const step = (n ** k - 1) / (n - 1);
      const value = this.emit('Slice', 'diagonal', [flat.value, this.int64('diag_start', [0]), this.int64('diag_end', [n ** k]), this.int64('diag_axis', [keep.length]), this.int64('diag_step', [step])]);
      t = { value, labels: [...keep, l], shape: [...others.map((i) => t.shape[i]!), n] };
    }
  }

  /** 2. Ellipsis axes of extent 1 that broadcast against a longer one elsewhere: dropped. */
  private squeezeBroadcast(t: Term): Term {
    const drop = t.labels.map((l, i) => l >= ELLIPSIS_LABEL && t.shape[i] === 1 && this.dims.get(l) !== 1);
    if (!drop.some(Boolean)) return t;
    if (this.batchLabel !== undefined && drop[0]) this.refuse('the batch axis broadcasts');
    const labels = t.labels.filter((_, i) => !drop[i]);
    return this.reshape(t, t.shape.filter((_, i) => !drop[i]), labels, 'broadcast_squeeze');
  }

  /** 3. The labels `lone` summed out. */
  private sum(t: Term, lone: number[]): Term {
    const keep = t.labels.filter((l) => !lone.includes(l));
    const dimOf = (l: number): Dim => t.shape[t.labels.indexOf(l)]!;
    if (t.constant && t.constant.dtype === 'float32') {
      const moved = this.transpose(t, [...keep, ...lone]);
      const src = moved.constant!.toFloat32();
      const block = lone.map(dimOf).reduce((a: number, b) => a * (b as number), 1);
      const out = new Float32Array(block ? src.length / block : keep.map(dimOf).reduce((a: number, b) => a * (b as number), 1));
      for (let i = 0; i < out.length; i++) {
        let s = 0;
        for (let j = i * block, e = j + block; j < e; j++) s += src[j]!;
        out[i] = s;
      }
      return this.constantTerm(new Tensor('float32', keep.map(dimOf) as number[], out), keep, 'weight_sum');
    }
    if (this.batchLabel !== undefined) {
      // no layer sums over chosen axes: [keep.., S] x ones[S, 1] is a Dense
      const s = product(lone.map(dimOf));
      if (!known(s)) this.refuse(`a sum over labels of unknown size (${lone.map(labelName).join(', ')})`);
      const moved = this.reshape(this.transpose(t, [...keep, ...lone]), [...keep.map(dimOf), s], [...keep, -1], 'sum_flat');
      const ones = this.rw.addInitializer(`${this.where}/ones`, Tensor.float32([s, 1], new Float32Array(s).fill(1)));
      const value = this.emit('MatMul', 'sum', [moved.value, ones]);
      return this.reshape({ value, labels: [...keep, -1], shape: [...keep.map(dimOf), 1] }, keep.map(dimOf), keep, 'sum');
    }
    const axes = lone.map((l) => t.labels.indexOf(l));
    // ReduceSum takes its axes as an input from opset 13
    const value =
      this.opset >= 13
        ? this.emit('ReduceSum', 'sum', [t.value, this.int64('sum_axes', axes)], { keepdims: { type: 'int', value: 0 } })
        : this.emit('ReduceSum', 'sum', [t.value], { axes: { type: 'ints', value: axes }, keepdims: { type: 'int', value: 0 } });
    return { value, labels: keep, shape: keep.map(dimOf) };
  }

  /** 4. One pair: batch / left-only / contracted / right-only, a MatMul, back to one axis per label. */
  private contract(a: Term, b: Term, later: ReadonlySet<number>): Term {
    // a computed operand goes left, so a constant one is the 2-D weight on the right
    if (a.constant && !b.constant) [a, b] = [b, a];
    const inA = new Set(a.labels);
    const inB = new Set(b.labels);
    const batch = a.labels.filter((l) => inB.has(l) && later.has(l));
    const summed = a.labels.filter((l) => inB.has(l) && !later.has(l));
    let aFree = a.labels.filter((l) => !inB.has(l));
    const bFree = b.labels.filter((l) => !inA.has(l));
    const bl = this.batchLabel;
    if (bl !== undefined && aFree.includes(bl)) aFree = [bl, ...aFree.filter((l) => l !== bl)];
    const dim = (l: number): Dim => this.dims.get(l) ?? null;
    const dimsOf = (ls: number[]): Dim[] => ls.map(dim);
    const M = product(dimsOf(aFree));
    const K = product(dimsOf(summed));
    const N = product(dimsOf(bFree));
    const resultLabels = [...batch, ...aFree, ...bFree];
    const back = (value: string, shape: Dim[]): Term => this.reshape({ value, labels: [], shape }, dimsOf(resultLabels), resultLabels, 'product');
    if (!batch.length && b.constant) {
      // x[aFree.., K] x W[K, N]: a weight (FULLY_CONNECTED / Dense); more than 3 free axes merged
      const merge = aFree.length > 3 && bl === undefined;
      const lead = merge ? [M] : dimsOf(aFree);
      const left = this.reshape(this.transpose(a, [...aFree, ...summed]), [...lead, K], [], 'lhs');
      const w = this.reshape(this.transpose(b, [...summed, ...bFree]), [K, N], [], 'rhs');
      return back(this.emit('MatMul', 'matmul', [left.value, w.value]), [...lead, N]);
    }
    if (bl !== undefined) return this.contractBatched(a, b, batch, aFree, summed, bFree, resultLabels);
    // [batch.., M, K] x [batch.., K, N]; more than two batch axes merged (BATCH_MATMUL's rank)
    const lead = batch.length > 2 ? [product(dimsOf(batch))] : dimsOf(batch);
    const left = this.reshape(this.transpose(a, [...batch, ...aFree, ...summed]), [...lead, M, K], [], 'lhs');
    const right = this.reshape(this.transpose(b, [...batch, ...summed, ...bFree]), [...lead, K, N], [], 'rhs');
    return back(this.emit('MatMul', 'matmul', [left.value, right.value]), [...lead, M, N]);
  }

  /**
   * Under batchAxis, two computed operands: a rank-3 MatMul (Keras' Dot) batched over axis 0, one
   * per index of the other batch labels (Slice on axis 1 of [b, P, M, K], Concat of the products).
   */
  private contractBatched(a: Term, b: Term, batch: number[], aFree: number[], summed: number[], bFree: number[], resultLabels: number[]): Term {
    const bl = this.batchLabel!;
    if (!batch.includes(bl) || a.constant || b.constant) this.refuse('a product with a constant operand that carries batch labels');
    const extra = batch.filter((l) => l !== bl);
    const dim = (l: number): Dim => this.dims.get(l) ?? null;
    const dimsOf = (ls: number[]): Dim[] => ls.map(dim);
    const [M, K, N] = [product(dimsOf(aFree)), product(dimsOf(summed)), product(dimsOf(bFree))];
    const bd = dim(bl);
    const back = (value: string, shape: Dim[]): Term => this.reshape({ value, labels: [], shape }, dimsOf(resultLabels), resultLabels, 'product');
    if (!extra.length) {
      const left = this.reshape(this.transpose(a, [bl, ...aFree, ...summed]), [bd, M, K], [], 'lhs');
      const right = this.reshape(this.transpose(b, [bl, ...summed, ...bFree]), [bd, K, N], [], 'rhs');
      return back(this.emit('MatMul', 'matmul', [left.value, right.value]), [bd, M, N]);
    }
    const P = product(dimsOf(extra));
    if (!known(P)) this.refuse(`batch labels ${extra.map(labelName).join(', ')} of unknown size besides the batch axis`);
    const limit = this.options.maxUnroll ?? 64;
    if (P > limit) this.refuse(`a product batched over ${extra.map(labelName).join(', ')} besides the batch axis: ${P} products, more than the ${limit} nnport unrolls`);
    const left = this.reshape(this.transpose(a, [bl, ...extra, ...aFree, ...summed]), [bd, P, M, K], [], 'lhs');
    const right = this.reshape(this.transpose(b, [bl, ...extra, ...summed, ...bFree]), [bd, P, K, N], [], 'rhs');
    const parts: string[] = [];
    for (let p = 0; p < P; p++) {
      const slice = (t: Term, rows: Dim, cols: Dim, side: string): string => {
        const s = this.emit('Slice', `${side}_${p}`, [t.value, this.int64(`${side}_${p}_start`, [p]), this.int64(`${side}_${p}_end`, [p + 1]), this.int64(`${side}_axis`, [1])]);
        return this.reshape({ value: s, labels: [], shape: [bd, 1, rows, cols] }, [bd, rows, cols], [], `${side}_${p}_3d`).value;
      };
      const prod = this.emit('MatMul', `matmul_${p}`, [slice(left, M, K, 'lhs'), slice(right, K, N, 'rhs')]);
      parts.push(this.reshape({ value: prod, labels: [], shape: [bd, M, N] }, [bd, 1, M, N], [], `product_${p}`).value);
    }
    const value = P === 1 ? parts[0]! : this.emit('Concat', 'products', parts, { axis: { type: 'int', value: 1 } });
    return back(value, [bd, P, M, N]);
  }
}
