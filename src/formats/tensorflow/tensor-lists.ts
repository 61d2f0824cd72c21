// TensorFlow's TensorLists (TF2: TensorListReserve / FromTensor / GetItem / SetItem / Stack ...,
// what tf.TensorArray and Keras' RNN loops freeze into) and TensorArrays (TF1: TensorArrayV3 and
// its Read / Write / Gather / Scatter / Size / Concat / Split, the flow value sequencing them) read
// as tensors while the graph is converted. A list value (TfValue.list) is one of:
// - dense: the elements stacked, [n, ...element] (the IR value the TfValue names): FromTensor is
//   its tensor, GetItem a Gather, SetItem a Where over a one-hot mask of the index, Stack the tensor;
// - reserved: n elements none of which is set yet (TensorListReserve, TensorArrayV3's flow): made
//   zeros of the declared element shape (or of the first element set) when something needs it;
// - scan / written: inside a While body (control-flow.ts), a reserved list the loop only writes at
//   its counter: the SetItem is a pseudo-op (TensorListScanWrite, domain SCAN_DOMAIN) that the
//   While turns into an ONNX Loop scan output; anything else done with it is a ScanMiss, on which
//   the While converts the body again carrying the list dense;
// - handle: a TensorArray's handle; TensorArray ops read their state from the flow input instead;
// - ragged: a tensor split into unequal lengths (TensorListSplit, TensorArraySplitV3): the tensor
//   itself and the constant lengths, its elements of unlike shapes; GetItem is a Slice of its
//   rows, Length and Concat what the split took, ElementShape the declared one; anything else
//   done with it is refused by name.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Dim } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { attr, type NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

export interface TfList {
  kind: 'dense' | 'reserved' | 'scan' | 'written' | 'handle' | 'ragged';
  /** the element dtype */
  dtype: DType;
  /** the element shape the list declares (element_shape, -1 dims null); undefined: unknown rank */
  declared?: Dim[];
  /** reserved: the number of elements */
  count?: TfValue;
  /** a list SetItem may grow (TensorArray dynamic_size) */
  grows?: boolean;
  /** scan / written: the While body parameter (its placeholder's name) whose loop writes the list */
  owner?: string;
  /** ragged: each element's number of rows of the split tensor */
  lengths?: number[];
}

/** Domain of the pseudo-op a While body's write at its counter is (never left in a graph). */
export const SCAN_DOMAIN = 'nnport.tensorflow.scan';
export const SCAN_WRITE = 'TensorListScanWrite';
/** The synthetic ops a While body's list parameters are (control-flow.ts makes them). */
export const DENSE_PARAM = '_NnportDenseListParam';
export const SCAN_PARAM = '_NnportScanListParam';
export const HANDLE_PARAM = '_NnportTensorArrayHandleParam';

/**
 * A list a While body writes at its counter used otherwise (read, written twice, carried into an
 * inner loop ...): the While converts its body again with the list carried dense.
 */
export class ScanMiss extends Error {
  constructor(
    readonly owner: string,
    readonly why: string,
  ) {
    super(`TensorList parameter '${owner}': ${why}`);
  }
}

const where = (c: NodeCtx): string => `${c.where()} in '${c.file}'`;

export function listValue(name: string, list: TfList, shape?: Dim[]): TfValue {
  return { name, dtype: list.dtype, shape, list };
}

export function denseValue(name: string, dtype: DType, shape: Dim[] | undefined, declared: Dim[] | undefined, grows?: boolean): TfValue {
  return listValue(name, { kind: 'dense', dtype, declared, grows }, shape);
}

/** A list input that is not being written by a loop at its counter (that one is a ScanMiss), nor split unevenly unless `ragged`. */
function listIn(c: NodeCtx, v: TfValue, what = 'a TensorList', ragged = false): TfValue & { list: TfList } {
  const l = v.list;
  if (!l || l.kind === 'handle') {
    throw new FormatError(`${c.where()} reads a ${l ? 'TensorArray handle' : `${v.dtype} tensor`} where it needs ${what}`, { file: c.file });
  }
  if (l.kind === 'scan' || l.kind === 'written') throw new ScanMiss(l.owner!, `${c.op} (${c.name}) reads it`);
  if (l.kind === 'ragged' && !ragged) throw raggedRefusal(c.op, l, where(c));
  return v as TfValue & { list: TfList };
}

