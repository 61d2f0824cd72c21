// float16 weights (a Cast of a float16 constant to float32: a float16 TFLite file as read,
// quantizeGraph's float16 mode) decoded into float32 constants, for the writers and passes that
// take constant float32 weights (Keras, TF.js, TensorFlow, int8 / dynamic quantization, --dequantize);
// a graph computing in float16 (a float16 ONNX model) widened to float32 compute with its weights
// in that Cast form; and float32 weights stored as float16 again after a pass that decoded them.
import { valueNamer, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { castFloat } from '../wasm/half.js';

/** A Cast of a float16 constant to float32. */
export function isHalfWeightCast(g: Graph, n: Node): boolean {
  const to = n.attrs.to;
  return n.opType === 'Cast' && (n.domain === '' || n.domain === 'ai.onnx') && to?.type === 'int' && to.value === 1 && g.initializers.get(n.inputs[0] ?? '')?.dtype === 'float16';
}

/** The graph with each float16 weight's Cast replaced by its float32 value (exact); `decoded` counts them. */
export function decodeHalfWeights(g: Graph): { graph: Graph; decoded: number } {
  const casts = new Set(g.nodes.filter((n) => isHalfWeightCast(g, n)));
  if (!casts.size) return { graph: g, decoded: 0 };
  const initializers = new Map(g.initializers);
  // (castFloat: the SIMD kernel; Tensor.toFloat32 decodes float16 one number at a time)
  for (const n of casts) initializers.set(n.outputs[0]!, castFloat(initializers.get(n.inputs[0]!)!, 'float32'));
  const nodes = g.nodes.filter((n) => !casts.has(n));
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const n of casts) if (!read.has(n.inputs[0]!) && !g.outputs.some((o) => o.name === n.inputs[0])) initializers.delete(n.inputs[0]!);
  return { graph: { ...g, nodes, initializers }, decoded: casts.size };
}

const FLOAT = 1;
const FLOAT16 = 10;
const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
/** Inputs that are not weights: Resize / Upsample roi and scales, Q/DQ scales (decoded to float32 in place, not cast). */
const PARAMETER_INPUTS: Record<string, readonly number[]> = { Resize: [1, 2], Upsample: [1], QuantizeLinear: [1], DequantizeLinear: [1] };
const isParameterInput = (n: Node, k: number): boolean => isOnnx(n) && !!PARAMETER_INPUTS[n.opType]?.includes(k);

export interface WidenedHalfGraph {
  graph: Graph;
  /** float16 weights now read through a Cast to float32 */
  weights: number;
  /** graph inputs and outputs that were float16 and are float32 now */
  io: string[];
}

/**
 * A graph that computes in float16 (a `model.half()` export, onnxconverter-common's
 * convert_float_to_float16 with or without keep_io_types) made to compute in float32 with its
 * float16 weights kept: each float16 weight is read through a Cast to float32 (the form
 * isHalfWeightCast recognises), float16 Constants likewise, Casts to float16 become Casts to
 * float32 and those left with nothing to do are dropped, float16 inputs/outputs become float32.
 * This is what TF's converter makes of a float16 model (float16 storage, float32 kernels), and
 * what writers whose kernels compute in float32 need. A graph with no float16 value is returned as is.
 */
