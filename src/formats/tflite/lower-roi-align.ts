// RoiAlign as plain ONNX ops, before the TFLite writer runs: TFLite has no CropAndResize (TF's
// converter writes tf.image.crop_and_resize as a Flex op), so each box's sample points are gathered
// with GATHER_ND, as lower-grid-sample.ts does for GridSample. The box count K is known only at run
// time (the boxes come from NMS), so nothing depends on it: the rois are laid out (K, 4, 1, 1), each
// box's sample rows (K, PH·sr, 1, 1) and columns (K, 1, PW·sr, 1) are computed in onnxruntime's
// order of float32 operations (y1 + ph·bin_h + (iy + 1/2)·bin_h / sr), and broadcasting makes the
// (K, PH·sr, PW·sr, 1) corner indices into the map flattened to (N·H·W, C) rows (exact in float32
// below 2^24). Borders as onnxruntime's: a sample beyond [-1, H] weighs 0, one in [-1, 0) reads row 0,
// one past H - 1 reads row H - 1. The sr x sr samples of a bin are then averaged (avg) or maxed (max:
// onnxruntime's max is over each sample's weighted corner taps, the terms below). X is transposed to
// (N, H, W, C) here (the layout pass absorbs it when X is channels-last already); its channels, height
// and width must be known.
// sampling_ratio 0 (adaptive): each box's grid is ceil(bin size) per axis, known only at run time, so
// the samples are laid out (K, S, PH·PW, 1) on the grid of the largest box, S = Gh·Gw of them (a
// run-time RANGE of the largest ceil(bin size), one axis, so every reshape has one unknown dim and
// every op stays 4-D, as TFLite's broadcasting needs); a box's samples past its own grid are left out
// (0 in the sum, -FLT_MAX in the max) before the SUM / REDUCE_MAX over S, which runs in onnxruntime's
// (iy, ix) order; the sum is divided by the box's own count max(gh·gw, 1), and a box of no samples
// (inverted, in half_pixel mode) gives 0 in max mode too, as onnxruntime's.
import { UnsupportedError } from '../../ir/errors.js';
import type { Attr, Dim, Graph, Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { samplingDefs, type RoiAlignAttrs } from '../../ir/ops/sampling.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { OpLowering } from './op-lowering.js';
import { Tensor } from '../../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** Whether the graph has a RoiAlign (the integer writers refuse it: its sample coordinates would be rounded to the activations' steps). */
export const hasRoiAlign = (g: Graph): boolean => g.nodes.some((n) => n.opType === 'RoiAlign' && isOnnx(n));

export function lowerRoiAlign(g: Graph, fileName = 'the model'): Graph {
  const nodes = g.nodes.filter((n) => n.opType === 'RoiAlign' && isOnnx(n));
  if (!nodes.length) return g;
  // (a value some other op leaves unknown only matters if it is a RoiAlign's X, which is checked below)
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 16;
  const rw = new GraphRewriter(g);
  for (const n of nodes) {
    const where = `node '${n.name}' in ${fileName}`;
    const a = samplingDefs.RoiAlign.attrs(n, opset);
    const xs = values.get(n.inputs[0]!);
    const rs = values.get(n.inputs[1]!);
    if (xs?.shape?.length !== 4) throw new UnsupportedError('RoiAlign of other than 4-D data in a TFLite file', where);
    // (the TFLite writer pins a map's run-time height / width: an FPN level's size must be fixed by the input's)
    if (xs.shape.slice(1).some((d) => typeof d !== 'number')) throw new UnsupportedError('RoiAlign of a map of run-time channels / height / width in a TFLite file', `${where}: fix the input's size with --input-shape`);
    if (xs.dtype !== 'float32' || (rs && rs.dtype !== 'float32')) throw new UnsupportedError(`RoiAlign of ${xs.dtype} data and ${rs?.dtype ?? 'unknown'} rois in a TFLite file`, where);
    // (the corner rows are counted in float32, exact below 2^24)
    const [N, , H, W] = xs.shape as [Dim, number, number, number];
    if (typeof N === 'number' && N * H * W > 2 ** 24) throw new UnsupportedError(`RoiAlign of a map of ${N * H * W} positions (over 2^24) in a TFLite file`, `${where}: its sample rows are indexed in float32`);
    new RoiAlignLowering(rw, n, a, xs.shape, opset).lower();
  }
  return rw.toGraph();
}