/** What nnport does not do with a list split into unequal lengths. */
export function raggedRefusal(op: string, l: TfList, at: string): UnsupportedError {
  return new UnsupportedError(
    `${op} of a TensorList / TensorArray split into unequal lengths [${(l.lengths ?? []).join(', ')}]`,
    `${at}: its elements differ in shape, so nnport holds it as the split tensor, which GetItem / Read, Length / Size, Concat and ElementShape read`,
  );
}

function tensorIn(c: NodeCtx, i: number): TfValue {
  const v = c.input(i);
  if (v.list) throw new FormatError(`${c.where()} reads a TensorList / TensorArray as its input ${i}, which must be a tensor`, { file: c.file });
  return v;
}

/** An element_shape input as the declared shape: -1 (or unknown) rank undefined, -1 dims null. */
function declaredOf(v: TfValue | undefined): Dim[] | undefined {
  const t = v?.value;
  if (!t) return undefined;
  const xs = t.toNumbers();
  if (t.rank === 0) return undefined;
  return xs.map((d) => (d < 0 ? null : d));
}

const complete = (s: Dim[] | undefined): s is number[] => !!s && s.every((d) => typeof d === 'number');

function zeroOf(dtype: DType): Tensor {
  return Tensor.zeros(dtype, [1]);
}

/** The dims of an IR value's shape from `from` on, as an int64 1-D value. */
function shapeTail(c: NodeCtx, name: string, from: number, shape: Dim[] | undefined): string {
  if (complete(shape)) return c.int64(shape.slice(from), 'shape_tail');
  const s = c.tmp('shape');
  c.emit('Shape', [name], [s]);
  if (from === 0) return s;
  const t = c.tmp('shape_tail');
  c.emit('Slice', [s, c.int64([from], 'start'), c.int64([2 ** 53 - 1], 'end'), c.int64([0], 'axes')], [t]);
  return t;
}

/** The number of elements of a dense list value as an int64 1-D [n] value. */
function lengthOf(c: NodeCtx, name: string, shape: Dim[] | undefined): string {
  if (typeof shape?.[0] === 'number') return c.int64([shape[0]], 'length');
  const s = c.tmp('shape');
  c.emit('Shape', [name], [s]);
  const n = c.tmp('length');
  c.emit('Slice', [s, c.int64([0], 'start'), c.int64([1], 'end'), c.int64([0], 'axes')], [n]);
  return n;
}

/**
 * The IR value of a list's stacked elements. A reserved list becomes zeros of its declared element
 * shape, or of `elemShape` (an int64 1-D value: the shape of an element being set) when it declares
 * none; neither is an UnsupportedError.
 */
function materialize(c: NodeCtx, v: TfValue & { list: TfList }, elemShape?: string): string {
  const l = v.list;
  if (l.kind === 'dense') return c.use(v);
  const count = l.count!;
  let tail: string;
  if (complete(l.declared)) {
    if (count.value && count.value.size === 1) {
      const n = count.value.toNumbers()[0]!;
      if (n < 0) throw new FormatError(`${c.where()}: a TensorList of ${n} elements`, { file: c.file });
      const size = n * l.declared.reduce((a, b) => a * b, 1);
      if (size <= 1 << 20) return c.constTensor(Tensor.zeros(l.dtype, [n, ...l.declared]), 'zeros');
    }
    tail = c.int64(l.declared, 'element_shape');
  } else if (elemShape) {
    tail = elemShape;
  } else {
    throw new UnsupportedError(
      `${c.op} of a TensorList / TensorArray of unknown element shape (${shapeText(l.declared)}) before any element is set`,
      `${where(c)}: give the list a fully known element_shape`,
    );
  }
  const n = c.tmp('count');
  c.emit('Reshape', [c.int64InputOf(count, 'count64'), c.int64([1], 'shape1')], [n]);
  const shape = c.tmp('zeros_shape');
  c.emit('Concat', [n, tail], [shape], { axis: attr('int', 0) });
  const z = c.tmp('zeros');
  c.emit('ConstantOfShape', [shape], [z], { value: { type: 'tensor', value: zeroOf(l.dtype) } });
  return z;
}

const shapeText = (s: Dim[] | undefined): string => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : 'unknown rank');

function elementShape(l: TfValue & { list: TfList }): Dim[] | undefined {
  if (l.list.kind === 'dense' && l.shape) return l.shape.slice(1);
  return l.list.declared;
}

function listShape(l: TfValue & { list: TfList }): Dim[] | undefined {
  if (l.list.kind === 'dense') return l.shape;
  const e = l.list.declared;
  const n = l.list.count?.value?.toNumbers()[0];
  return e ? [n ?? null, ...e] : undefined;
}

