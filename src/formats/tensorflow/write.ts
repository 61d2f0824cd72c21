// IR graph -> frozen TensorFlow GraphDef (NHWC), using only ops TensorFlow 1.15+/2.x runs.
// An NCHW graph goes through the layout pass first (convs/pools/norms become channels-last
// nnport ops with HWIO weights, which is TensorFlow's own layout); constants are folded. Each
// IR op maps to TF nodes by a table row; ops with no row are listed together in one error.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrInts, attrString, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { constantNodesToInitializers, foldConstants } from '../../passes/fold-constants.js';
import { needsChannelsLast, toChannelsLast } from '../../passes/layout.js';
import { createNodeEvaluator } from '../../runtime/evaluate.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { WriteOptions } from '../model.js';
import { tfDataType } from './data-types.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { shapeToProto, tensorToTfProto } from './tensor-proto.js';

const utf8 = new TextEncoder();

/** The graph as the writer takes it: channels-last, constants folded, Constant nodes as initializers. */
export async function prepareForGraphDef(graph: Graph): Promise<Graph> {
  const evaluate = await createNodeEvaluator();
  let g = foldConstants(graph, { evaluate }).graph;
  if (needsChannelsLast(g)) g = foldConstants(toChannelsLast(g, { target: 'keras' }).graph, { evaluate }).graph;
  return constantNodesToInitializers(g);
}

const T = (dtype: Tensor['dtype']): AttrValue => ({ type: tfDataType(dtype) });
const s = (v: string): AttrValue => ({ s: utf8.encode(v) });
const ints = (v: number[]): AttrValue => ({ list: { i: v } });

class Writer {
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
}

/** TF node names: [A-Za-z0-9.][A-Za-z0-9_./-]*; other characters become '_'. */
function tfName(n: string): string {
  const r = n.replace(/[^A-Za-z0-9_./-]/g, '_');
  return /^[A-Za-z0-9.]/.test(r) ? r : `n${r}`;
}

type Row = (w: Writer, n: Node, out: string) => void;

/**
 * Small int32 constants (axes, shapes, paddings) in int_val: importers such as OpenCV's read
 * them from the typed field only; everything else as tensor_content.
 */
function constProto(t: Tensor): tensorflow.TensorProto.$Properties {
  if (t.dtype === 'int32' && t.size <= 64) return { dtype: tfDataType('int32'), tensor_shape: shapeToProto(t.shape), int_val: Array.from(t.data as Int32Array) };
  return tensorToTfProto(t);
}

