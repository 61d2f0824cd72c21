// IR graph -> frozen TensorFlow GraphDef (NHWC), using only ops TensorFlow 1.15+/2.x runs.
// An NCHW graph goes through the layout pass first (convs/pools/norms become channels-last
// nnport ops with HWIO weights, which is TensorFlow's own layout); constants are folded. Each
// IR op maps to TF nodes by a table row; ops with no row are listed together in one error.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrTensor, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes, opKey } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { batchNormAsAffine } from '../../passes/batchnorm-affine.js';
import { constantNodesToInitializers, foldConstants } from '../../passes/fold-constants.js';
import { decomposeLayerNorm } from '../../passes/decompose-layernorm.js';
import { convTransposeAsValid, liftConvTranspose1d } from '../../passes/conv-transpose-valid.js';
import { DEQUANTIZE_HINT } from '../../passes/dequantize.js';
import { fuseBias } from '../../passes/fuse-bias.js';
import { conv1dAs2d } from '../../passes/conv1d-as-2d.js';
import { needsChannelsLast, toChannelsLast } from '../../passes/layout.js';
import { unrollRecurrent } from '../../passes/unroll-recurrent.js';
import { createNodeEvaluator } from '../../runtime/evaluate.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { WriteOptions } from '../model.js';
import { tfDataType } from './data-types.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { shapeToProto, tensorToTfProto } from './tensor-proto.js';
import { bidirectionalSequencesJoined } from './write-bidirectional.js';
import { collapseUnitReshapes } from './write-reshapes.js';
import { denseOnSequencesAsTensordot } from './write-tensordot.js';
import { writeNonMaxSuppression } from './write-nms.js';
import { floatScalar, indexConst, ints, isFloat, s, T, tfName, type GraphDefWriter, type Row } from './write-context.js';
import { convPoolRows } from './write-conv-pool.js';
import { normalizationRows } from './write-normalization.js';
import { elementwiseRows } from './write-elementwise.js';
import { softmax, activationRows } from './write-activations.js';
import { reductionRows } from './write-reductions.js';
import { matrixRows } from './write-matrix.js';


/** The graph as the writer takes it: channels-last, constants folded, Constant nodes as initializers. */
export async function prepareForGraphDef(graph: Graph): Promise<Graph> {
  const evaluate = await createNodeEvaluator();
  // TF has no LayerNormalization op: Keras' is its arithmetic in a GraphDef (decompose-layernorm.ts)
  let g = decomposeLayerNorm(graph).graph;
  // TF1 GraphDefs hold static RNNs as their unrolled steps (src/passes/unroll-recurrent.ts), each
  // step's input apart as OpenCV's importer runs them; folded first so that a zero initial state
  // (PyTorch's Expand of zeros) is known as one
  if (g.nodes.some((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType))) {
    g = unrollRecurrent(constantNodesToInitializers(foldConstants(g, { evaluate }).graph), ['LSTM', 'GRU', 'RNN'], 'a GraphDef', { perStepInput: true, native: ['Softplus', 'Softsign', 'ThresholdedRelu'] });
    g = bidirectionalSequencesJoined(g);
  }
  // Shape subgraphs over a dynamic dim cannot fold into the constant targets TF's Reshape /
  // Resize take here: such models are written for dim 1 (as the TFLite writer does)
  if (g.nodes.some((n) => n.opType === 'Shape' || n.opType === 'Size')) {
    g = { ...g, inputs: g.inputs.map((v) => (v.shape?.some((d) => typeof d !== 'number') ? { ...v, shape: v.shape.map((d) => (typeof d === 'number' ? d : 1)) } : v)) };
  }
  g = foldConstants(g, { evaluate }).graph;
  // ConvTranspose groups / dilation / 1-D / output_padding past the last tap: VALID + crop (src/passes/conv-transpose-valid.ts)
  g = convTransposeAsValid(g, { target: 'a GraphDef' }).graph;
  if (needsChannelsLast(g)) g = liftConvTranspose1d(foldConstants(toChannelsLast(g, { target: 'keras' }).graph, { evaluate }).graph).graph;
  g = denseOnSequencesAsTensordot(g);
  // a separate bias Add is written as TF's own form, the conv / MatMul followed by BiasAdd
  // (then a 1-D conv or pool as ExpandDims -> the 2-D op -> Squeeze, as TF writes a Conv1D)
  // and a BatchNormalization TF's FusedBatchNorm cannot take (not 4-D channels-last) as Mul + Add
  // by constants, TF's own inference-time folding (src/passes/batchnorm-affine.ts)
  g = batchNormAsAffine(conv1dAs2d(fuseBias(constantNodesToInitializers(g)).graph).graph, { keep: (n, rank) => n.domain === 'nnport' && rank === 4 }).graph;
  return collapseUnitReshapes(g);
}