// ---- the operations, shared by the two spellings ----

function getItem(c: NodeCtx, list: TfValue, index: TfValue): TfValue {
  const l = listIn(c, list, 'a TensorList', true);
  if (l.list.kind === 'ragged') return raggedItem(c, l, index);
  const base = materialize(c, l);
  const out = c.out();
  c.emit('Gather', [base, c.use(index)], [out], { axis: attr('int', 0) });
  return c.value(out, l.dtype, elementShape(l));
}

function setItem(c: NodeCtx, list: TfValue, index: TfValue, item: TfValue, resize: boolean): TfValue {
  const l0 = list.list;
  if (l0?.kind === 'scan') {
    // a loop writing its list at its counter: a scan output (control-flow.ts checks the index)
    const out = c.out();
    c.emit(SCAN_WRITE, [c.use(index), c.use(item)], [out], { owner: attr('string', l0.owner!) }, SCAN_DOMAIN);
    return listValue(out, { ...l0, kind: 'written' }, item.shape);
  }
  const l = listIn(c, list);
  const itemName = c.use(item);
  const base = materialize(c, l, l.list.kind === 'reserved' ? shapeTail(c, itemName, 0, item.shape) : undefined);
  const shape = listShape(l);
  const n = shape?.[0];
  const at = index.value?.size === 1 ? index.value.toNumbers()[0] : undefined;
  if (typeof n === 'number' && at !== undefined && (at < 0 || at >= n) && !(resize || l.list.grows)) {
    throw new FormatError(`${c.where()} sets element ${at} of a list of ${n}`, { file: c.file });
  }
  if ((resize || l.list.grows) && !(typeof n === 'number' && at !== undefined && at >= 0 && at < n)) {
    throw new UnsupportedError(`${c.op} growing its list (dynamic size) other than in a loop writing it at its counter`, where(c));
  }
  const rank = item.shape?.length ?? (shape ? shape.length - 1 : undefined);
  const out = c.out();
  const unsqueezed = c.tmp('element');
  c.emit('Unsqueeze', [itemName, c.int64([0], 'axes')], [unsqueezed]);
  if (rank === undefined) {
    // of unknown rank: a ScatterND of the one row
    const idx = c.tmp('index');
    c.emit('Reshape', [c.int64InputOf(index, 'index64'), c.int64([1, 1], 'shape11')], [idx]);
    c.emit('ScatterND', [base, idx, unsqueezed], [out]);
  } else {
    let mask: string;
    if (typeof n === 'number' && at !== undefined) {
      const m = new Uint8Array(n);
      m[at] = 1;
      mask = c.constTensor(new Tensor('bool', [n, ...Array<number>(rank).fill(1)], m), 'mask');
    } else {
      const len = c.tmp('len');
      c.emit('Reshape', [lengthOf(c, base, shape), c.int64([], 'scalar')], [len]);
      const range = c.tmp('range');
      c.emit('Range', [c.int64([0], 'zero', true), len, c.int64([1], 'one', true)], [range]);
      const eq = c.tmp('eq');
      c.emit('Equal', [range, c.int64InputOf(index, 'index64')], [eq]);
      mask = c.tmp('mask');
      c.emit('Reshape', [eq, c.int64([-1, ...Array<number>(rank).fill(1)], 'mask_shape')], [mask]);
    }
    c.emit('Where', [mask, unsqueezed, base], [out]);
  }
  return denseValue(out, l.dtype, shape ?? (item.shape ? [null, ...item.shape] : undefined), l.list.declared, l.list.grows);
}

function stack(c: NodeCtx, list: TfValue): TfValue {
  const l = listIn(c, list);
  const base = materialize(c, l);
  return c.value(base, l.dtype, listShape(l));
}

function gather(c: NodeCtx, list: TfValue, indices: TfValue): TfValue {
  const l = listIn(c, list);
  const base = materialize(c, l);
  const out = c.out();
  c.emit('Gather', [base, c.use(indices)], [out], { axis: attr('int', 0) });
  const e = elementShape(l);
  return c.value(out, l.dtype, indices.shape && e ? [...indices.shape, ...e] : undefined);
}

