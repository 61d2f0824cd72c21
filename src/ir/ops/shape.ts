// Shape and data-movement ops: Identity, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
// Concat, Split, Slice, Shape, Size, Tile, Dropout, Constant, ConstantOfShape, Range, Pad.
// Small integer values (Shape's output and what is computed from it) are carried through,
// so the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of exported models resolve.
import type { DType } from '../dtypes.js';
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString, attrTensor, constantValue, type Dim, type Node } from '../graph.js';
import { Tensor } from '../tensor.js';
import {
  defineOpDef,
  dimMap,
  dimProduct,
  dimSum,
  fmtShape,
  input,
  intsOf,
  like,
  MAX_DATA,
  mergeDim,
  noAttrs,
  normAxes,
  normAxis,
  scalarOf,
  tensorData,
  unknownDims,
  type OpDefTable,
  type ValueType,
} from './op-def.js';

export interface ReshapeAttrs {
  allowZero: boolean;
  /** opset < 5: the target shape is an attribute */
  shape?: number[];
}
export interface AxisAttrs {
  axis: number;
}
export interface AxesAttrs {
  /** before opset 13: the axes are an attribute */
  axes?: number[];
}
export interface SplitAttrs {
  axis: number;
  split?: number[];
  numOutputs?: number;
}
export interface SliceAttrs {
  /** before opset 10: starts, ends and axes are attributes */
  starts?: number[];
  ends?: number[];
  axes?: number[];
}
export interface ShapeAttrs {
  start: number;
  end?: number;
}
export interface DropoutAttrs {
  ratio: number;
  maskBool: boolean;
}
export interface ValueAttrs {
  value: Tensor;
}
export type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';
export interface PadAttrs {
  mode: PadMode;
  /** opset < 11 */
  pads?: number[];
  value: number;
}

const PAD_MODES = new Set(['constant', 'reflect', 'edge', 'wrap']);

/** Data of the output when it stays a small vector. */
const small = (d: Dim[] | undefined): Dim[] | undefined => (d && d.length <= MAX_DATA ? d : undefined);

/** The elements of an input that gives a list of integers (axes, pads, shapes), when known. */
const listOf = (v: ValueType | undefined): Dim[] | undefined => v?.data;

/** The target shape of Reshape, resolving 0 (copy) and -1 (infer) as far as the dims allow. */
export function reshapeDims(inp: readonly Dim[] | undefined, spec: readonly Dim[], allowZero: boolean): Dim[] {
  let infer = -1;
  // the unknown dims a 0 copies: the same dim on both sides, cancelled like a shared symbol
  const copiedUnknown = new Set<number>();
  const out = spec.map((d, i): Dim => {
    if (d === 0 && !allowZero) {
      if (!inp) return null;
      if (i >= inp.length) throw new ShapeError(`Reshape: 0 at position ${i} copies a dim the input ${fmtShape(inp)} lacks`);
      if (inp[i] === null) copiedUnknown.add(i);
      return inp[i]!;
    }
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`Reshape: more than one -1 in ${fmtShape(spec)}`);
      infer = i;
      return 1;
    }
    if (typeof d === 'number' && (d < 0 || !Number.isInteger(d))) throw new ShapeError(`Reshape: invalid dim ${d} in ${fmtShape(spec)}`);
    return d;
  });
  if (!inp) {
    if (infer >= 0) out[infer] = null;
    return out;
  }
  // Cancel the symbols both sides share, then what is left must be numbers.
  const num = inp.filter((_, i) => !copiedUnknown.has(i));
  const den = out.filter((_, i) => i !== infer && !copiedUnknown.has(i));
  const rest: Dim[] = [];
  for (const d of den) {
    const j = typeof d === 'string' ? num.indexOf(d) : -1;
    if (j >= 0) num.splice(j, 1);
    else rest.push(d);
  }
  const n = dimProduct(num);
  const k = dimProduct(rest);
  if (infer >= 0) {
    if (allowZero && out.includes(0)) throw new ShapeError(`Reshape: -1 together with 0 in ${fmtShape(spec)} when allowzero=1`);
    if (typeof n === 'number' && typeof k === 'number') {
      if (k === 0 || n % k !== 0) throw new ShapeError(`Reshape: cannot infer -1 in ${fmtShape(spec)} for ${fmtShape(inp)}`);
      out[infer] = n / k;
    } else {
      out[infer] = typeof n === 'string' && k === 1 ? n : null;
    }
  } else if (typeof n === 'number' && typeof k === 'number' && n !== k) {
    throw new ShapeError(`Reshape: cannot reshape ${fmtShape(inp)} to ${fmtShape(spec)}`);
  }
  return out;
}

