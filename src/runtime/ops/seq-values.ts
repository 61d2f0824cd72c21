// Sequence and optional values on the runtime (ir/seq-values.ts holds the values, ir/ops/seq-values.ts
// defines the ops). A sequence keeps the tensors put in it: one whose memory the executor may
// give back for reuse (wasm/host-buffers.ts) is copied in first, so that freeing the value it
// came from cannot change it.
import { checkAllocation } from '../../ir/budget.js';
import { ShapeError, UsageError } from '../../ir/errors.js';
import { seqValueDefs, type ConcatFromSequenceAttrs, type OptionalAttrs, type SequenceEmptyAttrs, type SequenceMapAttrs, type SplitToSequenceAttrs } from '../../ir/ops/index.js';
import { describeValue, OptionalValue, TensorSequence } from '../../ir/seq-values.js';
import { Tensor } from '../../ir/tensor.js';
import { ownedBuffer } from '../../wasm/host-buffers.js';
import { defineOp, driveKernel, type OpContext, type OpTable } from '../op.js';
import { need, normAxis, readInts } from './args.js';
import { concat, split } from './shape.js';

/** `t` as a sequence may keep it: a copy when its memory is the executor's to reuse. */
function kept(t: Tensor, what: string): Tensor {
  if (t instanceof TensorSequence || t instanceof OptionalValue) throw new ShapeError(`${what} is ${describeValue(t)}, expected a tensor`);
  if (!ownedBuffer(t.deferred?.source ?? t.data)) return t;
  // a deferred permutation's data is a fresh array of its own
  return t.deferred ? new Tensor(t.dtype, t.shape, t.data) : new Tensor(t.dtype, t.shape, (t.data as Float32Array).slice());
}

function sequenceIn(inputs: ReadonlyArray<Tensor | undefined>, i: number, what: string): TensorSequence {
  const t = need(inputs, i, what);
  if (!(t instanceof TensorSequence)) throw new ShapeError(`${what} is ${describeValue(t)}, expected a sequence`);
  return t;
}

function tensorIn(inputs: ReadonlyArray<Tensor | undefined>, i: number, what: string): Tensor {
  const t = need(inputs, i, what);
  if (t instanceof TensorSequence || t instanceof OptionalValue) throw new ShapeError(`${what} is ${describeValue(t)}, expected a tensor`);
  return t;
}

/**
 * A position in a sequence of `n` tensors from a one-element integer tensor, made non-negative:
 * in [-n, n - 1], or [-n, n] where `end` (an insertion may append).
 */
function positionIn(t: Tensor, n: number, what: string, end: boolean): number {
  if (t.dtype !== 'int32' && t.dtype !== 'int64') throw new ShapeError(`${what} must be int32 or int64, got ${t.dtype}`);
  if (t.size !== 1) throw new ShapeError(`${what} must be a scalar, got shape [${t.shape.join(', ')}]`);
  const p = readInts(t, what)[0]!;
  const hi = end ? n : n - 1;
  if (p < -n || p > hi) throw new ShapeError(`${what} ${p} is out of range for a sequence of ${n} tensor${n === 1 ? '' : 's'} (allowed: ${-n} to ${hi})`);
  return p < 0 ? p + n : p;
}

/** SplitToSequence's piece lengths along a dim of `dim` from its split input. */
function splitSizes(split: Tensor, dim: number): number[] {
  if (split.dtype !== 'int32' && split.dtype !== 'int64') throw new ShapeError(`SplitToSequence split must be int32 or int64, got ${split.dtype}`);
  if (split.rank > 1) throw new ShapeError(`SplitToSequence split must be a scalar or 1-D, got shape [${split.shape.join(', ')}]`);
  const v = readInts(split, 'SplitToSequence split');
  if (split.rank === 0) {
    // one length: pieces of it, the last one shorter when it does not divide the dim
    const s = v[0]!;
    if (!(s > 0)) throw new ShapeError(`SplitToSequence split ${s} must be positive`);
    const n = Math.ceil(dim / s);
    checkAllocation(n, 64, `SplitToSequence: a sequence of ${n} pieces`);
    return Array.from({ length: n }, (_, i) => Math.min(s, dim - i * s));
  }
  const bad = v.findIndex((s) => s < 0);
  if (bad >= 0) throw new ShapeError(`SplitToSequence split[${bad}] ${v[bad]} is negative`);
  const sum = v.reduce((a, b) => a + b, 0);
  if (sum !== dim) throw new ShapeError(`SplitToSequence split [${v.length > 16 ? `${v.slice(0, 16).join(', ')}, ...` : v.join(', ')}] sums to ${sum}, the dim split is ${dim}`);
  return v;
}

