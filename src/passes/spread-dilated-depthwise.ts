// A dilated depthwise convolution as an undilated one whose kernel holds the dilated taps with zeros
// between them: a k-tap kernel of dilation d becomes (k - 1)·d + 1 taps, weight i at i·d. Same
// numbers (the extra products are exact zeros), same padding (the kernel's extent is unchanged).
// For TF.js 4.9, whose DepthwiseConv2D layer builds with `dilation_rate` but calls its kernel without
// it (tfjs-layers convolutional_depthwise.js: "TODO(cais): Add support for dilation"): a layers
// model.json with a dilated DepthwiseConv2D runs silently as undilated there. Works on ONNX Conv
// (OIHW) and on channels-last nnport Conv (kernel_layout HWIO or OHWI), as expand-grouped-conv.ts.
import { attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { allocArray, type NumericArray } from '../ir/dtypes.js';

export interface SpreadDilatedDepthwiseResult {
  graph: Graph;
  /** one line per conv spread */
  notes: string[];
}

const isConv = (n: Node): boolean => n.opType === 'Conv' && (n.domain === '' || n.domain === 'ai.onnx' || n.domain === 'nnport');

/** The spatial axes of a conv weight of rank `rank` in `layout`, and its input-channel axis. */
function axesOf(layout: string, rank: number): { spatial: number[]; input: number } {
  const k = rank - 2;
  if (layout === 'HWIO') return { spatial: Array.from({ length: k }, (_, i) => i), input: rank - 2 };
  if (layout === 'OHWI') return { spatial: Array.from({ length: k }, (_, i) => i + 1), input: rank - 1 };
  return { spatial: Array.from({ length: k }, (_, i) => i + 2), input: 1 };
}

export function spreadDilatedDepthwise(graph: Graph): SpreadDilatedDepthwiseResult {
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.map((v) => v.name));
  const notes: string[] = [];
  for (const orig of graph.nodes) {
    const conv = rw.latest(orig);
    if (!isConv(conv) || attrInt(conv, 'group', 1) <= 1) continue;
    const wName = conv.inputs[1];
    const W = wName && !overridable.has(wName) ? rw.constant(wName) : undefined;
    if (!W) continue;
    const layout = conv.domain === 'nnport' ? attrString(conv, 'kernel_layout', 'HWIO') : 'OIHW';
    const { spatial, input } = axesOf(layout, W.rank);
    // depthwise: one input channel per group (a grouped conv is expanded, or refused, elsewhere)
    if (W.shape[input] !== 1) continue;
    const d = attrInts(conv, 'dilations', spatial.map(() => 1));
    if (d.every((v) => v === 1)) continue;
    const k = spatial.map((a) => W.shape[a]!);
    const k2 = k.map((v, i) => (v - 1) * d[i]! + 1);
    const shape = W.shape.map((v, a) => (spatial.includes(a) ? k2[spatial.indexOf(a)]! : v));
    const src = W.data as NumericArray;
    const dst = allocArray(W.dtype, shape.reduce((p, v) => p * v, 1)) as NumericArray;
    const stridesOf = (s: readonly number[]): number[] => s.map((_, a) => s.slice(a + 1).reduce((p, v) => p * v, 1));
    const sStride = stridesOf(W.shape);
    const dStride = stridesOf(shape);
    for (let p = 0; p < src.length; p++) {
      let q = 0;
      for (let a = 0; a < W.rank; a++) {
        const c = Math.floor(p / sStride[a]!) % W.shape[a]!;
        const s = spatial.indexOf(a);
        q += (s >= 0 ? c * d[s]! : c) * dStride[a]!;
      }
      dst[q] = src[p]!;
    }
    const w2 = rw.addInitializer(`${wName}/spread`, new Tensor(W.dtype, shape, dst));
    const attrs: Record<string, Attr> = { ...conv.attrs, dilations: { type: 'ints', value: spatial.map(() => 1) } };
    if (conv.attrs.kernel_shape) attrs.kernel_shape = { type: 'ints', value: k2 };
    rw.replaceNode(conv, { inputs: [conv.inputs[0]!, w2, ...conv.inputs.slice(2)], attrs });
    notes.push(`dilated depthwise conv '${conv.name}' (dilation ${d.join('x')}, ${k.join('x')} kernel) written undilated with a ${k2.join('x')} kernel holding zeros between its taps (same result): TF.js 4.9's DepthwiseConv2D ignores dilation_rate`);
  }
  if (!notes.length) return { graph, notes };
  rw.sweep();
  return { graph: rw.toGraph(), notes };
}