function length(c: NodeCtx, list: TfValue): TfValue {
  const l = listIn(c, list, 'a TensorList', true);
  if (l.list.kind === 'ragged') return c.constantValue(Tensor.scalar('int32', l.list.lengths!.length));
  if (l.list.kind === 'reserved') {
    const n = l.list.count!;
    if (n.value) return c.constantValue(Tensor.scalar('int32', n.value.toNumbers()[0]!));
    if (n.dtype === 'int32') return n;
    const out = c.out();
    c.emit('Cast', [c.use(n)], [out], { to: attr('int', 6) });
    return c.value(out, 'int32', []);
  }
  const n = l.shape?.[0];
  if (typeof n === 'number') return c.constantValue(Tensor.scalar('int32', n));
  const len = lengthOf(c, c.use(l), l.shape);
  const s = c.tmp('len');
  c.emit('Reshape', [len, c.int64([], 'scalar')], [s]);
  const out = c.out();
  c.emit('Cast', [s], [out], { to: attr('int', 6) });
  return c.value(out, 'int32', []);
}

/** Rows `indices` of a list of `n` elements set from `tensor`'s rows, the others from `base` (zeros when undefined). */
function scatterRows(c: NodeCtx, base: string | undefined, n: number | TfValue, tensor: TfValue, indices: TfValue, dtype: DType): string {
  const t = c.use(tensor);
  const idx = indices.value?.toNumbers();
  const rows = tensor.shape?.[0];
  if (idx && typeof rows === 'number' && idx.length !== rows) {
    throw new FormatError(`${c.where()} scatters ${rows} rows at ${idx.length} indices`, { file: c.file });
  }
  if (idx && typeof n === 'number') {
    for (const i of idx) if (i < 0 || i >= n) throw new FormatError(`${c.where()} scatters to element ${i} of a list of ${n}`, { file: c.file });
    // the rows in order: the tensor itself
    if (!base && idx.length === n && idx.every((i, k) => i === k)) return t;
    let src = base;
    if (!src) {
      const zshape = c.tmp('zero_shape');
      c.emit('Concat', [c.int64([1], 'one'), shapeTail(c, t, 1, tensor.shape)], [zshape], { axis: attr('int', 0) });
      src = c.tmp('zero_row');
      c.emit('ConstantOfShape', [zshape], [src], { value: { type: 'tensor', value: zeroOf(dtype) } });
    }
    const width = base ? n : 1;
    const perm = Array.from({ length: n }, (_, p) => (base ? p : 0));
    idx.forEach((i, k) => (perm[i] = width + k));
    const ext = c.tmp('rows');
    c.emit('Concat', [src, t], [ext], { axis: attr('int', 0) });
    const out = c.tmp('scattered');
    c.emit('Gather', [ext, c.int64(perm, 'perm')], [out], { axis: attr('int', 0) });
    return out;
  }
  let into = base;
  if (!into) {
    const nn = typeof n === 'number' ? c.int64([n], 'count') : (() => {
      const r = c.tmp('count');
      c.emit('Reshape', [c.int64InputOf(n, 'count64'), c.int64([1], 'shape1')], [r]);
      return r;
    })();
    const zshape = c.tmp('zeros_shape');
    c.emit('Concat', [nn, shapeTail(c, t, 1, tensor.shape)], [zshape], { axis: attr('int', 0) });
    into = c.tmp('zeros');
    c.emit('ConstantOfShape', [zshape], [into], { value: { type: 'tensor', value: zeroOf(dtype) } });
  }
  const ix = c.tmp('indices');
  c.emit('Unsqueeze', [c.int64InputOf(indices, 'indices64'), c.int64([-1], 'axes')], [ix]);
  const out = c.tmp('scattered');
  c.emit('ScatterND', [into, ix, t], [out]);
  return out;
}

/** TensorListScatter(V2) / TensorArrayScatterV3 into a reserved list: a list of `n` elements. */
function scatterNew(c: NodeCtx, tensor: TfValue, indices: TfValue, n: number | TfValue | undefined, dtype: DType, declared: Dim[] | undefined): TfValue {
  const idx = indices.value?.toNumbers();
  let count = n;
  if (typeof count === 'object' && count.value?.size === 1) count = count.value.toNumbers()[0]!;
  if (count === undefined || (typeof count === 'number' && count < 0)) {
    if (!idx) throw new UnsupportedError(`${c.op} to computed indices without a number of elements`, where(c));
    count = idx.length ? Math.max(...idx) + 1 : 0;
  }
  const out = scatterRows(c, undefined, count, tensor, indices, dtype);
  const rows = typeof count === 'number' ? count : null;
  return denseValue(out, dtype, tensor.shape ? [rows, ...tensor.shape.slice(1)] : undefined, declared);
}

