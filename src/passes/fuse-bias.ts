// A conv or dense layer's bias is often a separate node: TF1 graphs (BiasAdd / Add), tf2onnx and
// Keras -> ONNX exports (Conv + Add of a [1,C,1,1] initializer, MatMul + Add of [N]), PyTorch
// modules that add their own bias parameter. Keras (Conv2D / Dense use_bias), TFLite (CONV_2D,
// TRANSPOSE_CONV, FULLY_CONNECTED bias) and TF's BiasAdd want it inside the layer, and Keras has
// no layer for an Add of a per-channel constant at all. This pass folds such an Add (or Sub) into
// the bias input of the op before it. It changes a graph only where that is provably the same
// function: the constant broadcasts to exactly one value per output channel (so the output shape
// is unchanged), the op's output has no other reader and is not a graph output, and the weights
// are plain float constants (a QDQ graph is left to the quantized writers as it is).
//
// A dense layer over a batch of rows (nn.Linear on [batch, tokens, features]: MatMul of an N-D input
// by a 2-D constant, then Add of [N] / [1, N] / [1, 1, N]) has no ONNX op with a bias. With `ndDense`
// (the TFLite writer) it becomes Reshape to [rows, K] -> Gemm with the bias -> Reshape back: the
// quantizer gives that Gemm its int32 bias on input_scale · weight_scale with no int8 tensor between
// the product and the bias, and the writer takes the three as one FULLY_CONNECTED with keep_num_dims
// (write-dense-dims.ts), as TF's converter writes a Dense layer on a 3-D input.
import { attrInt, attrString, type Dim, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface FuseBiasOptions {
  /** also fold MatMul (2-D input, 2-D constant weight) + Add into a Gemm with that bias (default true) */
  dense?: boolean;
  /**
   * also fold MatMul (N-D input, 2-D constant weight) + Add of a constant along the last axis into
   * Reshape -> Gemm with that bias -> Reshape (default false: the Keras / TF writers take the Add as it is)
   */
  ndDense?: boolean;
}

export interface FuseBiasResult {
  graph: Graph;
  /** the Add / Sub nodes folded, by name */
  fused: string[];
}

const FLOAT = new Set(['float32', 'float64']);
const isOnnx = (d: string): boolean => d === '' || d === 'ai.onnx';

/**
 * Output channel count of a Conv / ConvTranspose from its weight, and the channel axis of its
 * output (whose rank is the weight's): ONNX NCHW ops read axis 1, channels-last nnport ops the last.
 */
function outputChannels(n: Node, w: Tensor): { c: number; axis: number } | undefined {
  const rank = w.rank;
  const group = attrInt(n, 'group', 1);
  if (rank < 3) return undefined;
  if (isOnnx(n.domain)) {
    // Conv (O, I/g, k...); ConvTranspose (I, O/g, k...)
    return { c: n.opType === 'Conv' ? w.shape[0]! : w.shape[1]! * group, axis: 1 };
  }
  if (n.domain !== 'nnport') return undefined;
  const layout = attrString(n, 'kernel_layout', n.opType === 'Conv' ? 'HWIO' : 'HWOI');
  let c: number | undefined;
  if (n.opType === 'Conv') c = layout === 'HWIO' ? w.shape[rank - 1] : layout === 'OHWI' ? w.shape[0] : undefined;
  else if (layout === 'HWOI') c = w.shape[rank - 2]! * group;
  else if (layout === 'OHWI' && group === 1) c = w.shape[0];
  return c === undefined ? undefined : { c, axis: rank - 1 };
}

/**
 * One value per channel of an output of rank `rank` whose channel axis is `axis` (with `c`
 * channels): the constant's values as a [c] vector, or undefined when it broadcasts any other
 * way (or would change the output's shape). A single value is repeated for every channel.
 */
function perChannel(t: Tensor, rank: number, axis: number, c: number): Float64Array | undefined {
  if (t.rank > rank) return undefined;
  let along = -1;
  for (let i = 0; i < t.rank; i++) {
    const outAxis = rank - t.rank + i;
    const d = t.shape[i]!;
    if (d === 1) continue;
    if (outAxis !== axis || d !== c) return undefined;
    along = i;
  }
  const v = t.toNumbers();
  const out = new Float64Array(c);
  for (let k = 0; k < c; k++) out[k] = along < 0 ? v[0]! : v[k]!;
  return out;
}

/** A constant the graph cannot be fed another value for (initializers that are also inputs can). */
function fixedConstant(rw: GraphRewriter, overridable: ReadonlySet<string>, v: string | undefined): Tensor | undefined {
  if (!v || overridable.has(v)) return undefined;
  const t = rw.constant(v);
  return t && t.onHost && FLOAT.has(t.dtype) ? t : undefined;
}

/** The Add / Sub reading `y` as `y + c` or `y - c` with a constant c: the node, c and its sign. */
function biasStep(rw: GraphRewriter, overridable: ReadonlySet<string>, y: string): { node: Node; c: Tensor; name: string; sign: 1 | -1 } | undefined {
  const next = rw.soleConsumer(y);
  if (!next || !isOnnx(next.domain) || next.inputs.length !== 2 || next.outputs.length !== 1) return undefined;
  if (next.opType !== 'Add' && next.opType !== 'Sub') return undefined;
  // opset < 7's Add / Sub broadcast by `broadcast` / `axis`, not numpy's rules
  if (next.attrs.broadcast || next.attrs.axis) return undefined;
  const [a, b] = next.inputs as [string, string];
  if (a === b) return undefined;
  // c - y would negate the weights too: left as it is
  if (next.opType === 'Sub' && a !== y) return undefined;
  const name = a === y ? b : a;
  const c = fixedConstant(rw, overridable, name);
  return c ? { node: next, c, name, sign: next.opType === 'Sub' ? -1 : 1 } : undefined;
}

/** A constant the fold left without readers goes (an initializer, or the Constant node making it); nothing else is swept. */
function dropIfUnread(rw: GraphRewriter, v: string): void {
  if (rw.consumers(v).length || rw.isPinned(v) || rw.inputs.some((i) => i.name === v)) return;
  if (rw.initializers.delete(v)) return;
  const p = rw.producer(v);
  if (p && p.opType === 'Constant' && isOnnx(p.domain)) rw.removeNode(p);
}

/**
 * The leading dims of an N-D dense layer's input as a Reshape target gives them back: known dims,
 * one dim known only at run time as -1; undefined when two are (or a dim is 0, which Reshape reads
 * as "copy").
 */
function leadingDims(shape: readonly Dim[]): number[] | undefined {
  const lead = shape.slice(0, -1);
  if (lead.filter((d) => typeof d !== 'number').length > 1 || lead.some((d) => d === 0)) return undefined;
  return lead.map((d) => (typeof d === 'number' ? d : -1));
}

export function fuseBias(graph: Graph, options: FuseBiasOptions = {}): FuseBiasResult {
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.map((v) => v.name));
  const fused: string[] = [];
  let shapes: Map<string, readonly Dim[] | undefined> | undefined;
  const shapeOf = (v: string): readonly Dim[] | undefined => {
    shapes ??= new Map([...inferShapes(graph, { onError: 'unknown' }).values].map(([k, t]) => [k, t.shape]));
    return shapes.get(v);
  };
  for (const orig of graph.nodes) {
    let n = rw.latest(orig);
    const conv = (n.opType === 'Conv' || n.opType === 'ConvTranspose') && (isOnnx(n.domain) || n.domain === 'nnport');
    // Gemm before opset 7 broadcasts its bias only with an attribute; such old graphs keep their Add
    const dense = options.dense !== false && n.opType === 'MatMul' && isOnnx(n.domain) && (graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 7) >= 7;
    if ((!conv && !dense) || n.outputs.length !== 1 || n.inputs.length < 2) continue;
    const w = fixedConstant(rw, overridable, n.inputs[1]);
    if (!w) continue;
    let ch: { c: number; axis: number } | undefined;
    const xShape = dense ? shapeOf(n.inputs[0]!) : undefined;
    // Gemm is 2-D: a MatMul over a batch of matrices keeps its Add (the writers take that form),
    // unless ndDense asks for the reshapes around a Gemm and the rows' dims can be given back
    const rowDims = options.ndDense && xShape && xShape.length > 2 && w.rank === 2 ? leadingDims(xShape) : undefined;
    if (conv) ch = outputChannels(n, w);
    else if (w.rank === 2 && (xShape?.length === 2 || rowDims)) ch = { c: w.shape[1]!, axis: xShape!.length - 1 };
    if (!ch) continue;
    const rank = conv ? w.rank : xShape!.length;
    // an existing bias must be a constant too; the sum is formed in float64 and stored in the
    // weights' dtype, which is what the separate float Add computed on it
    const oldBias = conv && n.inputs[2] ? fixedConstant(rw, overridable, n.inputs[2]) : undefined;
    if (conv && n.inputs[2] && (!oldBias || oldBias.size !== ch.c || oldBias.dtype !== w.dtype)) continue;
    let bias: Float64Array | undefined = oldBias ? Float64Array.from(oldBias.toNumbers()) : undefined;
    let out = n.outputs[0]!;
    const steps: { node: Node; c: string; sign: 1 | -1 }[] = [];
    // one rounding per Add, as the separate Adds rounded
    const round = w.dtype === 'float32' ? Math.fround : (x: number) => x;
    for (let step = biasStep(rw, overridable, out); step; step = biasStep(rw, overridable, out)) {
      if (step.c.dtype !== w.dtype) break;
      const v = perChannel(step.c, rank, ch.axis, ch.c);
      if (!v) break;
      bias ??= new Float64Array(ch.c);
      for (let k = 0; k < ch.c; k++) bias[k] = round(bias[k]! + step.sign * v[k]!);
      steps.push({ node: step.node, c: step.name, sign: step.sign });
      out = step.node.outputs[0]!;
      rw.removeNode(step.node);
      n = rw.replaceNode(n, { outputs: [out] });
    }
    if (!steps.length) continue;
    // a [C] initializer added as it is stays the bias under its own name (a TF 'conv1/bias' keeps it)
    const only = steps.length === 1 && !oldBias && steps[0]!.sign === 1 ? rw.initializers.get(steps[0]!.c) : undefined;
    let biasName = steps[0]!.c;
    if (!only || only.rank !== 1 || only.shape[0] !== ch.c) {
      const data = w.dtype === 'float32' ? Float32Array.from(bias!) : Float64Array.from(bias!);
      biasName = rw.addInitializer(`${n.inputs[2] || steps[0]!.c}/fused`, new Tensor(w.dtype, [ch.c], data));
    }
    const old = n.inputs[2];
    if (conv) rw.replaceNode(n, { inputs: [n.inputs[0]!, n.inputs[1]!, biasName] });
    else if (!rowDims) rw.replaceNode(n, { opType: 'Gemm', domain: '', inputs: [n.inputs[0]!, n.inputs[1]!, biasName], attrs: {} });
    else {
      // [..., K] -> [rows, K] -> Gemm -> [rows, N] -> [..., N]
      const base = n.name || out;
      const flatShape = rw.addInitializer(`${base}/rows_shape`, Tensor.int64([2], [-1, w.shape[0]!]));
      const rows = rw.add({ name: `${base}/rows`, opType: 'Reshape', inputs: [n.inputs[0]!, flatShape] });
      const product = rw.freshName(`${out}/rows`);
      rw.replaceNode(n, { opType: 'Gemm', domain: '', inputs: [rows, n.inputs[1]!, biasName], outputs: [product], attrs: {} });
      const outShape = rw.addInitializer(`${base}/shape`, Tensor.int64([rowDims.length + 1], [...rowDims, ch.c]));
      rw.addNode({ name: `${base}/unflatten`, opType: 'Reshape', inputs: [product, outShape], outputs: [out] });
    }
    for (const v of [old, ...steps.map((s) => s.c)]) if (v) dropIfUnread(rw, v);
    fused.push(...steps.map((s) => s.node.name));
  }
  if (!fused.length) return { graph, fused };
  return { graph: rw.toGraph(), fused };
}
