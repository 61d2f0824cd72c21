// Sequences made straight-line for the formats that have no sequence values (TFLite, GraphDef,
// Keras, TF.js): a sequence whose tensors are known before running (SequenceEmpty /
// SequenceConstruct / SequenceInsert / SequenceErase at constant positions, SplitToSequence of
// a known dim with a constant split: a Slice per piece) is tracked as the list of its tensors, and what
// reads it becomes tensor ops: SequenceAt at a constant position an Identity of that tensor,
// SequenceLength a constant, ConcatFromSequence a Concat (of Unsqueezes with new_axis). With
// inline-control-flow.ts in turns: a constant length makes a Loop over the list (PyTorch's
// `for p in parts` / list append in a loop) unroll, whose copies then resolve in the next round.
// What stays is listed with the reason.
import { ShapeError } from '../ir/errors.js';
import { readersOf, topologicalOrder, subgraphsOf, type Graph, type Node } from '../ir/graph.js';
import { inferShapes, normAxis, seqValueDefs, type ValueType } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import type { ConstantEvaluator } from './fold-constants.js';
import { inlineControlFlow, isControlFlow, stack } from './inline-control-flow.js';

const SEQUENCE_OPS = new Set(Object.keys(seqValueDefs));

/** An ONNX sequence or optional op (SequenceAt, SplitToSequence, Optional, ...). */
export const isSequenceOp = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && SEQUENCE_OPS.has(n.opType);

/** Whether a graph (its subgraphs included) has sequence / optional ops or values. */
export function hasSequences(graph: Graph): boolean {
  return [...graph.inputs, ...graph.outputs].some((v) => v.kind) || graph.nodes.some((n) => isSequenceOp(n) || subgraphsOf(n).some(hasSequences));
}

export interface ResolveSequencesOptions {
  /** computes constant nodes (for the Loops that unroll between rounds) */
  evaluate: ConstantEvaluator;
}

export interface ResolveSequencesResult {
  graph: Graph;
  /** sequence ops replaced by tensor ops */
  resolved: number;
  /** Loops over lists unrolled on the way, by name */
  unrolled: string[];
  /** the sequence / optional ops and values left, each with why */
  left: Array<{ what: string; why: string }>;
}

const MAX_ROUNDS = 64;

/** The ops that make a sequence (what reads it decides whether it stays). */
const PRODUCERS = new Set(['SequenceEmpty', 'SequenceConstruct', 'SequenceInsert', 'SequenceErase', 'SplitToSequence']);

/** Resolve the sequences of known contents, unrolling the control flow that then has constant trip counts, until nothing changes. */
export function resolveSequences(graph: Graph, options: ResolveSequencesOptions): ResolveSequencesResult {
  let g = graph;
  let resolved = 0;
  const unrolled: string[] = [];
  for (let round = 0; round < MAX_ROUNDS && hasSequences(g); round++) {
    const r = resolveOnce(g);
    g = r.graph;
    resolved += r.resolved;
    let changed = r.resolved > 0;
    if (g.nodes.some(isControlFlow)) {
      const c = inlineControlFlow(g, { evaluate: options.evaluate });
      if (c.inlined.length || c.unrolled.length) {
        g = c.graph;
        unrolled.push(...c.unrolled.map((u) => u.name));
        changed = true;
      }
    }
    if (!changed) break;
  }
  return { graph: g, resolved, unrolled, left: hasSequences(g) ? leftovers(g) : [] };
}

/**
 * A constant (an initializer or a Constant node's output); not an initializer that is also a graph
 * input (from ONNX IR 4 on, a default the caller may override), as fold-constants.ts has it.
 */
function constantOf(rw: GraphRewriter, name: string, overridable: ReadonlySet<string>): Tensor | undefined {
  return overridable.has(name) ? undefined : rw.constant(name);
}

/** The graph inputs whose initializers are only defaults (IR version 4 on). */
function overridableOf(graph: Graph): Set<string> {
  const ir = graph.metadata?.irVersion;
  return new Set(ir !== undefined && ir < 4 ? [] : graph.inputs.map((v) => v.name));
}

/** A constant scalar (initializer or Constant output) as a number. */
function constantInt(rw: GraphRewriter, name: string | undefined, overridable: ReadonlySet<string>): number | undefined {
  const t = name ? constantOf(rw, name, overridable) : undefined;
  if (!t || t.size !== 1 || (t.dtype !== 'int32' && t.dtype !== 'int64')) return undefined;
  return t.toNumbers()[0];
}