function scatterInto(c: NodeCtx, list: TfValue, tensor: TfValue, indices: TfValue): TfValue {
  const l = listIn(c, list);
  if (l.list.kind === 'reserved') return scatterNew(c, tensor, indices, l.list.count!, l.dtype, l.list.declared);
  const shape = l.shape;
  const n = typeof shape?.[0] === 'number' ? shape[0] : l;
  const out = scatterRows(c, c.use(l), typeof n === 'number' ? n : l, tensor, indices, l.dtype);
  return denseValue(out, l.dtype, shape, l.list.declared, l.list.grows);
}

function pushBack(c: NodeCtx, list: TfValue, item: TfValue): TfValue {
  const l = listIn(c, list);
  const itemName = c.use(item);
  const e = c.tmp('element');
  c.emit('Unsqueeze', [itemName, c.int64([0], 'axes')], [e]);
  const shape = listShape(l);
  const n = shape?.[0];
  const grown: Dim[] | undefined = item.shape ? [typeof n === 'number' ? n + 1 : null, ...item.shape] : undefined;
  if (l.list.kind === 'reserved' && l.list.count?.value?.toNumbers()[0] === 0) return denseValue(e, l.dtype, item.shape ? [1, ...item.shape] : undefined, l.list.declared);
  const base = materialize(c, l, l.list.kind === 'reserved' ? shapeTail(c, itemName, 0, item.shape) : undefined);
  const out = c.out();
  c.emit('Concat', [base, e], [out], { axis: attr('int', 0) });
  return denseValue(out, l.dtype, grown, l.list.declared);
}

function popBack(c: NodeCtx, list: TfValue): TfValue[] {
  const l = listIn(c, list);
  const base = materialize(c, l);
  const shape = listShape(l);
  const n = shape?.[0];
  if (n === 0) throw new FormatError(`${c.where()} pops from an empty list`, { file: c.file });
  const rest = c.out(0);
  c.emit('Slice', [base, c.int64([0], 'start'), c.int64([-1], 'end'), c.int64([0], 'axes')], [rest]);
  const last = c.out(1);
  c.emit('Gather', [base, c.int64([-1], 'last', true)], [last], { axis: attr('int', 0) });
  return [denseValue(rest, l.dtype, shape ? [typeof n === 'number' ? n - 1 : null, ...shape.slice(1)] : undefined, l.list.declared), c.value(last, l.dtype, shape?.slice(1))];
}

/** Elements joined along their first axis, and each one's length (int64). */
function concat(c: NodeCtx, list: TfValue): TfValue[] {
  const l = listIn(c, list, 'a TensorList', true);
  if (l.list.kind === 'ragged') {
    // the split tensor again, and the lengths it was split into
    const lengths = l.list.lengths!;
    return [c.value(c.use(l), l.dtype, l.shape), c.constantValue(Tensor.int64([lengths.length], lengths))];
  }
  const base = materialize(c, l);
  const shape = listShape(l);
  if (shape && shape.length < 2) throw new FormatError(`${c.where()} concatenates scalar elements`, { file: c.file });
  const target = c.tmp('target');
  c.emit('Concat', [c.int64([-1], 'minus1'), shapeTail(c, base, 2, shape)], [target], { axis: attr('int', 0) });
  const out = c.out(0);
  c.emit('Reshape', [base, target], [out]);
  const lengths = c.out(1);
  const n = shape?.[0];
  const d0 = shape?.[1];
  if (typeof n === 'number' && typeof d0 === 'number') {
    c.cv.graph.initializers.set(lengths, Tensor.int64([n], Array<number>(n).fill(d0)));
  } else {
    const s = c.tmp('shape');
    c.emit('Shape', [base], [s]);
    const d = c.tmp('d0');
    c.emit('Slice', [s, c.int64([1], 'start'), c.int64([2], 'end'), c.int64([0], 'axes')], [d]);
    c.emit('Expand', [d, lengthOf(c, base, shape)], [lengths]);
  }
  const joined: Dim[] | undefined = shape ? [typeof n === 'number' && typeof d0 === 'number' ? n * d0 : null, ...shape.slice(2)] : undefined;
  return [c.value(out, l.dtype, joined), c.value(lengths, 'int64', [n ?? null])];
}

/**
 * TensorListResize: the first `size` elements, new ones unset (zeros, as TensorFlow stacks unset
 * elements of a known shape). A reserved list stays reserved, of the new count.
 */
