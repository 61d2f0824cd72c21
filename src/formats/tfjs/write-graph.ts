// TF.js graph-model writer: model.json ("format": "graph-model") whose modelTopology is the frozen
// GraphDef nnport writes for a .pb (src/formats/tensorflow/write.ts' graphDefNodes), in protobuf's
// JSON mapping, as tensorflowjs_converter writes a frozen graph: every Const node keeps only its
// dtype and shape, its values go to the weightsManifest (named as the node) and the
// group1-shardKofN.bin shards of at most `shardSize` bytes (default 4 MiB); `signature` names the
// Placeholders and the output nodes. TF.js runs TensorFlow ops, not Keras layers, so models a
// layers model.json cannot hold (attention, GELU, 3-D nets, 6-D window transposes) can go here.
// A GraphDef op TF.js 4.9's executor lacks (graph-ops.ts) is refused by name. Float weights may be
// stored as tensorflowjs_converter's --quantize_float16 / --quantize_uint8 / --quantize_uint16 do.
import { FormatError, UnsupportedError, UsageError } from '../../ir/errors.js';
import { float32ToFloat16Bits } from '../../ir/float16.js';
import type { Dim, Graph } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import type { Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { LoadedModel, WriteOptions } from '../model.js';
import type { FormatHandler } from '../registry.js';
import type { AttrValue, NodeDef } from '../tensorflow/graph-def.js';
import { tensorFromTfProto } from '../tensorflow/tensor-proto.js';
import { tfDataType } from '../tensorflow/data-types.js';
import { graphDefNodes } from '../tensorflow/write.js';
import { tfName } from '../tensorflow/write-context.js';
import { TFJS_GRAPH_OPS } from './graph-ops.js';
import { tfjsQuirks } from './graph-quirks.js';
import { DEFAULT_SHARD_SIZE, writeShards } from './shards.js';

export const DEFAULT_GRAPH_SHARD_SIZE = DEFAULT_SHARD_SIZE;

/** How float32 weights are stored: tensorflowjs_converter's --quantize_float16 / _uint8 / _uint16. */
export type TfjsWeightQuantization = 'float16' | 'uint8' | 'uint16';
export const TFJS_WEIGHT_QUANTIZATIONS: readonly TfjsWeightQuantization[] = ['float16', 'uint8', 'uint16'];

type Json = Record<string, unknown>;
type WeightDtype = 'float32' | 'int32' | 'bool';
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  quantization?: { dtype: TfjsWeightQuantization; scale?: number; min?: number };
}

