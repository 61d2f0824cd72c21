// ONNX RoiAlign (opset 10 / 16) in a GraphDef; mode avg of a fixed sampling_ratio as TF's
// CropAndResize, which samples the bins' sampling points, then an AvgPool of sr x sr, stride sr.
// A box's sample points are one uniform grid per axis: start + (k + 1/2) d, k < out·sr, with
// d = size / (out·sr) (size at least 1 in output_half_pixel mode), so each box's normalized
// corners are solved for CropAndResize's grid (y1 (H' - 1) + k (y2 - y1) (H' - 1) / (crop - 1))
// to land on them. Borders: onnxruntime clamps a sample in [-1, 0) to 0 and in (H - 1, H] to
// H - 1 and zeroes one beyond; CropAndResize interpolates inside [0, H' - 1] and gives its
// extrapolation_value (0) beyond, so the map is edge-padded by one row / column each side (MirrorPad SYMMETRIC)
// (H' = H + 2, coordinates shifted by 1) and the two agree. Runs channels-last (X comes in NCHW,
// as the layout pass leaves an op it has no rule for) and lays the result back out (R, C, h, w).
// Mode max: onnxruntime's max is over each sample's four weighted corner taps (w · v, not the
// interpolated value), which CropAndResize does not expose, and sampling_ratio 0 samples each box on
// a grid of its own size: both compute the taps as onnxruntime's bilinear_interpolate does (in its
// order of float32 operations), read them with GatherNd from the map flattened to (N·H·W, C), then
// take the Maximum / sum over the four and the Max / mean over each bin's samples (roiAlignTaps).
import { UnsupportedError } from '../../ir/errors.js';
import type { Dim, Node } from '../../ir/graph.js';
import { samplingDefs, type RoiAlignAttrs } from '../../ir/ops/sampling.js';
import { Tensor } from '../../ir/tensor.js';
import { ints, runTimeDims, s, T, type GraphDefWriter, type Row } from './write-context.js';

const F32 = { T: T('float32') };