function resize(c: NodeCtx, list: TfValue, sizeV: TfValue): TfValue {
  const l = listIn(c, list);
  if (sizeV.shape && sizeV.shape.length > 0 && !sizeV.shape.every((d) => d === 1)) {
    throw new FormatError(`${c.where()}: the new size has shape ${shapeText(sizeV.shape)}, not a scalar`, { file: c.file });
  }
  const size = sizeV.value?.toNumbers()[0];
  if (size !== undefined && size < 0) throw new FormatError(`${c.where()} resizes a list to ${size} elements`, { file: c.file });
  if (l.list.kind === 'reserved') return reserved(c, sizeV, l.dtype, l.list.declared, l.list.grows);
  const shape = listShape(l);
  const n = shape?.[0];
  const base = c.use(l);
  const out = c.out();
  const resized: Dim[] | undefined = shape ? [size ?? null, ...shape.slice(1)] : undefined;
  if (typeof n === 'number' && size !== undefined && size <= n) {
    c.emit('Slice', [base, c.int64([0], 'start'), c.int64([size], 'end'), c.int64([0], 'axes')], [out]);
    return denseValue(out, l.dtype, resized, l.list.declared, l.list.grows);
  }
  // zeros appended (max(size - n, 0) rows), then the first `size` rows
  const size64 = c.tmp('size');
  c.emit('Reshape', [c.int64InputOf(sizeV, 'size64'), c.int64([1], 'shape1')], [size64]);
  const more = c.tmp('more');
  c.emit('Sub', [size64, lengthOf(c, base, shape)], [more]);
  const grow = c.tmp('grow');
  c.emit('Max', [more, c.int64([0], 'zero')], [grow]);
  const zshape = c.tmp('zeros_shape');
  c.emit('Concat', [grow, shapeTail(c, base, 1, shape)], [zshape], { axis: attr('int', 0) });
  const zeros = c.tmp('zeros');
  c.emit('ConstantOfShape', [zshape], [zeros], { value: { type: 'tensor', value: zeroOf(l.dtype) } });
  const longer = c.tmp('longer');
  c.emit('Concat', [base, zeros], [longer], { axis: attr('int', 0) });
  c.emit('Slice', [longer, c.int64([0], 'start'), size64, c.int64([0], 'axes')], [out]);
  return denseValue(out, l.dtype, resized, l.list.declared, l.list.grows);
}

/** Element `index` of a list split into unequal lengths: its rows of the split tensor. */
function raggedItem(c: NodeCtx, l: TfValue & { list: TfList }, index: TfValue): TfValue {
  const lengths = l.list.lengths!;
  const starts = lengths.map((_, k) => lengths.slice(0, k).reduce((a, b) => a + b, 0));
  const rest = l.shape?.slice(1);
  const out = c.out();
  const at = index.value?.size === 1 ? index.value.toNumbers()[0]! : undefined;
  if (at !== undefined) {
    if (at < 0 || at >= lengths.length) throw new FormatError(`${c.where()} reads element ${at} of a list of ${lengths.length}`, { file: c.file });
    c.emit('Slice', [c.use(l), c.int64([starts[at]!], 'start'), c.int64([starts[at]! + lengths[at]!], 'end'), c.int64([0], 'axes')], [out]);
    return c.value(out, l.dtype, rest ? [lengths[at]!, ...rest] : undefined);
  }
  // a computed index: its start and end looked up
  const idx = c.tmp('index');
  c.emit('Reshape', [c.int64InputOf(index, 'index64'), c.int64([1], 'shape1')], [idx]);
  const [from, to] = [c.tmp('start'), c.tmp('end')];
  c.emit('Gather', [c.int64(starts, 'starts'), idx], [from], { axis: attr('int', 0) });
  c.emit('Gather', [c.int64(starts.map((s0, k) => s0 + lengths[k]!), 'ends'), idx], [to], { axis: attr('int', 0) });
  c.emit('Slice', [c.use(l), from, to, c.int64([0], 'axes')], [out]);
  return c.value(out, l.dtype, rest ? [null, ...rest] : undefined);
}

