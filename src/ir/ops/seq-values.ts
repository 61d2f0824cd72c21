// Sequence and optional values (opsets 11-18): SequenceConstruct / Empty / Insert / Erase / At /
// Length, SplitToSequence, ConcatFromSequence, SequenceMap, Optional, OptionalHasElement,
// OptionalGetElement. A sequence's ValueType is its tensors' dtype and the shape they share
// (unknown dims where they differ) with kind 'sequence'; an optional's likewise. How many
// tensors a sequence holds is not tracked here: passes/resolve-sequences.ts works it out from
// the graph when it can.
import type { DType } from '../dtypes.js';
import { ShapeError } from '../errors.js';
import { KIND_WORDS } from '../seq-values.js';
import { attrInt, type Attr, type Dim, type Graph, type Node, type ValueKind } from '../graph.js';
import { dtypeFromOnnxEnum } from './cast.js';
import { defineOpDef, fmtShape, input, intsOf, normAxis, scalarOf, type InferContext, type OpDefTable, type ValueType } from './op-def.js';

export interface SequenceEmptyAttrs {
  dtype: DType;
}

export interface SplitToSequenceAttrs {
  axis: number;
  keepDims: boolean;
}

export interface ConcatFromSequenceAttrs {
  axis: number;
  newAxis: boolean;
}

export interface OptionalAttrs {
  /** the `type` attribute: what an empty optional holds */
  type?: Extract<Attr, { type: 'type' }>['value'];
}

export interface SequenceMapAttrs {
  body: Graph;
}


/** Ops that take sequences or optionals as inputs; any other op given one is a ShapeError. */
const TAKES_CONTAINERS = new Set(['Identity', 'Loop', 'If', 'SequenceConstruct', 'SequenceEmpty', 'SequenceInsert', 'SequenceErase', 'SequenceAt', 'SequenceLength', 'SplitToSequence', 'ConcatFromSequence', 'SequenceMap', 'Optional', 'OptionalHasElement', 'OptionalGetElement']);

/** A node of an op that takes tensors only, given a sequence or an optional (known from inference): which input. */
export function checkValueKinds(node: Node, inputs: ReadonlyArray<ValueType | undefined>): void {
  if ((node.domain && node.domain !== 'ai.onnx') || TAKES_CONTAINERS.has(node.opType)) return;
  inputs.forEach((v, i) => {
    if (v?.kind) throw new ShapeError(`${node.opType} input ${i} '${node.inputs[i]}' is ${KIND_WORDS[v.kind]}; the op takes tensors`);
  });
}

/** Input `i` must be of `kind` (when inference knows its kind). */
function expectKind(ctx: InferContext<unknown>, i: number, kinds: ReadonlyArray<ValueKind | 'tensor'>, what: string): ValueType {
  const v = input(ctx, i, what);
  const k = v.kind ?? 'tensor';
  // a value with no dtype either is unknown (an op nnport does not define made it): not checked
  if ((v.kind || v.dtype) && !kinds.includes(k)) throw new ShapeError(`${ctx.node.opType} ${what} is ${KIND_WORDS[k]}, expected ${kinds.map((x) => KIND_WORDS[x]).join(' or ')}`);
  return v;
}

/** The shape two tensors of a sequence share: a dim where they differ is unknown; ranks that differ leave the shape unknown. */
export function commonShape(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  return a.map((d, i) => (d === b[i] ? d : null));
}

function sameDType(ctx: InferContext<unknown>, a: ValueType, b: ValueType, what: string): void {
  if (a.dtype && b.dtype && a.dtype !== b.dtype) throw new ShapeError(`${ctx.node.opType}: ${what}: ${a.dtype} and ${b.dtype} differ`);
}

const seq = (dtype: ValueType['dtype'], shape: Dim[] | undefined): ValueType => ({ dtype, shape, kind: 'sequence' });

function graphAttr(node: Node, name: string): Graph {
  const a = node.attrs[name];
  if (!a) throw new ShapeError(`${node.opType} has no '${name}' attribute`);
  if (a.type !== 'graph') throw new ShapeError(`${node.opType}: attribute '${name}' is ${a.type}, expected graph`);
  return a.value;
}

/** The length of each piece SplitToSequence makes along an axis of `dim`, from its split input (when known). */
function splitPieceDim(dim: Dim, split: ValueType | undefined): Dim {
  if (!split) return 1;
  const one = split.shape?.length === 0 ? scalarOf(split) : undefined;
  if (one !== undefined) return typeof dim === 'number' && dim % one === 0 ? one : null;
  const sizes = intsOf(split);
  return sizes && sizes.length && sizes.every((s) => s === sizes[0]) ? sizes[0]! : null;
}