/** One axis of the map: its size and last index, as float constants. */
interface Extent {
  size: string;
  last: string;
}

/** One axis' two taps (float row / column indices) and their weights. */
interface Taps {
  lo: string;
  hi: string;
  wLo: string;
  wHi: string;
}

class RoiAlignLowering extends OpLowering {
  constructor(
    rw: GraphRewriter,
    node: Node,
    private readonly a: RoiAlignAttrs,
    private readonly xShape: readonly Dim[],
    private readonly opset: number,
  ) {
    super(rw, node);
  }

  lower(): void {
    const n = this.node;
    const a = this.a;
    const [x, , batchIndices] = n.inputs as [string, string, string];
    const sr = a.samplingRatio;
    const [, C, H, W] = this.xShape as [Dim, number, number, number];
    this.rw.removeNode(n);
    const xt = this.op('Transpose', [x], { perm: { type: 'ints', value: [0, 2, 3, 1] } });
    // the map as rows of C channels: a corner is row (b·H + y)·W + x
    const table = this.op('Reshape', [xt, this.int64([-1, C])]);
    const h = { size: this.f(H), last: this.f(H - 1) };
    const w = { size: this.f(W), last: this.f(W - 1) };
    const plane = this.f(H * W);
    if (sr === 0) return this.lowerAdaptive(table, h, w, plane, C);

    // (K, 4, 1, 1): every per-box value below broadcasts against the sample grid without knowing K
    const { x1, y1, roiH, roiW } = this.boxes();
    const ys = this.samples(y1, this.op('Div', [roiH, this.f(a.outputHeight)]), a.outputHeight, [a.outputHeight * sr, 1, 1]);
    const xs = this.samples(x1, this.op('Div', [roiW, this.f(a.outputWidth)]), a.outputWidth, [1, a.outputWidth * sr, 1]);
    const ty = this.taps(ys, h);
    const tx = this.taps(xs, w);

    const batch = this.op('Mul', [this.op('Reshape', [this.op('Cast', [batchIndices], { to: { type: 'int', value: 1 } }), this.int64([-1, 1, 1, 1])]), plane]);
    const samples = this.sampled(table, batch, ty, tx, w);
    const out = n.outputs[0]!;
    const perm: Attr = { type: 'ints', value: [0, 3, 1, 2] };
    let bins = samples;
    if (sr > 1) {
      // the sr x sr samples of each bin: (K·PH, sr, PW, sr·C) reduced over the rows, then (K·PH·PW, sr, C) over the columns
      // (a reduction, not a pool: the layout pass is left to the model's own spatial ops)
      const reduce = a.mode === 'avg' ? 'ReduceMean' : 'ReduceMax';
      const rows = this.reduce(reduce, this.op('Reshape', [samples, this.int64([-1, sr, a.outputWidth, sr * C])]));
      const cols = this.reduce(reduce, this.op('Reshape', [rows, this.int64([-1, sr, C])]));
      bins = this.op('Reshape', [cols, this.int64([-1, a.outputHeight, a.outputWidth, C])]);
    }
    this.rw.addNode({ opType: 'Transpose', name: `${this.where}/output`, inputs: [bins], outputs: [out], attrs: { perm } });
  }