/** TF's SAME for a window: the pads it would use for this input size (extra at the end). */
function samePads(size: number, k: number, stride: number, dilation: number): [number, number] {
  const o = Math.ceil(size / stride);
  const total = Math.max((o - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** VALID, SAME, or an explicit Pad node in front (pads [t, l, b, r] of a rank-4 NHWC value). */
function padding(w: Writer, n: Node, x: string, kernel: number[], strides: number[], dilations: number[], padValue: number): { input: string; padding: string } {
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return { input: w.ref(x), padding: 'VALID' };
  if (autoPad === 'SAME_UPPER') return { input: w.ref(x), padding: 'SAME' };
  const pads = attrInts(n, 'pads', [0, 0, 0, 0]);
  if (pads.every((p) => p === 0)) return { input: w.ref(x), padding: 'VALID' };
  const shape = w.shape(x);
  if (shape && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number') {
    const [t, b] = samePads(shape[1], kernel[0]!, strides[0]!, dilations[0]!);
    const [l, r] = samePads(shape[2], kernel[1]!, strides[1]!, dilations[1]!);
    if (pads[0] === t && pads[1] === l && pads[2] === b && pads[3] === r) return { input: w.ref(x), padding: 'SAME' };
  }
  const p = w.int32(`${n.name}/paddings`, [0, 0, pads[0]!, pads[2]!, pads[1]!, pads[3]!, 0, 0]);
  const name = w.fresh(`${n.name}/pad`);
  if (padValue === 0) w.add(name, 'Pad', [w.ref(x), p], { T: T(w.dtype(x)), Tpaddings: T('int32') });
  else w.add(name, 'PadV2', [w.ref(x), p, w.const(`${n.name}/pad_value`, Tensor.float32([], [padValue]))], { T: T(w.dtype(x)), Tpaddings: T('int32') });
  return { input: name, padding: 'VALID' };
}

function nhwcConv(w: Writer, n: Node, out: string): void {
  if (n.opType !== 'Conv') throw new UnsupportedError(`nnport.${n.opType} in a GraphDef`, `node '${n.name}'`);
  if (attrString(n, 'kernel_layout', 'HWIO') !== 'HWIO') throw new UnsupportedError('conv weights not in HWIO', `node '${n.name}'`);
  const [x, wt, b] = n.inputs as [string, string, string | undefined];
  const ws = w.shape(wt);
  if (!ws || ws.length !== 4) throw new UnsupportedError('a Conv weight of unknown shape in a GraphDef', `node '${n.name}'`);
  const kernel = attrInts(n, 'kernel_shape', [ws[0] as number, ws[1] as number]);
  const strides = attrInts(n, 'strides', [1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1]);
  const group = attrInt(n, 'group', 1);
  const p = padding(w, n, x, kernel, strides, dilations, 0);
  const cin = w.shape(x)?.[3];
  let filter = w.ref(wt);
  let op = 'Conv2D';
  if (group > 1) {
    if (typeof cin !== 'number' || group !== cin || ws[2] !== 1) throw new UnsupportedError('grouped convolutions other than depthwise in a GraphDef', `node '${n.name}'`);
    // (kh, kw, 1, C*M) is a reshape of TF's depthwise (kh, kw, C, M)
    const t = w.g.initializers.get(wt);
    if (!t) throw new UnsupportedError('a depthwise filter that is not a constant', `node '${n.name}'`);
    filter = w.const(`${n.name}/depthwise_filter`, t.reshape([ws[0] as number, ws[1] as number, cin, (ws[3] as number) / cin]));
    op = 'DepthwiseConv2dNative';
  }
  const conv = b ? w.fresh(`${n.name}/conv`) : out;
  w.add(conv, op, [p.input, filter], { T: T(w.dtype(x)), strides: ints([1, ...strides, 1]), dilations: ints([1, ...dilations, 1]), padding: s(p.padding), data_format: s('NHWC') });
  if (b) w.add(out, 'BiasAdd', [conv, w.ref(b)], { T: T(w.dtype(x)), data_format: s('NHWC') });
}

function nhwcPool(w: Writer, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const kernel = attrInts(n, 'kernel_shape', []);
  const strides = attrInts(n, 'strides', [1, 1]);
  if (attrInt(n, 'ceil_mode', 0)) throw new UnsupportedError('ceil-mode pooling in a GraphDef', `node '${n.name}'`);
  const max = n.opType === 'MaxPool';
  const p = padding(w, n, x, kernel, strides, [1, 1], max ? -3.4028234663852886e38 : 0);
  if (!max && p.input !== w.ref(x) && !attrInt(n, 'count_include_pad', 0)) throw new UnsupportedError('average pooling whose padding TF SAME cannot express', `node '${n.name}'`);
  w.add(out, max ? 'MaxPool' : 'AvgPool', [p.input], { T: T(w.dtype(x)), ksize: ints([1, ...kernel, 1]), strides: ints([1, ...strides, 1]), padding: s(p.padding), data_format: s('NHWC') });
}

const simple = (op: string): Row => (w, n, out) => w.add(out, op, n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)) });

