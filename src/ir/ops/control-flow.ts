// Control flow: If, Loop, Scan. Their bodies are graphs in attributes that read the values of
// the graphs around them by name; output types come from inferring the bodies (InferContext's
// inferSubgraph). A Loop's trip count is data, so its scan outputs' first dim is known only when
// the count is a known constant and nothing can stop the loop early.
import { ShapeError } from '../errors.js';
import { attrInt, attrInts, type Dim, type Graph, type Node } from '../graph.js';
import { defineOpDef, fmtShape, mergeDim, normAxis, scalarOf, type InferContext, type OpDefTable, type ValueType } from './op-def.js';

export interface IfAttrs {
  thenBranch: Graph;
  elseBranch: Graph;
}

export interface LoopAttrs {
  body: Graph;
}

export interface ScanAttrs {
  body: Graph;
  /** M: the inputs that are scanned (the last M node inputs) */
  numScanInputs: number;
  /** opset 8: a batch axis 0 on every input and output, and an optional sequence_lens input first */
  batched: boolean;
  /** per scan input: the axis scanned along (opset >= 9) */
  inputAxes: number[];
  /** per scan input: 1 scans it from the end */
  inputDirections: number[];
  /** per scan output: the axis its per-iteration values are stacked along (opset >= 9) */
  outputAxes: number[];
  /** per scan output: 1 stacks them in reverse order */
  outputDirections: number[];
}

function graphAttr(node: Node, name: string): Graph {
  const a = node.attrs[name];
  if (!a) throw new ShapeError(`${node.opType} has no '${name}' attribute`);
  if (a.type !== 'graph') throw new ShapeError(`${node.opType}: attribute '${name}' is ${a.type}, expected graph`);
  return a.value;
}

/** The counts of a Scan: N state values, M scanned inputs, K scan outputs. */
export function scanCounts(node: Node, a: ScanAttrs): { n: number; m: number; k: number } {
  const m = a.numScanInputs;
  const n = node.inputs.length - (a.batched ? 1 : 0) - m;
  const k = a.body.outputs.length - n;
  return { n, m, k };
}

function parseScan(node: Node, opset: number): ScanAttrs {
  const body = graphAttr(node, 'body');
  const numScanInputs = attrInt(node, 'num_scan_inputs');
  if (numScanInputs === undefined || numScanInputs < 1) throw new ShapeError(`Scan needs num_scan_inputs >= 1, got ${numScanInputs ?? 'none'}`);
  const batched = opset < 9;
  const m = numScanInputs;
  const n = node.inputs.length - (batched ? 1 : 0) - m;
  if (n < 0) throw new ShapeError(`Scan has ${node.inputs.length} inputs, fewer than num_scan_inputs ${m}${batched ? ' + sequence_lens' : ''}`);
  if (body.inputs.length !== n + m) throw new ShapeError(`Scan body takes ${body.inputs.length} inputs, expected ${n} state + ${m} scan inputs`);
  const k = body.outputs.length - n;
  if (k < 0) throw new ShapeError(`Scan body has ${body.outputs.length} outputs, fewer than its ${n} state values`);
  if (node.outputs.length > n + k) throw new ShapeError(`Scan has ${node.outputs.length} outputs, its body ${n + k}`);
  const ints = (name: string, len: number, fallback: number) => {
    const v = attrInts(node, name) ?? new Array<number>(len).fill(fallback);
    if (v.length !== len) throw new ShapeError(`Scan: ${name} has ${v.length} entries, expected ${len}`);
    return v;
  };
  const inputDirections = batched ? ints('directions', m, 0) : ints('scan_input_directions', m, 0);
  const outputDirections = batched ? new Array<number>(k).fill(0) : ints('scan_output_directions', k, 0);
  for (const d of [...inputDirections, ...outputDirections]) if (d !== 0 && d !== 1) throw new ShapeError(`Scan: direction ${d} is neither 0 nor 1`);
  return {
    body,
    numScanInputs,
    batched,
    inputAxes: batched ? new Array<number>(m).fill(0) : ints('scan_input_axes', m, 0),
    inputDirections,
    outputAxes: batched ? new Array<number>(k).fill(0) : ints('scan_output_axes', k, 0),
    outputDirections,
  };
}

