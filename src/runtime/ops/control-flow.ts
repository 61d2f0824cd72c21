// If, Loop and Scan: their bodies run on the executor itself (OpContext.runSubgraph), which gives
// them the values of the graphs around the node; here only the iteration: feeding each body run,
// carrying values from one iteration to the next and stacking the per-iteration scan outputs.
import { checkAllocation, checkLoopIteration } from '../../ir/budget.js';
import { ShapeError, UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { controlFlowDefs, scanCounts, type IfAttrs, type LoopAttrs, type ScanAttrs } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, driveKernel, type OpContext, type OpTable, type SubgraphRunner } from '../op.js';
import { need, normAxis, readInts, readScalar } from './args.js';
import { concat, gather } from './shape.js';

type Run = Generator<Promise<unknown>, Tensor[], unknown>;

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function runnerOf(ctx: OpContext): SubgraphRunner {
  if (!ctx.runSubgraph) throw new UsageError(`${ctx.node.opType} runs subgraphs: run its graph with the executor (runGraph), not its kernel alone`);
  return ctx.runSubgraph;
}

const boolScalar = (v: boolean): Tensor => new Tensor('bool', [], Uint8Array.of(v ? 1 : 0));

function required(t: Tensor | undefined, what: string): Tensor {
  if (!t) throw new ShapeError(`${what} is missing`);
  return t;
}

/** The per-iteration values of a scan output stacked along a new axis `axis` (of the result's rank). */
function stack(ts: readonly Tensor[], axis: number, what: string): Tensor {
  const first = ts[0]!;
  for (const t of ts) {
    if (t.dtype !== first.dtype || t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new ShapeError(`${what}: one iteration gives ${first.dtype} ${fmt(first.shape)}, another ${t.dtype} ${fmt(t.shape)}; a scan output keeps its shape`);
    }
  }
  const ax = normAxis(axis, first.rank + 1, `${what}: axis`);
  const one = [...first.shape];
  one.splice(ax, 0, 1);
  return concat(
    ts.map((t) => t.reshape(one)),
    ax,
  );
}

/** A scan output of no iterations: its body output's declared shape with a 0 at `axis`. */
function noIterations(body: Graph, index: number, axis: number, what: string): Tensor {
  const v = body.outputs[index]!;
  if (!v.shape || v.shape.some((d) => typeof d !== 'number')) {
    throw new UnsupportedError(`${what} of zero iterations`, `the body declares output '${v.name}' without a fixed shape, so the empty result's shape is unknown`);
  }
  const shape = [...(v.shape as number[])];
  shape.splice(normAxis(axis, shape.length + 1, `${what}: axis`), 0, 0);
  return Tensor.zeros(v.dtype, shape);
}

function* runIf(inputs: ReadonlyArray<Tensor | undefined>, a: IfAttrs, ctx: OpContext): Run {
  const cond = need(inputs, 0, 'cond');
  const branch = readScalar(cond, 'If cond') ? a.thenBranch : a.elseBranch;
  const outs = yield* runnerOf(ctx)(branch, []);
  if (outs.length < ctx.node.outputs.length) throw new ShapeError(`If: the branch taken gives ${outs.length} outputs, the node has ${ctx.node.outputs.length}`);
  return outs;
}

function* runLoop(inputs: ReadonlyArray<Tensor | undefined>, a: LoopAttrs, ctx: OpContext): Run {
  const run = runnerOf(ctx);
  const n = inputs.length - 2;
  const k = a.body.outputs.length - 1 - n;
  // an absent trip count or condition: the loop runs until the other stops it
  const tripCount = inputs[0] ? readInts(inputs[0], 'Loop M')[0] : undefined;
  if (inputs[0] && inputs[0].size !== 1) throw new ShapeError(`Loop M must have one element, got ${fmt(inputs[0].shape)}`);
  let cond = inputs[1] ? readScalar(inputs[1], 'Loop cond') !== 0 : true;
  let carried = inputs.slice(2).map((t, i) => required(t, `Loop carried value ${i}`));
  const scans: Tensor[][] = Array.from({ length: k }, () => []);
  // the trip count and the condition come from the file and its data: iterations are bounded, and
  // each stacked scan output is checked as it grows, before it is held
  const scanBytes = new Array<number>(k).fill(0);
  const who = ctx.node.name ? `Loop '${ctx.node.name}'` : 'a Loop';
  for (let i = 0; cond && (tripCount === undefined || i < tripCount); i++) {
    checkLoopIteration(i, who);
    const outs = yield* run(a.body, [Tensor.int64([], [i]), boolScalar(cond), ...carried]);
    cond = readScalar(outs[0]!, 'Loop body cond output') !== 0;
    carried = outs.slice(1, 1 + n);
    for (let j = 0; j < k; j++) {
      const t = outs[1 + n + j]!;
      scanBytes[j]! += t.byteLength;
      checkAllocation(scanBytes[j]!, 1, `${who} scan output ${j} after ${i + 1} iterations`);
      scans[j]!.push(t);
    }
  }
  return [...carried, ...scans.map((s, j) => (s.length ? stack(s, 0, `Loop scan output ${j}`) : noIterations(a.body, 1 + n + j, 0, `Loop scan output ${j}`)))];
}