/** A tensor split along its first axis into constant lengths: equal ones stacked dense, unequal ones held as the tensor (ragged). */
function split(c: NodeCtx, tensor: TfValue, lengthsV: TfValue, declared: Dim[] | undefined): TfValue {
  const lengths = lengthsV.value?.toNumbers();
  if (!lengths) throw new UnsupportedError(`${c.op} into computed lengths`, where(c));
  if (lengths.some((x) => x < 0 || !Number.isInteger(x))) throw new FormatError(`${c.where()} splits into lengths [${lengths.join(', ')}]`, { file: c.file });
  const total = lengths.reduce((a, b) => a + b, 0);
  const rows = tensor.shape?.[0];
  if (typeof rows === 'number' && rows !== total) {
    throw new FormatError(`${c.where()} splits ${rows} rows into lengths summing to ${total}`, { file: c.file });
  }
  const len = lengths[0] ?? 0;
  if (!lengths.length) throw new UnsupportedError(`${c.op} into no lengths`, where(c));
  if (lengths.some((x) => x !== len) || len === 0) {
    if (tensor.shape?.length === 0) throw new FormatError(`${c.where()} splits a scalar`, { file: c.file });
    return listValue(c.use(tensor), { kind: 'ragged', dtype: tensor.dtype, declared, lengths }, tensor.shape);
  }
  const t = c.use(tensor);
  const target = c.tmp('target');
  c.emit('Concat', [c.int64([lengths.length, len], 'lead'), shapeTail(c, t, 1, tensor.shape)], [target], { axis: attr('int', 0) });
  const out = c.out();
  c.emit('Reshape', [t, target], [out]);
  return denseValue(out, tensor.dtype, tensor.shape ? [lengths.length, len, ...tensor.shape.slice(1)] : undefined, declared);
}

// ---- TensorList ops ----

function reserved(c: NodeCtx, count: TfValue, dtype: DType, declared: Dim[] | undefined, grows = false): TfValue {
  if (count.list) throw new FormatError(`${c.where()} reads a TensorList as its number of elements`, { file: c.file });
  if (count.shape && count.shape.length > 0 && !count.shape.every((d) => d === 1)) {
    throw new FormatError(`${c.where()}: the number of elements has shape ${shapeText(count.shape)}, not a scalar`, { file: c.file });
  }
  const n = count.value?.toNumbers()[0];
  if (n !== undefined && n < 0) throw new FormatError(`${c.where()} reserves ${n} elements`, { file: c.file });
  return listValue('', { kind: 'reserved', dtype, declared, count, grows }, declared ? [n ?? null, ...declared] : undefined);
}

const listDtype = (c: NodeCtx): DType => c.dtypeAttr('element_dtype');

/** A TensorArray op's handle input (it names the array; the state is in the flow). */
function handleIn(c: NodeCtx): void {
  const h = c.input(0);
  if (h.list?.kind !== 'handle') throw new FormatError(`${c.where()} reads a ${h.list ? 'TensorList' : `${h.dtype} tensor`} as its TensorArray handle`, { file: c.file });
}

function flowIn(c: NodeCtx, i: number): TfValue {
  return c.input(i);
}