const DT_NAMES = tensorflow.DataType as unknown as Record<number, string>;
const dtName = (v: unknown): string => DT_NAMES[Number(v)] ?? String(v);
const b64 = (bytes: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
/** int64 fields as protobuf's JSON mapping writes them: decimal strings (a number, bigint or Long). */
const int64 = (v: unknown): string => (typeof v === 'number' ? String(Math.trunc(v)) : String(v));

function shapeJson(s: tensorflow.TensorShapeProto.$Properties | null | undefined): Json {
  if (!s || s.unknown_rank) return { unknownRank: true };
  return s.dim?.length ? { dim: s.dim.map((d) => ({ size: int64(d.size ?? 0) })) } : {};
}

function attrJson(a: AttrValue): Json {
  if (a.list) {
    const l = a.list;
    const out: Json = {};
    if (l.s?.length) out.s = l.s.map(b64);
    if (l.i?.length) out.i = l.i.map(int64);
    if (l.f?.length) out.f = l.f.map(Number);
    if (l.b?.length) out.b = l.b.map(Boolean);
    if (l.type?.length) out.type = l.type.map(dtName);
    if (l.shape?.length) out.shape = l.shape.map(shapeJson);
    return { list: out };
  }
  if (a.s != null) return { s: b64(a.s) };
  if (a.i != null) return { i: int64(a.i) };
  if (a.f != null) return { f: Number(a.f) };
  if (a.b != null) return { b: !!a.b };
  if (a.type != null) return { type: dtName(a.type) };
  if (a.shape != null) return { shape: shapeJson(a.shape) };
  if (a.func != null) return { func: { name: a.func.name ?? '' } };
  // a tensor attr outside a Const (none of nnport's rows writes one): its values would be lost
  throw new UnsupportedError('a tensor-valued attribute outside a Const node in a TF.js graph model');
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A Const's value as TF.js stores weights: float32, int32 or bool (TF.js computes DT_DOUBLE /
 * DT_HALF as float32 and DT_INT64 / DT_INT8 / DT_UINT8 as int32).
 */
function weightOf(t: Tensor, node: string, file: string, boundsOnly: boolean): { dtype: WeightDtype; values: Float32Array | Int32Array | Uint8Array } {
  switch (t.dtype) {
    case 'float32':
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return { dtype: 'float32', values: t.toFloat32() };
    case 'bool':
      return { dtype: 'bool', values: Uint8Array.from(t.toNumbers(), (v) => (v ? 1 : 0)) };
    case 'int32':
    case 'int64':
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'uint32': {
      // a slice bound past int32 (ONNX's INT64_MAX for "to the end") means the same clamped: TF.js clamps bounds to the dim
      const v = boundsOnly ? t.toNumbers().map((x) => Math.min(Math.max(x, INT32_MIN), INT32_MAX)) : t.toNumbers();
      const bad = v.find((x) => x < INT32_MIN || x > INT32_MAX);
      if (bad !== undefined) throw new UnsupportedError(`a ${t.dtype} constant outside int32's range in a TF.js graph model (TF.js computes integers as int32)`, `'${file}': Const '${node}' holds ${bad}`);
      return { dtype: 'int32', values: Int32Array.from(v) };
    }
    default:
      throw new UnsupportedError(`a ${t.dtype} constant in a TF.js graph model`, `'${file}': Const '${node}'`);
  }
}

/**
 * tensorflowjs_converter's affine uint8 / uint16 quantization of one weight: the range [min, max]
 * nudged so that 0 is a step (the zero of a padded or ReLU weight stays exact), value = q * scale + min.
 */
export function affineQuantize(values: Float32Array, dtype: 'uint8' | 'uint16'): { q: Uint8Array | Uint16Array; scale: number; min: number } {
  const top = dtype === 'uint8' ? 255 : 65535;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!values.length) lo = hi = 0;
  let scale = (hi - lo) / top;
  let min = lo;
  if (scale === 0) scale = 1;
  else if (lo <= 0 && 0 <= hi) {
    const zero = Math.round(-lo / scale);
    min = -zero * scale;
  }
  const max = top * scale + min;
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.round((Math.min(Math.max(values[i]!, min), max) - min) / scale);
  return { q, scale, min };
}

const FLOAT16_MAX = 65504;

/** One weight's bytes as stored, and its manifest entry's quantization (float32 weights only). */
function encodeWeight(spec: WeightSpec, values: Float32Array | Int32Array | Uint8Array, quantize: TfjsWeightQuantization | undefined, notes: string[]): Uint8Array {
  const raw = () => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (!quantize || spec.dtype !== 'float32') return raw();
  const f = values as Float32Array;
  if (quantize === 'float16') {
    // a value float16 cannot hold would load as Infinity: that weight stays float32
    if (f.some((v) => !(Math.abs(v) <= FLOAT16_MAX))) {
      notes.push(`weight '${spec.name}' kept float32: it holds values float16 cannot (|v| > ${FLOAT16_MAX} or not finite)`);
      return raw();
    }
    const h = Uint16Array.from(f, float32ToFloat16Bits);
    spec.quantization = { dtype: 'float16' };
    return new Uint8Array(h.buffer);
  }
  if (f.some((v) => !Number.isFinite(v))) {
    notes.push(`weight '${spec.name}' kept float32: it holds values that are not finite`);
    return raw();
  }
  const { q, scale, min } = affineQuantize(f, quantize);
  spec.quantization = { dtype: quantize, scale, min };
  return new Uint8Array(q.buffer);
}

/** The TF.js JSON of one NodeDef; a Const's value goes to `weights` instead. */
function nodeJson(n: NodeDef, file: string, weights: Array<{ spec: WeightSpec; values: Float32Array | Int32Array | Uint8Array }>, boundsOnly: ReadonlySet<string>): Json {
  const name = n.name ?? '';
  const attr: Json = {};
  if (n.op === 'Const') {
    const proto = n.attr?.value?.tensor;
    if (!proto) throw new UnsupportedError('a Const without a value in a TF.js graph model', `'${file}': node '${name}'`);
    const t = tensorFromTfProto(proto, `Const '${name}'`, file);
    const { dtype, values } = weightOf(t, name, file, boundsOnly.has(name));
    weights.push({ spec: { name, shape: [...t.shape], dtype }, values });
    // the node keeps its TF dtype (DT_INT64, DT_DOUBLE, DT_HALF: TF.js computes them as int32 / float32),
    // the weight holds the values as TF.js stores them
    const dt = dtName(proto.dtype);
    attr.dtype = { type: dt };
    attr.value = { tensor: { dtype: dt, tensorShape: shapeJson({ dim: t.shape.map((d) => ({ size: d })) }) } };
  } else {
    for (const [k, v] of Object.entries(n.attr ?? {})) attr[k] = attrJson(v);
  }
  return { name, op: n.op, ...(n.input?.length ? { input: n.input } : {}), ...(Object.keys(attr).length ? { attr } : {}) };
}