export function widenHalfCompute(g: Graph): WidenedHalfGraph {
  const readers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) (readers.get(i) ?? readers.set(i, []).get(i)!).push(n);
  const halfInit = (name: string): boolean => g.initializers.get(name)?.dtype === 'float16';
  const computes =
    g.inputs.some((v) => v.dtype === 'float16' && !g.initializers.has(v.name)) ||
    g.outputs.some((v) => v.dtype === 'float16') ||
    g.nodes.some((n) => {
      if (!isOnnx(n)) return false;
      if (n.opType === 'Cast' && n.attrs.to?.type === 'int' && n.attrs.to.value === FLOAT16) return true;
      if ((n.opType === 'Constant' || n.opType === 'ConstantOfShape') && n.attrs.value?.type === 'tensor' && n.attrs.value.value.dtype === 'float16') return true;
      return n.inputs.some((i, k) => halfInit(i) && !isHalfWeightCast(g, n) && !isParameterInput(n, k));
    });
  if (!computes) return { graph: g, weights: 0, io: [] };

  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const casts: Node[] = [];
  // float16 weights that are read as a parameter (Resize scales, a Q/DQ scale) or are scalars are
  // decoded in place; the others get a Cast, whose output keeps the weight's name unless a float16
  // reader (a Cast of it already there) needs the name for the float16 tensor
  const inPlace = new Set<string>();
  // (an initializer also declared as a graph input keeps its name too: the input is the float16 tensor)
  const halfReaders = new Set<string>(g.inputs.map((v) => v.name));
  for (const n of g.nodes) {
    n.inputs.forEach((i, k) => {
      const t = i ? g.initializers.get(i) : undefined;
      if (t?.dtype !== 'float16') return;
      if (!isOnnx(n) || isParameterInput(n, k) || t.size < 2) inPlace.add(i);
      else if (isHalfWeightCast(g, n)) halfReaders.add(i);
    });
  }
  for (const i of inPlace) initializers.set(i, castFloat(g.initializers.get(i)!, 'float32'));
  const castOf = new Map<string, string>();
  const toFloat = (name: string, t: Tensor, node: string, keepName: boolean): string => {
    const half = fresh(`${name}_float16`);
    initializers.set(half, t);
    const out = keepName ? name : fresh(`${name}_float32`);
    casts.push({ name: node, opType: 'Cast', domain: '', inputs: [half], outputs: [out], attrs: { to: { type: 'int', value: FLOAT } } });
    return out;
  };
  let weights = 0;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!isOnnx(n)) {
      nodes.push(n);
      continue;
    }
    const value = n.attrs.value;
    const halfValue = (n.opType === 'Constant' || n.opType === 'ConstantOfShape') && value?.type === 'tensor' && value.value.dtype === 'float16' ? value.value : undefined;
    if (n.opType === 'Constant' && halfValue && halfValue.size >= 2) {
      toFloat(n.outputs[0]!, halfValue, n.name || n.outputs[0]!, true);
      weights++;
      continue;
    }
    let attrs = n.attrs;
    // a scalar (a Clip bound, a ConstantOfShape fill) is a float32 constant: nothing to store as float16
    if (halfValue) attrs = { ...attrs, value: { type: 'tensor', value: new Tensor('float32', halfValue.shape, halfValue.toFloat32()) } };
    if (n.opType === 'Cast' && attrs.to?.type === 'int' && attrs.to.value === FLOAT16) attrs = { ...attrs, to: { type: 'int', value: FLOAT } };
    const dtype = attrs.dtype;
    if (dtype?.type === 'int' && dtype.value === FLOAT16) attrs = { ...attrs, dtype: { type: 'int', value: FLOAT } };
    const inputs = isHalfWeightCast(g, n)
      ? n.inputs
      : n.inputs.map((i) => {
          const t = i ? g.initializers.get(i) : undefined;
          if (t?.dtype !== 'float16' || inPlace.has(i)) return i;
          let cast = castOf.get(i);
          if (!cast) {
            const keep = !halfReaders.has(i);
            if (keep) initializers.delete(i);
            castOf.set(i, (cast = toFloat(i, t, `${i}_cast`, keep)));
            weights++;
          }
          return cast;
        });
    nodes.push(attrs === n.attrs && inputs.every((v, k) => v === n.inputs[k]) ? n : { ...n, attrs, inputs });
  }
  const io: string[] = [];
  const widen = <V extends { name: string; dtype?: Tensor['dtype'] }>(v: V, isIo: boolean): V => {
    if (v.dtype !== 'float16' || g.initializers.has(v.name)) return v;
    if (isIo && !io.includes(v.name)) io.push(v.name);
    return { ...v, dtype: 'float32' };
  };
  let graph: Graph = {
    ...g,
    nodes: [...casts, ...nodes],
    initializers,
    inputs: g.inputs.map((v) => widen(v, true)),
    outputs: g.outputs.map((v) => widen(v, true)),
    valueInfo: g.valueInfo?.map((v) => widen(v, false)),
  };
  graph = dropNoOpCasts(graph);
  return { graph, weights, io };
}