const ROWS: Record<string, Row> = {
  'nnport::Conv': nhwcConv,
  'nnport::MaxPool': nhwcPool,
  'nnport::AveragePool': nhwcPool,
  'nnport::GlobalAveragePool': (w, n, out) => w.add(out, 'Mean', [w.ref(n.inputs[0]!), w.int32(`${n.name}/axes`, [1, 2])], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32'), keep_dims: { b: true } }),
  'nnport::GlobalMaxPool': (w, n, out) => w.add(out, 'Max', [w.ref(n.inputs[0]!), w.int32(`${n.name}/axes`, [1, 2])], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32'), keep_dims: { b: true } }),
  'nnport::BatchNormalization': (w, n, out) =>
    w.add(out, 'FusedBatchNorm', n.inputs.slice(0, 5).map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)), epsilon: { f: attrFloat(n, 'epsilon', 1e-5) }, is_training: { b: false }, data_format: s('NHWC') }),
  Add: simple('Add'),
  Sub: simple('Sub'),
  Mul: simple('Mul'),
  Div: simple('RealDiv'),
  Max: simple('Maximum'),
  Min: simple('Minimum'),
  Relu: simple('Relu'),
  Sigmoid: simple('Sigmoid'),
  Tanh: simple('Tanh'),
  Exp: simple('Exp'),
  Log: simple('Log'),
  Sqrt: simple('Sqrt'),
  Abs: simple('Abs'),
  Neg: simple('Neg'),
  Elu: simple('Elu'),
  Identity: simple('Identity'),
  Dropout: (w, n, out) => w.add(out, 'Identity', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) }),
  LeakyRelu: (w, n, out) => w.add(out, 'LeakyRelu', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), alpha: { f: attrFloat(n, 'alpha', 0.01) } }),
  Softmax: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length;
    const axis = attrInt(n, 'axis', -1);
    if (axis !== -1 && axis !== (rank ?? 0) - 1) throw new UnsupportedError('Softmax over an axis other than the last in a GraphDef', `node '${n.name}'`);
    w.add(out, 'Softmax', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) });
  },
  Clip: (w, n, out) => {
    const lo = n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers()[0] : undefined;
    const hi = n.inputs[2] ? w.g.initializers.get(n.inputs[2])?.toNumbers()[0] : undefined;
    if (lo === 0 && hi === 6) w.add(out, 'Relu6', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) });
    else if (lo === 0 && hi === undefined) w.add(out, 'Relu', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) });
    else throw new UnsupportedError('Clip other than Relu6 in a GraphDef', `node '${n.name}'`);
  },
  MatMul: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length;
    w.add(out, rank === 2 ? 'MatMul' : 'BatchMatMulV2', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)) });
  },
  Gemm: (w, n, out) => {
    if (attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1) throw new UnsupportedError('Gemm with alpha/beta other than 1 in a GraphDef', `node '${n.name}'`);
    const c = n.inputs[2];
    const mm = c ? w.fresh(`${n.name}/matmul`) : out;
    const dt = T(w.dtype(n.inputs[0]!));
    // a constant transposed B is written transposed: OpenCV's importer ignores transpose_b
    let b = w.ref(n.inputs[1]!);
    let transB = !!attrInt(n, 'transB', 0);
    const bt = w.g.initializers.get(n.inputs[1]!);
    if (transB && bt && bt.rank === 2 && bt.dtype === 'float32') {
      const [r, k] = bt.shape as [number, number];
      const src = bt.data as Float32Array;
      const t = new Float32Array(r * k);
      for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) t[j * r + i] = src[i * k + j]!;
      b = w.const(`${n.inputs[1]}/transposed`, new Tensor('float32', [k, r], t));
      transB = false;
    }
    w.add(mm, 'MatMul', [w.ref(n.inputs[0]!), b], { T: dt, transpose_a: { b: !!attrInt(n, 'transA', 0) }, transpose_b: { b: transB } });
    if (c) w.add(out, (w.shape(c)?.length ?? 1) === 1 ? 'BiasAdd' : 'Add', [mm, w.ref(c)], { T: dt });
  },
  Reshape: (w, n, out) => {
    const t = w.g.initializers.get(n.inputs[1]!);
    if (!t) throw new UnsupportedError('Reshape to a computed shape in a GraphDef', `node '${n.name}'`);
    const inShape = w.shape(n.inputs[0]!);
    // ONNX's 0 copies the input's dim; TF's 0 is a zero-size dim
    const target = t.toNumbers().map((d, i) => (d === 0 && !attrInt(n, 'allowzero', 0) ? (inShape?.[i] as number) : d));
    if (target.some((d) => d === undefined || Number.isNaN(d))) throw new UnsupportedError('Reshape copying a dim of unknown size', `node '${n.name}'`);
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, target)], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
  Flatten: (w, n, out) => {
    const shape = w.shape(n.inputs[0]!);
    const axis = attrInt(n, 'axis', 1);
    if (!shape || shape.slice(axis).some((d) => typeof d !== 'number')) throw new UnsupportedError('Flatten of unknown trailing dims in a GraphDef', `node '${n.name}'`);
    const inner = (shape.slice(axis) as number[]).reduce((a, b) => a * b, 1);
    const outer = shape.slice(0, axis).every((d) => typeof d === 'number') ? (shape.slice(0, axis) as number[]).reduce((a, b) => a * b, 1) : -1;
    w.add(out, 'Reshape', [w.ref(n.inputs[0]!), w.int32(`${n.name}/shape`, [outer, inner])], { T: T(w.dtype(n.inputs[0]!)), Tshape: T('int32') });
  },
  Transpose: (w, n, out) => w.add(out, 'Transpose', [w.ref(n.inputs[0]!), w.int32(`${n.name}/perm`, attrInts(n, 'perm', []))], { T: T(w.dtype(n.inputs[0]!)), Tperm: T('int32') }),
  Concat: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length ?? 0;
    const axis = attrInt(n, 'axis', 0);
    w.add(out, 'ConcatV2', [...n.inputs.map((i) => w.ref(i)), w.int32(`${n.name}/axis`, [axis < 0 ? axis + rank : axis], true)], { T: T(w.dtype(n.inputs[0]!)), N: { i: n.inputs.length }, Tidx: T('int32') });
  },
  Pad: (w, n, out) => {
    const mode = attrString(n, 'mode', 'constant');
    const pads = w.g.initializers.get(n.inputs[1]!)?.toNumbers();
    if (!pads) throw new UnsupportedError('Pad with computed pads in a GraphDef', `node '${n.name}'`);
    const r = pads.length / 2;
    const p = w.int32(`${n.name}/paddings`, Array.from({ length: r }, (_, i) => [pads[i]!, pads[i + r]!]).flat());
    const value = n.inputs[2] ? w.g.initializers.get(n.inputs[2])?.toNumbers()[0] : 0;
    if (mode === 'reflect') w.add(out, 'MirrorPad', [w.ref(n.inputs[0]!), p], { T: T(w.dtype(n.inputs[0]!)), Tpaddings: T('int32'), mode: s('REFLECT') });
    else if (mode === 'constant' && !value) w.add(out, 'Pad', [w.ref(n.inputs[0]!), p], { T: T(w.dtype(n.inputs[0]!)), Tpaddings: T('int32') });
    else if (mode === 'constant') w.add(out, 'PadV2', [w.ref(n.inputs[0]!), p, w.const(`${n.name}/value`, Tensor.float32([], [value!]))], { T: T(w.dtype(n.inputs[0]!)), Tpaddings: T('int32') });
    else throw new UnsupportedError(`Pad mode ${mode} in a GraphDef`, `node '${n.name}'`);
  },
  ReduceMean: (w, n, out) => {
    const axes = attrInts(n, 'axes') ?? w.g.initializers.get(n.inputs[1] ?? '')?.toNumbers();
    if (!axes) throw new UnsupportedError('ReduceMean over computed axes in a GraphDef', `node '${n.name}'`);
    w.add(out, 'Mean', [w.ref(n.inputs[0]!), w.int32(`${n.name}/axes`, axes)], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32'), keep_dims: { b: attrInt(n, 'keepdims', 1) === 1 } });
  },
};