class Writer implements GraphDefWriter {
  readonly nodes: NodeDef[] = [];
  private readonly names = new Set<string>();
  readonly shapes: Map<string, { dtype: Tensor['dtype'] | null; shape: readonly Dim[] | null }>;

  constructor(
    readonly g: Graph,
    readonly file: string,
  ) {
    const inferred = inferShapes(g, { onError: 'unknown' }).values;
    this.shapes = new Map([...inferred].map(([k, v]) => [k, { dtype: v.dtype ?? null, shape: v.shape ?? null }]));
    for (const v of g.inputs) this.names.add(tfName(v.name));
    for (const k of g.initializers.keys()) this.names.add(tfName(k));
    for (const n of g.nodes) for (const o of n.outputs) this.names.add(tfName(o));
  }

  fresh(base: string): string {
    let name = tfName(base);
    for (let k = 1; this.names.has(name); k++) name = `${tfName(base)}_${k}`;
    this.names.add(name);
    return name;
  }

  add(name: string, op: string, input: string[], attr: Record<string, AttrValue> = {}): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  const(base: string, t: Tensor): string {
    const name = this.fresh(base);
    const value = constProto(t);
    return this.add(name, 'Const', [], { dtype: { type: value.dtype }, value: { tensor: value } });
  }

  /** TF's paddings: an int32 (rank, 2) matrix of [before, after] rows. */
  paddings(base: string, flat: number[]): string {
    return this.const(base, new Tensor('int32', [flat.length / 2, 2], Int32Array.from(flat)));
  }

  int32(base: string, values: number[], scalar = false): string {
    return this.const(base, new Tensor('int32', scalar ? [] : [values.length], Int32Array.from(values)));
  }

  dtype(v: string): Tensor['dtype'] {
    const init = this.g.initializers.get(v);
    if (init) return init.dtype;
    return this.shapes.get(v)?.dtype ?? this.g.inputs.find((i) => i.name === v)?.dtype ?? 'float32';
  }

  shape(v: string): readonly Dim[] | null {
    const init = this.g.initializers.get(v);
    if (init) return init.shape;
    return this.shapes.get(v)?.shape ?? null;
  }

  /** The TF reference of an IR value (node name; outputs i > 0 as name:i). */
  ref(v: string): string {
    return this.refs.get(v) ?? tfName(v);
  }

  readonly refs = new Map<string, string>();

  private producers?: Map<string, Node>;

  /** True when every element of `v` is known to be >= 0 from the op that makes it. */
  nonNegative(v: string, depth = 0): boolean {
    this.producers ??= new Map(this.g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as [string, Node])));
    const n = this.producers.get(v);
    if (!n || depth > 8) return false;
    const key = opKey(n);
    if (['Relu', 'Sigmoid', 'Softmax', 'Exp', 'Abs', 'Sqrt'].includes(key)) return true;
    if (key === 'Clip') {
      const lo = n.inputs[1] ? this.g.initializers.get(n.inputs[1])?.toNumbers()[0] : undefined;
      return lo !== undefined && lo >= 0;
    }
    if (['nnport::MaxPool', 'nnport::AveragePool', 'nnport::GlobalMaxPool', 'nnport::GlobalAveragePool', 'Identity', 'Dropout', 'Reshape', 'Flatten', 'Transpose'].includes(key)) return this.nonNegative(n.inputs[0]!, depth + 1);
    if (key === 'Concat' || key === 'Max') return n.inputs.every((i) => this.nonNegative(i, depth + 1));
    return false;
  }
}

/**
 * Small int32 constants (axes, shapes, paddings) in int_val: importers such as OpenCV's read
 * them from the typed field only; everything else as tensor_content.
 */
