// GraphDef writer rows for the ops that move data without computing on it: Reshape / Flatten /
// Squeeze / Unsqueeze, Transpose, Concat, Split, Slice, Pad, Expand, Tile, DepthToSpace /
// SpaceToDepth, and Resize. Operands fed at run time become TF's tensor operands where TF takes them.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Dim, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { indexConst, ints, isFloat, runTimeDims, s, T, type GraphDefWriter, type Row } from './write-context.js';
import { resizeByTaps, resizeTapsAtRunTime } from './write-resize-taps.js';

/**
 * ONNX Resize over the H, W of NHWC data as ResizeBilinear / ResizeNearestNeighbor: TF's
 * align_corners and half_pixel_centers cover ONNX's align_corners, half_pixel (the same clamped
 * sampling for linear) and asymmetric; nearest's rounding must agree with TF's too.
 */
function resize(w: GraphDefWriter, n: Node, out: string): void {
  try {
    tfResize(w, n, out);
  } catch (e) {
    // what ResizeBilinear / ResizeNearestNeighbor cannot express, resized axis by axis (write-resize-taps.ts)
    // (constant taps where the shapes are known here, else taps computed in the graph)
    if (!(e instanceof UnsupportedError) || !(resizeByTaps(w, n, out) || resizeTapsAtRunTime(w, n, out))) throw e;
  }
}

function tfResize(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const inShape = w.shape(x);
  const outShape = w.shape(n.outputs[0]!);
  const where = `node '${n.name}'`;
  const sizes = n.inputs[3] && !w.g.initializers.has(n.inputs[3]) ? n.inputs[3] : undefined;
  const openHw = !!inShape && inShape.length === 4 && [1, 2].some((a) => typeof inShape[a] !== 'number');
  if (sizes || openHw) return resizeAtRunTime(w, n, out, sizes);
  if (!inShape || !outShape || inShape.length !== 4 || outShape.length !== 4 || outShape.some((d) => typeof d !== 'number')) throw new UnsupportedError('Resize of a value whose NHWC shape is unknown in a GraphDef', where);
  if (outShape[0] !== inShape[0] || outShape[3] !== inShape[3]) throw new UnsupportedError('Resize of the batch or channel dims in a GraphDef', where);
  // the output size is baked in: scales / sizes fed at run time would be ignored
  const computed = n.inputs.slice(1).find((i) => i && !w.g.initializers.has(i));
  if (computed) throw new UnsupportedError(`Resize with computed scales / sizes ('${computed}') in a GraphDef`, where);
  // ONNX maps coordinates with the scales given (in * scale may not be whole), TF with out / in
  const scales = n.inputs.slice(1).map((i) => (i ? w.g.initializers.get(i) : undefined)).find((t) => t && isFloat(t.dtype) && t.size === 4)?.toNumbers() ?? (n.attrs.scales ? attrFloats(n, 'scales') : undefined);
  if (scales && [1, 2].some((a) => Math.abs((inShape[a] as number) * scales[a]! - (outShape[a] as number)) > 1e-5 * (outShape[a] as number))) {
    throw new UnsupportedError(`Resize by scales [${scales.join(', ')}] that do not give whole output sizes in a GraphDef (TF samples with output / input)`, where);
  }
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  let align = false;
  let half = false;
  let op: string;
  if (mode === 'linear') {
    op = 'ResizeBilinear';
    if (ctm === 'align_corners') align = true;
    else if (ctm === 'half_pixel' || ctm === 'pytorch_half_pixel') half = true;
    else if (ctm !== 'asymmetric') throw new UnsupportedError(`Resize linear with ${ctm} in a GraphDef`, where);
    // pytorch_half_pixel differs from half_pixel only for an output of size 1
    if (ctm === 'pytorch_half_pixel' && (outShape[1] === 1 || outShape[2] === 1)) throw new UnsupportedError('Resize pytorch_half_pixel to a size of 1 in a GraphDef', where);
  } else if (mode === 'nearest') {
    op = 'ResizeNearestNeighbor';
    // TF nearest: floor(x * scale) (asymmetric), floor((x + 0.5) * scale) (half-pixel), round(x * scale) (align corners)
    if (ctm === 'asymmetric' && nearest === 'floor') ({ align, half } = { align: false, half: false });
    else if ((ctm === 'tf_half_pixel_for_nn' && nearest === 'floor') || (ctm === 'half_pixel' && nearest === 'round_prefer_ceil')) half = true;
    else if (ctm === 'align_corners' && nearest === 'round_prefer_ceil') align = true;
    else throw new UnsupportedError(`Resize nearest with ${ctm}/${nearest} in a GraphDef`, where);
  } else throw new UnsupportedError(`Resize mode ${mode} in a GraphDef`, where);
  const size = w.int32(`${n.name}/size`, [outShape[1] as number, outShape[2] as number]);
  w.add(out, op, [w.ref(x), size], { T: T(w.dtype(x)), align_corners: { b: align }, half_pixel_centers: { b: half } });
}

