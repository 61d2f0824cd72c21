// GraphDef writer rows for the ops that pick elements by index: Gather (GatherV2, or a Conv2D /
// Slice OpenCV runs), GatherElements / ScatterElements at coordinates built for GatherNd /
// TensorScatter*, GatherND / ScatterND, OneHot, TopK, NonZero, Compress, ReverseSequence, and
// NonMaxSuppression (write-nms.ts). TF refuses negative indices: they are wrapped first.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrString, readersOf, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { writeNonMaxSuppression } from './write-nms.js';
import { indexConst, ints, runTimeDims, s, T, tfName, type GraphDefWriter, type Row } from './write-context.js';

/** ONNX Gather with constant indices as GatherV2. */
function gather(w: GraphDefWriter, n: Node, out: string): void {
  const [x, i] = n.inputs as [string, string];
  const idx = w.g.initializers.get(i);
  const rank = w.shape(x)?.length;
  const where = `node '${n.name}'`;
  if (rank === undefined) throw new UnsupportedError('Gather from a value of unknown rank in a GraphDef', where);
  if (!idx) {
    // indices fed at run time (an embedding lookup): ONNX's negative ones count from the end, which
    // TF's GatherV2 refuses, so they are taken modulo the axis' size
    const a = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + rank : attrInt(n, 'axis', 0);
    const d = w.shape(x)![a];
    const it = w.dtype(i);
    if (it !== 'int32' && it !== 'int64') throw new UnsupportedError(`Gather with ${it} indices in a GraphDef`, where);
    // (an axis of unknown size, an SSD's detections: its size when run, from Shape)
    const size =
      typeof d === 'number'
        ? w.const(`${n.name}/size`, it === 'int64' ? Tensor.int64([], [d]) : new Tensor('int32', [], Int32Array.of(d)))
        : runTimeDims(w, `${n.name}/size`, { ref: w.ref(x), dtype: w.dtype(x) }, { begin: a, size: 1, outType: it, scalar: true });
    const wrapped = w.add(w.fresh(`${n.name}/indices`), 'FloorMod', [w.ref(i), size], { T: T(it) });
    w.add(out, 'GatherV2', [w.ref(x), wrapped, w.int32(`${n.name}/axis`, [a], true)], { Tparams: T(w.dtype(x)), Tindices: T(it), Taxis: T('int32'), batch_dims: { i: 0 } });
    return;
  }
  const axis = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + rank : attrInt(n, 'axis', 0);
  const d = w.shape(x)![axis];
  const values = idx.toNumbers().map((v) => (v < 0 && typeof d === 'number' ? v + d : v));
  const shape = w.shape(x);
  if (rank === 4 && axis === 3 && idx.rank === 1 && typeof shape![3] === 'number' && w.dtype(x) === 'float32') {
    // A channel gather (a shuffle) as a 1x1 Conv2D with a 0/1 selection matrix: exact (one
    // product by 1, the rest add zeros) and run by OpenCV's importer, which has no GatherV2
    const c = shape![3];
    const sel = new Float32Array(c * values.length);
    values.forEach((v, j) => {
      if (v < 0 || v >= c) throw new UnsupportedError(`Gather index ${v} outside [0, ${c})`, where);
      sel[v * values.length + j] = 1;
    });
    const filter = w.const(`${n.name}/selection`, new Tensor('float32', [1, 1, c, values.length], sel));
    w.add(out, 'Conv2D', [w.ref(x), filter], { T: T('float32'), strides: ints([1, 1, 1, 1]), dilations: ints([1, 1, 1, 1]), padding: s('VALID'), data_format: s('NHWC') });
    return;
  }
  const v = values[0]!;
  if (idx.rank === 0 && typeof d === 'number' && v >= 0 && v < d && shape!.filter((k, a) => a !== axis && typeof k !== 'number').length <= 1) {
    // One step of a sequence (x[:, -1]): Slice, then Reshape without that axis, as OpenCV's
    // importer has no GatherV2
    const begin = shape!.map((_, a) => (a === axis ? v : 0));
    const size = shape!.map((k, a) => (a === axis ? 1 : -1));
    const part = w.add(w.fresh(`${n.name}/slice`), 'Slice', [w.ref(x), w.int32(`${n.name}/begin`, begin), w.int32(`${n.name}/size`, size)], { T: T(w.dtype(x)), Index: T('int32') });
    const dims = shape!.filter((_, a) => a !== axis).map((k) => (typeof k === 'number' ? k : -1));
    w.add(out, 'Reshape', [part, w.int32(`${n.name}/shape`, dims)], { T: T(w.dtype(x)), Tshape: T('int32') });
    return;
  }
  const indices = w.const(`${n.name}/indices`, new Tensor('int32', idx.shape, Int32Array.from(values)));
  w.add(out, 'GatherV2', [w.ref(x), indices, w.int32(`${n.name}/axis`, [axis], true)], { Tparams: T(w.dtype(x)), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
}

/**
 * OneHot(indices, depth, [off, on]) as TF's OneHot: ONNX counts a negative index from the end
 * (TF gives an all-off row), so it gets depth added first; depth becomes an int32 scalar.
 */
function oneHot(w: GraphDefWriter, n: Node, out: string): void {
  const [indices, depth, values] = n.inputs as [string, string, string];
  const where = `node '${n.name}'`;
  const it = w.dtype(indices);
  const vt = w.dtype(values);
  if (!['int32', 'int64', 'float32'].includes(it) || vt === 'string') throw new UnsupportedError(`OneHot of ${it} indices / ${vt} values in a GraphDef`, where);
  const rank = w.shape(indices)?.length;
  if (rank === undefined) throw new UnsupportedError('OneHot of indices of unknown rank in a GraphDef', where);
  const axis = attrInt(n, 'axis', -1);
  const idx = it === 'int64' ? w.ref(indices) : w.add(w.fresh(`${n.name}/indices_int64`), 'Cast', [w.ref(indices)], { SrcT: T(it), DstT: T('int64'), Truncate: { b: false } });
  const depth64 = w.add(w.fresh(`${n.name}/depth_int64`), 'Cast', [w.ref(depth)], { SrcT: T(w.dtype(depth)), DstT: T('int64'), Truncate: { b: false } });
  const d64 = w.add(w.fresh(`${n.name}/depth_scalar64`), 'Reshape', [depth64, w.int32(`${n.name}/scalar`, [])], { T: T('int64'), Tshape: T('int32') });
  const negative = w.add(w.fresh(`${n.name}/negative`), 'Less', [idx, w.const(`${n.name}/zero`, Tensor.int64([], [0]))], { T: T('int64') });
  const shifted = w.add(w.fresh(`${n.name}/shifted`), 'Add', [idx, d64], { T: T('int64') });
  const wrapped = w.add(w.fresh(`${n.name}/wrapped`), 'SelectV2', [negative, shifted, idx], { T: T('int64') });
  const d32 = w.add(w.fresh(`${n.name}/depth`), 'Cast', [d64], { SrcT: T('int64'), DstT: T('int32'), Truncate: { b: false } });
  const pick = (k: number) => w.add(w.fresh(`${n.name}/${k ? 'on' : 'off'}`), 'GatherV2', [w.ref(values), w.int32(`${n.name}/value_${k}`, [k], true), w.int32(`${n.name}/value_axis_${k}`, [0], true)], { Tparams: T(vt), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
  w.add(out, 'OneHot', [wrapped, d32, pick(1), pick(0)], { T: T(vt), TI: T('int64'), axis: { i: axis < 0 ? axis + rank + 1 : axis } });
}

/**
 * GatherElements as GatherNd: TF has no such op, so each index becomes a full coordinate tuple,
 * the indices (negative ones wrapped by the axis' size) along `axis` and an iota of the index
 * tensor's shape along every other axis (constants: that shape is known here).
 */
function gatherElements(w: GraphDefWriter, n: Node, out: string): void {
  const [x, i] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const is = w.shape(i);
  const it = w.dtype(i);
  if (!xs || !is || is.some((d) => typeof d !== 'number') || xs.length !== is.length) throw new UnsupportedError('GatherElements of unknown shapes in a GraphDef', where);
  const r = xs.length;
  const axis = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + r : attrInt(n, 'axis', 0);
  const d = xs[axis];
  if (typeof d !== 'number' || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError('GatherElements over an axis of unknown size in a GraphDef', where);
  w.add(out, 'GatherNd', [w.ref(x), elementCoordinates(w, n, w.ref(i), it, is as number[], axis, d)], { Tparams: T(w.dtype(x)), Tindices: T(it) });
}

/** (shape..., r) coordinates of each element of the index tensor `iRef` (of dtype `it`, static `shape`): its values (wrapped by `d`) along `axis`, an iota along the others. */
export function elementCoordinates(w: GraphDefWriter, n: Node, iRef: string, it: Tensor['dtype'], shape: number[], axis: number, d: number): string {
  const r = shape.length;
  const count = shape.reduce((a, b) => a * b, 1);
  const wrapped = w.add(w.fresh(`${n.name}/indices`), 'FloorMod', [iRef, indexConst(w, `${n.name}/size`, it, [], [d])], { T: T(it) });
  const column = w.add(w.fresh(`${n.name}/axis_coordinate`), 'ExpandDims', [wrapped, w.int32(`${n.name}/last`, [r], true)], { T: T(it), Tdim: T('int32') });
  const strides = shape.map((_, a) => shape.slice(a + 1).reduce((p, q) => p * q, 1));
  const parts = Array.from({ length: r }, (_, a) =>
    a === axis ? column : indexConst(w, `${n.name}/iota_${a}`, it, [...shape, 1], Array.from({ length: count }, (_, k) => Math.floor(k / strides[a]!) % shape[a]!)),
  );
  return w.add(w.fresh(`${n.name}/coordinates`), 'ConcatV2', [...parts, w.int32(`${n.name}/concat_axis`, [r], true)], { T: T(it), N: { i: r }, Tidx: T('int32') });
}

/**
 * elementCoordinates for indices of run-time shape (torchvision's MultiScaleRoIAlign scatters each
 * level's rows back by their indices, expanded to the rois' count): each other axis' iota is a
 * Range of that dim broadcast to the indices' Shape; the indices are wrapped by x's run-time axis size.
 */
function runTimeElementCoordinates(w: GraphDefWriter, n: Node, x: string, i: string, it: Tensor['dtype'], axis: number): string {
  const r = w.shape(i)!.length;
  const gatherDim = (shape: string, a: number, tag: string) => w.add(w.fresh(`${n.name}/${tag}`), 'GatherV2', [shape, w.int32(`${n.name}/${tag}_index`, [a], true), w.int32(`${n.name}/${tag}_axis`, [0], true)], { Tparams: T(it), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
  const iShape = w.add(w.fresh(`${n.name}/indices_shape`), 'Shape', [w.ref(i)], { T: T(it), out_type: T(it) });
  const xShape = w.add(w.fresh(`${n.name}/data_shape`), 'Shape', [w.ref(x)], { T: T(w.dtype(x)), out_type: T(it) });
  const d = gatherDim(xShape, axis, 'axis_size');
  const wrapped = w.add(w.fresh(`${n.name}/indices`), 'FloorMod', [w.ref(i), d], { T: T(it) });
  const parts = Array.from({ length: r }, (_, a) => {
    const v =
      a === axis
        ? wrapped
        : w.add(w.fresh(`${n.name}/iota_${a}`), 'BroadcastTo', [
            w.add(w.fresh(`${n.name}/iota_${a}_line`), 'Reshape', [
              w.add(w.fresh(`${n.name}/iota_${a}_range`), 'Range', [indexConst(w, `${n.name}/iota_start`, it, [], [0]), gatherDim(iShape, a, `dim_${a}`), indexConst(w, `${n.name}/iota_step`, it, [], [1])], { Tidx: T(it) }),
              w.int32(`${n.name}/iota_${a}_shape`, Array.from({ length: r }, (_, k) => (k === a ? -1 : 1))),
            ], { T: T(it), Tshape: T('int32') }),
            iShape,
          ], { T: T(it), Tidx: T(it) });
    return w.add(w.fresh(`${n.name}/coordinate_${a}`), 'ExpandDims', [v, w.int32(`${n.name}/last`, [r], true)], { T: T(it), Tdim: T('int32') });
  });
  return w.add(w.fresh(`${n.name}/coordinates`), 'ConcatV2', [...parts, w.int32(`${n.name}/concat_axis`, [r], true)], { T: T(it), N: { i: r }, Tidx: T('int32') });
}

/** ScatterElements (and opset 9's Scatter) as TensorScatterUpdate / TensorScatterAdd at coordinates built as for GatherElements. */
function scatterElements(w: GraphDefWriter, n: Node, out: string): void {
  const [x, i, u] = n.inputs as [string, string, string];
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const is = w.shape(i);
  const it = w.dtype(i);
  const reduction = attrString(n, 'reduction', 'none');
  if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedError(`${n.opType} with reduction ${reduction} in a GraphDef`, where);
  if (!xs || !is || xs.length !== is.length || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError(`${n.opType} of unknown rank in a GraphDef`, where);
  const axis = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + xs.length : attrInt(n, 'axis', 0);
  const d = xs[axis];
  const coords =
    typeof d === 'number' && is.every((v) => typeof v === 'number')
      ? elementCoordinates(w, n, w.ref(i), it, is as number[], axis, d)
      : runTimeElementCoordinates(w, n, x, i, it, axis);
  w.add(out, reduction === 'add' ? 'TensorScatterAdd' : 'TensorScatterUpdate', [w.ref(x), coords, w.ref(u)], { T: T(w.dtype(x)), Tindices: T(it) });
}

/** ONNX GatherND / ScatterND index tuples with negative entries wrapped by the dims they address (TF refuses them). */
function wrappedTuples(w: GraphDefWriter, n: Node, x: string, i: string, batchDims = 0): string {
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const k = w.shape(i)?.at(-1);
  const it = w.dtype(i);
  const dims = typeof k === 'number' ? xs?.slice(batchDims, batchDims + k) : undefined;
  if (!dims || typeof k !== 'number' || dims.length !== k || dims.some((d) => typeof d !== 'number') || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError(`${n.opType} of unknown shapes in a GraphDef`, where);
  return w.add(w.fresh(`${n.name}/indices`), 'FloorMod', [w.ref(i), indexConst(w, `${n.name}/dims`, it, [k], dims as number[])], { T: T(it) });
}

/** TopK as TopKV2 (the largest k along the last axis, sorted, the lower index first among equals, as ONNX): another axis is swapped to the last and back, the smallest are the largest of -x. */
function topK(w: GraphDefWriter, n: Node, out: string): void {
  const [x, kIn] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const rank = w.shape(x)?.length;
  const dtype = w.dtype(x);
  if (rank === undefined) throw new UnsupportedError('TopK of a value of unknown rank in a GraphDef', where);
  if (dtype === 'bool' || dtype === 'string' || dtype.startsWith('uint')) throw new UnsupportedError(`TopK of ${dtype} in a GraphDef`, where);
  const axis = attrInt(n, 'axis', -1) < 0 ? attrInt(n, 'axis', -1) + rank : attrInt(n, 'axis', -1);
  const largest = attrInt(n, 'largest', 1) === 1;
  const dt = { T: T(dtype) };
  // (before opset 10 k is an attribute)
  const kc = kIn ? w.g.initializers.get(kIn) : Tensor.int64([1], [attrInt(n, 'k', 1)]);
  let k: string;
  if (kc) k = w.int32(`${n.name}/k`, [kc.toNumbers()[0]!], true);
  else {
    const scalar = w.add(w.fresh(`${n.name}/k_scalar`), 'Reshape', [w.ref(kIn), w.int32(`${n.name}/scalar`, [])], { T: T(w.dtype(kIn)), Tshape: T('int32') });
    k = w.dtype(kIn) === 'int32' ? scalar : w.add(w.fresh(`${n.name}/k`), 'Cast', [scalar], { SrcT: T(w.dtype(kIn)), DstT: T('int32'), Truncate: { b: false } });
  }
  const perm = axis === rank - 1 ? undefined : w.int32(`${n.name}/perm`, Array.from({ length: rank }, (_, i) => (i === axis ? rank - 1 : i === rank - 1 ? axis : i)));
  let v = w.ref(x);
  if (perm) v = w.add(w.fresh(`${n.name}/to_last`), 'Transpose', [v, perm], { ...dt, Tperm: T('int32') });
  if (!largest) v = w.add(w.fresh(`${n.name}/negated`), 'Neg', [v], dt);
  const top = w.add(w.fresh(`${n.name}/top_k`), 'TopKV2', [v, k], { ...dt, sorted: { b: true }, index_type: T('int32') });
  let values = top;
  let indices = `${top}:1`;
  const outIdx = n.outputs[1] ? tfName(n.outputs[1]) : undefined;
  // values nothing reads (a detector's RPN keeps the indices only) get no node: a reader would take it for a graph output
  // (readersOf counts a body's implicit read of it too)
  const valuesRead = w.g.outputs.some((o) => o.name === n.outputs[0]) || readersOf(w.g.nodes).has(n.outputs[0]!);
  if (!largest && valuesRead) values = w.add(perm ? w.fresh(`${n.name}/values`) : out, 'Neg', [values], dt);
  if (perm) {
    if (valuesRead) values = w.add(out, 'Transpose', [values, perm], { ...dt, Tperm: T('int32') });
    indices = w.add(w.fresh(`${n.name}/indices_last`), 'Transpose', [indices, perm], { T: T('int32'), Tperm: T('int32') });
  }
  if (valuesRead && values !== out) w.add(out, 'Identity', [values], dt);
  if (outIdx) w.add(outIdx, 'Cast', [indices], { SrcT: T('int32'), DstT: T('int64'), Truncate: { b: false } });
}

export const indexingRows: Record<string, Row> = {
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: (w, n, out) => {
    const [x, i] = n.inputs as [string, string];
    const b = attrInt(n, 'batch_dims', 0);
    let tuples = wrappedTuples(w, n, x, i, b);
    const it = w.dtype(i);
    if (b) {
      // TF's GatherNd has no batch dims: each tuple is prefixed with its batch coordinates (constant iotas)
      const is = w.shape(i);
      if (!is || is.some((d) => typeof d !== 'number')) throw new UnsupportedError('GatherND with batch_dims of indices of unknown shape in a GraphDef', `node '${n.name}'`);
      const lead = (is as number[]).slice(0, -1);
      const count = lead.reduce((p, q) => p * q, 1);
      const strides = lead.map((_, a) => lead.slice(a + 1).reduce((p, q) => p * q, 1));
      const iotas = Array.from({ length: b }, (_, a) => indexConst(w, `${n.name}/batch_${a}`, it, [...lead, 1], Array.from({ length: count }, (_, k) => Math.floor(k / strides[a]!) % lead[a]!)));
      tuples = w.add(w.fresh(`${n.name}/batched_indices`), 'ConcatV2', [...iotas, tuples, w.int32(`${n.name}/tuple_axis`, [lead.length], true)], { T: T(it), N: { i: b + 1 }, Tidx: T('int32') });
    }
    w.add(out, 'GatherNd', [w.ref(x), tuples], { Tparams: T(w.dtype(x)), Tindices: T(it) });
  },
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  ScatterND: (w, n, out) => {
    const reduction = attrString(n, 'reduction', 'none');
    if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedError(`ScatterND with reduction ${reduction} in a GraphDef`, `node '${n.name}'`);
    const op = reduction === 'add' ? 'TensorScatterAdd' : 'TensorScatterUpdate';
    w.add(out, op, [w.ref(n.inputs[0]!), wrappedTuples(w, n, n.inputs[0]!, n.inputs[1]!), w.ref(n.inputs[2]!)], { T: T(w.dtype(n.inputs[0]!)), Tindices: T(w.dtype(n.inputs[1]!)) });
  },
  OneHot: oneHot,
  TopK: topK,
  // TF's Where lists the coordinates of the non-zero elements, (count, rank); ONNX's NonZero their transpose
  NonZero: (w, n, out) => {
    const where = w.add(w.fresh(`${n.name}/where`), 'Where', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) });
    w.add(out, 'Transpose', [where, w.int32(`${n.name}/perm`, [1, 0])], { T: T('int64'), Tperm: T('int32') });
  },
  // the elements where the 1-D condition holds: GatherV2 of the positions TF's Where lists (no axis: of the flattened input)
  Compress: (w, n, out) => {
    const [x, cond] = n.inputs as [string, string];
    const rank = w.shape(x)?.length;
    const axisAttr = attrInt(n, 'axis');
    if (axisAttr !== undefined && rank === undefined) throw new UnsupportedError('Compress of a value of unknown rank in a GraphDef', `node '${n.name}'`);
    const dt = T(w.dtype(x));
    const data = axisAttr === undefined ? w.add(w.fresh(`${n.name}/flat`), 'Reshape', [w.ref(x), w.int32(`${n.name}/flat_shape`, [-1])], { T: dt, Tshape: T('int32') }) : w.ref(x);
    const positions = w.add(w.fresh(`${n.name}/positions`), 'Where', [w.ref(cond)], { T: T(w.dtype(cond)) });
    const idx = w.add(w.fresh(`${n.name}/indices`), 'Reshape', [positions, w.int32(`${n.name}/indices_shape`, [-1])], { T: T('int64'), Tshape: T('int32') });
    const axis = axisAttr === undefined ? 0 : axisAttr < 0 ? axisAttr + rank! : axisAttr;
    w.add(out, 'GatherV2', [data, idx, w.int32(`${n.name}/axis`, [axis], true)], { Tparams: dt, Tindices: T('int64'), Taxis: T('int32'), batch_dims: { i: 0 } });
  },
  ReverseSequence: (w, n, out) =>
    w.add(out, 'ReverseSequence', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)), Tlen: T(w.dtype(n.inputs[1]!)), seq_dim: { i: attrInt(n, 'time_axis', 0) }, batch_dim: { i: attrInt(n, 'batch_axis', 1) } }),
  NonMaxSuppression: writeNonMaxSuppression,
};
