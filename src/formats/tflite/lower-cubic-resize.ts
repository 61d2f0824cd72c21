// Resize mode cubic as plain ONNX ops, before the TFLite writer runs: TFLite has no bicubic resize
// (TF's converter writes tf.image.resize bicubic as a Flex op). Cubic convolution is separable, so
// each resized axis, the innermost first (onnxruntime's ResizeBiCubic interpolates along W, then H),
// becomes 4 Gathers of the input along that axis at the taps x0 - 1 .. x0 + 2 (clamped to the edge,
// as onnxruntime reads them), each weighted by its cubic coefficient (cubic_coeff_a; with
// exclude_outside, a tap outside the input weighs 0 and the rest are divided by their sum) and
// summed. The source coordinate x of every output index is computed in the graph from the output
// and input lengths, in onnxruntime's float32 order of operations for the
// coordinate_transformation_mode (by scales, align_corners and pytorch_half_pixel take the resized
// length in · scale before flooring, as the ONNX reference and nnport's runtime do), so a size known only at run time (Keypoint R-CNN's heatmaps
// resized to each box in a loop) needs nothing else; with known sizes the coordinates, taps and
// weights fold into constants. An axis whose length stays (a size equal to the input's, a scale of
// 1) is left alone, as onnxruntime does.
import { UnsupportedError } from '../../ir/errors.js';
import type { Dim, Graph, Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { resizeDefs, type ResizeAttrs } from '../../ir/ops/resize.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';
import { mapSubgraphs } from '../../passes/layout-subgraphs.js';
import { OpLowering } from './op-lowering.js';

const isCubic = (n: Node): boolean => n.opType === 'Resize' && (n.domain === '' || n.domain === 'ai.onnx') && n.attrs.mode?.type === 'string' && n.attrs.mode.value === 'cubic';

/** Whether the graph (or a subgraph) has a cubic Resize (the integer writers refuse it: its taps' weights would be rounded to the activations' steps). */
export const hasCubicResize = (g: Graph): boolean => g.nodes.some((n) => isCubic(n) || Object.values(n.attrs).some((a) => a.type === 'graph' && hasCubicResize(a.value)));

/** Every cubic Resize of the graph and its subgraphs lowered; `settle` folds what became constant in a graph that changed. */
export function lowerCubicResize(g: Graph, fileName: string, settle: (g: Graph) => Graph): Graph {
  if (!hasCubicResize(g)) return g;
  const lower = (graph: Graph): Graph => lowerGraph(graph, fileName, settle);
  return mapSubgraphs(lower(g), lower);
}

function lowerGraph(g: Graph, fileName: string, settle: (g: Graph) => Graph): Graph {
  const nodes = g.nodes.filter(isCubic);
  if (!nodes.length) return g;
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 11;
  const rw = new GraphRewriter(g);
  for (const n of nodes) {
    const where = `node '${n.name}' in ${fileName}`;
    let a: ResizeAttrs;
    try {
      a = resizeDefs.Resize.attrs(n, opset);
    } catch (e) {
      throw e instanceof UnsupportedError ? new UnsupportedError(`${e.feature} (cubic) in a TFLite file`, where) : e;
    }
    if (a.coord === 'tf_crop_and_resize') throw new UnsupportedError('Resize cubic with tf_crop_and_resize in a TFLite file', `${where}: its region of interest and extrapolation are not lowered`);
    const xs = values.get(n.inputs[0]!);
    if (!xs?.shape) throw new UnsupportedError('Resize cubic of data of unknown rank in a TFLite file', where);
    if (xs.dtype !== 'float32') throw new UnsupportedError(`Resize cubic of ${xs.dtype} data in a TFLite file`, where);
    new CubicResizeLowering(rw, n, a, xs.shape, values.get(n.outputs[0]!)?.shape, where).lower();
  }
  return settle(rw.toGraph());
}

/** How one axis is resized: its index, and its output length / scale as known constants or graph values (float32 scalars). */
interface AxisResize {
  axis: number;
  /** the input's and output's lengths (float32 scalar values) */
  inLength: string;
  outLength: string;
  /** length_resized of ONNX's coordinate formulas: the output's length for given sizes, in · scale (not floored) for scales, as the ONNX reference maps them */
  resized: string;
  scale: string;
}

class CubicResizeLowering extends OpLowering {
  constructor(
    rw: GraphRewriter,
    node: Node,
    private readonly a: ResizeAttrs,
    private readonly inShape: Dim[],
    private readonly outShape: Dim[] | undefined,
    private readonly at: string,
  ) {
    super(rw, node);
  }

  lower(): void {
    const n = this.node;
    const rank = this.inShape.length;
    const resized = this.axes();
    this.rw.removeNode(n);
    // the innermost axis first, as onnxruntime's ResizeBiCubic (along W, then H); the last sum is the output
    // (no Identity after it: TFLite writes that as a RESHAPE, which takes one run-time dim only)
    resized.sort((p, q) => q.axis - p.axis);
    if (!resized.length) this.rw.addNode({ opType: 'Identity', name: `${this.where}/output`, inputs: [n.inputs[0]!], outputs: [n.outputs[0]!] });
    resized.reduce((y, r, i) => this.alongAxis(y, r, rank, i === resized.length - 1 ? n.outputs[0] : undefined), n.inputs[0]!);
  }

  /** The axes whose length changes (or may, at run time), with their lengths and scales. */
  private axes(): AxisResize[] {
    const n = this.node;
    const rank = this.inShape.length;
    const order = this.a.axes ? this.a.axes.map((v) => (v < 0 ? v + rank : v)) : Array.from({ length: rank }, (_, i) => i);
    const present = (v: string | undefined): string | undefined => {
      if (!v) return undefined;
      const t = this.rw.constant(v);
      return t && t.size === 0 ? undefined : v;
    };
    const sizes = present(n.inputs[3]);
    const scales = present(n.inputs[2]);
    if (!sizes && !scales) throw new UnsupportedError('Resize cubic without scales or sizes in a TFLite file', this.at);
    const source = (sizes ?? scales)!;
    const known = this.rw.constant(source)?.toNumbers();
    const out: AxisResize[] = [];
    order.forEach((axis, k) => {
      const inDim = this.inShape[axis];
      const inKnown = typeof inDim === 'number' ? inDim : undefined;
      const inLength = (): string => (inKnown !== undefined ? this.f(inKnown) : this.lengthOf(axis));
      if (sizes) {
        const outDim = known?.[k] ?? this.outShape?.[axis];
        const outKnown = typeof outDim === 'number' ? outDim : undefined;
        if (outKnown !== undefined && outKnown === inKnown) return;
        const outLength = outKnown !== undefined ? this.f(outKnown) : this.entry(sizes, k);
        const length = inLength();
        // onnxruntime's scale of given sizes: float(out) / float(in)
        out.push({ axis, inLength: length, outLength, resized: outLength, scale: this.op('Div', [outLength, length]) });
        return;
      }
      const s = known?.[k];
      if (s === 1) return;
      const scale = s !== undefined ? this.f(s) : this.entry(scales!, k, false);
      const outDim = this.outShape?.[axis];
      const length = inLength();
      const resized = this.op('Mul', [length, scale]);
      // (an output length of floor(in · scale), as onnxruntime's static_cast<int64_t>(scale · in) of a float32 product)
      const outLength = typeof outDim === 'number' ? this.f(outDim) : this.op('Floor', [resized]);
      out.push({ axis, inLength: length, outLength, resized, scale });
    });
    return out;
  }

  /** Entry k of a 1-D value (sizes, a shape: cast to float32; scales) as a scalar. */
  private entry(v: string, k: number, cast = true): string {
    const e = this.op('Gather', [v, this.rw.addInitializer(`${this.where}/entry`, Tensor.int64([], [k]))], { axis: { type: 'int', value: 0 } });
    return cast ? this.op('Cast', [e], { to: { type: 'int', value: 1 } }) : e;
  }

  /** The input's length along `axis` at run time, as a float32 scalar. */
  private lengthOf(axis: number): string {
    return this.entry(this.op('Shape', [this.node.inputs[0]!]), axis);
  }

  /** `x` resized along one axis: 4 Gathers at the clamped taps, weighted by their cubic coefficients, summed. */
  private alongAxis(x: string, r: AxisResize, rank: number, output?: string): string {
    const a = this.a;
    const index = this.op('Range', [this.f(0), r.outLength, this.f(1)]);
    const half = (v: string) => this.op('Add', [v, this.f(0.5)]);
    let coord: string;
    switch (a.coord) {
      case 'half_pixel':
        coord = this.op('Sub', [this.op('Div', [half(index), r.scale]), this.f(0.5)]);
        break;
      case 'pytorch_half_pixel': {
        const c = this.op('Sub', [this.op('Div', [half(index), r.scale]), this.f(0.5)]);
        // (an output of length 1 samples the input's first pixel)
        coord = this.op('Where', [this.op('Greater', [r.resized, this.f(1)]), c, this.f(0)]);
        break;
      }
      case 'align_corners':
        // x (in - 1) / (length_resized - 1), 0 for an output of length 1
        coord = this.op('Where', [this.op('Greater', [r.resized, this.f(1)]), this.op('Div', [this.op('Mul', [index, this.op('Sub', [r.inLength, this.f(1)])]), this.op('Sub', [r.resized, this.f(1)])]), this.f(0)]);
        break;
      case 'asymmetric':
        coord = this.op('Div', [index, r.scale]);
        break;
      case 'tf_half_pixel_for_nn':
        // (onnxruntime maps x to itself where the scale is 1; the other modes' formulas give x there already)
        coord = this.op('Where', [this.op('Equal', [r.scale, this.f(1)]), index, this.op('Div', [half(index), r.scale])]);
        break;
      default:
        throw new UnsupportedError(`Resize cubic with ${a.coord} in a TFLite file`, this.at);
    }
    const x0 = this.op('Floor', [coord]);
    let weights = this.cubicWeights(this.op('Sub', [coord, x0]), a.cubicA);
    const last = this.op('Sub', [r.inLength, this.f(1)]);
    const taps = [-1, 0, 1, 2].map((d) => this.op('Add', [x0, this.f(d)]));
    if (a.excludeOutside) {
      // a tap outside the input weighs 0, the others divided by their sum (onnxruntime divides each coefficient, then multiplies)
      weights = weights.map((w, i) => this.op('Where', [this.op('And', [this.op('GreaterOrEqual', [taps[i]!, this.f(0)]), this.op('LessOrEqual', [taps[i]!, last])]), w, this.f(0)]));
      const sum = weights.reduce((s, w) => this.op('Add', [s, w]));
      weights = weights.map((w) => this.op('Div', [w, sum]));
    }
    // each weight along the axis, broadcast over the axes after it
    const column = rank - 1 - r.axis ? this.int64([-1, ...new Array<number>(rank - 1 - r.axis).fill(1)]) : undefined;
    const terms = taps.map((t, i) => {
      const tap = this.op('Cast', [this.op('Min', [this.op('Max', [t, this.f(0)]), last])], { to: { type: 'int', value: 7 } });
      const w = column ? this.op('Reshape', [weights[i]!, column]) : weights[i]!;
      return this.op('Mul', [this.op('Gather', [x, tap], { axis: { type: 'int', value: r.axis } }), w]);
    });
    const sum = terms.slice(0, -1).reduce((s, t) => this.op('Add', [s, t]));
    return this.rw.addNode({ opType: 'Add', name: `${this.where}/Add`, inputs: [sum, terms[terms.length - 1]!], outputs: output ? [output] : undefined }).outputs[0]!;
  }
}
