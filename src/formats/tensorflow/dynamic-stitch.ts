// DynamicPartition and (Parallel)DynamicStitch: tf.nn.embedding_lookup over a partitioned table
// (several `params`) splits the ids by partition (DynamicPartition), gathers each from its part
// and stitches the rows back in the ids' order (ParallelDynamicStitch). Partition k is ONNX's
// Compress of the flattened data by `partitions == k`; a stitch scatters the rows onto zeros of
// [max index + 1, ...] (ScatterND) — for DynamicStitch, whose later duplicates win (an order
// ScatterND does not promise), each output row gathers the last data row naming it instead.
import { UnsupportedError } from '../../ir/errors.js';
import type { Dim } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { attr, type NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

const where = (c: NodeCtx) => `${c.where()} in '${c.file}'`;
const zeroOf = (dtype: TfValue['dtype']) => Tensor.zeros(dtype, [1]);

/** A value flattened over its first `lead` dims ([-1, ...rest]); the rest must be known. */
function flattenLead(c: NodeCtx, v: TfValue, lead: number, what: string): { name: string; rest: number[] } {
  const rest = v.shape?.slice(lead);
  if (!rest || !rest.every((d): d is number => typeof d === 'number')) {
    throw new UnsupportedError(`${c.op} of ${what} whose trailing dimensions are unknown`, `${where(c)} (fix the input shape with --input-shape NAME=d0,d1,...)`);
  }
  if (lead === 1) return { name: c.use(v), rest };
  const out = c.tmp('flat');
  c.emit('Reshape', [c.use(v), c.int64([-1, ...rest], 'flat_shape')], [out]);
  return { name: out, rest };
}

function dynamicPartition(c: NodeCtx): TfValue[] {
  const data = c.input(0);
  const parts = c.input(1);
  const n = c.attrs.int('num_partitions');
  const lead = parts.shape?.length;
  if (lead === undefined) throw new UnsupportedError('DynamicPartition by partitions of unknown rank', where(c));
  const flat = lead === 0 ? { name: c.use(data), rest: [] as number[] } : flattenLead(c, data, lead, 'data');
  let p = c.use(parts);
  if (lead !== 1) {
    p = c.tmp('partitions');
    c.emit('Reshape', [c.use(parts), c.int64([-1], 'minus_one')], [p]);
  }
  let d = flat.name;
  if (lead === 0) {
    d = c.tmp('row');
    c.emit('Unsqueeze', [flat.name, c.int64([0], 'axis0')], [d]);
  }
  return Array.from({ length: n }, (_, k) => {
    const mask = c.tmp(`is${k}`);
    c.emit('Equal', [p, c.constTensor(new Tensor(parts.dtype, [], parts.dtype === 'int64' ? BigInt64Array.of(BigInt(k)) : Int32Array.of(k)), `k${k}`)], [mask]);
    const out = c.out(k);
    c.emit('Compress', [d, mask], [out], { axis: attr('int', 0) });
    return c.value(out, data.dtype, [null, ...(lead === 0 ? (data.shape ?? []) : flat.rest)]);
  });
}

function dynamicStitch(c: NodeCtx): TfValue[] {
  const n = c.attrs.int('N', c.inputs.length / 2);
  if (c.inputs.length !== 2 * n) throw new UnsupportedError(`${c.op} with ${c.inputs.length} inputs for N = ${n}`, where(c));
  const indices = c.inputs.slice(0, n);
  const data = c.inputs.slice(n);
  const idxParts: string[] = [];
  const dataParts: string[] = [];
  let rest: number[] | undefined;
  indices.forEach((ix, m) => {
    const lead = ix.shape?.length;
    if (lead === undefined) throw new UnsupportedError(`${c.op} of indices of unknown rank`, where(c));
    const flat = ix.shape!.length === 1 ? c.use(ix) : c.tmp(`idx${m}`);
    if (ix.shape!.length !== 1) c.emit('Reshape', [c.use(ix), c.int64([-1], 'minus_one')], [flat]);
    const i64 = c.tmp(`idx${m}_i64`);
    c.emit('Cast', [flat], [i64], { to: attr('int', 7) });
    idxParts.push(i64);
    const d = flattenLead(c, data[m]!, lead, 'data');
    if (lead === 0) {
      const row = c.tmp(`row${m}`);
      c.emit('Unsqueeze', [d.name, c.int64([0], 'axis0')], [row]);
      dataParts.push(row);
    } else dataParts.push(d.name);
    rest ??= d.rest;
  });
  const dtype = data[0]!.dtype;
  rest ??= [];
  const idx = c.tmp('indices');
  c.emit('Concat', idxParts, [idx], { axis: attr('int', 0) });
  const rows = c.tmp('rows');
  c.emit('Concat', dataParts, [rows], { axis: attr('int', 0) });
  // the output has max(index) + 1 rows (0 for no indices: a -1 joins them)
  const withNone = c.tmp('indices_or_none');
  c.emit('Concat', [idx, c.int64([-1], 'none')], [withNone], { axis: attr('int', 0) });
  const top = c.tmp('max_index');
  c.emit('ReduceMax', [withNone], [top], { keepdims: attr('int', 1) });
  const count = c.tmp('count');
  c.emit('Add', [top, c.int64([1], 'one')], [count]);
  const out = c.out();
  const outShape: Dim[] = [null, ...rest];
  if (c.op === 'ParallelDynamicStitch') {
    // TF leaves the row of a duplicate index undefined here: ScatterND's order serves
    const shape = c.tmp('shape');
    c.emit('Concat', [count, c.int64(rest, 'rest')], [shape], { axis: attr('int', 0) });
    const zeros = c.tmp('zeros');
    c.emit('ConstantOfShape', [shape], [zeros], { value: { type: 'tensor', value: zeroOf(dtype) } });
    const at = c.tmp('at');
    c.emit('Unsqueeze', [idx, c.int64([1], 'axis1')], [at]);
    c.emit('ScatterND', [zeros, at, rows], [out]);
    return [c.value(out, dtype, outShape)];
  }
  // DynamicStitch: row r takes the last j with idx[j] == r, (R, T) comparisons
  const countScalar = c.tmp('count_scalar');
  c.emit('Squeeze', [count, c.int64([0], 'axis0')], [countScalar]);
  const positions = c.tmp('positions');
  c.emit('Range', [c.int64([0], 'zero', true), countScalar, c.int64([1], 'step', true)], [positions]);
  const col = c.tmp('positions_col');
  c.emit('Unsqueeze', [positions, c.int64([1], 'axis1')], [col]);
  const hit = c.tmp('hit');
  c.emit('Equal', [col, idx], [hit]);
  const total = c.tmp('total');
  c.emit('Shape', [idx], [total]);
  const totalScalar = c.tmp('total_scalar');
  c.emit('Squeeze', [total, c.int64([0], 'axis0')], [totalScalar]);
  const order = c.tmp('order');
  c.emit('Range', [c.int64([0], 'zero', true), totalScalar, c.int64([1], 'step', true)], [order]);
  const score = c.tmp('score');
  c.emit('Where', [hit, order, c.int64([-1], 'minus_one', true)], [score]);
  const last = c.tmp('last');
  c.emit('ReduceMax', [score], [last], { axes: attr('ints', [1]), keepdims: attr('int', 0) });
  const safe = c.tmp('last_or_zero');
  c.emit('Max', [last, c.int64([0], 'zero', true)], [safe]);
  const gathered = c.tmp('gathered');
  c.emit('Gather', [rows, safe], [gathered], { axis: attr('int', 0) });
  // a row no index names is 0
  const covered = c.tmp('covered');
  c.emit('GreaterOrEqual', [last, c.int64([0], 'zero', true)], [covered]);
  let mask = covered;
  if (rest.length) {
    mask = c.tmp('covered_rows');
    c.emit('Unsqueeze', [covered, c.int64(rest.map((_, i) => i + 1), 'rest_axes')], [mask]);
  }
  c.emit('Where', [mask, gathered, c.constTensor(Tensor.zeros(dtype, []), 'zero_value')], [out]);
  return [c.value(out, dtype, outShape)];
}

export const DYNAMIC_STITCH_OPS: Record<string, OpConvert> = {
  DynamicPartition: dynamicPartition,
  DynamicStitch: dynamicStitch,
  ParallelDynamicStitch: dynamicStitch,
};