function tensorInfo(name: string, dtype: Tensor['dtype'] | undefined, shape: readonly Dim[] | undefined): Json {
  // the TF dtype, as tensorflowjs_converter writes it (TF.js reads DT_INT64 as int32, DT_DOUBLE as float32)
  let dt = 'DT_FLOAT';
  try {
    if (dtype) dt = dtName(tfDataType(dtype));
  } catch {
    // a dtype TF has no DataType for: left DT_FLOAT, as the Placeholder's own attr says what it is
  }
  return { name: `${name}:0`, dtype: dt, ...(shape ? { tensorShape: shapeJson({ dim: shape.map((d) => ({ size: typeof d === 'number' ? d : -1 })) }) } : {}) };
}

export interface TfjsGraphWriteOptions extends WriteOptions {
  /** notes for `--explain` (a weight kept float32) */
  notes?: string[];
}

/** An IR graph as a TF.js graph model: model.json's bytes; the shards go to options.sidecars. */
export async function writeTfjsGraph(model: LoadedModel, options: TfjsGraphWriteOptions = {}): Promise<Uint8Array> {
  const file = options.fileName ?? '<output>';
  if (model.kind !== 'graph') throw new UsageError(`'${file}': a TF.js graph model needs a model with a graph, not ${model.format} weights`);
  // the library's TFLite-style { quantize: { mode: 'float16' } } means the same here; its other modes quantize activations
  if (options.quantize && options.quantize.mode !== 'float16') throw new UsageError(`'${file}': --quantize ${options.quantize.mode} writes TFLite files; a TF.js graph model takes float16, uint8 or uint16 weights`);
  const quantize = options.tfjsQuantize ?? (options.quantize ? 'float16' : undefined);
  if (quantize !== undefined && !TFJS_WEIGHT_QUANTIZATIONS.includes(quantize)) throw new UsageError(`'${file}': TF.js weight quantization must be ${TFJS_WEIGHT_QUANTIZATIONS.join(', ')}, got '${String(quantize)}'`);
  const shardSize = options.shardSize ?? DEFAULT_GRAPH_SHARD_SIZE;
  if (!(Number.isInteger(shardSize) && shardSize > 0)) throw new UsageError(`'${file}': the shard size must be a positive byte count, got ${shardSize}`);
  const written = await graphDefNodes(model.graph, { ...options, fileName: file }, (nodes, g) => tfjsQuirks(nodes, g, file));
  const graph = written.graph;
  const nodes = reachable(written.nodes, graph.outputs.map((o) => tfName(o.name)));
  refuseOpsTfjsLacks([...nodes, ...written.library.flatMap((f) => f.nodes)], file);
  const weights: Array<{ spec: WeightSpec; values: Float32Array | Int32Array | Uint8Array }> = [];
  const bounds = sliceBoundsOnly(nodes);
  const node = nodes.map((n) => nodeJson(n, file, weights, bounds));
  // functions (StatelessIf branches, StatelessWhile cond / body) as tensorflowjs_converter writes them:
  // their Consts are weights too, looked up by node name (unique across the model) in one weight map
  const functions = written.library.map(({ def }) => {
    const fnBounds = sliceBoundsOnly(def.node_def ?? []);
    const arg = (a: { name?: string | null; type?: number | null }) => ({ name: a.name ?? '', type: dtName(a.type) });
    return {
      signature: { name: def.signature?.name ?? '', inputArg: (def.signature?.input_arg ?? []).map(arg), outputArg: (def.signature?.output_arg ?? []).map(arg) },
      nodeDef: (def.node_def ?? []).map((n) => nodeJson(n, file, weights, fnBounds)),
      ret: def.ret ?? {},
    };
  });
  refuseDuplicateNames([...nodes, ...written.library.flatMap((f) => f.nodes)], file);
  const notes = options.notes ?? [];
  // GraphModel.execute refuses a graph with control flow ops: say so where the model is written
  if (functions.length) notes.push(`the model runs ${functions.length} functions (StatelessIf / StatelessWhile): TF.js runs it with GraphModel.executeAsync, not execute`);
  const parts = weights.map((w) => encodeWeight(w.spec, w.values, quantize, notes));
  const paths = writeShards(parts, shardSize, options.sidecars);
  const json = {
    format: 'graph-model',
    generatedBy: 'nnport',
    convertedBy: 'nnport',
    modelTopology: { node, library: functions.length ? { function: functions } : {}, versions: { producer: 27 } },
    // a graph without constants still gets a manifest: TF.js' loaders decode the weights of one
    weightsManifest: [{ paths, weights: weights.map((w) => w.spec) }],
    signature: signatureOf(graph),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Inputs (the Placeholders) and outputs (the output nodes) with dtype and shape; a dynamic dim as -1. */
function signatureOf(g: Graph): Json {
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const inputs: Json = {};
  for (const v of g.inputs) if (!g.initializers.has(v.name)) inputs[tfName(v.name)] = tensorInfo(tfName(v.name), v.dtype, v.shape);
  const outputs: Json = {};
  for (const o of g.outputs) {
    const s = shapes.get(o.name);
    outputs[tfName(o.name)] = tensorInfo(tfName(o.name), o.dtype ?? s?.dtype, o.shape ?? s?.shape);
  }
  return { inputs, outputs };
}

/**
 * The nodes the outputs depend on, and every Placeholder (the signature's inputs), in their order:
 * constants nothing reads (an initializer whose op was written with constants of its own) are
 * left out, as tensorflowjs_converter strips what the outputs do not need.
 */
function reachable(nodes: NodeDef[], outputs: string[]): NodeDef[] {
  const byName = new Map(nodes.map((n) => [n.name ?? '', n]));
  const keep = new Set<string>();
  const todo = [...outputs];
  while (todo.length) {
    const name = todo.pop()!.replace(/^\^/, '').replace(/:\d+$/, '');
    if (keep.has(name)) continue;
    keep.add(name);
    for (const i of byName.get(name)?.input ?? []) todo.push(i);
  }
  return nodes.filter((n) => n.op === 'Placeholder' || keep.has(n.name ?? ''));
}

/** The Consts every use of which is a StridedSlice's begin or end (bounds that clamp to the dims). */
function sliceBoundsOnly(nodes: NodeDef[]): Set<string> {
  const ok = new Map<string, boolean>();
  for (const n of nodes) {
    (n.input ?? []).forEach((ref, i) => {
      const bound = n.op === 'StridedSlice' && (i === 1 || i === 2);
      // a Const's one output: 'c', or 'c:output:0' inside a function
      const node = ref.replace(/^\^/, '').split(':')[0]!;
      ok.set(node, (ok.get(node) ?? true) && bound);
    });
  }
  return new Set([...ok].filter(([, v]) => v).map(([k]) => k));
}

/** TF.js keeps one map of weights and values by node name for the graph and every function: a name twice would alias. */
function refuseDuplicateNames(nodes: NodeDef[], file: string): void {
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.name ?? '')) throw new FormatError(`node name '${n.name}' is written twice (in the graph and a function)`, { file });
    seen.add(n.name ?? '');
  }
}

function refuseOpsTfjsLacks(nodes: NodeDef[], file: string): void {
  const missing = new Map<string, string>();
  for (const n of nodes) if (!TFJS_GRAPH_OPS.has(n.op ?? '') && !missing.has(n.op ?? '')) missing.set(n.op ?? '', n.name ?? '');
  if (!missing.size) return;
  throw new UnsupportedError(
    `TensorFlow ops the TF.js 4.9 graph executor lacks: ${[...missing.keys()].join(', ')}`,
    `'${file}': ${[...missing].map(([op, n]) => `${op} (node '${n}')`).join(', ')} (a frozen .pb keeps them)`,
  );
}

/** The writer convert() uses for a model.json with tfjsFormat 'graph' (reading goes by detection: src/formats/tensorflow). */
export const tfjsGraphOutput: FormatHandler = {
  id: 'tfjs-graph',
  title: 'TensorFlow.js graph model',
  extensions: ['.json'],
  detect: () => false,
  // If / Loop of run-time condition or trip count: StatelessIf / StatelessWhile over the library's functions, run by executeAsync
  writesControlFlow: () => true,
  write: writeTfjsGraph,
};