/**
 * Whether SplitToSequence drops the split axis: keepdims 0 without a split, or (as onnxruntime
 * does; PyTorch exports torch.unbind so) with a scalar split of 1.
 */
function squeezesPieces(a: SplitToSequenceAttrs, split: Tensor | undefined): boolean {
  return !a.keepDims && (!split || (split.rank === 0 && readInts(split, 'SplitToSequence split')[0] === 1));
}

function* runSequenceMap(inputs: ReadonlyArray<Tensor | undefined>, a: SequenceMapAttrs, ctx: OpContext): Generator<Promise<unknown>, Tensor[], unknown> {
  if (!ctx.runSubgraph) throw new UsageError('SequenceMap runs a subgraph: run its graph with the executor (runGraph), not its kernel alone');
  const first = sequenceIn(inputs, 0, 'SequenceMap input_sequence');
  const n = first.length;
  inputs.forEach((t, i) => {
    if (!t) throw new ShapeError(`SequenceMap input ${i} is missing`);
    if (t instanceof OptionalValue) throw new ShapeError(`SequenceMap input ${i} is ${describeValue(t)}; it takes sequences and tensors`);
    if (t instanceof TensorSequence && t.length !== n) throw new ShapeError(`SequenceMap input ${i} holds ${t.length} tensors, input_sequence ${n}`);
  });
  const outs: Tensor[][] = a.body.outputs.map(() => []);
  for (let i = 0; i < n; i++) {
    const r = yield* ctx.runSubgraph(
      a.body,
      inputs.map((t) => (t instanceof TensorSequence ? t.at(i) : t!)),
    );
    r.forEach((t, j) => outs[j]!.push(kept(t, `SequenceMap body output ${j}`)));
  }
  return outs.map((ts, j) => new TensorSequence(ts[0]?.dtype ?? a.body.outputs[j]!.dtype, ts));
}