function roiAlign(w: GraphDefWriter, n: Node, out: string): void {
  const [x, rois, batchIndices] = n.inputs as [string, string, string];
  const where = `node '${n.name}'`;
  const opset = w.g.opsets[''] ?? w.g.opsets['ai.onnx'] ?? 16;
  const a = samplingDefs.RoiAlign.attrs(n, opset);
  const xs = w.shape(x);
  if (!xs || xs.length !== 4) throw new UnsupportedError('RoiAlign of other than 4-D data in a GraphDef', where);
  const [, , h, wd] = xs;
  if (w.dtype(x) !== 'float32' || w.dtype(rois) !== 'float32') throw new UnsupportedError(`RoiAlign of ${w.dtype(x)} data and ${w.dtype(rois)} rois in a GraphDef`, where);
  if (a.mode === 'max' || a.samplingRatio === 0) return roiAlignTaps(w, n, out, a, xs);
  const sr = a.samplingRatio;
  const [ch, cw] = [a.outputHeight * sr, a.outputWidth * sr];
  const name = (tag: string) => w.fresh(`${n.name}/${tag}`);
  const pair = (tag: string, v: [number, number]) => w.const(`${n.name}/${tag}`, Tensor.float32([2], v));
  const op = (tag: string, type: string, inputs: string[]) => w.add(name(tag), type, inputs, F32);
  const i32 = { Tparams: T('float32'), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } };

  // rois (x1, y1, x2, y2) -> (y1, x1, y2, x2), scaled to the map and shifted by the mode's offset
  const yx = w.add(name('rois_yx'), 'GatherV2', [w.ref(rois), w.int32(`${n.name}/rois_yx_order`, [1, 0, 3, 2]), w.int32(`${n.name}/rois_axis`, [1], true)], i32);
  const scaled = op('scaled', 'Sub', [op('scaled_rois', 'Mul', [yx, w.const(`${n.name}/spatial_scale`, Tensor.float32([], [a.spatialScale]))]), w.const(`${n.name}/offset`, Tensor.float32([], [a.halfPixel ? 0.5 : 0]))]);
  const slice = (tag: string, begin: number) => w.add(name(tag), 'Slice', [scaled, w.int32(`${n.name}/${tag}_begin`, [0, begin]), w.int32(`${n.name}/${tag}_size`, [-1, 2])], { ...F32, Index: T('int32') });
  const lo = slice('start', 0);
  const hi = slice('end', 2);
  let size = op('size', 'Sub', [hi, lo]);
  // output_half_pixel (opset 10, aligned=False) makes every box at least 1 x 1
  if (!a.halfPixel) size = op('size_at_least_1', 'Maximum', [size, w.const(`${n.name}/one`, Tensor.float32([], [1]))]);
  const step = op('step', 'RealDiv', [size, pair('crop', [ch, cw])]);
  // first / last sample, +1 for the edge padding, over H' - 1 = H + 1
  const shifted = op('shifted', 'Add', [lo, w.const(`${n.name}/pad_shift`, Tensor.float32([], [1]))]);
  const first = op('first', 'Add', [shifted, op('first_offset', 'Mul', [step, w.const(`${n.name}/half`, Tensor.float32([], [0.5]))])]);
  const last = op('last', 'Add', [shifted, op('last_offset', 'Mul', [step, pair('last_k', [ch - 0.5, cw - 0.5])])]);
  const nhwc = w.add(name('channels_last'), 'Transpose', [w.ref(x), w.int32(`${n.name}/channels_last_perm`, [0, 2, 3, 1])], { ...F32, Tperm: T('int32') });
  // (a map of run-time height / width, as an FPN level behind a computed Resize: H + 1, W + 1 from its Shape)
  const extent =
    typeof h === 'number' && typeof wd === 'number'
      ? pair('padded_extent', [h + 1, wd + 1])
      : op('padded_extent', 'Add', [
          w.add(name('map_size'), 'Cast', [runTimeDims(w, `${n.name}/map_hw`, { ref: nhwc, dtype: 'float32' }, { begin: 1, size: 2 })], { SrcT: T('int32'), DstT: T('float32'), Truncate: { b: false } }),
          w.const(`${n.name}/one_more`, Tensor.float32([], [1])),
        ]);
  const boxes = w.add(name('boxes'), 'ConcatV2', [op('first_normalized', 'RealDiv', [first, extent]), op('last_normalized', 'RealDiv', [last, extent]), w.int32(`${n.name}/boxes_axis`, [1], true)], { ...F32, N: { i: 2 }, Tidx: T('int32') });

  const bt = w.dtype(batchIndices);
  const boxInd = bt === 'int32' ? w.ref(batchIndices) : w.add(name('box_ind'), 'Cast', [w.ref(batchIndices)], { SrcT: T(bt), DstT: T('int32'), Truncate: { b: false } });
  // SYMMETRIC mirror padding by 1 repeats the edge row / column
  const padded = w.add(name('edge_padded'), 'MirrorPad', [nhwc, w.paddings(`${n.name}/edge_pads`, [0, 0, 1, 1, 1, 1, 0, 0])], { ...F32, Tpaddings: T('int32'), mode: s('SYMMETRIC') });
  let y = w.add(name('samples'), 'CropAndResize', [padded, boxes, boxInd, w.int32(`${n.name}/crop_size`, [ch, cw])], { T: T('float32'), method: s('bilinear'), extrapolation_value: { f: 0 } });
  if (sr > 1) y = w.add(name('bins'), 'AvgPool', [y], { ...F32, ksize: ints([1, sr, sr, 1]), strides: ints([1, sr, sr, 1]), padding: s('VALID'), data_format: s('NHWC') });
  w.add(out, 'Transpose', [y, w.int32(`${n.name}/channels_first_perm`, [0, 3, 1, 2])], { ...F32, Tperm: T('int32') });
}

/**
 * Mode max, and sampling_ratio 0 of either mode: every sample's four corner taps gathered and
 * weighted as onnxruntime's RoiAlign does. Laid out (K, PH, gh, PW, gw, 1) for K boxes (known only
 * at run time), PH x PW bins and a grid of gh x gw samples per bin: each per-box value is
 * (K, 1, 1, 1, 1, 1) and broadcasts. sampling_ratio 0: each box's grid is ceil(bin size) per axis,
 * so the grid is laid out to the largest box's (a run-time Range) and the samples past a box's own
 * grid are left out (0 in the sum, below everything in the max); the average divides by the box's
 * own count, max(gh·gw, 1), and a box of no samples (inverted, in half_pixel mode) gives 0.
 */
