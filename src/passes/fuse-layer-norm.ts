// LayerNorm as exporters spell it out (PyTorch's nn.LayerNorm at ONNX opset < 17, ConvNeXt's
// channels-first LayerNorm, text transformers' hand-written ones):
//   mean = ReduceMean(X, axes, keepdims 1)          d = X - mean
//   var  = ReduceMean(Pow(d, 2) or d * d, axes, keepdims 1)
//   Y    = d / Sqrt(var + epsilon)  [* Scale]  [+ B]
// collapsed into one LayerNormalization (ONNX-17 semantics: over the axes from `axis` on, the
// population variance, epsilon inside the root), which Keras has as a layer. Only where the
// reduced axes are the trailing ones (after the layout pass a channels-first norm over axis 1
// is one over the last axis), the two ReduceMeans reduce the same axes, the inner values feed
// nothing else, and Scale / B are constants that vary over the normalized axes only. Not fused:
// epsilon outside the root (d / (sqrt(var) + eps) is another function), RMSNorm (no centering).
// The graph's opset is left as it is: nnport's IR has the op at every opset (and ONNX Runtime
// registers LayerNormalization from opset 1, so a fused .onnx below 17 still runs there).
import { attrInt, attrInts, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface FuseLayerNormResult {
  graph: Graph;
  /** the LayerNormalization nodes made, by name */
  fused: string[];
}

const plain = (n: Node | undefined, op: string): n is Node => !!n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx');

export function fuseLayerNorm(graph: Graph): FuseLayerNormResult {
  const means = graph.nodes.filter((n) => plain(n, 'ReduceMean'));
  if (means.length < 2) return { graph, fused: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 17;
  const fused: string[] = [];
  const taken = new Set<Node>();

  /** A ReduceMean's axes (attribute before opset 18, constant input from 18), keepdims 1 required. */
  const axesOf = (n: Node): number[] | undefined => {
    if (attrInt(n, 'keepdims', 1) !== 1) return undefined;
    if (opset < 18) return attrInts(n, 'axes');
    return n.inputs[1] ? rw.constant(n.inputs[1])?.toNumbers() : undefined;
  };
  const scalar = (v: string | undefined): number | undefined => {
    const t = v ? rw.constant(v) : undefined;
    return t && t.size === 1 && (t.dtype === 'float32' || t.dtype === 'float64') ? t.toNumbers()[0] : undefined;
  };
  /** The one reader of `v`, when nothing else (a graph output, a subgraph) sees it. */
  const only = (v: string | undefined): Node | undefined => (v ? rw.soleConsumer(v) : undefined);
  const other = (n: Node, v: string): string | undefined => (n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined);

  for (const mean of means) {
    if (taken.has(mean)) continue;
    const x = mean.inputs[0]!;
    const info = shapes.get(x);
    const rank = info?.shape?.length;
    if (!rank || info.dtype !== 'float32') continue;
    const axes = axesOf(mean)?.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    if (!axes || !axes.length || axes.some((a, i) => a !== rank - axes.length + i) || axes[0]! <= 0) continue;
    const m = mean.outputs[0]!;
    // d = x - mean, once or twice (ConvNeXt's original writes (x - u) for the variance and again for the quotient)
    const subs = rw.consumers(m);
    if (!subs.length || rw.isPinned(m) || !subs.every((s) => plain(s, 'Sub') && s.inputs[0] === x && s.inputs[1] === m && !rw.isPinned(s.outputs[0]!))) continue;
    const ds = new Set(subs.map((s) => s.outputs[0]!));
    const readers = subs.flatMap((s) => [...rw.consumers(s.outputs[0]!)]);
    const square = readers.find((r) => (plain(r, 'Pow') && ds.has(r.inputs[0]!) && scalar(r.inputs[1]) === 2) || (plain(r, 'Mul') && ds.has(r.inputs[0]!) && r.inputs[1] === r.inputs[0]));
    const div = readers.find((r) => plain(r, 'Div') && ds.has(r.inputs[0]!));
    if (!square || !div || readers.length !== 2) continue;
    const variance = only(square.outputs[0]);
    if (!plain(variance, 'ReduceMean') || variance.inputs[0] !== square.outputs[0]) continue;
    const vAxes = axesOf(variance)?.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    if (!vAxes || vAxes.join() !== axes.join()) continue;
    const addEps = only(variance.outputs[0]);
    const epsilon = addEps && plain(addEps, 'Add') ? scalar(other(addEps, variance.outputs[0]!)) : undefined;
    if (!addEps || epsilon === undefined || !(epsilon >= 0)) continue;
    const sqrt = only(addEps.outputs[0]);
    if (!plain(sqrt, 'Sqrt') || only(sqrt.outputs[0]) !== div || div.inputs[1] !== sqrt.outputs[0]) continue;

    // optional affine: * Scale, + B, constants over the normalized axes only
    const dims = info.shape!.slice(axes[0]);
    if (dims.some((d) => typeof d !== 'number')) continue;
    const normShape = dims as number[];
    const affine = (n: Node | undefined, op: 'Mul' | 'Add', input: string): Tensor | undefined => {
      if (!plain(n, op)) return undefined;
      const c = other(n, input);
      const t = c ? rw.constant(c) : undefined;
      return t ? overNormalized(t, rank, normShape) : undefined;
    };
    const nodes: Node[] = [mean, ...subs, square, variance, addEps, sqrt, div];
    let y = div.outputs[0]!;
    const mul = only(y);
    let scale = affine(mul, 'Mul', y);
    // named after the module when the scale is a parameter ('ln.weight'), else after the Div's scope
    const param = scale ? /^(.*)[./]weight$/.exec(other(mul!, y) ?? '')?.[1] : undefined;
    if (scale) {
      nodes.push(mul!);
      y = mul!.outputs[0]!;
    }
    const add = only(y);
    const bias = affine(add, 'Add', y);
    if (bias) {
      nodes.push(add!);
      y = add!.outputs[0]!;
    }
    if (nodes.some((n) => taken.has(n))) continue;
    scale ??= new Tensor('float32', normShape, new Float32Array(normShape.reduce((a, b) => a * b, 1)).fill(1));
    const where = param || div.name.replace(/\/Div$/, '') || div.name;
    for (const n of nodes) {
      taken.add(n);
      rw.removeNode(n);
    }
    rw.addNode({
      opType: 'LayerNormalization',
      name: `${where}/LayerNormalization`,
      inputs: [x, rw.addInitializer(`${where}.weight`, scale), ...(bias ? [rw.addInitializer(`${where}.bias`, bias)] : [])],
      outputs: [y],
      attrs: { axis: { type: 'int', value: axes[0]! }, epsilon: { type: 'float', value: epsilon } },
    });
    fused.push(where);
  }
  if (!fused.length) return { graph, fused };
  rw.sweep();
  return { graph: rw.toGraph(), fused };
}

/**
 * A float constant broadcast against rank-`rank` data that varies over the last normShape.length
 * axes only, as a float32 tensor of normShape; undefined when it varies over another axis or
 * does not broadcast.
 */
function overNormalized(t: Tensor, rank: number, normShape: number[]): Tensor | undefined {
  if (t.dtype !== 'float32' || t.rank > rank) return undefined;
  const dims = [...new Array<number>(rank - t.rank).fill(1), ...(t.shape as number[])];
  const lead = dims.slice(0, rank - normShape.length);
  const tail = dims.slice(rank - normShape.length);
  if (lead.some((d) => d !== 1) || tail.some((d, i) => d !== 1 && d !== normShape[i])) return undefined;
  const src = t.toFloat32();
  if (tail.every((d, i) => d === normShape[i])) return new Tensor('float32', normShape, Float32Array.from(src));
  // broadcast the size-1 axes out to the normalized shape
  const size = normShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const strides = tail.map((_, i) => tail.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < size; o++) {
    let rem = o;
    let at = 0;
    for (let i = 0; i < normShape.length; i++) {
      const inner = normShape.slice(i + 1).reduce((a, b) => a * b, 1);
      const c = Math.floor(rem / inner);
      rem -= c * inner;
      if (tail[i] !== 1) at += c * strides[i]!;
    }
    out[o] = src[at]!;
  }
  return new Tensor('float32', normShape, out);
}