  /**
   * sampling_ratio 0: the samples laid out (K, S, PH·PW, 1), S = Gh·Gw the largest box's grid, each
   * per-box value (K, 1, 1, 1), each bin's offset (1, 1, PH·PW, 1).
   */
  private lowerAdaptive(table: string, h: Extent, w: Extent, plane: string, C: number): void {
    const n = this.node;
    const a = this.a;
    const batchIndices = n.inputs[2]!;
    const [PH, PW] = [a.outputHeight, a.outputWidth];
    const { x1, y1, roiH, roiW } = this.boxes();
    const binH = this.op('Div', [roiH, this.f(PH)]);
    const binW = this.op('Div', [roiW, this.f(PW)]);
    // each box's grid, ceil(bin size) as onnxruntime's (0 or less for an inverted box: no samples)
    const gridH = this.op('Ceil', [binH]);
    const gridW = this.op('Ceil', [binW]);
    // the largest grid, at least 1 (a 1 joined to the boxes' grids: no reduction of an empty tensor when there are no boxes)
    const largest = (grid: string) => this.reduce('ReduceMax', this.op('Concat', [this.op('Reshape', [grid, this.int64([-1])]), this.rw.addInitializer(`${this.where}/one_grid`, Tensor.float32([1], [1]))], { axis: { type: 'int', value: 0 } }), 0);
    const iy = this.op('Reshape', [this.op('Range', [this.f(0), largest(gridH), this.f(1)]), this.int64([-1, 1])]);
    const ix = this.op('Reshape', [this.op('Range', [this.f(0), largest(gridW), this.f(1)]), this.int64([1, -1])]);
    // (Gh, Gw) -> (1, S, 1, 1) in row-major (iy, ix) order, onnxruntime's loop order (broadcast by adding the other's zeros, exact)
    const sampleAxis = (v: string, other: string) => this.op('Reshape', [this.op('Add', [v, this.op('Mul', [other, this.f(0)])]), this.int64([1, -1, 1, 1])]);
    const sy = sampleAxis(iy, ix);
    const sx = sampleAxis(ix, iy);
    const bins = PH * PW;
    const py = this.rw.addInitializer(`${this.where}/bin_row`, Tensor.float32([1, 1, bins, 1], Array.from({ length: bins }, (_, k) => Math.floor(k / PW))));
    const px = this.rw.addInitializer(`${this.where}/bin_column`, Tensor.float32([1, 1, bins, 1], Array.from({ length: bins }, (_, k) => k % PW)));
    // start + p·bin + ((i + 1/2)·bin) / grid, as onnxruntime rounds it: (K, S, PH·PW, 1)
    const coordinate = (start: string, p: string, bin: string, i: string, grid: string) =>
      this.op('Add', [this.op('Add', [start, this.op('Mul', [p, bin])]), this.op('Div', [this.op('Mul', [this.op('Add', [i, this.f(0.5)]), bin]), grid])]);
    const ty = this.taps(coordinate(y1, py, binH, sy, gridH), h);
    const tx = this.taps(coordinate(x1, px, binW, sx, gridW), w);

    const batch = this.op('Mul', [this.op('Reshape', [this.op('Cast', [batchIndices], { to: { type: 'int', value: 1 } }), this.int64([-1, 1, 1, 1])]), plane]);
    const sampled = this.sampled(table, batch, ty, tx, w);
    const max = a.mode === 'max';
    // (K, S, 1, 1): whether a sample lies in its box's own grid
    const inGrid = this.op('And', [this.op('Less', [sy, gridH]), this.op('Less', [sx, gridW])]);
    const kept = this.op('Where', [inGrid, sampled, this.f(max ? -3.4028234663852886e38 : 0)]);
    let y = this.reduce(max ? 'ReduceMax' : 'ReduceSum', kept, 1, true);
    if (max) {
      const some = this.op('And', [this.op('Greater', [gridH, this.f(0)]), this.op('Greater', [gridW, this.f(0)])]);
      y = this.op('Where', [some, y, this.f(0)]);
    } else {
      // onnxruntime's count, max(gh·gw, 1): a box of no samples averages 0
      y = this.op('Div', [y, this.op('Max', [this.op('Mul', [gridH, gridW]), this.f(1)])]);
    }
    const bins4d = this.op('Reshape', [y, this.int64([-1, PH, PW, C])]);
    // (everything after the RANGE is sized at run time, so the interpreter's own TRANSPOSE runs it, and that traps
    // on no boxes: it transposes one more, zero box, which is sliced off again)
    const padded = this.op('Concat', [bins4d, this.rw.addInitializer(`${this.where}/spare_box`, Tensor.float32([1, PH, PW, C]))], { axis: { type: 'int', value: 0 } });
    const laid = this.op('Transpose', [padded], { perm: { type: 'ints', value: [0, 3, 1, 2] } });
    this.rw.addNode({ opType: 'Slice', name: `${this.where}/output`, inputs: [laid, this.int64([0]), this.int64([-1]), this.int64([0])], outputs: [n.outputs[0]!] });
  }