export const seqValueDefs = {
  SequenceEmpty: defineOpDef<SequenceEmptyAttrs>({
    opType: 'SequenceEmpty',
    domain: '',
    layout: 'source',
    attrs: (node) => ({ dtype: dtypeFromOnnxEnum(attrInt(node, 'dtype', 1)) }),
    infer: (ctx) => [seq(ctx.attrs.dtype, undefined)],
  }),
  SequenceConstruct: defineOpDef({
    opType: 'SequenceConstruct',
    domain: '',
    layout: 'shape',
    attrs: (node) => {
      if (!node.inputs.length || node.inputs.some((v) => !v)) throw new ShapeError('SequenceConstruct needs at least one input, none omitted');
      return {};
    },
    infer: (ctx) => {
      const ins = ctx.inputs.map((_, i) => expectKind(ctx, i, ['tensor'], `input ${i}`));
      const first = ins[0]!;
      let shape = first.shape && [...first.shape];
      ins.forEach((v, i) => {
        sameDType(ctx, first, v, `inputs 0 and ${i}`);
        shape = commonShape(shape, v.shape);
      });
      return [seq(ins.find((v) => v.dtype)?.dtype, shape)];
    },
  }),
  SequenceInsert: defineOpDef({
    opType: 'SequenceInsert',
    domain: '',
    layout: 'shape',
    attrs: () => ({}),
    infer: (ctx) => {
      const s = expectKind(ctx, 0, ['sequence'], 'input_sequence');
      const t = expectKind(ctx, 1, ['tensor'], 'tensor');
      sameDType(ctx, s, t, 'the sequence and the tensor');
      if (ctx.inputs[2]) expectKind(ctx, 2, ['tensor'], 'position');
      return [seq(s.dtype ?? t.dtype, commonShape(s.shape, t.shape))];
    },
  }),
  SequenceErase: defineOpDef({
    opType: 'SequenceErase',
    domain: '',
    layout: 'shape',
    attrs: () => ({}),
    infer: (ctx) => {
      const s = expectKind(ctx, 0, ['sequence'], 'input_sequence');
      return [seq(s.dtype, s.shape && [...s.shape])];
    },
  }),
  SequenceAt: defineOpDef({
    opType: 'SequenceAt',
    domain: '',
    layout: 'shape',
    attrs: () => ({}),
    infer: (ctx) => {
      const s = expectKind(ctx, 0, ['sequence'], 'input_sequence');
      const p = expectKind(ctx, 1, ['tensor'], 'position');
      if (p.dtype && p.dtype !== 'int32' && p.dtype !== 'int64') throw new ShapeError(`SequenceAt position must be int32 or int64, got ${p.dtype}`);
      return [{ dtype: s.dtype, shape: s.shape && [...s.shape] }];
    },
  }),
  SequenceLength: defineOpDef({
    opType: 'SequenceLength',
    domain: '',
    layout: 'shape',
    attrs: () => ({}),
    infer: (ctx) => {
      expectKind(ctx, 0, ['sequence'], 'input_sequence');
      return [{ dtype: 'int64', shape: [] }];
    },
  }),
  SplitToSequence: defineOpDef<SplitToSequenceAttrs>({
    opType: 'SplitToSequence',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0), keepDims: attrInt(node, 'keepdims', 1) !== 0 }),
    infer: (ctx) => {
      const x = expectKind(ctx, 0, ['tensor'], 'input');
      const split = ctx.node.inputs[1] ? expectKind(ctx, 1, ['tensor'], 'split') : undefined;
      if (split?.dtype && split.dtype !== 'int32' && split.dtype !== 'int64') throw new ShapeError(`SplitToSequence split must be int32 or int64, got ${split.dtype}`);
      if (split?.shape && split.shape.length > 1) throw new ShapeError(`SplitToSequence split must be a scalar or 1-D, got ${fmtShape(split.shape)}`);
      if (!x.shape) return [seq(x.dtype, undefined)];
      const axis = normAxis(ctx.attrs.axis, x.shape.length, 'SplitToSequence axis');
      // pieces of 1 (no split, or a scalar 1 as onnxruntime takes PyTorch's unbind), squeezed unless keepdims
      if (!ctx.attrs.keepDims && (!split || (split.shape?.length === 0 && scalarOf(split) === 1))) return [seq(x.dtype, x.shape.filter((_, i) => i !== axis))];
      if (!ctx.attrs.keepDims && split?.shape?.length === 0 && scalarOf(split) === undefined) return [seq(x.dtype, undefined)];
      return [seq(x.dtype, x.shape.map((d, i) => (i === axis ? splitPieceDim(d, split) : d)))];
    },
  }),
  ConcatFromSequence: defineOpDef<ConcatFromSequenceAttrs>({
    opType: 'ConcatFromSequence',
    domain: '',
    layout: 'axis',
    attrs: (node) => {
      const axis = attrInt(node, 'axis');
      if (axis === undefined) throw new ShapeError('ConcatFromSequence needs an axis attribute');
      const newAxis = attrInt(node, 'new_axis', 0);
      if (newAxis !== 0 && newAxis !== 1) throw new ShapeError(`ConcatFromSequence new_axis must be 0 or 1, got ${newAxis}`);
      return { axis, newAxis: newAxis === 1 };
    },
    infer: (ctx) => {
      const s = expectKind(ctx, 0, ['sequence'], 'input_sequence');
      if (!s.shape) return [{ dtype: s.dtype }];
      const rank = s.shape.length + (ctx.attrs.newAxis ? 1 : 0);
      const axis = normAxis(ctx.attrs.axis, rank, 'ConcatFromSequence axis');
      // how many tensors the sequence holds is data: the concatenated dim is unknown
      if (ctx.attrs.newAxis) return [{ dtype: s.dtype, shape: [...s.shape.slice(0, axis), null, ...s.shape.slice(axis)] }];
      return [{ dtype: s.dtype, shape: s.shape.map((d, i) => (i === axis ? null : d)) }];
    },
  }),
  SequenceMap: defineOpDef<SequenceMapAttrs>({
    opType: 'SequenceMap',
    domain: '',
    layout: 'shape',
    attrs: (node) => {
      const body = graphAttr(node, 'body');
      if (!node.inputs[0]) throw new ShapeError('SequenceMap needs input_sequence');
      if (body.inputs.length !== node.inputs.length) throw new ShapeError(`SequenceMap body takes ${body.inputs.length} inputs, the node gives ${node.inputs.length}`);
      if (body.outputs.length !== node.outputs.length) throw new ShapeError(`SequenceMap body has ${body.outputs.length} outputs, the node ${node.outputs.length}`);
      return { body };
    },
    infer: (ctx) => {
      expectKind(ctx, 0, ['sequence'], 'input_sequence');
      // the body sees one tensor of each sequence input at a time, and the tensor inputs whole
      const ins = ctx.inputs.map((v, i) => (i === 0 || v?.kind === 'sequence' ? { dtype: v?.dtype, shape: v?.shape } : v));
      const outs = ctx.inferSubgraph ? ctx.inferSubgraph(ctx.attrs.body, ins) : ctx.attrs.body.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape && [...o.shape] }));
      return outs.map((o) => seq(o.dtype, o.shape && [...o.shape]));
    },
  }),
  Optional: defineOpDef<OptionalAttrs>({
    opType: 'Optional',
    domain: '',
    layout: 'shape',
    attrs: (node) => {
      const a = node.attrs.type;
      if (a && a.type !== 'type') throw new ShapeError(`Optional: attribute 'type' is ${a.type}, expected a type`);
      if (!node.inputs[0] && !a) throw new ShapeError('Optional without an input needs the type attribute');
      if (a && a.value.kind && a.value.kind !== 'sequence') throw new ShapeError('Optional type must be a tensor or a sequence');
      return { type: a?.value };
    },
    infer: (ctx) => {
      const x = ctx.node.inputs[0] ? expectKind(ctx, 0, ['tensor', 'sequence'], 'input') : undefined;
      const t = ctx.attrs.type;
      const isSeq = x ? x.kind === 'sequence' : t!.kind === 'sequence';
      return [{ dtype: x?.dtype ?? t?.dtype, shape: x ? x.shape && [...x.shape] : t?.shape && [...t.shape], kind: isSeq ? 'optional-sequence' : 'optional' }];
    },
  }),
  OptionalHasElement: defineOpDef({
    opType: 'OptionalHasElement',
    domain: '',
    layout: 'shape',
    attrs: (node, opset) => {
      if (opset < 18 && !node.inputs[0]) throw new ShapeError('OptionalHasElement needs its input before opset 18');
      return {};
    },
    // a tensor or a sequence too (opset 18; and a Loop's carried optional is its body's sequence output after one iteration)
    infer: (ctx) => {
      if (ctx.node.inputs[0]) expectKind(ctx, 0, ['optional', 'optional-sequence', 'tensor', 'sequence'], 'input');
      return [{ dtype: 'bool', shape: [] }];
    },
  }),
  OptionalGetElement: defineOpDef({
    opType: 'OptionalGetElement',
    domain: '',
    layout: 'shape',
    attrs: () => ({}),
    infer: (ctx) => {
      const x = expectKind(ctx, 0, ['optional', 'optional-sequence', 'tensor', 'sequence'], 'input');
      const kind = x.kind === 'optional-sequence' || x.kind === 'sequence' ? 'sequence' : undefined;
      return [{ dtype: x.dtype, shape: x.shape && [...x.shape], kind }];
    },
  }),
} satisfies OpDefTable;