/** A position in a sequence of `n` made non-negative, checked as the runtime does. */
function position(p: number, n: number, node: Node, end: boolean): number {
  const hi = end ? n : n - 1;
  if (p < -n || p > hi) throw new ShapeError(`node '${node.name}' (${node.opType}): position ${p} is out of range for a sequence of ${n} tensors (allowed: ${-n} to ${hi})`);
  return p < 0 ? p + n : p;
}

/** SplitToSequence's piece lengths along a dim of `dim`, or undefined when its split is not constant. */
function pieceSizes(rw: GraphRewriter, node: Node, dim: number, overridable: ReadonlySet<string>): number[] | undefined {
  if (!node.inputs[1]) return new Array<number>(dim).fill(1);
  const t = constantOf(rw, node.inputs[1], overridable);
  if (!t || (t.dtype !== 'int32' && t.dtype !== 'int64') || t.rank > 1) return undefined;
  const v = t.toNumbers();
  if (t.rank === 0) {
    if (!(v[0]! > 0)) throw new ShapeError(`node '${node.name}' (SplitToSequence): split ${v[0]} must be positive`);
    return Array.from({ length: Math.ceil(dim / v[0]!) }, (_, i) => Math.min(v[0]!, dim - i * v[0]!));
  }
  if (v.some((s) => s < 0) || v.reduce((a, b) => a + b, 0) !== dim) throw new ShapeError(`node '${node.name}' (SplitToSequence): split [${v.join(', ')}] does not divide a dim of ${dim}`);
  return v;
}

function resolveOnce(graph: Graph): { graph: Graph; resolved: number } {
  const rw = new GraphRewriter(graph);
  const types = inferShapes(graph, { record: false, onError: 'unknown' }).values;
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  const overridable = overridableOf(graph);
  // each sequence whose tensors are known: their values, in order
  const known = new Map<string, string[]>();
  let resolved = 0;
  const rankOf = (v: string): number | undefined => (types.get(v) as ValueType | undefined)?.shape?.length;
  for (const node of topologicalOrder(graph)) {
    if (!(node.domain === '' || node.domain === 'ai.onnx')) continue;
    const [a, b, c] = node.inputs;
    const out = node.outputs[0]!;
    const s = a ? known.get(a) : undefined;
    switch (node.opType) {
      case 'SequenceEmpty':
        known.set(out, []);
        break;
      case 'SequenceConstruct':
        known.set(out, [...node.inputs]);
        break;
      case 'Identity':
        if (s) known.set(out, s);
        break;
      case 'SequenceInsert': {
        const p = c ? constantInt(rw, c, overridable) : s?.length;
        if (s && p !== undefined) {
          const at = position(p, s.length, node, true);
          known.set(out, [...s.slice(0, at), b!, ...s.slice(at)]);
        }
        break;
      }
      case 'SequenceErase': {
        if (s && !s.length) throw new ShapeError(`node '${node.name}' (SequenceErase): the sequence is empty`);
        const p = b ? constantInt(rw, b, overridable) : -1;
        if (s && p !== undefined) {
          const at = position(p, s.length, node, false);
          known.set(out, s.filter((_, i) => i !== at));
        }
        break;
      }
      case 'SplitToSequence': {
        const shape = types.get(a!)?.shape;
        if (!shape) break;
        const attrs = seqValueDefs.SplitToSequence.attrs(node, opset);
        const axis = normAxis(attrs.axis, shape.length, 'SplitToSequence axis');
        const dim = shape[axis];
        if (typeof dim !== 'number') break;
        const sizes = pieceSizes(rw, node, dim, overridable);
        if (!sizes) break;
        if (!sizes.length) {
          known.set(out, []);
          break;
        }
        // each piece a Slice: only the pieces read stay after the sweep (and the TFLite interpreter's
        // XNNPACK fails a SPLIT into pieces of 1 along the last axis)
        const name = `${node.name || out}/piece`;
        const axes = rw.addInitializer(`${name}/axes`, Tensor.int64([1], [axis]));
        let start = 0;
        let pieces = sizes.map((size) => {
          const starts = rw.addInitializer(`${name}/starts`, Tensor.int64([1], [start]));
          const ends = rw.addInitializer(`${name}/ends`, Tensor.int64([1], [(start += size)]));
          return rw.add({ opType: 'Slice', inputs: [a!, starts, ends, axes], name });
        });
        // keepdims 0 without a split or with a scalar split of 1 (runtime/ops/seq-values.ts): each piece squeezed
        const one = node.inputs[1] ? constantOf(rw, node.inputs[1], overridable) : undefined;
        if (!attrs.keepDims && (!node.inputs[1] || (one?.rank === 0 && one.toNumbers()[0] === 1))) {
          pieces = pieces.map((p) => rw.add({ opType: 'Squeeze', inputs: opset >= 13 ? [p, axes] : [p], attrs: opset >= 13 ? {} : { axes: { type: 'ints', value: [axis] } }, name: `${name}/squeeze` }));
        }
        known.set(out, pieces);
        break;
      }
      case 'SequenceAt': {
        const p = constantInt(rw, b, overridable);
        if (!s || p === undefined) break;
        rw.replaceNode(node, { opType: 'Identity', inputs: [s[position(p, s.length, node, false)]!], attrs: {} });
        resolved++;
        break;
      }
      case 'SequenceLength':
        if (!s) break;
        rw.replaceNode(node, { opType: 'Constant', inputs: [], attrs: { value: { type: 'tensor', value: Tensor.int64([], [s.length]) } } });
        resolved++;
        break;
      case 'ConcatFromSequence': {
        if (!s) break;
        if (!s.length) throw new ShapeError(`node '${node.name}' (ConcatFromSequence): the sequence is empty`);
        const attrs = seqValueDefs.ConcatFromSequence.attrs(node, opset);
        // the sequence's type has its tensors' rank (a piece sliced out this round has no type yet)
        const rank = rankOf(a!) ?? rankOf(s[0]!);
        if (rank === undefined) break;
        const axis = normAxis(attrs.axis, rank + (attrs.newAxis ? 1 : 0), 'ConcatFromSequence axis');
        const joined = attrs.newAxis ? stack(rw, s, axis, node.name || out) : undefined;
        rw.replaceNode(node, joined ? { opType: 'Identity', inputs: [joined], attrs: {} } : { opType: 'Concat', inputs: [...s], attrs: { axis: { type: 'int', value: axis } } });
        resolved++;
        break;
      }
    }
  }
  if (!resolved) return { graph, resolved };
  rw.sweep();
  return { graph: rw.toGraph(), resolved };
}