/** Casts to float32 of a value that is float32 already (the edges of a keep_io_types model, once widened) dropped. */
function dropNoOpCasts(g: Graph): Graph {
  const dtypes = inferShapes(g, { onError: 'unknown' }).values;
  const noop = (n: Node): boolean => isOnnx(n) && n.opType === 'Cast' && n.attrs.to?.type === 'int' && n.attrs.to.value === FLOAT && !!n.inputs[0] && !g.initializers.has(n.inputs[0]) && dtypes.get(n.inputs[0])?.dtype === 'float32';
  if (!g.nodes.some(noop)) return g;
  const rw = new GraphRewriter(g);
  for (const n of g.nodes) {
    if (!noop(n)) continue;
    const [x, y] = [n.inputs[0]!, n.outputs[0]!];
    rw.removeNode(rw.latest(n));
    // a graph output keeps its name: the value before the Cast takes it, unless that is an input or output itself
    if (!rw.isGraphOutput(y)) rw.replaceUses(y, x);
    else if (!rw.isGraphInput(x) && !rw.isGraphOutput(x) && rw.producer(x)) {
      rw.renameValue(x, y);
    } else rw.addNode({ opType: 'Identity', inputs: [x], outputs: [y], name: n.name });
  }
  return rw.toGraph();
}

/**
 * The float16 weights of a graph that holds any (Casts of float16 constants, or float16 weights
 * read directly): how many, and whether it also has float32 weights (a model made float16 with
 * some layers kept float32). Taken before passes that decode them (the layout pass), so that
 * encodeHalfWeights can store the result's weights as float16 again.
 */
export function halfWeightsOf(g: Graph): { half: number; float32: number } {
  let half = 0;
  let float32 = 0;
  const seen = new Set<string>();
  for (const n of g.nodes) {
    n.inputs.forEach((i, k) => {
      const t = i ? g.initializers.get(i) : undefined;
      if (!t || seen.has(i) || t.size < 2 || isParameterInput(n, k)) return;
      seen.add(i);
      if (t.dtype === 'float16') half++;
      else if (t.dtype === 'float32') float32++;
    });
  }
  return { half, float32 };
}

/**
 * Each float32 constant of two or more elements that a node reads stored as float16 behind a
 * Cast to float32 (what the TFLite writer writes as a float16 buffer + DEQUANTIZE). `rounding`:
 * 'all' rounds every one to float16 (a graph whose weights were all float16: what a pass computed
 * from them, a folded BatchNorm, keeps the source's precision), 'exact' only those float16 holds
 * exactly (a model with float32 weights too: those stay float32, the float16 ones, re-laid, are exact).
 */
export function encodeHalfWeights(g: Graph, rounding: 'all' | 'exact'): { graph: Graph; encoded: number } {
  const read = new Map<string, boolean>();
  for (const n of g.nodes) n.inputs.forEach((i, k) => i && g.initializers.has(i) && read.set(i, (read.get(i) ?? true) && !isParameterInput(n, k)));
  const pinned = new Set([...g.inputs, ...g.outputs].map((v) => v.name));
  const taken = new Set<string>([...g.initializers.keys(), ...pinned]);
  for (const n of g.nodes) for (const v of n.outputs) if (v) taken.add(v);
  const initializers = new Map(g.initializers);
  const casts: Node[] = [];
  for (const [name, weight] of read) {
    const t = g.initializers.get(name)!;
    if (!weight || t.dtype !== 'float32' || t.size < 2 || pinned.has(name)) continue;
    const half = castFloat(t, 'float16');
    if (rounding === 'exact') {
      const back = castFloat(half, 'float32').data as Float32Array;
      const f = t.data as Float32Array;
      // NaN != NaN: a NaN weight keeps the tensor float32 (its payload could change)
      let same = true;
      for (let i = 0; i < f.length && same; i++) same = back[i] === f[i];
      if (!same) continue;
    }
    let h = `${name}_float16`;
    for (let i = 1; taken.has(h); i++) h = `${name}_float16_${i}`;
    taken.add(h);
    initializers.delete(name);
    initializers.set(h, half);
    casts.push({ name: h, opType: 'Cast', domain: '', inputs: [h], outputs: [name], attrs: { to: { type: 'int', value: FLOAT } } });
  }
  if (!casts.length) return { graph: g, encoded: 0 };
  return { graph: { ...g, nodes: [...casts, ...g.nodes], initializers }, encoded: casts.length };
}

