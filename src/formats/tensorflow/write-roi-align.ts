// ONNX RoiAlign (opset 10 / 16, mode avg, sampling_ratio > 0) in a GraphDef as TF's
// CropAndResize, which samples the bins' sampling points, then an AvgPool of sr x sr, stride sr.
// A box's sample points are one uniform grid per axis: start + (k + 1/2) d, k < out·sr, with
// d = size / (out·sr) (size at least 1 in output_half_pixel mode), so each box's normalized
// corners are solved for CropAndResize's grid (y1 (H' - 1) + k (y2 - y1) (H' - 1) / (crop - 1))
// to land on them. Borders: onnxruntime clamps a sample in [-1, 0) to 0 and in (H - 1, H] to
// H - 1 and zeroes one beyond; CropAndResize interpolates inside [0, H' - 1] and gives its
// extrapolation_value (0) beyond, so the map is edge-padded by one row / column each side (MirrorPad SYMMETRIC)
// (H' = H + 2, coordinates shifted by 1) and the two agree. Runs channels-last (X comes in NCHW,
// as the layout pass leaves an op it has no rule for) and lays the result back out (R, C, h, w).
import { UnsupportedError } from '../../ir/errors.js';
import type { Node } from '../../ir/graph.js';
import { samplingDefs } from '../../ir/ops/sampling.js';
import { Tensor } from '../../ir/tensor.js';
import { ints, s, T, type GraphDefWriter, type Row } from './write-context.js';

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
  // onnxruntime's max mode takes the largest of each sample's four weighted taps, not of the interpolated values
  if (a.mode !== 'avg') throw new UnsupportedError(`RoiAlign mode ${a.mode} in a GraphDef`, `${where}: onnxruntime's max is over each sample's weighted corner taps, which CropAndResize does not expose`);
  if (a.samplingRatio === 0) throw new UnsupportedError('RoiAlign sampling_ratio 0 (adaptive, per box) in a GraphDef', `${where}: the sample count would depend on each box's size at run time`);
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
          w.add(name('map_size'), 'Cast', [w.add(name('map_hw'), 'Slice', [w.add(name('map_shape'), 'Shape', [nhwc], { ...F32, out_type: T('int32') }), w.int32(`${n.name}/map_hw_begin`, [1]), w.int32(`${n.name}/map_hw_size`, [2])], { T: T('int32'), Index: T('int32') })], { SrcT: T('int32'), DstT: T('float32'), Truncate: { b: false } }),
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

export const roiAlignRows: Record<string, Row> = {
  RoiAlign: roiAlign,
};