/** ONNX Slice's clamping of one axis: the start and the element count. */
export function sliceAxis(dim: number, start: number, end: number, step: number): [number, number] {
  if (step === 0) throw new ShapeError('Slice: step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

/** The one-element `value` tensor of ConstantOfShape (default float32 0). */
export function fillValue(node: Node): Tensor {
  const v = attrTensor(node, 'value');
  if (!v) return Tensor.float32([1], [0]);
  if (v.size !== 1) throw new ShapeError(`ConstantOfShape value must have one element, got [${v.shape.join(', ')}]`);
  return v;
}

const rankOfList = (v: ValueType): number | undefined => (typeof v.shape?.[0] === 'number' ? (v.shape[0] as number) : undefined);

export const shapeDefs = {
  Identity: defineOpDef({
    opType: 'Identity',
    domain: '',
    layout: 'elementwise',
    attrs: noAttrs,
    // a sequence or an optional passes through as it is
    infer: (ctx) => [{ ...like(input(ctx, 0, 'input')), data: ctx.inputs[0]!.data, kind: ctx.inputs[0]!.kind }],
  }),
  Reshape: defineOpDef<ReshapeAttrs>({
    opType: 'Reshape',
    domain: '',
    layout: 'shape',
    // Reshape-1's target is an attribute; a Reshape that a pass adds to an opset < 5 graph (the layout pass' NHWC -> NCHW) takes it as input 1
    attrs: (node, opset) => ({ allowZero: attrInt(node, 'allowzero', 0) !== 0, shape: opset < 5 && !node.inputs[1] ? attrInts(node, 'shape', []) : undefined }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const s = ctx.attrs.shape ? undefined : input(ctx, 1, 'shape');
      const spec = ctx.attrs.shape ?? listOf(s);
      if (!spec) return [{ dtype: x.dtype, shape: unknownDims(rankOfList(s!)) }];
      const shape = reshapeDims(x.shape, spec, ctx.attrs.allowZero);
      return [{ dtype: x.dtype, shape, data: shape.length <= 1 ? x.data : undefined }];
    },
  }),
  Flatten: defineOpDef<AxisAttrs>({
    opType: 'Flatten',
    domain: '',
    layout: 'shape',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 1) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
      const r = x.shape.length;
      const axis = ctx.attrs.axis < 0 ? ctx.attrs.axis + r : ctx.attrs.axis;
      if (axis < 0 || axis > r) throw new ShapeError(`Flatten axis ${ctx.attrs.axis} out of range for rank ${r}`);
      return [{ dtype: x.dtype, shape: [dimProduct(x.shape.slice(0, axis)), dimProduct(x.shape.slice(axis))] }];
    },
  }),
  Transpose: defineOpDef<{ perm?: number[] }>({
    opType: 'Transpose',
    domain: '',
    layout: 'shape',
    attrs: (node) => ({ perm: attrInts(node, 'perm') }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const r = x.shape?.length ?? ctx.attrs.perm?.length;
      if (r === undefined) return [{ dtype: x.dtype }];
      const p = ctx.attrs.perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      if (p.length !== r || new Set(p).size !== r || p.some((v) => v < 0 || v >= r)) throw new ShapeError(`Transpose: perm [${p.join(', ')}] is not a permutation of ${r} axes`);
      return [{ dtype: x.dtype, shape: x.shape ? p.map((a) => x.shape![a]!) : unknownDims(r) }];
    },
  }),
  Squeeze: defineOpDef<AxesAttrs>({
    opType: 'Squeeze',
    domain: '',
    layout: 'shape',
    attrs: (node, opset) => ({ axes: opset < 13 ? attrInts(node, 'axes') : undefined }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const given = ctx.attrs.axes ?? (ctx.inputs[1] ? intsOf(ctx.inputs[1]) : undefined);
      if ((!given && ctx.inputs[1]) || !x.shape) return [{ dtype: x.dtype }];
      let axes: number[];
      if (given) {
        axes = normAxes(given, x.shape.length);
        for (const a of axes) if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) throw new ShapeError(`Squeeze: dim ${a} of ${fmtShape(x.shape)} is not 1`);
      } else {
        // without axes every 1 goes: unknown when a dim may or may not be 1
        if (x.shape.some((d) => typeof d !== 'number')) return [{ dtype: x.dtype }];
        axes = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      }
      const shape = x.shape.filter((_, i) => !axes.includes(i));
      return [{ dtype: x.dtype, shape, data: shape.length <= 1 ? x.data : undefined }];
    },
  }),
  Unsqueeze: defineOpDef<AxesAttrs>({
    opType: 'Unsqueeze',
    domain: '',
    layout: 'shape',
    attrs: (node, opset) => {
      if (opset >= 13) return {};
      const axes = attrInts(node, 'axes');
      if (!axes) throw new ShapeError('Unsqueeze needs the axes attribute before opset 13');
      return { axes };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const given = ctx.attrs.axes ?? intsOf(input(ctx, 1, 'axes'));
      if (!given || !x.shape) return [{ dtype: x.dtype }];
      const rank = x.shape.length + given.length;
      const axes = normAxes(given, rank);
      const shape: Dim[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[k++]!);
      return [{ dtype: x.dtype, shape, data: shape.length <= 1 ? x.data : undefined }];
    },
  }),
  Concat: defineOpDef<AxisAttrs>({
    opType: 'Concat',
    domain: '',
    layout: 'axis',
    attrs: (node) => {
      const axis = attrInt(node, 'axis');
      if (axis === undefined) throw new ShapeError('Concat needs the axis attribute');
      return { axis };
    },
    infer: (ctx) => {
      const xs = ctx.inputs.filter((v): v is ValueType => v !== undefined);
      if (xs.length === 0) throw new ShapeError('Concat needs at least one input');
      const dtype = xs.find((v) => v.dtype)?.dtype;
      for (const v of xs) if (v.dtype && dtype && v.dtype !== dtype) throw new ShapeError(`Concat inputs must share a dtype: ${dtype} and ${v.dtype}`);
      const ranked = xs.filter((v) => v.shape);
      if (!ranked.length) return [{ dtype }];
      const r = ranked[0]!.shape!.length;
      if (r === 0) throw new ShapeError('Concat inputs must have rank >= 1');
      const axis = normAxis(ctx.attrs.axis, r);
      for (const v of ranked) if (v.shape!.length !== r) throw new ShapeError(`Concat inputs ${fmtShape(ranked[0]!.shape)} and ${fmtShape(v.shape)} differ in rank`);
      const shape = ranked[0]!.shape!.map((_, i) => {
        if (i === axis) return ranked.length === xs.length ? dimSum(xs.map((v) => v.shape![i]!)) : null;
        return ranked.reduce<Dim>((acc, v) => mergeDim(acc, v.shape![i]!, () => `Concat inputs ${fmtShape(ranked[0]!.shape)} and ${fmtShape(v.shape)} outside axis ${axis}`), null);
      });
      const data = r === 1 && xs.every((v) => v.data) ? small(xs.flatMap((v) => v.data!)) : undefined;
      return [{ dtype, shape, data }];
    },
  }),
  Split: defineOpDef<SplitAttrs>({
    opType: 'Split',
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => ({
      axis: attrInt(node, 'axis', 0),
      split: opset < 13 ? attrInts(node, 'split') : undefined,
      numOutputs: attrInt(node, 'num_outputs'),
    }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const k = ctx.node.outputs.length;
      const out = (dims: Dim[]) => dims.map((d): ValueType => {
        if (!x.shape) return { dtype: x.dtype };
        const shape = [...x.shape];
        shape[axis] = d;
        return { dtype: x.dtype, shape };
      });
      const axis = x.shape ? normAxis(ctx.attrs.axis, x.shape.length) : 0;
      const dim = x.shape?.[axis] ?? null;
      let sizes: Dim[] | undefined = ctx.attrs.split ?? (ctx.inputs[1] ? listOf(ctx.inputs[1]) ?? new Array<Dim>(k).fill(null) : undefined);
      if (!sizes) {
        const parts = ctx.attrs.numOutputs ?? k;
        if (typeof dim !== 'number') sizes = new Array<Dim>(parts).fill(null);
        else {
          if (ctx.attrs.numOutputs === undefined && dim % parts !== 0) throw new ShapeError(`Split: dim ${dim} does not divide into ${parts} equal parts`);
          // opset 18 num_outputs: ceil-sized chunks, the last one smaller
          const chunk = Math.ceil(dim / parts);
          sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
        }
      }
      if (sizes.length !== k) throw new ShapeError(`Split into ${sizes.length} parts but the node has ${k} outputs`);
      const total = dimSum(sizes);
      if (typeof total === 'number' && typeof dim === 'number' && total !== dim) throw new ShapeError(`Split sizes ${fmtShape(sizes)} do not sum to dim ${axis} of ${fmtShape(x.shape)}`);
      return out(sizes);
    },
  }),
  Slice: defineOpDef<SliceAttrs>({
    opType: 'Slice',
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => {
      if (opset >= 10) return {};
      const starts = attrInts(node, 'starts');
      const ends = attrInts(node, 'ends');
      if (!starts || !ends) throw new ShapeError('Slice needs starts and ends attributes before opset 10');
      return { starts, ends, axes: attrInts(node, 'axes') };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      if (!x.shape) return [{ dtype: x.dtype }];
      const r = x.shape.length;
      const a = ctx.attrs;
      const starts = a.starts ?? intsOf(input(ctx, 1, 'starts'));
      const ends = a.ends ?? intsOf(input(ctx, 2, 'ends'));
      const axesKnown = a.starts ? true : !ctx.inputs[3] || !!intsOf(ctx.inputs[3]);
      const axesIn = a.starts ? a.axes : ctx.inputs[3] ? intsOf(ctx.inputs[3]) : undefined;
      const stepsIn = a.starts ? undefined : ctx.inputs[4] ? intsOf(ctx.inputs[4]) : undefined;
      const stepsKnown = a.starts || !ctx.inputs[4] || !!stepsIn;
      if (!starts || !ends || !axesKnown || !stepsKnown) {
        // the sliced axes are unknown without their values; if the axes are known the rest stay
        if (axesKnown && axesIn) {
          const ax = normAxes(axesIn, r, 'Slice axes');
          return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (ax.includes(i) ? null : d)) }];
        }
        return [{ dtype: x.dtype, shape: unknownDims(r) }];
      }
      const axes = axesIn ?? starts.map((_, i) => i);
      const steps = stepsIn ?? starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
        throw new ShapeError(`Slice: starts, ends, axes and steps must have the same length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
      }
      const ax = normAxes(axes, r, 'Slice axes');
      const shape = [...x.shape];
      let data = x.data;
      ax.forEach((axis, k) => {
        const dim = shape[axis]!;
        if (steps[k] === 0) throw new ShapeError('Slice: step 0');
        if (typeof dim === 'number') {
          const [s, n] = sliceAxis(dim, starts[k]!, ends[k]!, steps[k]!);
          shape[axis] = n;
          if (data && r === 1) data = Array.from({ length: n }, (_, j) => data![s + j * steps[k]!]!);
        } else {
          // the whole of a symbolic dim: start 0, end at or past its end, step 1
          shape[axis] = starts[k] === 0 && ends[k]! >= 2147483647 && steps[k] === 1 ? dim : null;
          data = undefined;
        }
      });
      return [{ dtype: x.dtype, shape, data: r === 1 ? data : undefined }];
    },
  }),
  Shape: defineOpDef<ShapeAttrs>({
    opType: 'Shape',
    domain: '',
    layout: 'shape',
    attrs: (node) => ({ start: attrInt(node, 'start', 0), end: attrInt(node, 'end') }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      if (!x.shape) return [{ dtype: 'int64', shape: [null] }];
      const r = x.shape.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const dims = x.shape.slice(clamp(ctx.attrs.start), clamp(ctx.attrs.end ?? r));
      return [{ dtype: 'int64', shape: [dims.length], data: small(dims) }];
    },
  }),
  Size: defineOpDef({
    opType: 'Size',
    domain: '',
    layout: 'shape',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const n = x.shape ? dimProduct(x.shape) : null;
      return [{ dtype: 'int64', shape: [], data: [n] }];
    },
  }),
  Tile: defineOpDef({
    opType: 'Tile',
    domain: '',
    layout: 'shape',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const reps = listOf(input(ctx, 1, 'repeats'));
      if (!x.shape) return [{ dtype: x.dtype, shape: unknownDims(rankOfList(ctx.inputs[1]!)) }];
      if (!reps) return [{ dtype: x.dtype, shape: unknownDims(x.shape.length) }];
      if (reps.length !== x.shape.length || reps.some((v) => typeof v === 'number' && v < 0)) throw new ShapeError(`Tile repeats ${fmtShape(reps)} do not fit rank ${x.shape.length}`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (reps[i] === 1 ? d : typeof reps[i] === 'number' ? dimMap(d, (n) => n * (reps[i] as number)) : null)) }];
    },
  }),
  Dropout: defineOpDef<DropoutAttrs>({
    opType: 'Dropout',
    domain: '',
    layout: 'elementwise',
    attrs: (node, opset) => {
      if (opset < 7 && attrInt(node, 'is_test', 0) === 0) throw new UnsupportedError('Dropout training mode (is_test=0)');
      return { ratio: opset < 12 ? attrFloat(node, 'ratio', 0.5) : 0.5, maskBool: opset >= 10 };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const outs = [like(x)];
      if (ctx.node.outputs.length > 1) outs.push(like(x, ctx.attrs.maskBool ? 'bool' : undefined));
      return outs;
    },
  }),
  Constant: defineOpDef<ValueAttrs>({
    opType: 'Constant',
    domain: '',
    layout: 'source',
    attrs: (node) => ({ value: constantValue(node) }),
    infer: (ctx) => [{ dtype: ctx.attrs.value.dtype, shape: [...ctx.attrs.value.shape], data: tensorData(ctx.attrs.value) }],
  }),
  ConstantOfShape: defineOpDef<ValueAttrs>({
    opType: 'ConstantOfShape',
    domain: '',
    layout: 'source',
    attrs: (node) => ({ value: fillValue(node) }),
    infer: (ctx) => {
      const s = input(ctx, 0, 'input');
      const dtype: DType = ctx.attrs.value.dtype;
      const shape = listOf(s);
      if (!shape) return [{ dtype, shape: unknownDims(rankOfList(s)) }];
      if (shape.some((d) => typeof d === 'number' && d < 0)) throw new ShapeError(`ConstantOfShape: negative dim in ${fmtShape(shape)}`);
      const fill = tensorData(ctx.attrs.value)?.[0] ?? null;
      const n = dimProduct(shape);
      const data = shape.length <= 1 && typeof n === 'number' && n <= MAX_DATA ? new Array<Dim>(n).fill(fill) : undefined;
      return [{ dtype, shape, data }];
    },
  }),
  Range: defineOpDef({
    opType: 'Range',
    domain: '',
    layout: 'source',
    attrs: noAttrs,
    infer: (ctx) => {
      const [s, l, d] = [0, 1, 2].map((i) => scalarOf(input(ctx, i, ['start', 'limit', 'delta'][i]!)));
      const dtype = ctx.inputs[0]!.dtype;
      if (s === undefined || l === undefined || d === undefined) return [{ dtype, shape: [null] }];
      if (d === 0) throw new ShapeError('Range delta is 0');
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [{ dtype, shape: [n], data: n <= MAX_DATA ? Array.from({ length: n }, (_, i) => s + i * d) : undefined }];
    },
  }),
  Pad: defineOpDef<PadAttrs>({
    opType: 'Pad',
    domain: '',
    layout: 'spatial',
    attrs: (node, opset) => {
      const mode = attrString(node, 'mode', 'constant');
      if (!PAD_MODES.has(mode)) throw new UnsupportedError(`Pad mode '${mode}'`);
      if (opset >= 11) return { mode: mode as PadMode, value: 0 };
      const pads = attrInts(node, 'pads') ?? attrInts(node, 'paddings');
      if (!pads) throw new ShapeError('Pad needs the pads attribute before opset 11');
      return { mode: mode as PadMode, pads, value: attrFloat(node, 'value', 0) };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      if (!x.shape) return [{ dtype: x.dtype }];
      const r = x.shape.length;
      const pads = ctx.attrs.pads ?? intsOf(input(ctx, 1, 'pads'));
      const axesIn = ctx.inputs[3] ? intsOf(ctx.inputs[3]) : undefined;
      if (!pads || (ctx.inputs[3] && !axesIn)) return [{ dtype: x.dtype, shape: unknownDims(r) }];
      const axes = axesIn ? normAxes(axesIn, r, 'Pad axes') : x.shape.map((_, i) => i);
      if (pads.length !== 2 * axes.length) throw new ShapeError(`Pad: ${pads.length} pads for ${axes.length} axes`);
      const shape = [...x.shape];
      axes.forEach((a, k) => {
        const add = pads[k]! + pads[k + axes.length]!;
        shape[a] = add === 0 ? shape[a]! : dimMap(shape[a]!, (n) => {
          if (n + add < 0) throw new ShapeError(`Pad: pads ${pads[k]}, ${pads[k + axes.length]} crop dim ${a} of size ${n} below zero`);
          return n + add;
        });
      });
      return [{ dtype: x.dtype, shape }];
    },
  }),
} satisfies OpDefTable;