/** Two types a value may have (the branches of an If, a carried value before and after an iteration): what both share. */
export function unifyTypes(a: ValueType, b: ValueType, what: () => string): ValueType {
  if (a.dtype && b.dtype && a.dtype !== b.dtype) throw new ShapeError(`${what()}: dtypes ${a.dtype} and ${b.dtype} differ`);
  const dtype = a.dtype ?? b.dtype;
  // a Loop may carry an empty optional sequence in and a sequence out (PyTorch's list built in a loop): the later one's
  const kind = b.kind ?? a.kind;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype, kind };
  const shape = a.shape.map((d, i) => (d === b.shape![i] ? d : null));
  const same = a.data && b.data && a.data.length === b.data.length && a.data.every((d, i) => d !== null && d === b.data![i]);
  return same ? { dtype, shape, data: a.data, kind } : { dtype, shape, kind };
}

function subgraphTypes(ctx: InferContext<unknown>, g: Graph, inputs: ReadonlyArray<ValueType | undefined>): ValueType[] {
  // without the hook (a caller inferring one node alone), the body's declared outputs
  if (!ctx.inferSubgraph) return g.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape && [...o.shape], kind: o.kind }));
  return ctx.inferSubgraph(g, inputs);
}

const SCALAR_INT64: ValueType = { dtype: 'int64', shape: [] };

/** The carried values' types after any number of iterations: the initial ones, widened until the body keeps them (twice is enough: a dim that changes becomes unknown). */
function fixedPoint(
  ctx: InferContext<unknown>,
  body: Graph,
  parts: { before: ValueType[]; initial: ValueType[]; after: ValueType[]; outOffset: number },
  what: (i: number) => string,
): { carried: ValueType[]; outs: ValueType[] } {
  let carried = parts.initial;
  let outs: ValueType[] = [];
  for (let round = 0; round < 3; round++) {
    outs = subgraphTypes(ctx, body, [...parts.before, ...carried, ...parts.after]);
    const next = carried.map((c, i) => unifyTypes(c, outs[parts.outOffset + i] ?? {}, () => what(i)));
    const same = next.every((t, i) => t.dtype === carried[i]!.dtype && t.kind === carried[i]!.kind && fmtShape(t.shape) === fmtShape(carried[i]!.shape) && !!t.shape === !!carried[i]!.shape);
    carried = next;
    if (same) break;
  }
  return { carried, outs };
}