/**
 * A Resize whose output size is known only when the model runs: computed sizes (NHWC after the
 * layout pass's Gather: their H, W by StridedSlice and Cast to int32), or whole constant scales of
 * an input with an open H / W (Shape -> StridedSlice -> Mul). Only where TF maps coordinates as
 * ONNX does for every size (by in / out, the same as a whole scale or given sizes): linear with
 * half_pixel, align_corners or asymmetric, nearest with asymmetric + floor (PyTorch's 'nearest').
 * The batch and channels were checked to stay where the sizes were left computed (open-dims.ts).
 */
function resizeAtRunTime(w: GraphDefWriter, n: Node, out: string, sizes: string | undefined): void {
  const x = n.inputs[0]!;
  const where = `node '${n.name}'`;
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  // (the mode first: a refusal leaves no nodes behind for the taps written instead)
  let op: string;
  let align = false;
  let half = false;
  if (mode === 'linear') {
    op = 'ResizeBilinear';
    if (ctm === 'align_corners') align = true;
    else if (ctm === 'half_pixel') half = true;
    else if (ctm !== 'asymmetric') throw new UnsupportedError(`Resize linear with ${ctm} to a size known only at run time in a GraphDef`, `${where}: TF's ResizeBilinear maps half_pixel, align_corners and asymmetric as ONNX does for every size`);
  } else if (mode === 'nearest' && ctm === 'asymmetric' && nearest === 'floor') op = 'ResizeNearestNeighbor';
  else throw new UnsupportedError(`Resize ${mode} with ${ctm}${mode === 'nearest' ? `/${nearest}` : ''} to a size known only at run time in a GraphDef`, `${where}: TF's ResizeNearestNeighbor picks as ONNX for every size only with asymmetric / floor (PyTorch's 'nearest')`);
  const hwOf = (v: string, it: Tensor['dtype']): string =>
    w.add(w.fresh(`${n.name}/hw`), 'StridedSlice', [v, indexConst(w, `${n.name}/hw_begin`, it, [1], [1]), indexConst(w, `${n.name}/hw_end`, it, [1], [3]), indexConst(w, `${n.name}/hw_strides`, it, [1], [1])], { T: T(it), Index: T(it), begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } });
  let size: string;
  if (sizes) {
    const it = w.dtype(sizes);
    if (it !== 'int64' && it !== 'int32') throw new UnsupportedError(`Resize with ${it} sizes computed at run time in a GraphDef`, where);
    const hw = hwOf(w.ref(sizes), it);
    size = it === 'int32' ? hw : w.add(w.fresh(`${n.name}/size`), 'Cast', [hw], { SrcT: T(it), DstT: T('int32'), Truncate: { b: false } });
  } else {
    const computed = n.inputs.slice(1).find((i) => i && !w.g.initializers.has(i));
    if (computed) throw new UnsupportedError(`Resize with computed scales ('${computed}') in a GraphDef`, where);
    const scales = n.inputs.slice(1).map((i) => (i ? w.g.initializers.get(i) : undefined)).find((t) => t && isFloat(t.dtype) && t.size === 4)?.toNumbers() ?? (n.attrs.scales ? attrFloats(n, 'scales') : undefined);
    const whole = scales?.slice(1, 3).map((v) => Math.round(v));
    if (!scales || scales[0] !== 1 || scales[3] !== 1 || !whole!.every((k, i) => k >= 1 && k === scales[i + 1])) {
      throw new UnsupportedError(`Resize of a value with a height / width known only at run time by scales [${scales?.join(', ') ?? '?'}] in a GraphDef`, `${where}: only whole scales of H and W keep TF's coordinate mapping (it maps by in / out size)`);
    }
    const shape = w.add(w.fresh(`${n.name}/input_shape`), 'Shape', [w.ref(x)], { T: T(w.dtype(x)), out_type: T('int32') });
    size = w.add(w.fresh(`${n.name}/size`), 'Mul', [hwOf(shape, 'int32'), w.int32(`${n.name}/scales`, whole!)], { T: T('int32') });
  }
  w.add(out, op, [w.ref(x), size], { T: T(w.dtype(x)), align_corners: { b: align }, half_pixel_centers: { b: half } });
}

