// GridSample as plain ONNX ops, before the TFLite writer runs: TFLite has no grid sampler (TF's
// converter has none either; spatial transformers are written with GATHER_ND). X is transposed to
// (N, H, W, C) (a Transpose the layout pass absorbs when X is laid out channels-last already), the
// normalised grid becomes pixel coordinates (align_corners or not), border / reflection padding
// moves them into the image as PyTorch's grid_sampler_2d does, and each tap -- the nearest pixel
// (Round: half to even, as nearbyint), bilinear's 4 corners, bicubic's 4 x 4 (A = -0.75, each tap
// padded on its own) -- is a GatherND of (n, y, x) coordinates, weighted, and 0 outside the image
// (a Where on the weight). The sum is transposed back to (N, C, H_out, W_out). Shapes must be known.
import { UnsupportedError } from '../../ir/errors.js';
import type { Graph, Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { samplingDefs, type GridSamplePadding } from '../../ir/ops/sampling.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { OpLowering } from './op-lowering.js';
import { Tensor } from '../../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** Whether the graph has a GridSample (the quantized writer refuses it: its coordinates would be rounded to 8 bits). */
export const hasGridSample = (g: Graph): boolean => g.nodes.some((n) => n.opType === 'GridSample' && isOnnx(n));

export function lowerGridSample(g: Graph, fileName = 'the model'): Graph {
  const nodes = g.nodes.filter((n) => n.opType === 'GridSample' && isOnnx(n));
  if (!nodes.length) return g;
  const values = inferShapes(g).values;
  const rw = new GraphRewriter(g);
  for (const n of nodes) {
    const xs = values.get(n.inputs[0]!);
    const gs = values.get(n.inputs[1]!);
    const where = `node '${n.name}' in ${fileName}`;
    const known = (s: typeof xs): s is { dtype: 'float32'; shape: number[] } => !!s?.shape && s.shape.every((d) => typeof d === 'number');
    if (!known(xs) || !known(gs)) throw new UnsupportedError('GridSample of shapes known only at run time in a TFLite file', `${where}: its sampling coordinates are written for fixed (N, C, H, W) and grid sizes (fix them with --input-shape)`);
    if (xs.dtype !== 'float32' || gs.dtype !== 'float32') throw new UnsupportedError(`GridSample of ${xs.dtype} data in a TFLite file`, where);
    new GridSampleLowering(rw, n, xs.shape, gs.shape).lower();
  }
  return rw.toGraph();
}

class GridSampleLowering extends OpLowering {
  constructor(
    rw: GraphRewriter,
    node: Node,
    private readonly xShape: number[],
    private readonly gridShape: number[],
  ) {
    super(rw, node);
  }

  lower(): void {
    const n = this.node;
    const a = samplingDefs.GridSample.attrs(n, 16);
    const [N, , H, W] = this.xShape as [number, number, number, number];
    const [, Ho, Wo] = this.gridShape as [number, number, number];
    this.rw.removeNode(n);
    const xt = this.op('Transpose', [n.inputs[0]!], { perm: { type: 'ints', value: [0, 2, 3, 1] } });
    const coordinate = (k: number, size: number): string => {
      const g = this.op('Slice', [n.inputs[1]!, this.int64([k]), this.int64([k + 1]), this.int64([3])]);
      const g1 = this.op('Add', [g, this.f(1)]);
      // PyTorch's grid_sampler_unnormalize, in its order of operations
      return a.alignCorners ? this.op('Mul', [this.op('Mul', [g1, this.f(0.5)]), this.f(size - 1)]) : this.op('Mul', [this.op('Sub', [this.op('Mul', [g1, this.f(size)]), this.f(1)]), this.f(0.5)]);
    };
    let ix = coordinate(0, W);
    let iy = coordinate(1, H);
    // the batch index of every output position: the first entry of each GatherND coordinate
    const batch = Array.from({ length: N * Ho * Wo }, (_, i) => Math.floor(i / (Ho * Wo)));
    const batchIndex = this.rw.addInitializer(`${this.where}/batch_index`, Tensor.int64([N, Ho, Wo, 1], batch));
    const tap = (yf: string, xf: string, weight?: string): string => {
      const inside = this.op('And', [this.inRange(xf, W), this.inRange(yf, H)]);
      const index = (v: string, size: number) => this.op('Cast', [this.op('Min', [this.op('Max', [v, this.f(0)]), this.f(size - 1)])], { to: { type: 'int', value: 7 } });
      const coords = this.op('Concat', [batchIndex, index(yf, H), index(xf, W)], { axis: { type: 'int', value: 3 } });
      const v = this.op('GatherND', [xt, coords]);
      return this.op('Mul', [v, this.op('Where', [inside, weight ?? this.f(1), this.f(0)])]);
    };
    const sum = (terms: string[]): string => terms.reduce((s, t) => this.op('Add', [s, t]));
    let y: string;
    if (a.mode === 'bicubic') {
      const x0 = this.op('Floor', [ix]);
      const y0 = this.op('Floor', [iy]);
      const wx = this.cubicWeights(this.op('Sub', [ix, x0]), -0.75);
      const wy = this.cubicWeights(this.op('Sub', [iy, y0]), -0.75);
      const xs = [-1, 0, 1, 2].map((d) => this.pad(this.op('Add', [x0, this.f(d)]), W, a.padding, a.alignCorners));
      const ys = [-1, 0, 1, 2].map((d) => this.pad(this.op('Add', [y0, this.f(d)]), H, a.padding, a.alignCorners));
      y = sum(ys.map((yj, j) => this.op('Mul', [sum(xs.map((xi, i) => tap(yj, xi, wx[i]))), wy[j]!])));
    } else {
      ix = this.pad(ix, W, a.padding, a.alignCorners);
      iy = this.pad(iy, H, a.padding, a.alignCorners);
      if (a.mode === 'nearest') {
        y = tap(this.op('Round', [iy]), this.op('Round', [ix]));
      } else {
        const x0 = this.op('Floor', [ix]);
        const y0 = this.op('Floor', [iy]);
        const x1 = this.op('Add', [x0, this.f(1)]);
        const y1 = this.op('Add', [y0, this.f(1)]);
        const tx = this.op('Sub', [ix, x0]);
        const ty = this.op('Sub', [iy, y0]);
        const ux = this.op('Sub', [this.f(1), tx]);
        const uy = this.op('Sub', [this.f(1), ty]);
        y = sum([tap(y0, x0, this.op('Mul', [ux, uy])), tap(y0, x1, this.op('Mul', [tx, uy])), tap(y1, x0, this.op('Mul', [ux, ty])), tap(y1, x1, this.op('Mul', [tx, ty]))]);
      }
    }
    this.rw.addNode({ opType: 'Transpose', name: `${this.where}/output`, inputs: [y], outputs: [n.outputs[0]!], attrs: { perm: { type: 'ints', value: [0, 3, 1, 2] } } });
  }


  /** 0 <= c <= size - 1 (a bool mask) */
  private inRange(c: string, size: number): string {
    return this.op('And', [this.op('GreaterOrEqual', [c, this.f(0)]), this.op('LessOrEqual', [c, this.f(size - 1)])]);
  }

  /** The source coordinate after border / reflection padding (PyTorch's compute_coordinates; zeros leaves it as is). */
  private pad(c: string, size: number, padding: GridSamplePadding, align: boolean): string {
    if (padding === 'zeros') return c;
    if (padding === 'reflection') c = align ? this.reflect(c, 0, 2 * (size - 1)) : this.reflect(c, -1, 2 * size - 1);
    return this.op('Min', [this.op('Max', [c, this.f(0)]), this.f(size - 1)]);
  }

  /** PyTorch's reflect_coordinates: `c` reflected into [lo2 / 2, hi2 / 2] (bounds given doubled). */
  private reflect(c: string, lo2: number, hi2: number): string {
    if (lo2 === hi2) return this.op('Mul', [c, this.f(0)]);
    const min = lo2 / 2;
    const span = (hi2 - lo2) / 2;
    const d = this.op('Abs', [this.op('Sub', [c, this.f(min)])]);
    const flips = this.op('Floor', [this.op('Div', [d, this.f(span)])]);
    const extra = this.op('Sub', [d, this.op('Mul', [flips, this.f(span)])]);
    const odd = this.op('Sub', [flips, this.op('Mul', [this.op('Floor', [this.op('Mul', [flips, this.f(0.5)])]), this.f(2)])]);
    const even = this.op('Equal', [odd, this.f(0)]);
    return this.op('Where', [even, this.op('Add', [extra, this.f(min)]), this.op('Add', [this.op('Sub', [this.f(span), extra]), this.f(min)])]);
  }
}