function constProto(t: Tensor): tensorflow.TensorProto.$Properties {
  if (t.dtype === 'int32' && t.size <= 64) return { dtype: tfDataType('int32'), tensor_shape: shapeToProto(t.shape), int_val: Array.from(t.data as Int32Array) };
  return tensorToTfProto(t);
}

/**
 * ONNX Resize over the H, W of NHWC data as ResizeBilinear / ResizeNearestNeighbor: TF's
 * align_corners and half_pixel_centers cover ONNX's align_corners, half_pixel (the same clamped
 * sampling for linear) and asymmetric; nearest's rounding must agree with TF's too.
 */
function resize(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const inShape = w.shape(x);
  const outShape = w.shape(n.outputs[0]!);
  const where = `node '${n.name}'`;
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
  if (!shape || shape.some((d) => typeof d !== 'number')) throw new UnsupportedError('Slice of a value of unknown shape in a GraphDef', where);
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
    if (typeof d !== 'number' || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError('Gather with computed indices over an axis of unknown size in a GraphDef', where);
    const wrapped = w.add(w.fresh(`${n.name}/indices`), 'FloorMod', [w.ref(i), w.const(`${n.name}/size`, it === 'int64' ? Tensor.int64([], [d]) : new Tensor('int32', [], Int32Array.of(d)))], { T: T(it) });
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
 * Squeeze / Unsqueeze (and any op that only re-shapes) as a Reshape to the inferred static shape;
 * one dynamic dim (the batch) is Reshape's -1, which the element count fixes.
 */
function reshapeTo(w: GraphDefWriter, n: Node, out: string): void {
  const shape = w.shape(n.outputs[0]!);
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
function elementCoordinates(w: GraphDefWriter, n: Node, iRef: string, it: Tensor['dtype'], shape: number[], axis: number, d: number): string {
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

/** ScatterElements (and opset 9's Scatter) as TensorScatterUpdate / TensorScatterAdd at coordinates built as for GatherElements. */
function scatterElements(w: GraphDefWriter, n: Node, out: string): void {
  const [x, i, u] = n.inputs as [string, string, string];
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const is = w.shape(i);
  const it = w.dtype(i);
  const reduction = attrString(n, 'reduction', 'none');
  if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedError(`${n.opType} with reduction ${reduction} in a GraphDef`, where);
  if (!xs || !is || is.some((d) => typeof d !== 'number') || xs.length !== is.length) throw new UnsupportedError(`${n.opType} of unknown shapes in a GraphDef`, where);
  const axis = attrInt(n, 'axis', 0) < 0 ? attrInt(n, 'axis', 0) + xs.length : attrInt(n, 'axis', 0);
  const d = xs[axis];
  if (typeof d !== 'number' || (it !== 'int32' && it !== 'int64')) throw new UnsupportedError(`${n.opType} over an axis of unknown size in a GraphDef`, where);
  const coords = elementCoordinates(w, n, w.ref(i), it, is as number[], axis, d);
  w.add(out, reduction === 'add' ? 'TensorScatterAdd' : 'TensorScatterUpdate', [w.ref(x), coords, w.ref(u)], { T: T(w.dtype(x)), Tindices: T(it) });
}

/**
 * NegativeLogLikelihoodLoss of `logProb` (a TF ref; the IR value `x` gives its shape and dtype):
 * -logProb[n, t, d...] picked by GatherNd at coordinates built from the targets, times the
 * class weight (ignore_index: weight 0, the target itself replaced by 0 to stay in range),
 * then ONNX's reduction (mean: divided by the weights' sum).
 */
function nllCore(w: GraphDefWriter, n: Node, out: string, logProb: string, x: string, target: string, weight: string | undefined): void {
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const ts = w.shape(target);
  const it = w.dtype(target);
  const dtype = w.dtype(x);
  if (!xs || !ts || xs.length < 2 || [...xs, ...ts].some((d) => typeof d !== 'number') || (it !== 'int32' && it !== 'int64') || !isFloat(dtype)) throw new UnsupportedError(`${n.opType} of unknown shapes in a GraphDef`, where);
  const reduction = attrString(n, 'reduction', 'mean');
  if (!['none', 'sum', 'mean'].includes(reduction)) throw new UnsupportedError(`${n.opType} with reduction ${reduction} in a GraphDef`, where);
  const ignore = attrInt(n, 'ignore_index');
  const dt = { T: T(dtype) };
  let t = w.ref(target);
  let keep: string | undefined;
  if (ignore !== undefined) {
    const ign = indexConst(w, `${n.name}/ignore_index`, it, [], [ignore]);
    t = w.add(w.fresh(`${n.name}/targets`), 'SelectV2', [w.add(w.fresh(`${n.name}/ignored`), 'Equal', [w.ref(target), ign], { T: T(it) }), indexConst(w, `${n.name}/zero_target`, it, [], [0]), w.ref(target)], { T: T(it) });
    keep = w.add(w.fresh(`${n.name}/kept`), 'Cast', [w.add(w.fresh(`${n.name}/not_ignored`), 'NotEqual', [w.ref(target), ign], { T: T(it) })], { SrcT: T('bool'), DstT: T(dtype), Truncate: { b: false } });
  }
  const tshape = ts as number[];
  const column = w.add(w.fresh(`${n.name}/class_axis`), 'ExpandDims', [t, w.int32(`${n.name}/class_dim`, [1], true)], { T: T(it), Tdim: T('int32') });
  const coords = elementCoordinates(w, n, column, it, [tshape[0]!, 1, ...tshape.slice(1)], 1, xs[1] as number);
  const picked = w.add(w.fresh(`${n.name}/picked`), 'GatherNd', [logProb, coords], { Tparams: T(dtype), Tindices: T(it) });
  const flat = w.add(w.fresh(`${n.name}/picked_flat`), 'Reshape', [picked, w.int32(`${n.name}/target_shape`, tshape)], { ...dt, Tshape: T('int32') });
  let wt: string | undefined = weight ? w.add(w.fresh(`${n.name}/class_weights`), 'GatherV2', [w.ref(weight), t, w.int32(`${n.name}/weight_axis`, [0], true)], { Tparams: T(dtype), Tindices: T(it), Taxis: T('int32'), batch_dims: { i: 0 } }) : undefined;
  if (keep) wt = wt ? w.add(w.fresh(`${n.name}/weights_kept`), 'Mul', [wt, keep], dt) : keep;
  const weighted = wt ? w.add(w.fresh(`${n.name}/weighted`), 'Mul', [flat, wt], dt) : flat;
  const all = () => w.int32(`${n.name}/all_axes`, tshape.map((_, i) => i));
  const red = { ...dt, Tidx: T('int32'), keep_dims: { b: false } };
  if (reduction === 'none') {
    w.add(out, 'Neg', [weighted], dt);
    return;
  }
  const loss = w.add(w.fresh(`${n.name}/loss`), 'Neg', [weighted], dt);
  if (reduction === 'sum') w.add(out, 'Sum', [loss, all()], red);
  else if (!wt) w.add(out, 'Mean', [loss, all()], red);
  else w.add(out, 'RealDiv', [w.add(w.fresh(`${n.name}/loss_sum`), 'Sum', [loss, all()], red), w.add(w.fresh(`${n.name}/weight_sum`), 'Sum', [wt, all()], red)], dt);
}

/** SoftmaxCrossEntropyLoss: LogSoftmax over the classes (axis 1; its optional second output), then the NLL loss of it. */
function softmaxCrossEntropy(w: GraphDefWriter, n: Node, out: string): void {
  const [x, labels, weight] = n.inputs as [string, string, string | undefined];
  const logProb = n.outputs[1] ? tfName(n.outputs[1]) : w.fresh(`${n.name}/log_prob`);
  softmax(w, { ...n, attrs: { axis: { type: 'int', value: 1 } } }, logProb, 'LogSoftmax');
  nllCore(w, n, out, logProb, x, labels, weight || undefined);
}

/**
 * Hann / Hamming / Blackman windows of a size fed at run time: a0 - a1 cos(2πn/N) + a2 cos(4πn/N)
 * over n = Range(0, size), N = size (periodic) or size - 1 (symmetric), in the output dtype.
 */
function windowRow(a: number[]): Row {
  return (w, n, out) => {
    const size = n.inputs[0]!;
    const st = w.dtype(size);
    const dtype = w.dtype(n.outputs[0]!);
    if ((st !== 'int32' && st !== 'int64') || (dtype !== 'float32' && dtype !== 'float64')) throw new UnsupportedError(`${n.opType} of a ${st} size into ${dtype} in a GraphDef`, `node '${n.name}'`);
    const dt = { T: T(dtype) };
    const toFloat = (v: string, tag: string) => w.add(w.fresh(`${n.name}/${tag}`), 'Cast', [v], { SrcT: T(st), DstT: T(dtype), Truncate: { b: false } });
    const count = w.add(w.fresh(`${n.name}/size`), 'Reshape', [w.ref(size), w.int32(`${n.name}/scalar`, [])], { T: T(st), Tshape: T('int32') });
    const k = toFloat(w.add(w.fresh(`${n.name}/range`), 'Range', [indexConst(w, `${n.name}/start`, st, [], [0]), count, indexConst(w, `${n.name}/delta`, st, [], [1])], { Tidx: T(st) }), 'n');
    const periodic = attrInt(n, 'periodic', 1) === 1;
    const denom = toFloat(periodic ? count : w.add(w.fresh(`${n.name}/size_minus_one`), 'Sub', [count, indexConst(w, `${n.name}/one`, st, [], [1])], { T: T(st) }), 'N');
    const phase = w.add(w.fresh(`${n.name}/phase`), 'RealDiv', [w.add(w.fresh(`${n.name}/two_pi_n`), 'Mul', [k, floatScalar(w, `${n.name}/two_pi`, dtype, 2 * Math.PI)], dt), denom], dt);
    let acc = w.add(w.fresh(`${n.name}/term1`), 'Sub', [floatScalar(w, `${n.name}/a0`, dtype, a[0]!), w.add(w.fresh(`${n.name}/a1_cos`), 'Mul', [floatScalar(w, `${n.name}/a1`, dtype, a[1]!), w.add(w.fresh(`${n.name}/cos1`), 'Cos', [phase], dt)], dt)], dt);
    if (a[2]) {
      const cos2 = w.add(w.fresh(`${n.name}/cos2`), 'Cos', [w.add(w.fresh(`${n.name}/phase2`), 'Mul', [phase, floatScalar(w, `${n.name}/two`, dtype, 2)], dt)], dt);
      acc = w.add(w.fresh(`${n.name}/term2`), 'AddV2', [acc, w.add(w.fresh(`${n.name}/a2_cos`), 'Mul', [floatScalar(w, `${n.name}/a2`, dtype, a[2])!, cos2], dt)], dt);
    }
    w.add(out, 'Identity', [acc], dt);
  };
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
  if (!largest) values = w.add(perm ? w.fresh(`${n.name}/values`) : out, 'Neg', [values], dt);
  if (perm) {
    values = w.add(out, 'Transpose', [values, perm], { ...dt, Tperm: T('int32') });
    indices = w.add(w.fresh(`${n.name}/indices_last`), 'Transpose', [indices, perm], { T: T('int32'), Tperm: T('int32') });
  }
  if (values !== out) w.add(out, 'Identity', [values], dt);
  if (outIdx) w.add(outIdx, 'Cast', [indices], { SrcT: T('int32'), DstT: T('int64'), Truncate: { b: false } });
}

const OTHER_ROWS: Record<string, Row> = {
  Range: (w, n, out) => w.add(out, 'Range', n.inputs.map((i) => w.ref(i)), { Tidx: T(w.dtype(n.inputs[0]!)) }),
  OneHot: oneHot,
  // the output depends on the input's shape only: a constant
  EyeLike: (w, n, out) => {
    const shape = w.shape(n.inputs[0]!);
    const dtype = w.dtype(n.outputs[0]!);
    if (!shape || shape.length !== 2 || shape.some((d) => typeof d !== 'number') || dtype === 'string') throw new UnsupportedError('EyeLike of a value of unknown shape in a GraphDef', `node '${n.name}'`);
    const [rows, cols] = shape as [number, number];
    const k = attrInt(n, 'k', 0);
    const eye = Tensor.zeros(dtype, [rows, cols]);
    const data = eye.data as unknown as { [i: number]: number | bigint };
    const one = typeof data[0] === 'bigint' ? 1n : dtype === 'float16' ? 0x3c00 : dtype === 'bfloat16' ? 0x3f80 : 1;
    for (let i = 0; i < rows; i++) if (i + k >= 0 && i + k < cols) data[i * cols + i + k] = one;
    const name = w.const(`${n.name}/eye`, eye);
    w.add(out, 'Identity', [name], { T: T(dtype) });
  },
  ConstantOfShape: (w, n, out) => {
    // TF's Fill takes the shape as a tensor; the value is ONNX's one-element tensor (default float 0)
    const v = attrTensor(n, 'value') ?? Tensor.zeros('float32', [1]);
    if (v.size !== 1 || v.dtype === 'string') throw new UnsupportedError(`ConstantOfShape of a ${v.dtype} value of ${v.size} elements in a GraphDef`, `node '${n.name}'`);
    w.add(out, 'Fill', [w.ref(n.inputs[0]!), w.const(`${n.name}/value`, v.reshape([]))], { T: T(v.dtype), index_type: T(w.dtype(n.inputs[0]!)) });
  },
  GatherElements: gatherElements,
  ScatterElements: scatterElements,
  Scatter: scatterElements,
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
  ScatterND: (w, n, out) => {
    const reduction = attrString(n, 'reduction', 'none');
    if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedError(`ScatterND with reduction ${reduction} in a GraphDef`, `node '${n.name}'`);
    const op = reduction === 'add' ? 'TensorScatterAdd' : 'TensorScatterUpdate';
    w.add(out, op, [w.ref(n.inputs[0]!), wrappedTuples(w, n, n.inputs[0]!, n.inputs[1]!), w.ref(n.inputs[2]!)], { T: T(w.dtype(n.inputs[0]!)), Tindices: T(w.dtype(n.inputs[1]!)) });
  },
  TopK: topK,
  NonMaxSuppression: writeNonMaxSuppression,
  HannWindow: windowRow([0.5, 0.5]),
  HammingWindow: windowRow([25 / 46, 21 / 46]),
  BlackmanWindow: windowRow([0.42, 0.5, 0.08]),
  NegativeLogLikelihoodLoss: (w, n, out) => nllCore(w, n, out, w.ref(n.inputs[0]!), n.inputs[0]!, n.inputs[1]!, n.inputs[2] || undefined),
  SoftmaxCrossEntropyLoss: softmaxCrossEntropy,
  'nnport::DepthToSpace': (w, n, out) => {
    if (attrString(n, 'mode', 'DCR') !== 'DCR') return depthToSpaceCrd(w, n, out);
    w.add(out, 'DepthToSpace', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), block_size: { i: attrInt(n, 'blocksize', 1) }, data_format: s('NHWC') });
  },
  'nnport::SpaceToDepth': (w, n, out) => w.add(out, 'SpaceToDepth', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), block_size: { i: attrInt(n, 'blocksize', 1) }, data_format: s('NHWC') }),
  Expand: (w, n, out) => {
    const shape = w.shape(n.outputs[0]!);
    if (!shape || shape.some((d) => typeof d !== 'number')) throw new UnsupportedError('Expand to a shape not known before running in a GraphDef', `node '${n.name}'`);
    w.add(out, 'BroadcastTo', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, shape as number[])], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32') });
  },
  Tile: (w, n, out) => {
    const repeats = w.g.initializers.get(n.inputs[1]!)?.toNumbers();
    // repeats fed at run time go to TF's Tile as they are (int64 multiples)
    if (!repeats) w.add(out, 'Tile', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)), Tmultiples: T(w.dtype(n.inputs[1]!)) });
    else w.add(out, 'Tile', [w.ref(n.inputs[0]!), w.int32(`${n.name}/multiples`, repeats)], { T: T(w.dtype(n.inputs[0]!)), Tmultiples: T('int32') });
  },
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
  Squeeze: reshapeTo,
  Unsqueeze: reshapeTo,
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
    if (!resolved) throw new UnsupportedError('Reshape copying a dim of unknown size', `node '${n.name}'`);
    const dims = resolved.map((d) => (typeof d === 'number' ? d : -1));
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, dims)], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
  Flatten: (w, n, out) => {
    const shape = w.shape(n.inputs[0]!);
    const axis = attrInt(n, 'axis', 1);
    if (!shape || shape.slice(axis).some((d) => typeof d !== 'number')) throw new UnsupportedError('Flatten of unknown trailing dims in a GraphDef', `node '${n.name}'`);
    const inner = (shape.slice(axis) as number[]).reduce((a, b) => a * b, 1);
    const outer = shape.slice(0, axis).every((d) => typeof d === 'number') ? (shape.slice(0, axis) as number[]).reduce((a, b) => a * b, 1) : -1;
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, [outer, inner])], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
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
  Resize: resize,
  Split: split,
  'nnport::Resize': resize,
  Slice: slice,
  Gather: gather,
};