/** ONNX Slice with constant starts/ends/axes/steps: TF Slice (steps of 1) or StridedSlice. */
function slice(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const where = `node '${n.name}'`;
  // (before opset 10: starts / ends / axes attributes)
  const attr = ['', 'starts', 'ends', 'axes'];
  const c = (i: number) => (n.inputs[i] ? w.g.initializers.get(n.inputs[i]!)?.toNumbers() : attrInts(n, attr[i] ?? ''));
  const starts = c(1);
  const ends = c(2);
  if (!starts || !ends || (n.inputs[3] && !c(3)) || (n.inputs[4] && !c(4))) return sliceComputed(w, n, out);
  if (!shape) throw new UnsupportedError('Slice of a value of unknown rank in a GraphDef', where);
  if (shape.some((d) => typeof d !== 'number')) return sliceOfRunTimeDims(w, n, out, shape.length, starts, ends, c(3), c(4));
  const dims = shape as number[];
  const r = dims.length;
  const axes = (c(3) ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const steps = c(4) ?? axes.map(() => 1);
  const begin = dims.map(() => 0);
  const end = [...dims];
  const stride = dims.map(() => 1);
  let endMask = 0;
  axes.forEach((a, k) => {
    const d = dims[a]!;
    const step = steps[k]!;
    const clampTo = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + d : v));
    // ONNX clamps starts/ends to [0, d] (steps > 0) or [-1, d-1] (steps < 0)
    begin[a] = step > 0 ? clampTo(starts[k]!, 0, d) : clampTo(starts[k]!, 0, d - 1);
    const e = step > 0 ? clampTo(ends[k]!, 0, d) : Math.min(d - 1, Math.max(-1, ends[k]! < 0 ? ends[k]! + d : ends[k]!));
    if (e === -1) endMask |= 1 << a;
    end[a] = e;
    stride[a] = step;
  });
  const size = dims.map((_, a) => Math.max(0, end[a]! - begin[a]!));
  if (stride.every((v) => v === 1)) {
    w.add(out, 'Slice', [w.ref(x), w.int32(`${n.name}/begin`, begin), w.int32(`${n.name}/size`, size)], { T: T(w.dtype(x)), Index: T('int32') });
    return;
  }
  if (r === 4 && stride[0] === 1 && stride[3] === 1 && stride[1]! > 0 && stride[2]! > 0 && w.dtype(x) === 'float32') {
    // Every s-th row/column of NHWC data: a contiguous Slice, then a 1x1 MaxPool with that
    // stride (no arithmetic, so exact); OpenCV's importer runs StridedSlice only with stride 1
    const crop = begin.some((b, a) => b !== 0 || size[a] !== dims[a]) ? w.add(w.fresh(`${n.name}/crop`), 'Slice', [w.ref(x), w.int32(`${n.name}/begin`, begin), w.int32(`${n.name}/size`, size)], { T: T('float32'), Index: T('int32') }) : w.ref(x);
    w.add(out, 'MaxPool', [crop], { T: T('float32'), ksize: ints([1, 1, 1, 1]), strides: ints(stride), padding: s('VALID'), data_format: s('NHWC') });
    return;
  }
  w.add(out, 'StridedSlice', [w.ref(x), w.int32(`${n.name}/begin`, begin), w.int32(`${n.name}/end`, end.map((e, a) => (endMask & (1 << a) ? 0 : e))), w.int32(`${n.name}/strides`, stride)], {
    T: T(w.dtype(x)),
    Index: T('int32'),
    begin_mask: { i: 0 },
    end_mask: { i: endMask },
    ellipsis_mask: { i: 0 },
    new_axis_mask: { i: 0 },
    shrink_axis_mask: { i: 0 },
  });
}

/**
 * Slice with constant starts / ends of a value whose dims are known only at run time: StridedSlice, whose
 * begin / end clamp to the dim as ONNX's do (Python's slice rules: negative counts from the end, then
 * [0, d] for a positive step, [-1, d - 1] for a negative one); the axes not sliced are masked whole.
 */
function sliceOfRunTimeDims(w: GraphDefWriter, n: Node, out: string, r: number, starts: number[], ends: number[], axesIn: number[] | undefined, stepsIn: number[] | undefined): void {
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const steps = stepsIn ?? axes.map(() => 1);
  const clamp32 = (v: number) => Math.max(-(2 ** 31) + 1, Math.min(2 ** 31 - 1, v));
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  const stride = new Array<number>(r).fill(1);
  let whole = (1 << r) - 1;
  axes.forEach((a, k) => {
    if (steps[k] === 0) throw new UnsupportedError('Slice with a step of 0 in a GraphDef', `node '${n.name}'`);
    begin[a] = clamp32(starts[k]!);
    end[a] = clamp32(ends[k]!);
    stride[a] = steps[k]!;
    whole &= ~(1 << a);
  });
  w.add(out, 'StridedSlice', [w.ref(n.inputs[0]!), w.int32(`${n.name}/begin`, begin), w.int32(`${n.name}/end`, end), w.int32(`${n.name}/strides`, stride)], {
    T: T(w.dtype(n.inputs[0]!)),
    Index: T('int32'),
    begin_mask: { i: whole },
    end_mask: { i: whole },
    ellipsis_mask: { i: 0 },
    new_axis_mask: { i: 0 },
    shrink_axis_mask: { i: 0 },
  });
}

/**
 * Squeeze / Unsqueeze (and any op that only re-shapes) as a Reshape to the inferred static shape;
 * one dynamic dim (the batch) is Reshape's -1, which the element count fixes.
 */
