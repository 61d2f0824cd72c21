// A grouped convolution (1 < group, not depthwise) as a plain one whose kernel is block-diagonal:
// input channel i of group k reaches only the output channels of group k, every other weight is 0.
// Same numbers (the extra products are exact zeros), g× the weights. For targets that cannot run
// Conv2D(groups=g): TF.js 4.9 builds such a Keras layer but has no kernel for it, and a Lambda
// (split + concat) would need custom code to load. Works on ONNX Conv (OIHW) and on channels-last
// nnport Conv (kernel_layout HWIO or OHWI).
import { attrInt, attrString, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { allocArray, type NumericArray } from '../ir/dtypes.js';

export interface ExpandGroupedConvResult {
  graph: Graph;
  /** one line per conv expanded */
  notes: string[];
}

const isConv = (n: Node): boolean => n.opType === 'Conv' && (n.domain === '' || n.domain === 'ai.onnx' || n.domain === 'nnport');

/** [output axis, input axis] of a conv weight in `layout` */
function weightAxes(layout: string, rank: number): [number, number] {
  if (layout === 'HWIO') return [rank - 1, rank - 2];
  if (layout === 'OHWI') return [0, rank - 1];
  return [0, 1];
}

export function expandGroupedConv(graph: Graph): ExpandGroupedConvResult {
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.map((v) => v.name));
  const notes: string[] = [];
  for (const orig of graph.nodes) {
    const conv = rw.latest(orig);
    const group = attrInt(conv, 'group', 1);
    if (!isConv(conv) || group <= 1) continue;
    const wName = conv.inputs[1];
    const W = wName && !overridable.has(wName) ? rw.constant(wName) : undefined;
    if (!W) continue;
    const layout = conv.domain === 'nnport' ? attrString(conv, 'kernel_layout', 'HWIO') : 'OIHW';
    const [oAxis, iAxis] = weightAxes(layout, W.rank);
    const perGroupIn = W.shape[iAxis]!;
    const out = W.shape[oAxis]!;
    // depthwise (one input channel per group) has its own layer everywhere
    if (perGroupIn === 1 || out % group !== 0) continue;
    const perGroupOut = out / group;
    const shape = W.shape.map((d, a) => (a === iAxis ? d * group : d));
    const src = W.data as NumericArray;
    const dst = allocArray(W.dtype, src.length * group) as NumericArray;
    // strides of both tensors (row-major)
    const stridesOf = (s: readonly number[]): number[] => s.map((_, a) => s.slice(a + 1).reduce((p, d) => p * d, 1));
    const sStride = stridesOf(W.shape);
    const dStride = stridesOf(shape);
    for (let p = 0; p < src.length; p++) {
      let q = 0;
      let o = 0;
      let i = 0;
      for (let a = 0; a < W.rank; a++) {
        const c = Math.floor(p / sStride[a]!) % W.shape[a]!;
        if (a === oAxis) o = c;
        if (a === iAxis) i = c;
        else q += c * dStride[a]!;
      }
      q += (Math.floor(o / perGroupOut) * perGroupIn + i) * dStride[iAxis]!;
      dst[q] = src[p]!;
    }
    const w2 = rw.addInitializer(`${wName}/block_diagonal`, new Tensor(W.dtype, shape, dst));
    const { group: _dropped, ...attrs } = conv.attrs;
    rw.replaceNode(conv, { inputs: [conv.inputs[0]!, w2, ...conv.inputs.slice(2)], attrs });
    notes.push(`grouped conv '${conv.name}' (group ${group}, ${perGroupIn * group} -> ${out} channels) written as a plain conv with a block-diagonal kernel (same result, ${group}x the weights): TF.js cannot run Conv2D(groups)`);
  }
  if (!notes.length) return { graph, notes };
  rw.sweep();
  return { graph: rw.toGraph(), notes };
}