export const seqValueOps: OpTable = {
  SequenceEmpty: defineOp<SequenceEmptyAttrs>({ attrs: seqValueDefs.SequenceEmpty.attrs, run: (_, a) => [new TensorSequence(a.dtype, [])] }),
  SequenceConstruct: defineOp({
    attrs: seqValueDefs.SequenceConstruct.attrs,
    run: (inputs) => {
      const ts = inputs.map((t, i) => kept(tensorIn(inputs, i, `SequenceConstruct input ${i}`), `SequenceConstruct input ${i}`));
      return [new TensorSequence(ts[0]!.dtype, ts)];
    },
  }),
  SequenceInsert: defineOp({
    attrs: seqValueDefs.SequenceInsert.attrs,
    run: (inputs) => {
      const s = sequenceIn(inputs, 0, 'SequenceInsert input_sequence');
      const t = kept(tensorIn(inputs, 1, 'SequenceInsert tensor'), 'SequenceInsert tensor');
      if (t.dtype !== s.dtype) throw new ShapeError(`SequenceInsert: a ${t.dtype} tensor into a sequence of ${s.dtype}`);
      const n = s.length;
      const p = inputs[2] ? positionIn(inputs[2], n, 'SequenceInsert position', true) : n;
      if (p === n) return [s.appended(t)];
      return [new TensorSequence(s.dtype, [...s.elements.slice(0, p), t, ...s.elements.slice(p)])];
    },
  }),
  SequenceErase: defineOp({
    attrs: seqValueDefs.SequenceErase.attrs,
    run: (inputs) => {
      const s = sequenceIn(inputs, 0, 'SequenceErase input_sequence');
      const n = s.length;
      if (!n) throw new ShapeError('SequenceErase: the sequence is empty');
      const p = inputs[1] ? positionIn(inputs[1], n, 'SequenceErase position', false) : n - 1;
      return [new TensorSequence(s.dtype, s.elements.filter((_, i) => i !== p))];
    },
  }),
  SequenceAt: defineOp({
    attrs: seqValueDefs.SequenceAt.attrs,
    run: (inputs) => {
      const s = sequenceIn(inputs, 0, 'SequenceAt input_sequence');
      return [s.at(positionIn(need(inputs, 1, 'position'), s.length, 'SequenceAt position', false))];
    },
  }),
  SequenceLength: defineOp({ attrs: seqValueDefs.SequenceLength.attrs, run: (inputs) => [Tensor.int64([], [sequenceIn(inputs, 0, 'SequenceLength input_sequence').length])] }),
  SplitToSequence: defineOp<SplitToSequenceAttrs>({
    attrs: seqValueDefs.SplitToSequence.attrs,
    run: (inputs, a) => {
      const x = tensorIn(inputs, 0, 'SplitToSequence input');
      if (x.rank === 0) throw new ShapeError('SplitToSequence input must have rank >= 1');
      const axis = normAxis(a.axis, x.rank, 'SplitToSequence axis');
      const dim = x.shape[axis]!;
      const sizes = inputs[1] ? splitSizes(inputs[1], dim) : new Array<number>(dim).fill(1);
      if (!inputs[1]) checkAllocation(dim, 64, `SplitToSequence: a sequence of ${dim} pieces`);
      const pieces = split(x, axis, sizes);
      return [new TensorSequence(x.dtype, squeezesPieces(a, inputs[1]) ? pieces.map((t) => t.reshape(t.shape.filter((_, i) => i !== axis))) : pieces)];
    },
  }),
  ConcatFromSequence: defineOp<ConcatFromSequenceAttrs>({
    attrs: seqValueDefs.ConcatFromSequence.attrs,
    run: (inputs, a) => {
      const s = sequenceIn(inputs, 0, 'ConcatFromSequence input_sequence');
      if (!s.elements.length) throw new ShapeError('ConcatFromSequence: the sequence is empty');
      const first = s.elements[0]!;
      if (!a.newAxis) return [concat(s.elements, normAxis(a.axis, first.rank, 'ConcatFromSequence axis'))];
      // new_axis: stacked along a new axis, which may be the last (axis in [-r - 1, r])
      const axis = normAxis(a.axis, first.rank + 1, 'ConcatFromSequence axis');
      const withAxis = (t: Tensor) => {
        if (t.rank !== first.rank) throw new ShapeError(`ConcatFromSequence (new_axis): tensors of shapes [${first.shape.join(', ')}] and [${t.shape.join(', ')}] differ`);
        return t.reshape([...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)]);
      };
      return [concat(s.elements.map(withAxis), axis)];
    },
  }),
  SequenceMap: defineOp<SequenceMapAttrs>({ attrs: seqValueDefs.SequenceMap.attrs, run: (inputs, a, ctx) => driveKernel(runSequenceMap(inputs, a, ctx)) }),
  Optional: defineOp<OptionalAttrs>({
    attrs: seqValueDefs.Optional.attrs,
    run: (inputs, a) => {
      const x = inputs[0];
      if (!x) return [new OptionalValue(a.type!.dtype, undefined, a.type!.kind === 'sequence')];
      if (x instanceof OptionalValue) throw new ShapeError(`Optional input is ${describeValue(x)}, expected a tensor or a sequence`);
      return [new OptionalValue(x.dtype, x instanceof TensorSequence ? x : kept(x, 'Optional input'))];
    },
  }),
  OptionalHasElement: defineOp({
    attrs: seqValueDefs.OptionalHasElement.attrs,
    // opset 18: a tensor or a sequence has its element; an omitted input has none
    run: (inputs) => [new Tensor('bool', [], Uint8Array.of(inputs[0] && (!(inputs[0] instanceof OptionalValue) || inputs[0].value) ? 1 : 0))],
  }),
  OptionalGetElement: defineOp({
    attrs: seqValueDefs.OptionalGetElement.attrs,
    run: (inputs) => {
      const x = need(inputs, 0, 'input');
      if (!(x instanceof OptionalValue)) return [x];
      if (!x.value) throw new ShapeError(`OptionalGetElement: the ${x.describe()} holds no value`);
      return [x.value];
    },
  }),
};