/** An IR graph as a frozen GraphDef's bytes. */
export async function writeGraphDef(graph: Graph, options: WriteOptions = {}): Promise<Uint8Array> {
  const file = options.fileName ?? '<output>';
  const g = await prepareForGraphDef(graph);
  const missing = new Map<string, string>();
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
    if (!ROWS[key] && !missing.has(key)) missing.set(key, n.name);
  }
  if (missing.size) {
    throw new UnsupportedError(`ops in a TensorFlow GraphDef: ${[...missing.keys()].map((k) => k.replace('::', '.')).join(', ')}`, `'${file}': ${[...missing].map(([k, n]) => `${k.replace('::', '.')} (node '${n}')`).join(', ')}`);
  }
  const w = new Writer(g, file);
  for (const v of g.inputs) {
    if (g.initializers.has(v.name)) continue;
    w.add(tfName(v.name), 'Placeholder', [], { dtype: T(v.dtype), shape: { shape: shapeToProto(v.shape) } });
  }
  for (const [k, t] of g.initializers) {
    const value = constProto(t);
    w.add(tfName(k), 'Const', [], { dtype: { type: value.dtype }, value: { tensor: value } });
  }
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
    if (n.outputs.filter(Boolean).length !== 1) throw new UnsupportedError(`${n.opType} with ${n.outputs.length} outputs in a GraphDef`, `node '${n.name}'`);
    ROWS[key]!(w, n, tfName(n.outputs[0]!));
  }
  for (const o of g.outputs) if (!w.nodes.some((n) => n.name === tfName(o.name))) throw new FormatError(`output '${o.name}' was not written`, { file });
  return tensorflow.GraphDef.encode({ node: w.nodes, versions: { producer: 27 } }).finish();
}