/** A node as messages name it: its op and its name when it has one. */
const label = (n: Node): string => (n.name ? `${n.opType} '${n.name}'` : n.opType);

/** What stays: sequence values at the graph's edges and sequence ops, with why (first the ops that read a sequence). */
function leftovers(graph: Graph): Array<{ what: string; why: string }> {
  const left: Array<{ what: string; why: string }> = [];
  for (const v of graph.inputs) if (v.kind) left.push({ what: `input '${v.name}'`, why: `it is ${v.kind === 'sequence' ? 'a sequence' : 'an optional'} (a format without such values takes tensors)` });
  for (const v of graph.outputs) if (v.kind) left.push({ what: `output '${v.name}'`, why: `it is ${v.kind === 'sequence' ? 'a sequence' : 'an optional'} (a format without such values gives tensors)` });
  const producers = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  const readers = readersOf(graph.nodes);
  const walk = (g: Graph, where: string) => {
    for (const n of g.nodes) {
      for (const s of subgraphsOf(n)) walk(s, ` in a subgraph of ${label(n)}`);
      if (!isSequenceOp(n)) continue;
      const from = n.inputs[0] ? producers.get(n.inputs[0]) : undefined;
      const into = where ? undefined : (readers.get(n.outputs[0] ?? '') ?? []).find(isControlFlow);
      let why: string;
      if (into) why = `its sequence goes into ${label(into)}, which stays (a trip count that is not a constant: fix the input shapes)`;
      else if (from && !where && isControlFlow(from)) why = `its sequence comes from ${label(from)}, which stays (a trip count that is not a constant: fix the input shapes)`;
      else if (n.opType.startsWith('Optional')) why = 'optional values have no counterpart there';
      else if (n.opType === 'SequenceMap') why = 'SequenceMap is not unrolled';
      else if (where) why = `it stays inside control flow that is not made straight-line${where}`;
      else if (n.opType === 'SequenceAt' && from && !from.opType.startsWith('Sequence') && from.opType !== 'SplitToSequence') why = `its sequence comes from ${label(from)}, whose tensors are not known before running`;
      else if ((n.opType === 'SequenceAt' || n.opType === 'SequenceInsert' || n.opType === 'SequenceErase') && n.inputs.length > 1) why = 'its position is not a constant, or its sequence\'s tensors are not known before running';
      else if (n.opType === 'SplitToSequence') why = 'its split is not a constant, the dim it splits is not fixed (fix the input shapes), or what reads its sequence stays';
      else if (PRODUCERS.has(n.opType)) why = 'what reads its sequence stays';
      else why = "its sequence's tensors are not known before running";
      left.push({ what: `${label(n)}${where}`, why });
    }
  };
  walk(graph, '');
  // the ops that read a sequence first: they say why the sequences they read stay
  const producer = (l: { what: string }) => PRODUCERS.has(l.what.split(' ')[0]!);
  return [...left.filter((l) => !producer(l)), ...left.filter(producer)];
}