function reshapeTo(w: GraphDefWriter, n: Node, out: string): void {
  const shape = w.shape(n.outputs[0]!);
  if ((!shape || shape.filter((d) => typeof d !== 'number').length > 1) && (n.opType === 'Unsqueeze' || n.opType === 'Squeeze')) {
    // several run-time dims (a detector's per-box tensors), or a shape inference could not follow:
    // ExpandDims at each new axis / Squeeze of the given axes (the rank is needed for negative axes only)
    const axes = attrInts(n, 'axes') ?? (n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers() : undefined);
    const rank = n.opType === 'Unsqueeze' ? shape?.length : w.shape(n.inputs[0]!)?.length;
    if (axes && (rank !== undefined || axes.every((a) => a >= 0))) {
      const norm = axes.map((a) => (a < 0 ? a + rank! : a)).sort((a, b) => a - b);
      const dt = T(w.dtype(n.inputs[0]!));
      if (n.opType === 'Squeeze') {
        w.add(out, 'Squeeze', [w.ref(n.inputs[0]!)], { T: dt, squeeze_dims: ints(norm) });
        return;
      }
      let v = w.ref(n.inputs[0]!);
      norm.forEach((a, k) => (v = w.add(k === norm.length - 1 ? out : w.fresh(`${n.name}/expand_${a}`), 'ExpandDims', [v, w.int32(`${n.name}/axis_${a}`, [a], true)], { T: dt, Tdim: T('int32') })));
      return;
    }
  }
  if (!shape || shape.filter((d) => typeof d !== 'number').length > 1) throw new UnsupportedError(`${n.opType} to a shape not known before running in a GraphDef`, `node '${n.name}'`);
  w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, shape.map((d) => (typeof d === 'number' ? d : -1)))], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
}

/** ONNX Split as TF Split (equal parts) or SplitV; outputs i > 0 are referenced as 'name:i'. */
function split(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const where = `node '${n.name}'`;
  if (!shape) throw new UnsupportedError('Split of a value of unknown rank in a GraphDef', where);
  const axis = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + shape.length : attrInt(n, 'axis', 0);
  const d = shape[axis];
  const parts = n.outputs.length;
  let sizes = n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers() : attrInts(n, 'split');
  if (n.inputs[1] && !sizes) {
    // sizes fed at run time: SplitV takes them as a tensor
    if (n.outputs.some((o) => !o)) throw new UnsupportedError('Split with an unused output slot in a GraphDef', where);
    w.add(out, 'SplitV', [w.ref(x), w.ref(n.inputs[1]), w.int32(`${n.name}/axis`, [axis], true)], { T: T(w.dtype(x)), Tlen: T(w.dtype(n.inputs[1])), num_split: { i: parts } });
    n.outputs.forEach((o, i) => {
      if (i > 0) w.refs.set(o, `${out}:${i}`);
    });
    return;
  }
  if (!sizes) {
    if (typeof d !== 'number') throw new UnsupportedError('Split of a dim of unknown size in a GraphDef', where);
    const each = Math.ceil(d / parts);
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
  }
  if (n.outputs.some((o) => !o)) throw new UnsupportedError('Split with an unused output slot in a GraphDef', where);
  const dt = T(w.dtype(x));
  const axisConst = w.int32(`${n.name}/axis`, [axis], true);
  if (sizes.every((v) => v === sizes![0])) w.add(out, 'Split', [axisConst, w.ref(x)], { T: dt, num_split: { i: parts } });
  else w.add(out, 'SplitV', [w.ref(x), w.int32(`${n.name}/size_splits`, sizes), axisConst], { T: dt, Tlen: T('int32'), num_split: { i: parts } });
  n.outputs.forEach((o, i) => {
    if (i > 0) w.refs.set(o, `${out}:${i}`);
  });
}

/**
 * Pad mode edge (TF has no such mode) as one GatherV2 per padded axis of the indices
 * clip(-begin .. size + end, 0, size - 1): each pad repeats the border element. Pads fed at run
 * time give those indices by Range from their begin / end (a negative pad crops, as in ONNX).
 */