/** What widenHalfCompute changed, for a conversion's notes. */
export function halfComputeNote(r: WidenedHalfGraph, format: string, options: { dequantize?: boolean; quantize?: { mode: string } }): string {
  const kept = format === 'tflite' && !options.dequantize && !options.quantize;
  const io = r.io.length ? `; float16 input${r.io.length > 1 ? 's/outputs' : '/output'} ${r.io.map((v) => `'${v}'`).join(', ')} ${r.io.length > 1 ? 'are' : 'is'} float32 (feed float32)` : '';
  return `float16 model: computes in float32 in ${format}${kept ? ' with its weights stored float16 behind DEQUANTIZE (as TF\'s float16 quantization)' : ''}${io}`;
}

/** Ops that move or describe float16 data without computing on it: the reference runtime takes them as they are. */
const HALF_AS_IS = new Set(['Cast', 'CastLike', 'Constant', 'Shape', 'Size', 'Identity']);

/**
 * For the reference runtime, whose compute kernels take float32: each op of a float16 graph that
 * reads or writes float16 values computes in float32 between Casts, its float16 outputs rounded
 * back to float16 (what onnxruntime's CPU provider does for ops without a float16 kernel), so that
 * `run` and `compare` take a float16 ONNX model. Values keep their names. A graph without float16
 * values is returned as is.
 */
export function halfOpsThroughFloat32(g: Graph): Graph {
  const declared = (v: { dtype?: string }) => v.dtype === 'float16';
  // (cheap checks first: `run` calls this on every graph it has not seen)
  const maybe =
    g.inputs.some(declared) ||
    g.outputs.some(declared) ||
    [...g.initializers.values()].some((t) => t.dtype === 'float16') ||
    g.nodes.some((n) => (n.opType === 'Cast' && n.attrs.to?.type === 'int' && n.attrs.to.value === FLOAT16) || (n.opType === 'Constant' && n.attrs.value?.type === 'tensor' && n.attrs.value.value.dtype === 'float16'));
  if (!maybe) return g;
  const types = inferShapes(g, { onError: 'unknown' }).values;
  const isHalf = (v: string): boolean => !!v && (g.initializers.get(v)?.dtype ?? types.get(v)?.dtype) === 'float16';
  const wrap = (n: Node): boolean => isOnnx(n) && !HALF_AS_IS.has(n.opType) && [...n.inputs, ...n.outputs].some(isHalf);
  if (!g.nodes.some(wrap)) return g;
  const fresh = valueNamer(g);
  const widened = new Map<string, string>();
  const nodes: Node[] = [];
  const cast = (x: string, y: string, to: number): Node => ({ name: y, opType: 'Cast', domain: '', inputs: [x], outputs: [y], attrs: { to: { type: 'int', value: to } } });
  for (const n of g.nodes) {
    if (!wrap(n)) {
      nodes.push(n);
      continue;
    }
    const inputs = n.inputs.map((i) => {
      if (!isHalf(i)) return i;
      let f = widened.get(i);
      if (!f) {
        widened.set(i, (f = fresh(`${i}/float32`)));
        nodes.push(cast(i, f, FLOAT));
      }
      return f;
    });
    const back: Node[] = [];
    const outputs = n.outputs.map((o) => {
      if (!isHalf(o)) return o;
      const f = fresh(`${o}/float32`);
      back.push(cast(f, o, FLOAT16));
      return f;
    });
    nodes.push({ ...n, inputs, outputs }, ...back);
  }
  return { ...g, nodes, valueInfo: g.valueInfo?.filter((v) => v.dtype !== 'float16') };
}