  /** The rois laid out (K, 4, 1, 1), scaled to the map: each box's x1, y1 and height / width, (K, 1, 1, 1). */
  private boxes(): { x1: string; y1: string; roiH: string; roiW: string } {
    const a = this.a;
    let boxes = this.op('Mul', [this.op('Reshape', [this.node.inputs[1]!, this.int64([-1, 4, 1, 1])]), this.f(Math.fround(a.spatialScale))]);
    if (a.halfPixel) boxes = this.op('Sub', [boxes, this.f(0.5)]);
    const column = (k: number) => this.op('Slice', [boxes, this.int64([k]), this.int64([k + 1]), this.int64([1])]);
    const [x1, y1, x2, y2] = [column(0), column(1), column(2), column(3)];
    let roiH = this.op('Sub', [y2, y1]);
    let roiW = this.op('Sub', [x2, x1]);
    // output_half_pixel (opset 10, torchvision's aligned=False) makes every box at least 1 x 1
    if (!a.halfPixel) {
      roiH = this.op('Max', [roiH, this.f(1)]);
      roiW = this.op('Max', [roiW, this.f(1)]);
    }
    return { x1, y1, roiH, roiW };
  }

  /** `x` reduced over `axis`, dropped unless `keep` (opset 18 moved a reduction's axes to an input) */
  private reduce(opType: string, x: string, axis = 1, keep = false): string {
    const keepdims: Attr = { type: 'int', value: keep ? 1 : 0 };
    if (this.opset >= 18) return this.op(opType, [x, this.int64([axis])], { keepdims });
    return this.op(opType, [x], { axes: { type: 'ints', value: [axis] }, keepdims });
  }

  /** Each sample's four corner taps read from `table` and weighted, summed (avg) or maxed (max) in onnxruntime's order; `batch` is each box's first row. */
  private sampled(table: string, batch: string, ty: Taps, tx: Taps, w: Extent): string {
    const rowLo = this.op('Add', [batch, this.op('Mul', [ty.lo, w.size])]);
    const rowHi = this.op('Add', [batch, this.op('Mul', [ty.hi, w.size])]);
    const term = (row: string, col: string, wy: string, wx: string): string => {
      const index = this.op('Cast', [this.op('Add', [row, col])], { to: { type: 'int', value: 7 } });
      return this.op('Mul', [this.op('GatherND', [table, index]), this.op('Mul', [wy, wx])]);
    };
    // onnxruntime's order: (y_low, x_low), (y_low, x_high), (y_high, x_low), (y_high, x_high)
    const terms = [term(rowLo, tx.lo, ty.wLo, tx.wLo), term(rowLo, tx.hi, ty.wLo, tx.wHi), term(rowHi, tx.lo, ty.wHi, tx.wLo), term(rowHi, tx.hi, ty.wHi, tx.wHi)];
    const combine = this.a.mode === 'avg' ? 'Add' : 'Max';
    return terms.reduce((s, t) => this.op(combine, [s, t]));
  }

  /** The sample coordinates of one axis, (K, ...) broadcast to `shape`: start + p·bin + ((i + 1/2)·bin) / sr, as onnxruntime rounds them. */
  private samples(start: string, bin: string, out: number, shape: number[]): string {
    const sr = this.a.samplingRatio;
    const count = out * sr;
    const p = this.rw.addInitializer(`${this.where}/bin_index`, Tensor.float32(shape, Array.from({ length: count }, (_, k) => Math.floor(k / sr))));
    const i = this.rw.addInitializer(`${this.where}/sample_offset`, Tensor.float32(shape, Array.from({ length: count }, (_, k) => (k % sr) + 0.5)));
    return this.op('Add', [this.op('Add', [start, this.op('Mul', [p, bin])]), this.op('Div', [this.op('Mul', [i, bin]), this.f(sr)])]);
  }

  /** The two taps of one axis and their weights (0 for a sample beyond [-1, size]), as onnxruntime's bilinear_interpolate. */
  private taps(c: string, e: Extent): Taps {
    const inside = this.op('And', [this.op('GreaterOrEqual', [c, this.f(-1)]), this.op('LessOrEqual', [c, e.size])]);
    // (a sample in [-1, 0) reads row 0; from H - 1 on, both taps are row H - 1 with weight 1 on the first)
    const clamped = this.op('Min', [this.op('Max', [c, this.f(0)]), e.last]);
    const lo = this.op('Floor', [clamped]);
    const hi = this.op('Min', [this.op('Add', [lo, this.f(1)]), e.last]);
    const l = this.op('Sub', [clamped, lo]);
    const wHi = this.op('Where', [inside, l, this.f(0)]);
    const wLo = this.op('Where', [inside, this.op('Sub', [this.f(1), l]), this.f(0)]);
    return { lo, hi, wLo, wHi };
  }

}