/** Scan as opset 9 defines it (no batch axis): states and scanned inputs of one sequence. */
function* scanSequence(run: SubgraphRunner, a: ScanAttrs, initial: Tensor[], scanned: Tensor[], k: number): Run {
  const axes = scanned.map((x, j) => normAxis(a.inputAxes[j]!, x.rank, `Scan scan_input_axes[${j}]`));
  const length = scanned[0]!.shape[axes[0]!]!;
  scanned.forEach((x, j) => {
    if (x.shape[axes[j]!] !== length) throw new ShapeError(`Scan: scan input ${j} ${fmt(x.shape)} has ${x.shape[axes[j]!]} steps along axis ${axes[j]}, scan input 0 ${length}`);
  });
  let states = initial;
  const outs: Tensor[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < length; t++) {
    const slices = scanned.map((x, j) => gather(x, Tensor.int64([], [a.inputDirections[j] ? length - 1 - t : t]), axes[j]!));
    const r = yield* run(a.body, [...states, ...slices]);
    states = r.slice(0, initial.length);
    for (let j = 0; j < k; j++) outs[j]!.push(r[initial.length + j]!);
  }
  const stacked = outs.map((list, j) => {
    if (!list.length) return noIterations(a.body, initial.length + j, a.outputAxes[j]!, `Scan scan output ${j}`);
    return stack(a.outputDirections[j] ? [...list].reverse() : list, a.outputAxes[j]!, `Scan scan output ${j}`);
  });
  return [...states, ...stacked];
}

function* runScan(inputs: ReadonlyArray<Tensor | undefined>, a: ScanAttrs, ctx: OpContext): Run {
  const run = runnerOf(ctx);
  const { n, m, k } = scanCounts(ctx.node, a);
  const first = a.batched ? 1 : 0;
  const states = inputs.slice(first, first + n).map((t, i) => required(t, `Scan state ${i}`));
  const scanned = inputs.slice(first + n, first + n + m).map((t, j) => required(t, `Scan scan input ${j}`));
  if (!a.batched) return yield* scanSequence(run, a, states, scanned, k);
  // opset 8: axis 0 of every input and output is a batch of independent sequences
  const batch = scanned[0]!.shape[0];
  for (const [i, x] of [...states, ...scanned].entries()) {
    if (x.rank < 1 || x.shape[0] !== batch) throw new ShapeError(`Scan (opset 8): input ${i} ${fmt(x.shape)} does not have the batch size ${batch ?? '?'} of scan input 0`);
  }
  for (const [j, x] of scanned.entries()) if (x.rank < 2) throw new ShapeError(`Scan (opset 8): scan input ${j} ${fmt(x.shape)} needs a batch and a sequence axis`);
  const length = scanned[0]!.shape[1]!;
  if (inputs[0] && readInts(inputs[0], 'Scan sequence_lens').some((l) => l !== length)) {
    throw new UnsupportedError('Scan (opset 8) sequence_lens shorter than the sequence', `a batch of sequences of one length (${length}) only`);
  }
  const results: Tensor[][] = [];
  for (let b = 0; b < batch!; b++) {
    const at = Tensor.int64([], [b]);
    results.push(yield* scanSequence(run, a, states.map((x) => gather(x, at, 0)), scanned.map((x) => gather(x, at, 0)), k));
  }
  if (!results.length) throw new UnsupportedError('Scan (opset 8) of a batch of zero sequences');
  return results[0]!.map((_, i) => stack(results.map((r) => r[i]!), 0, `Scan output ${i}`));
}

export const controlFlowOps: OpTable = {
  If: defineOp<IfAttrs>({ attrs: controlFlowDefs.If!.attrs, run: (inputs, a, ctx) => driveKernel(runIf(inputs, a, ctx)) }),
  Loop: defineOp<LoopAttrs>({ attrs: controlFlowDefs.Loop!.attrs, run: (inputs, a, ctx) => driveKernel(runLoop(inputs, a, ctx)) }),
  Scan: defineOp<ScanAttrs>({ attrs: controlFlowDefs.Scan!.attrs, run: (inputs, a, ctx) => driveKernel(runScan(inputs, a, ctx)) }),
};