function edgePad(w: GraphDefWriter, n: Node, out: string, pads: number[] | undefined): void {
  const x = n.inputs[0]!;
  const where = `node '${n.name}'`;
  const shape = w.shape(x);
  if (n.inputs[3]) throw new UnsupportedError('Pad with axes in a GraphDef', where);
  if (!shape || shape.some((d) => typeof d !== 'number')) throw new UnsupportedError('Pad mode edge of a value of unknown shape in a GraphDef', where);
  const dims = shape as number[];
  const r = dims.length;
  const dt = T(w.dtype(x));
  const axes = pads ? dims.flatMap((_, a) => (pads[a] || pads[a + r] ? [a] : [])) : dims.map((_, a) => a);
  if (axes.some((a) => dims[a] === 0)) throw new UnsupportedError('Pad mode edge of an empty axis in a GraphDef', where);
  let cur = w.ref(x);
  if (!axes.length) {
    w.add(out, 'Identity', [cur], { T: dt });
    return;
  }
  const pt = pads ? 'int32' : w.dtype(n.inputs[1]!);
  const scalar = (tag: string, v: number) => indexConst(w, `${n.name}/${tag}`, pt, [], [v]);
  axes.forEach((a, k) => {
    const d = dims[a]!;
    let idx: string;
    if (pads) {
      idx = w.int32(`${n.name}/edge_indices_${a}`, Array.from({ length: d + pads[a]! + pads[a + r]! }, (_, i) => Math.min(d - 1, Math.max(0, i - pads[a]!))));
    } else {
      const pick = (j: number, tag: string) => w.add(w.fresh(`${n.name}/${tag}_${a}`), 'GatherV2', [w.ref(n.inputs[1]!), w.int32(`${n.name}/${tag}_index_${a}`, [j], true), w.int32(`${n.name}/${tag}_axis_${a}`, [0], true)], { Tparams: T(pt), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
      const start = w.add(w.fresh(`${n.name}/start_${a}`), 'Neg', [pick(a, 'begin')], { T: T(pt) });
      const limit = w.add(w.fresh(`${n.name}/limit_${a}`), 'AddV2', [pick(a + r, 'end'), scalar(`size_${a}`, d)], { T: T(pt) });
      const range = w.add(w.fresh(`${n.name}/range_${a}`), 'Range', [start, limit, scalar(`one_${a}`, 1)], { Tidx: T(pt) });
      const low = w.add(w.fresh(`${n.name}/clip_low_${a}`), 'Maximum', [range, scalar(`zero_${a}`, 0)], { T: T(pt) });
      idx = w.add(w.fresh(`${n.name}/edge_indices_${a}`), 'Minimum', [low, scalar(`last_${a}`, d - 1)], { T: T(pt) });
    }
    cur = w.add(k === axes.length - 1 ? out : w.fresh(`${n.name}/edge_${a}`), 'GatherV2', [cur, idx, w.int32(`${n.name}/gather_axis_${a}`, [a], true)], { Tparams: dt, Tindices: T(pads ? 'int32' : pt), Taxis: T('int32'), batch_dims: { i: 0 } });
  });
}

/**
 * Slice with starts / ends / axes / steps fed at run time as StridedSlice, which takes begin / end /
 * strides as tensors over every axis: each operand is spread onto the axes it names through a
 * one-hot matrix of those axes (axes not sliced: 0, the dim's size, 1). Both clamp as Python
 * slicing does, except a start below -dim with a negative step (ONNX: the first element, TF:
 * before it), so starts are raised to -dim first.
 */
function sliceComputed(w: GraphDefWriter, n: Node, out: string): void {
  const [x, st, en, ax, sp] = n.inputs as [string, string, string, string | undefined, string | undefined];
  const where = `node '${n.name}'`;
  const shape = w.shape(x);
  const it = w.dtype(st);
  const k = w.shape(st)?.[0];
  if (n.opType !== 'Slice' || !st || !en || !shape || typeof k !== 'number' || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError('Slice with computed starts/ends/axes/steps of unknown count or of a value of unknown rank in a GraphDef', where);
  const r = shape.length;
  const dt = { T: T(it) };
  const vec = (tag: string, values: number[], dims = [values.length]) => indexConst(w, `${n.name}/${tag}`, it, dims, values);
  const cast = (v: string | undefined) => (v && w.dtype(v) !== it ? w.add(w.fresh(`${v}/as_${it}`), 'Cast', [w.ref(v)], { SrcT: T(w.dtype(v)), DstT: T(it), Truncate: { b: false } }) : v && w.ref(v));
  const dims = shape.every((d) => typeof d === 'number') ? vec('dims', shape as number[]) : w.add(w.fresh(`${n.name}/dims`), 'Shape', [w.ref(x)], { T: T(w.dtype(x)), out_type: T(it) });
  let hot: string;
  if (ax && !w.g.initializers.has(ax)) {
    const wrapped = w.add(w.fresh(`${n.name}/axes`), 'FloorMod', [cast(ax)!, vec('rank', [r], [])], dt);
    hot = w.add(w.fresh(`${n.name}/axes_one_hot`), 'OneHot', [wrapped, w.int32(`${n.name}/depth`, [r], true), vec('on', [1], []), vec('off', [0], [])], { T: T(it), TI: T(it), axis: { i: -1 } });
  } else {
    const axes = ax ? w.g.initializers.get(ax)!.toNumbers().map((a) => (a < 0 ? a + r : a)) : Array.from({ length: k }, (_, j) => j);
    hot = vec('axes_one_hot', Array.from({ length: k * r }, (_, i) => (axes[Math.floor(i / r)] === i % r ? 1 : 0)), [k, r]);
  }
  const first = w.int32(`${n.name}/sum_axis`, [0]);
  const sum = (v: string, tag: string) => w.add(w.fresh(`${n.name}/${tag}`), 'Sum', [v, first], { ...dt, Tidx: T('int32'), keep_dims: { b: false } });
  const spread = (v: string, tag: string) => {
    const column = w.add(w.fresh(`${n.name}/${tag}_column`), 'Reshape', [v, w.int32(`${n.name}/${tag}_column_shape`, [k, 1])], { ...dt, Tshape: T('int32') });
    return sum(w.add(w.fresh(`${n.name}/${tag}_spread`), 'Mul', [column, hot], dt), tag);
  };
  const untouched = w.add(w.fresh(`${n.name}/untouched`), 'Sub', [vec('ones', new Array<number>(r).fill(1)), sum(hot, 'touched')], dt);
  const begin = w.add(w.fresh(`${n.name}/begin`), 'Maximum', [spread(cast(st)!, 'starts'), w.add(w.fresh(`${n.name}/neg_dims`), 'Neg', [dims], dt)], dt);
  const end = w.add(w.fresh(`${n.name}/end`), 'AddV2', [spread(cast(en)!, 'ends'), w.add(w.fresh(`${n.name}/full_ends`), 'Mul', [untouched, dims], dt)], dt);
  const strides = sp ? w.add(w.fresh(`${n.name}/strides`), 'AddV2', [spread(cast(sp)!, 'steps'), untouched], dt) : vec('strides', new Array<number>(r).fill(1));
  w.add(out, 'StridedSlice', [w.ref(x), begin, end, strides], { T: T(w.dtype(x)), Index: T(it), begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } });
}

/**
 * DepthToSpace mode CRD (PyTorch's PixelShuffle) over NHWC data: the depth splits as (channel,
 * block row, block column), where TF's DepthToSpace takes DCR, so Reshape to 6-D, Transpose, Reshape.
 */
function depthToSpaceCrd(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const b = attrInt(n, 'blocksize', 1);
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => typeof d !== 'number')) throw new UnsupportedError('DepthToSpace mode CRD of a value of unknown shape in a GraphDef', `node '${n.name}'`);
  const [batch, h, wd, c] = shape as [Dim, number, number, number];
  const nb = typeof batch === 'number' ? batch : -1;
  const dt = T(w.dtype(x));
  const split = w.add(w.fresh(`${n.name}/split_depth`), 'Reshape', [w.ref(x), w.int32(`${n.name}/shape6`, [nb, h, wd, c / (b * b), b, b])], { T: dt, Tshape: T('int32') });
  const moved = w.add(w.fresh(`${n.name}/interleave`), 'Transpose', [split, w.int32(`${n.name}/perm`, [0, 1, 4, 2, 5, 3])], { T: dt, Tperm: T('int32') });
  w.add(out, 'Reshape', [moved, w.int32(`${n.name}/shape`, [nb, h * b, wd * b, c / (b * b)])], { T: dt, Tshape: T('int32') });
}