/** Every IR op the writer takes, by opKey (channels-last ops as nnport::Op); each key in one table only. */
const ROWS: Record<string, Row> = Object.assign({}, convPoolRows, normalizationRows, elementwiseRows, activationRows, reductionRows, matrixRows, OTHER_ROWS);

/** Protobuf's limit on one message: TensorFlow (and every protobuf parser) refuses a larger GraphDef. */
export const GRAPHDEF_MAX_BYTES = 2 ** 31 - 1;

function tooLarge(bytes: number, limit: number, file: string): UnsupportedError {
  const gib = (bytes / 2 ** 30).toFixed(2);
  return new UnsupportedError(
    `a GraphDef of ${gib} GiB (protobuf caps a message at ${limit} bytes; TensorFlow cannot parse a larger .pb either)`,
    `'${file}': write .onnx (weights over the limit go to external data), .h5/.keras or safetensors instead, or keep the weights in a TensorFlow checkpoint beside an unfrozen graph`,
  );
}

const MULTI_OUTPUT = new Set(['Split', 'TopK', 'Dropout', 'SoftmaxCrossEntropyLoss']);

/** An IR graph as a frozen GraphDef's bytes. `maxBytes` lowers protobuf's 2 GiB limit (tests). */
export async function writeGraphDef(graph: Graph, options: WriteOptions & { maxBytes?: number } = {}): Promise<Uint8Array> {
  const file = options.fileName ?? '<output>';
  const limit = options.maxBytes ?? GRAPHDEF_MAX_BYTES;
  // refused before anything is encoded: the weights alone tell
  const weights = [...graph.initializers.values()].reduce((n, t) => n + t.byteLength, 0);
  if (weights > limit) throw tooLarge(weights, limit, file);
  const g = await prepareForGraphDef(graph);
  const missing = new Map<string, string>();
  for (const n of g.nodes) {
    const key = opKey(n);
    if (!ROWS[key] && !missing.has(key)) missing.set(key, n.name);
  }
  if (missing.size) {
    const quantized = missing.has('QuantizeLinear') || missing.has('DequantizeLinear');
    throw new UnsupportedError(`ops in a TensorFlow GraphDef: ${[...missing.keys()].map((k) => k.replace('::', '.')).join(', ')}`, `'${file}': ${[...missing].map(([k, n]) => `${k.replace('::', '.')} (node '${n}')`).join(', ')}${quantized ? `; ${DEQUANTIZE_HINT}` : ''}`);
  }
  const w = new Writer(g, file);
  const used = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  for (const v of g.inputs) {
    if (g.initializers.has(v.name)) continue;
    w.add(tfName(v.name), 'Placeholder', [], { dtype: T(v.dtype), shape: { shape: shapeToProto(v.shape) } });
  }
  for (const [k, t] of g.initializers) {
    const value = constProto(t);
    w.add(tfName(k), 'Const', [], { dtype: { type: value.dtype }, value: { tensor: value } });
  }
  for (const n of g.nodes) {
    const key = opKey(n);
    if (n.outputs.filter(Boolean).length !== 1 && !MULTI_OUTPUT.has(key) && !(key === 'Dropout' && !n.outputs.slice(1).some((o) => used.has(o)))) throw new UnsupportedError(`${n.opType} with ${n.outputs.length} outputs in a GraphDef`, `node '${n.name}'`);
    ROWS[key]!(w, n, tfName(n.outputs[0]!));
  }
  // a graph output that is another output of a node (a Split's second part) gets a node of its own name
  for (const o of g.outputs) if (w.ref(o.name) !== tfName(o.name)) w.add(tfName(o.name), 'Identity', [w.ref(o.name)], { T: T(w.dtype(o.name)) });
  for (const o of g.outputs) if (!w.nodes.some((n) => n.name === tfName(o.name))) throw new FormatError(`output '${o.name}' was not written`, { file });
  const bytes = tensorflow.GraphDef.encode({ node: w.nodes, versions: { producer: 27 } }).finish();
  if (bytes.length > limit) throw tooLarge(bytes.length, limit, file);
  return bytes;
}