function roiAlignTaps(w: GraphDefWriter, n: Node, out: string, a: RoiAlignAttrs, xs: readonly Dim[]): void {
  const [x, rois, batchIndices] = n.inputs as [string, string, string];
  const [, c, h, wd] = xs;
  if (typeof c !== 'number') throw new UnsupportedError(`RoiAlign ${a.mode === 'max' ? 'mode max' : 'sampling_ratio 0'} of a map of run-time channels in a GraphDef`, `node '${n.name}'`);
  const sr = a.samplingRatio;
  const [ph, pw] = [a.outputHeight, a.outputWidth];
  const name = (tag: string) => w.fresh(`${n.name}/${tag}`);
  const f = (tag: string, v: number) => w.const(`${n.name}/${tag}`, Tensor.float32([], [v]));
  const op = (tag: string, type: string, inputs: string[]) => w.add(name(tag), type, inputs, F32);
  const int = (tag: string, type: string, inputs: string[]) => w.add(name(tag), type, inputs, { T: T('int32') });
  const cast = (tag: string, v: string, from: 'float32' | 'int32' | 'int64' | 'bool', to: 'float32' | 'int32') => w.add(name(tag), 'Cast', [v], { SrcT: T(from), DstT: T(to), Truncate: { b: false } });
  const reshape = (tag: string, v: string, shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32') => w.add(name(tag), 'Reshape', [v, w.int32(`${n.name}/${tag}_shape`, shape)], { T: T(dtype), Tshape: T('int32') });

  const nhwc = w.add(name('channels_last'), 'Transpose', [w.ref(x), w.int32(`${n.name}/channels_last_perm`, [0, 2, 3, 1])], { ...F32, Tperm: T('int32') });
  // the map as rows of C channels: a corner is row (b·H + y)·W + x
  const table = reshape('table', nhwc, [-1, c]);
  // H and W as float sizes / last indices and as int32 (a map of run-time height / width: from its Shape)
  let extent: { hSize: string; wSize: string; hLast: string; wLast: string; wInt: string; planeInt: string };
  if (typeof h === 'number' && typeof wd === 'number') {
    extent = { hSize: f('height', h), wSize: f('width', wd), hLast: f('last_row', h - 1), wLast: f('last_column', wd - 1), wInt: w.int32(`${n.name}/width_int`, [wd], true), planeInt: w.int32(`${n.name}/plane_int`, [h * wd], true) };
  } else {
    const shape = w.add(name('map_shape'), 'Shape', [nhwc], { ...F32, out_type: T('int32') });
    const dim = (tag: string, k: number) => w.add(name(tag), 'StridedSlice', [shape, w.int32(`${n.name}/${tag}_begin`, [k]), w.int32(`${n.name}/${tag}_end`, [k + 1]), w.int32(`${n.name}/${tag}_stride`, [1])], { T: T('int32'), Index: T('int32'), shrink_axis_mask: { i: 1 }, begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 } });
    const hInt = dim('height_int', 1);
    const wInt = dim('width_int', 2);
    const hSize = cast('height', hInt, 'int32', 'float32');
    const wSize = cast('width', wInt, 'int32', 'float32');
    const one = f('one_less', 1);
    extent = { hSize, wSize, hLast: op('last_row', 'Sub', [hSize, one]), wLast: op('last_column', 'Sub', [wSize, one]), wInt, planeInt: int('plane_int', 'Mul', [hInt, wInt]) };
  }

  // (K, 4, 1, 1, 1, 1) boxes in map coordinates: x1, y1, x2, y2 as onnxruntime computes them
  let boxes = op('scaled_rois', 'Mul', [reshape('rois_6d', w.ref(rois), [-1, 4, 1, 1, 1, 1]), f('spatial_scale', Math.fround(a.spatialScale))]);
  if (a.halfPixel) boxes = op('shifted_rois', 'Sub', [boxes, f('half_pixel', 0.5)]);
  const column = (k: number) => w.add(name(`roi_${k}`), 'Slice', [boxes, w.int32(`${n.name}/roi_${k}_begin`, [0, k, 0, 0, 0, 0]), w.int32(`${n.name}/roi_${k}_size`, [-1, 1, -1, -1, -1, -1])], { ...F32, Index: T('int32') });
  const [x1, y1, x2, y2] = [column(0), column(1), column(2), column(3)];
  let roiH = op('roi_height', 'Sub', [y2, y1]);
  let roiW = op('roi_width', 'Sub', [x2, x1]);
  // output_half_pixel (opset 10, torchvision's aligned=False) makes every box at least 1 x 1
  if (!a.halfPixel) {
    roiH = op('roi_height_at_least_1', 'Maximum', [roiH, f('min_height', 1)]);
    roiW = op('roi_width_at_least_1', 'Maximum', [roiW, f('min_width', 1)]);
  }
  const binH = op('y_bin', 'RealDiv', [roiH, f('y_bins', ph)]);
  const binW = op('x_bin', 'RealDiv', [roiW, f('x_bins', pw)]);

  /**
   * One axis' samples start + p·bin + ((i + 1/2)·bin) / grid (onnxruntime's rounding), p along
   * `binAxis` and i along binAxis + 1 of the 6-D layout; with sampling_ratio 0 also whether sample i
   * lies inside the box's own grid.
   */
  const samples = (tag: string, start: string, bin: string, bins: number, binAxis: number): { v: string; grid: string; inside?: string } => {
    const laid = (len: number, axis: number) => Array.from({ length: 6 }, (_, k) => (k === axis ? len : 1));
    const p = w.const(`${n.name}/${tag}_bin_index`, Tensor.float32(laid(bins, binAxis), Array.from({ length: bins }, (_, k) => k)));
    let grid: string;
    let offset: string;
    let inside: string | undefined;
    if (sr > 0) {
      grid = f(`${tag}_grid`, sr);
      offset = w.const(`${n.name}/${tag}_sample_offset`, Tensor.float32(laid(sr, binAxis + 1), Array.from({ length: sr }, (_, k) => k + 0.5)));
    } else {
      // each box's grid, ceil(bin size) (0 or less for an inverted box: no samples); laid out to the largest
      grid = op(`${tag}_grid`, 'Ceil', [bin]);
      const largest = op(`${tag}_largest_grid`, 'Maximum', [op(`${tag}_grid_max`, 'Max', [grid, w.int32(`${n.name}/${tag}_all_axes`, [0, 1, 2, 3, 4, 5])]), f(`${tag}_one_grid`, 1)]);
      const range = w.add(name(`${tag}_sample_index`), 'Range', [w.int32(`${n.name}/${tag}_first`, [0], true), cast(`${tag}_largest_int`, largest, 'float32', 'int32'), w.int32(`${n.name}/${tag}_step`, [1], true)], { Tidx: T('int32') });
      const i = reshape(`${tag}_sample_laid`, cast(`${tag}_sample_float`, range, 'int32', 'float32'), laid(-1, binAxis + 1));
      inside = w.add(name(`${tag}_in_grid`), 'Less', [i, grid], F32);
      offset = op(`${tag}_sample_offset`, 'AddV2', [i, f(`${tag}_half_sample`, 0.5)]);
    }
    const v = op(`${tag}_samples`, 'AddV2', [op(`${tag}_bin_start`, 'AddV2', [start, op(`${tag}_bin_offset`, 'Mul', [p, bin])]), op(`${tag}_sample_in_bin`, 'RealDiv', [op(`${tag}_sample_scaled`, 'Mul', [offset, bin]), grid])]);
    return { v, grid, inside };
  };
  /** the two taps of one axis (int32) and their weights (0 for a sample beyond [-1, size]), as onnxruntime's bilinear_interpolate */
  const taps = (tag: string, v: string, size: string, last: string) => {
    const inside = w.add(name(`${tag}_inside`), 'LogicalAnd', [w.add(name(`${tag}_from_minus_1`), 'GreaterEqual', [v, f(`${tag}_minus_1`, -1)], F32), w.add(name(`${tag}_to_size`), 'LessEqual', [v, size], F32)]);
    // (a sample in [-1, 0) reads row 0; from H - 1 on, both taps are row H - 1, weight 1 on the first)
    const clamped = op(`${tag}_clamped`, 'Minimum', [op(`${tag}_nonnegative`, 'Maximum', [v, f(`${tag}_zero`, 0)]), last]);
    const lo = op(`${tag}_low`, 'Floor', [clamped]);
    const hi = op(`${tag}_high`, 'Minimum', [op(`${tag}_next`, 'AddV2', [lo, f(`${tag}_one`, 1)]), last]);
    const l = op(`${tag}_fraction`, 'Sub', [clamped, lo]);
    const zero = f(`${tag}_outside`, 0);
    const wHi = w.add(name(`${tag}_weight_high`), 'SelectV2', [inside, l, zero], F32);
    const wLo = w.add(name(`${tag}_weight_low`), 'SelectV2', [inside, op(`${tag}_one_minus_fraction`, 'Sub', [f(`${tag}_one_w`, 1), l]), zero], F32);
    return { lo: cast(`${tag}_low_int`, lo, 'float32', 'int32'), hi: cast(`${tag}_high_int`, hi, 'float32', 'int32'), wLo, wHi };
  };
  const sy = samples('y', y1, binH, ph, 1);
  const sx = samples('x', x1, binW, pw, 3);
  const ty = taps('y', sy.v, extent.hSize, extent.hLast);
  const tx = taps('x', sx.v, extent.wSize, extent.wLast);

  const bt = w.dtype(batchIndices);
  const b = bt === 'int32' ? w.ref(batchIndices) : cast('batch_int', w.ref(batchIndices), bt as 'int64', 'int32');
  const batch = int('batch_start', 'Mul', [reshape('batch_6d', b, [-1, 1, 1, 1, 1, 1], 'int32'), extent.planeInt]);
  const rowLo = int('row_low', 'AddV2', [batch, int('row_low_start', 'Mul', [ty.lo, extent.wInt])]);
  const rowHi = int('row_high', 'AddV2', [batch, int('row_high_start', 'Mul', [ty.hi, extent.wInt])]);
  // (K, PH, gh, PW, gw, 1) rows -> (K, PH, gh, PW, gw, C) taps, weighted
  const term = (tag: string, row: string, col: string, wy: string, wx: string): string => {
    const picked = w.add(name(`${tag}_picked`), 'GatherNd', [table, int(`${tag}_row`, 'AddV2', [row, col])], { Tparams: T('float32'), Tindices: T('int32') });
    return op(`${tag}_weighted`, 'Mul', [op(`${tag}_weight`, 'Mul', [wy, wx]), picked]);
  };
  // onnxruntime's order: (y_low, x_low), (y_low, x_high), (y_high, x_low), (y_high, x_high)
  const terms = [term('tap1', rowLo, tx.lo, ty.wLo, tx.wLo), term('tap2', rowLo, tx.hi, ty.wLo, tx.wHi), term('tap3', rowHi, tx.lo, ty.wHi, tx.wLo), term('tap4', rowHi, tx.hi, ty.wHi, tx.wHi)];
  const max = a.mode === 'max';
  let sampled = terms.reduce((m, t) => op(max ? 'taps_max' : 'taps_sum', max ? 'Maximum' : 'AddV2', [m, t]));
  const inGrid = sy.inside && sx.inside ? w.add(name('in_grid'), 'LogicalAnd', [sy.inside, sx.inside]) : undefined;
  if (inGrid) sampled = w.add(name('grid_samples'), 'SelectV2', [inGrid, sampled, f('left_out', max ? -3.4028234663852886e38 : 0)], F32);
  const axes = w.int32(`${n.name}/grid_axes`, [2, 4]);
  let bins = w.add(name('bins'), max ? 'Max' : 'Sum', [sampled, axes], { ...F32, Tidx: T('int32'), keep_dims: { b: true } });
  if (sr > 0) {
    if (!max) bins = op('bin_mean', 'RealDiv', [bins, f('samples_per_bin', sr * sr)]);
  } else if (max) {
    // (a box of no samples, inverted in half_pixel mode, gives 0 as in onnxruntime)
    const some = (tag: string, grid: string) => w.add(name(`${tag}_some`), 'Greater', [grid, f(`${tag}_none`, 0)], F32);
    const sampledBox = w.add(name('has_samples'), 'LogicalAnd', [some('y', sy.grid), some('x', sx.grid)]);
    bins = w.add(name('bins_or_0'), 'SelectV2', [sampledBox, bins, f('no_samples', 0)], F32);
  } else {
    // (onnxruntime's count, max(gh·gw, 1): a box of no samples averages 0)
    bins = op('bin_mean', 'RealDiv', [bins, op('samples_per_box', 'Maximum', [op('grid_size', 'Mul', [sy.grid, sx.grid]), f('min_count', 1)])]);
  }
  const flat = reshape('bins_4d', bins, [-1, ph, pw, c]);
  w.add(out, 'Transpose', [flat, w.int32(`${n.name}/channels_first_perm`, [0, 3, 1, 2])], { ...F32, Tperm: T('int32') });
}

export const roiAlignRows: Record<string, Row> = {
  RoiAlign: roiAlign,
};