/**
 * Reshape to a shape fed at run time: TF's Reshape takes the shape as a tensor, but its 0 is a
 * zero-size dim where ONNX's (without allowzero) copies the input's dim at that index, so the
 * zeros are replaced by those dims first (SelectV2).
 */
function reshapeComputed(w: GraphDefWriter, n: Node, out: string): void {
  const [x, shapeIn] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const st = w.dtype(shapeIn);
  const dt = T(w.dtype(x));
  if (attrInt(n, 'allowzero', 0)) {
    w.add(out, 'Reshape', [w.ref(x), w.ref(shapeIn)], { T: dt, Tshape: T(st) });
    return;
  }
  const k = w.shape(shapeIn)?.[0];
  const xs = w.shape(x);
  if (typeof k !== 'number' || !xs) throw new UnsupportedError('Reshape to a computed shape of unknown length, or of a value of unknown rank, in a GraphDef', where);
  let dims: string;
  if (xs.every((d) => typeof d === 'number')) dims = indexConst(w, `${n.name}/input_dims`, st, [k], Array.from({ length: k }, (_, i) => (xs[i] as number | undefined) ?? 0));
  else {
    const full = w.add(w.fresh(`${n.name}/input_shape`), 'Shape', [w.ref(x)], { T: dt, out_type: T(st) });
    if (k === xs.length) dims = full;
    else if (k < xs.length) dims = w.add(w.fresh(`${n.name}/input_dims`), 'Slice', [full, w.int32(`${n.name}/dims_begin`, [0]), w.int32(`${n.name}/dims_size`, [k])], { T: T(st), Index: T('int32') });
    else dims = w.add(w.fresh(`${n.name}/input_dims`), 'ConcatV2', [full, indexConst(w, `${n.name}/dims_rest`, st, [k - xs.length], new Array<number>(k - xs.length).fill(0)), w.int32(`${n.name}/dims_axis`, [0], true)], { T: T(st), N: { i: 2 }, Tidx: T('int32') });
  }
  const zero = w.add(w.fresh(`${n.name}/copies`), 'Equal', [w.ref(shapeIn), indexConst(w, `${n.name}/zero`, st, [], [0])], { T: T(st) });
  const target = w.add(w.fresh(`${n.name}/target`), 'SelectV2', [zero, dims, w.ref(shapeIn)], { T: T(st) });
  w.add(out, 'Reshape', [w.ref(x), target], { T: dt, Tshape: T(st) });
}