export const TENSOR_LIST_OPS: Record<string, OpConvert> = {
  TensorListReserve: (c) => [reserved(c, c.input(1), listDtype(c), declaredOf(c.input(0)))],
  EmptyTensorList: (c) => [reserved(c, c.constantValue(Tensor.scalar('int32', 0)), listDtype(c), declaredOf(c.input(0)))],
  TensorListFromTensor: (c) => {
    const t = tensorIn(c, 0);
    if (t.shape && t.shape.length === 0) throw new FormatError(`${c.where()} makes a list of a scalar`, { file: c.file });
    return [denseValue(c.use(t), t.dtype, t.shape, declaredOf(c.inputs[1]))];
  },
  TensorListGetItem: (c) => [getItem(c, c.input(0), tensorIn(c, 1))],
  TensorListSetItem: (c) => [setItem(c, c.input(0), tensorIn(c, 1), tensorIn(c, 2), c.attrs.bool('resize_if_index_out_of_bounds', false))],
  TensorListStack: (c) => [stack(c, c.input(0))],
  TensorListGather: (c) => [gather(c, c.input(0), tensorIn(c, 1))],
  TensorListLength: (c) => [length(c, c.input(0))],
  TensorListElementShape: (c) => {
    const l = listIn(c, c.input(0), 'a TensorList', true);
    const d = l.list.declared;
    const type = c.dtypeAttr('shape_type', 'int32');
    const t = d ? tensorOfInts(type, [d.length], d.map((x) => (typeof x === 'number' ? x : -1))) : tensorOfInts(type, [], [-1]);
    return [c.constantValue(t)];
  },
  TensorListScatter: (c) => [scatterNew(c, tensorIn(c, 0), tensorIn(c, 1), undefined, listDtype(c), declaredOf(c.inputs[2]))],
  TensorListScatterV2: (c) => [scatterNew(c, tensorIn(c, 0), tensorIn(c, 1), tensorIn(c, 3), listDtype(c), declaredOf(c.inputs[2]))],
  TensorListScatterIntoExistingList: (c) => [scatterInto(c, c.input(0), tensorIn(c, 1), tensorIn(c, 2))],
  TensorListPushBack: (c) => [pushBack(c, c.input(0), tensorIn(c, 1))],
  TensorListPopBack: (c) => popBack(c, c.input(0)),
  TensorListConcat: (c) => concat(c, c.input(0)),
  TensorListConcatV2: (c) => concat(c, c.input(0)),
  TensorListSplit: (c) => [split(c, tensorIn(c, 0), tensorIn(c, 2), declaredOf(c.inputs[1]))],
  TensorListResize: (c) => [resize(c, c.input(0), tensorIn(c, 1))],

  // TF1 TensorArrays: the handle names the array, the flow (its last output) carries its state
  TensorArrayV3: (c) => {
    const dtype = c.dtypeAttr('dtype');
    const declared = c.attrs.shape('element_shape');
    const flow = reserved(c, tensorIn(c, 0), dtype, declared, c.attrs.bool('dynamic_size', false));
    return [listValue('', { kind: 'handle', dtype }), flow];
  },
  TensorArrayWriteV3: (c) => {
    handleIn(c);
    return [setItem(c, flowIn(c, 3), tensorIn(c, 1), tensorIn(c, 2), false)];
  },
  TensorArrayReadV3: (c) => {
    handleIn(c);
    return [getItem(c, flowIn(c, 2), tensorIn(c, 1))];
  },
  TensorArrayGatherV3: (c) => {
    handleIn(c);
    return [gather(c, flowIn(c, 2), tensorIn(c, 1))];
  },
  TensorArrayScatterV3: (c) => {
    handleIn(c);
    return [scatterInto(c, flowIn(c, 3), tensorIn(c, 2), tensorIn(c, 1))];
  },
  TensorArraySizeV3: (c) => {
    handleIn(c);
    return [length(c, flowIn(c, 1))];
  },
  TensorArrayConcatV3: (c) => {
    handleIn(c);
    return concat(c, flowIn(c, 1));
  },
  TensorArrayCloseV3: () => [],
  TensorArraySplitV3: (c) => {
    handleIn(c);
    const l = listIn(c, flowIn(c, 3));
    return [split(c, tensorIn(c, 1), tensorIn(c, 2), l.list.declared)];
  },

  // a While body's list parameters (control-flow.ts)
  [DENSE_PARAM]: (c) => {
    const v = denseValue(c.out(), c.dtypeAttr('element_dtype'), c.attrs.shape('shape'), c.attrs.shape('element_shape'), c.attrs.bool('grows', false));
    c.cv.graph.inputs.push({ name: v.name, dtype: v.dtype, shape: v.shape });
    return [v];
  },
  [SCAN_PARAM]: (c) => [listValue(c.out(), { kind: 'scan', dtype: c.dtypeAttr('element_dtype'), declared: c.attrs.shape('element_shape'), owner: c.name })],
  [HANDLE_PARAM]: (c) => [listValue('', { kind: 'handle', dtype: c.dtypeAttr('element_dtype') })],
};

function tensorOfInts(dtype: DType, shape: number[], xs: number[]): Tensor {
  return dtype === 'int64' ? Tensor.int64(shape, xs) : new Tensor('int32', shape, Int32Array.from(xs));
}

/** Ops that may read list values (TensorList / TensorArray ops, pass-throughs, control flow). */
const LIST_AWARE = new Set([
  ...Object.keys(TENSOR_LIST_OPS),
  'Identity', 'IdentityN', 'Snapshot', 'StopGradient', 'While', 'StatelessWhile', 'If', 'StatelessIf', 'TensorArrayCloseV3',
]);

/** A list value read by an op that is not a list op: refused (a loop's scan list: a ScanMiss). */
export function checkListInputs(op: string, inputs: readonly TfValue[], node: string, file: string): void {
  if (LIST_AWARE.has(op)) return;
  const v = inputs.find((x) => x.list);
  if (!v) return;
  const l = v.list!;
  if (l.kind === 'scan' || l.kind === 'written') throw new ScanMiss(l.owner!, `${op} (${node}) reads it`);
  throw new UnsupportedError(`${op} reading a TensorList / TensorArray`, `node '${node}' in '${file}'`);
}

/** The stacked elements of a list value as an IR value (a reserved one: zeros of its declared element shape). */
export function materializeList(c: NodeCtx, v: TfValue): string {
  return materialize(c, listIn(c, v));
}