export const controlFlowDefs: OpDefTable = {
  If: defineOpDef<IfAttrs>({
    opType: 'If',
    domain: '',
    layout: 'shape',
    attrs: (node) => ({ thenBranch: graphAttr(node, 'then_branch'), elseBranch: graphAttr(node, 'else_branch') }),
    infer(ctx) {
      const { thenBranch, elseBranch } = ctx.attrs;
      const n = ctx.node.outputs.length;
      for (const [g, which] of [[thenBranch, 'then_branch'], [elseBranch, 'else_branch']] as const) {
        if (g.outputs.length !== n) throw new ShapeError(`If: ${which} has ${g.outputs.length} outputs, the node ${n}`);
      }
      const cond = scalarOf(ctx.inputs[0]);
      // a known condition: only the branch taken (its values, shape data included)
      if (cond !== undefined) return subgraphTypes(ctx, cond ? thenBranch : elseBranch, []);
      const t = subgraphTypes(ctx, thenBranch, []);
      const e = subgraphTypes(ctx, elseBranch, []);
      return t.map((a, i) => unifyTypes(a, e[i]!, () => `If output ${i}: then_branch and else_branch`));
    },
  }),

  Loop: defineOpDef<LoopAttrs>({
    opType: 'Loop',
    domain: '',
    layout: 'shape',
    attrs(node) {
      const body = graphAttr(node, 'body');
      const n = node.inputs.length - 2;
      if (n < 0) throw new ShapeError(`Loop needs inputs M and cond (either may be empty), got ${node.inputs.length} inputs`);
      if (body.inputs.length !== n + 2) throw new ShapeError(`Loop body takes ${body.inputs.length} inputs, expected 2 + ${n} carried values`);
      if (body.outputs.length < n + 1) throw new ShapeError(`Loop body has ${body.outputs.length} outputs, expected cond + ${n} carried values + scan outputs`);
      if (node.outputs.length > body.outputs.length - 1) throw new ShapeError(`Loop has ${node.outputs.length} outputs, its body ${body.outputs.length - 1}`);
      return { body };
    },
    infer(ctx) {
      const { body } = ctx.attrs;
      const n = ctx.node.inputs.length - 2;
      const tripCount = ctx.node.inputs[0] ? scalarOf(ctx.inputs[0]) : undefined;
      const condIn = ctx.node.inputs[1] ? ctx.inputs[1] : undefined;
      const initial = ctx.inputs.slice(2).map((v) => v ?? {});
      const what = (i: number) => `Loop carried value ${i}: initial value and body output`;
      // A condition that starts true and that the body keeps true (its output is known true when
      // its input is) is true in every iteration; otherwise the body is inferred without knowing it.
      const startsTrue = !ctx.node.inputs[1] || scalarOf(condIn) === 1;
      let r = fixedPoint(ctx, body, { before: [SCALAR_INT64, { dtype: 'bool', shape: [], data: startsTrue ? [1] : undefined }], initial, after: [], outOffset: 1 }, what);
      const runsAll = startsTrue && scalarOf(r.outs[0]) === 1;
      if (startsTrue && !runsAll) r = fixedPoint(ctx, body, { before: [SCALAR_INT64, { dtype: 'bool', shape: [] }], initial, after: [], outOffset: 1 }, what);
      const { carried, outs } = r;
      // the scan outputs have one entry per iteration: a known count when the condition cannot stop the loop
      const iterations: Dim = ctx.node.inputs[0] && tripCount !== undefined && runsAll ? tripCount : null;
      const scans = outs.slice(n + 1).map((t) => ({ dtype: t.dtype, shape: t.shape && [iterations, ...t.shape] }));
      return [...carried.map((c) => ({ dtype: c.dtype, shape: c.shape, kind: c.kind })), ...scans];
    },
  }),

  Scan: defineOpDef<ScanAttrs>({
    opType: 'Scan',
    domain: '',
    layout: 'shape',
    attrs: parseScan,
    infer(ctx) {
      const a = ctx.attrs;
      const { n, m, k } = scanCounts(ctx.node, a);
      const first = a.batched ? 1 : 0;
      const states = ctx.inputs.slice(first, first + n).map((v) => v ?? {});
      const scanned = ctx.inputs.slice(first + n, first + n + m).map((v) => v ?? {});
      let batch: Dim = null;
      let length: Dim = null;
      const what = () => 'Scan inputs: their sequence lengths';
      const slices: ValueType[] = scanned.map((v, j) => {
        if (!v.shape) return { dtype: v.dtype };
        if (a.batched) {
          if (v.shape.length < 2) throw new ShapeError(`Scan (opset 8) scan input ${j} ${fmtShape(v.shape)} needs rank >= 2 (batch, sequence)`);
          batch = mergeDim(batch, v.shape[0]!, 'Scan inputs: their batch sizes');
          length = mergeDim(length, v.shape[1]!, what);
          return { dtype: v.dtype, shape: v.shape.slice(2) };
        }
        const axis = normAxis(a.inputAxes[j]!, v.shape.length, 'Scan scan_input_axes');
        length = mergeDim(length, v.shape[axis]!, what);
        return { dtype: v.dtype, shape: v.shape.filter((_, i) => i !== axis) };
      });
      const perBatch = states.map((v) => (a.batched && v.shape ? { dtype: v.dtype, shape: v.shape.slice(1) } : v));
      const { carried, outs } = fixedPoint(ctx, a.body, { before: [], initial: perBatch, after: slices, outOffset: 0 }, (i) => `Scan state ${i}: initial value and body output`);
      const stateOuts = carried.map((c, i) => (a.batched ? { dtype: c.dtype, shape: c.shape && [states[i]!.shape?.[0] ?? batch, ...c.shape] } : { dtype: c.dtype, shape: c.shape }));
      const scanOuts = outs.slice(n, n + k).map((t, j) => {
        if (!t.shape) return { dtype: t.dtype };
        if (a.batched) return { dtype: t.dtype, shape: [batch, length, ...t.shape] };
        const axis = normAxis(a.outputAxes[j]!, t.shape.length + 1, 'Scan scan_output_axes');
        const shape = [...t.shape];
        shape.splice(axis, 0, length);
        return { dtype: t.dtype, shape };
      });
      return [...stateOuts, ...scanOuts];
    },
  }),
};