export const shapeRows: Record<string, Row> = {
  // (a static shape is folded into a constant before writing): a dynamic-shaped value's, an SSD's detections
  Shape: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length;
    const dtype = w.dtype(n.outputs[0]!);
    if (rank === undefined || (dtype !== 'int32' && dtype !== 'int64')) throw new UnsupportedError(`Shape ${rank === undefined ? 'of a value of unknown rank' : `to ${dtype}`} in a GraphDef`, `node '${n.name}'`);
    const at = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
    const start = at(attrInt(n, 'start', 0));
    const end = Math.max(at(attrInt(n, 'end', rank)), start);
    const attrs = { T: T(w.dtype(n.inputs[0]!)), out_type: T(dtype) };
    if (start === 0 && end === rank) return void w.add(out, 'Shape', [w.ref(n.inputs[0]!)], attrs);
    runTimeDims(w, n.name, { ref: w.ref(n.inputs[0]!), dtype: w.dtype(n.inputs[0]!) }, { begin: start, size: end - start, outType: dtype, name: out });
  },
  Reshape: (w, n, out) => {
    const t = w.g.initializers.get(n.inputs[1]!);
    if (!t) return reshapeComputed(w, n, out);
    const inShape = w.shape(n.inputs[0]!);
    // ONNX's 0 copies the input's dim; TF's 0 is a zero-size dim. A copied dim of unknown size
    // (the batch) is TF's -1 when no other dim is inferred.
    const copies = !attrInt(n, 'allowzero', 0);
    const target = t.toNumbers().map((d, i) => (d === 0 && copies ? inShape?.[i] : d));
    const unknown = target.filter((d) => typeof d !== 'number').length;
    // (else the inferred output shape, when only one of its dims is unknown: that one is -1)
    const inferred = w.shape(n.outputs[0]!);
    const resolved = unknown > 1 || (unknown === 1 && target.includes(-1)) ? (inferred && inferred.filter((d) => typeof d !== 'number').length <= 1 ? inferred : undefined) : target;
    // (else the copies are taken from the input's Shape when it runs, as for a computed target: a
    // channel shuffle's split of the channels with the run-time height and width copied)
    if (!resolved) return reshapeComputed(w, n, out);
    const dims = resolved.map((d) => (typeof d === 'number' ? d : -1));
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, dims)], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
  Flatten: (w, n, out) => {
    const shape = w.shape(n.inputs[0]!);
    const axis = attrInt(n, 'axis', 1);
    if (!shape) throw new UnsupportedError('Flatten of a value of unknown rank in a GraphDef', `node '${n.name}'`);
    if (shape.slice(axis).some((d) => typeof d !== 'number')) {
      // run-time trailing dims (a detector's per-box features): the leading dims' product from the Shape, then -1
      const x = w.ref(n.inputs[0]!);
      const lead = runTimeDims(w, `${n.name}/leading`, { ref: x, dtype: w.dtype(n.inputs[0]!) }, { begin: 0, size: axis < 0 ? axis + shape.length : axis });
      const outer = w.add(w.fresh(`${n.name}/outer`), 'Prod', [lead, w.int32(`${n.name}/outer_axis`, [0])], { T: T('int32'), Tidx: T('int32'), keep_dims: { b: true } });
      const target = w.add(w.fresh(`${n.name}/target_shape`), 'ConcatV2', [outer, w.int32(`${n.name}/rest`, [-1]), w.int32(`${n.name}/target_axis`, [0], true)], { T: T('int32'), N: { i: 2 }, Tidx: T('int32') });
      w.add(out, 'Reshape', [x, target], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
      return;
    }
    const inner = (shape.slice(axis) as number[]).reduce((a, b) => a * b, 1);
    const outer = shape.slice(0, axis).every((d) => typeof d === 'number') ? (shape.slice(0, axis) as number[]).reduce((a, b) => a * b, 1) : -1;
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, [outer, inner])], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
  Squeeze: reshapeTo,
  Unsqueeze: reshapeTo,
  Transpose: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length;
    // no perm: ONNX reverses the axes
    const perm = attrInts(n, 'perm') ?? (rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i));
    if (!perm) throw new UnsupportedError('Transpose without perm of a value of unknown rank in a GraphDef', `node '${n.name}'`);
    w.add(out, 'Transpose', [w.ref(n.inputs[0]!), w.int32(`${n.name}/perm`, perm)], { T: T(w.dtype(n.inputs[0]!)), Tperm: T('int32') });
  },
  Concat: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length ?? 0;
    const axis = attrInt(n, 'axis', 0);
    w.add(out, 'ConcatV2', [...n.inputs.map((i) => w.ref(i)), w.int32(`${n.name}/axis`, [axis < 0 ? axis + rank : axis], true)], { T: T(w.dtype(n.inputs[0]!)), N: { i: n.inputs.length }, Tidx: T('int32') });
  },
  Split: split,
  Slice: slice,
  Pad: (w, n, out) => {
    const mode = attrString(n, 'mode', 'constant');
    // before opset 11 pads and value are attributes
    const pads = n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers() : attrInts(n, 'pads', []);
    const where = `node '${n.name}'`;
    if (mode === 'edge') return edgePad(w, n, out, pads);
    let p: string;
    let pt: Tensor['dtype'] = 'int32';
    if (n.inputs[3]) throw new UnsupportedError('Pad with axes in a GraphDef', where);
    if (!pads) {
      // pads fed at run time, ONNX's [begins..., ends...]: TF's [[begin, end], ...] is its (2, r) reshape transposed
      const r = w.shape(n.inputs[0]!)?.length;
      if (r === undefined) throw new UnsupportedError('Pad with computed pads of a value of unknown rank in a GraphDef', where);
      pt = w.dtype(n.inputs[1]!);
      const rows = w.add(w.fresh(`${n.name}/pads_2r`), 'Reshape', [w.ref(n.inputs[1]!), w.int32(`${n.name}/pads_shape`, [2, r])], { T: T(pt), Tshape: T('int32') });
      p = w.add(w.fresh(`${n.name}/paddings`), 'Transpose', [rows, w.int32(`${n.name}/pads_perm`, [1, 0])], { T: T(pt), Tperm: T('int32') });
    } else {
      const r = pads.length / 2;
      p = w.paddings(`${n.name}/paddings`, Array.from({ length: r }, (_, i) => [pads[i]!, pads[i + r]!]).flat());
    }
    const x = n.inputs[0]!;
    const dt = { T: T(w.dtype(x)), Tpaddings: T(pt) };
    const computedValue = n.inputs[2] && !w.g.initializers.has(n.inputs[2]);
    const value = n.inputs[2] ? w.g.initializers.get(n.inputs[2])?.toNumbers()[0] : n.inputs[1] ? 0 : attrFloat(n, 'value', 0);
    if (mode === 'reflect') w.add(out, 'MirrorPad', [w.ref(x), p], { ...dt, mode: s('REFLECT') });
    else if (mode === 'constant' && computedValue) w.add(out, 'PadV2', [w.ref(x), p, w.ref(n.inputs[2]!)], dt);
    else if (mode === 'constant' && !value) w.add(out, 'Pad', [w.ref(x), p], dt);
    else if (mode === 'constant') w.add(out, 'PadV2', [w.ref(x), p, w.const(`${n.name}/value`, Tensor.float32([], [value!]))], dt);
    else throw new UnsupportedError(`Pad mode ${mode} in a GraphDef`, where);
  },
  Expand: (w, n, out) => {
    const shape = w.shape(n.outputs[0]!);
    if (!shape || shape.some((d) => typeof d !== 'number')) {
      // a run-time shape (torchvision's MultiScaleRoIAlign expands its level indices to the rois' count):
      // ONNX's Expand broadcasts both ways, so the target is BroadcastArgs of the input's shape and the given one
      const st = w.dtype(n.inputs[1]!);
      if (st !== 'int32' && st !== 'int64') throw new UnsupportedError(`Expand to a ${st} shape in a GraphDef`, `node '${n.name}'`);
      const own = w.add(w.fresh(`${n.name}/input_shape`), 'Shape', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), out_type: T(st) });
      const target = w.add(w.fresh(`${n.name}/target_shape`), 'BroadcastArgs', [own, w.ref(n.inputs[1]!)], { T: T(st) });
      w.add(out, 'BroadcastTo', [w.ref(n.inputs[0]!), target], { T: T(w.dtype(n.inputs[0]!)), Tidx: T(st) });
      return;
    }
    w.add(out, 'BroadcastTo', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, shape as number[])], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32') });
  },
  Tile: (w, n, out) => {
    const repeats = w.g.initializers.get(n.inputs[1]!)?.toNumbers();
    // repeats fed at run time go to TF's Tile as they are (int64 multiples)
    if (!repeats) w.add(out, 'Tile', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)), Tmultiples: T(w.dtype(n.inputs[1]!)) });
    else w.add(out, 'Tile', [w.ref(n.inputs[0]!), w.int32(`${n.name}/multiples`, repeats)], { T: T(w.dtype(n.inputs[0]!)), Tmultiples: T('int32') });
  },
  'nnport::DepthToSpace': (w, n, out) => {
    if (attrString(n, 'mode', 'DCR') !== 'DCR') return depthToSpaceCrd(w, n, out);
    w.add(out, 'DepthToSpace', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), block_size: { i: attrInt(n, 'blocksize', 1) }, data_format: s('NHWC') });
  },
  'nnport::SpaceToDepth': (w, n, out) => w.add(out, 'SpaceToDepth', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), block_size: { i: attrInt(n, 'blocksize', 1) }, data_format: s('NHWC') }),
  Resize: resize,
  'nnport::Resize': resize,
  // Upsample (opset 7-9): Resize with the asymmetric map and, for nearest, the floor of it
  Upsample: (w, n, out) => resize(w, { ...n, attrs: { ...n.attrs, coordinate_transformation_mode: { type: 'string', value: 'asymmetric' }, nearest_mode: { type: 'string', value: 'floor' } } }, out),
};
