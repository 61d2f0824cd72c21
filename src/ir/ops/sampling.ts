// Ops that sample NCHW data at computed positions or scatter it back: GridSample (opset 16),
// RoiAlign (opset 10 / 16) and MaxUnpool (opset 9 / 11).
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString, type Dim } from '../graph.js';
import { defineOpDef, dimMap, fmtShape, input, intsOf, mergeDim, type OpDefTable } from './op-def.js';

export type GridSampleMode = 'bilinear' | 'nearest' | 'bicubic';
export type GridSamplePadding = 'zeros' | 'border' | 'reflection';

export interface GridSampleAttrs {
  mode: GridSampleMode;
  padding: GridSamplePadding;
  alignCorners: boolean;
}

export interface RoiAlignAttrs {
  /** 'half_pixel' shifts the scaled box by -0.5 and does not clamp its size to 1; opset 10 is 'output_half_pixel' */
  halfPixel: boolean;
  mode: 'avg' | 'max';
  outputHeight: number;
  outputWidth: number;
  samplingRatio: number;
  spatialScale: number;
}

export interface MaxUnpoolAttrs {
  kernelShape: number[];
  strides: number[];
  /** [x1_begin, x2_begin, ..., x1_end, x2_end, ...] */
  pads: number[];
}

// opset 20 spells the modes 'linear' / 'cubic'
const GRID_MODES: Record<string, GridSampleMode> = { bilinear: 'bilinear', linear: 'bilinear', nearest: 'nearest', bicubic: 'bicubic', cubic: 'bicubic' };
const GRID_PADDINGS = new Set(['zeros', 'border', 'reflection']);
const FLOAT = new Set(['float32', 'float64', 'float16', 'bfloat16']);

function floatInput(op: string, dtype: string | undefined, what: string): void {
  if (dtype && !FLOAT.has(dtype)) throw new UnsupportedError(`${op} on ${dtype}`, `${what} must be a float tensor`);
}

/** The unpooled spatial extent of one axis: (in - 1) * stride + kernel - pads. */
export const unpooledDim = (n: number, a: MaxUnpoolAttrs, i: number): number => (n - 1) * a.strides[i]! + a.kernelShape[i]! - a.pads[i]! - a.pads[i + a.kernelShape.length]!;

export const samplingDefs = {
  GridSample: defineOpDef<GridSampleAttrs>({
    opType: 'GridSample',
    domain: '',
    layout: 'spatial',
    attrs: (node) => {
      const m = attrString(node, 'mode', 'bilinear');
      const mode = GRID_MODES[m];
      if (!mode) throw new UnsupportedError(`GridSample mode '${m}'`);
      const padding = attrString(node, 'padding_mode', 'zeros');
      if (!GRID_PADDINGS.has(padding)) throw new UnsupportedError(`GridSample padding_mode '${padding}'`);
      return { mode, padding: padding as GridSamplePadding, alignCorners: attrInt(node, 'align_corners', 0) !== 0 };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      const grid = input(ctx, 1, 'grid');
      floatInput('GridSample', x.dtype, 'X');
      floatInput('GridSample', grid.dtype, 'grid');
      if (x.shape && x.shape.length !== 4) throw new UnsupportedError(`GridSample on a rank-${x.shape.length} input`, 'only 4-D (N, C, H, W) input is supported');
      if (grid.shape && (grid.shape.length !== 4 || (typeof grid.shape[3] === 'number' && grid.shape[3] !== 2))) throw new ShapeError(`GridSample grid must be [N, H_out, W_out, 2], got ${fmtShape(grid.shape)}`);
      const xs = x.shape ?? [null, null, null, null];
      const gs = grid.shape ?? [null, null, null, 2];
      const n = mergeDim(xs[0]!, gs[0]!, 'GridSample batch of X and grid');
      return [{ dtype: x.dtype, shape: [n, xs[1]!, gs[1]!, gs[2]!] }];
    },
  }),
  RoiAlign: defineOpDef<RoiAlignAttrs>({
    opType: 'RoiAlign',
    domain: '',
    layout: 'spatial',
    attrs: (node, opset) => {
      const ctm = opset < 16 ? 'output_half_pixel' : attrString(node, 'coordinate_transformation_mode', 'half_pixel');
      if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel') throw new UnsupportedError(`RoiAlign coordinate_transformation_mode '${ctm}'`);
      const mode = attrString(node, 'mode', 'avg');
      if (mode !== 'avg' && mode !== 'max') throw new UnsupportedError(`RoiAlign mode '${mode}'`);
      const outputHeight = attrInt(node, 'output_height', 1);
      const outputWidth = attrInt(node, 'output_width', 1);
      if (outputHeight < 1 || outputWidth < 1) throw new ShapeError(`RoiAlign output_height / output_width must be >= 1, got ${outputHeight} / ${outputWidth}`);
      const samplingRatio = attrInt(node, 'sampling_ratio', 0);
      if (samplingRatio < 0) throw new ShapeError(`RoiAlign sampling_ratio must be >= 0, got ${samplingRatio}`);
      return { halfPixel: ctm === 'half_pixel', mode, outputHeight, outputWidth, samplingRatio, spatialScale: attrFloat(node, 'spatial_scale', 1) };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      const rois = input(ctx, 1, 'rois');
      const idx = input(ctx, 2, 'batch_indices');
      floatInput('RoiAlign', x.dtype, 'X');
      if (x.shape && x.shape.length !== 4) throw new ShapeError(`RoiAlign X must be [N, C, H, W], got ${fmtShape(x.shape)}`);
      if (rois.shape && (rois.shape.length !== 2 || (typeof rois.shape[1] === 'number' && rois.shape[1] !== 4))) throw new ShapeError(`RoiAlign rois must be [num_rois, 4], got ${fmtShape(rois.shape)}`);
      if (idx.shape && idx.shape.length !== 1) throw new ShapeError(`RoiAlign batch_indices must be 1-D, got ${fmtShape(idx.shape)}`);
      const n = mergeDim(rois.shape?.[0] ?? null, idx.shape?.[0] ?? null, 'RoiAlign num_rois of rois and batch_indices');
      return [{ dtype: x.dtype, shape: [n, x.shape?.[1] ?? null, ctx.attrs.outputHeight, ctx.attrs.outputWidth] }];
    },
  }),
  MaxUnpool: defineOpDef<MaxUnpoolAttrs>({
    opType: 'MaxUnpool',
    domain: '',
    layout: 'spatial',
    attrs: (node) => {
      const kernelShape = attrInts(node, 'kernel_shape');
      if (!kernelShape?.length || kernelShape.some((k) => k < 1)) throw new ShapeError('MaxUnpool needs a kernel_shape attribute of positive sizes');
      const n = kernelShape.length;
      const strides = attrInts(node, 'strides', new Array<number>(n).fill(1));
      const pads = attrInts(node, 'pads', new Array<number>(2 * n).fill(0));
      if (strides.length !== n || strides.some((s) => s < 1)) throw new ShapeError(`MaxUnpool strides [${strides.join(', ')}] must be ${n} positive sizes`);
      if (pads.length !== 2 * n || pads.some((p) => p < 0)) throw new ShapeError(`MaxUnpool pads [${pads.join(', ')}] must be ${2 * n} sizes >= 0`);
      return { kernelShape, strides, pads };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      const ind = input(ctx, 1, 'I');
      if (ind.dtype && ind.dtype !== 'int64') throw new ShapeError(`MaxUnpool I must be int64, got ${ind.dtype}`);
      const k = ctx.attrs.kernelShape;
      if (x.shape && x.shape.length !== k.length + 2) throw new ShapeError(`MaxUnpool input ${fmtShape(x.shape)} must have rank ${k.length + 2} for kernel_shape [${k.join(', ')}]`);
      const outShape = ctx.inputs[2];
      if (outShape) {
        const v = intsOf(outShape);
        if (v) return [{ dtype: x.dtype, shape: v }];
        const len = outShape.shape?.[0];
        return [{ dtype: x.dtype, shape: typeof len === 'number' ? new Array<Dim>(len).fill(null) : undefined }];
      }
      const xs = x.shape ?? [null, null, ...k.map(() => null)];
      return [{ dtype: x.dtype, shape: [xs[0]!, xs[1]!, ...xs.slice(2).map((d, i) => dimMap(d, (n) => unpooledDim(n, ctx.attrs, i)))] }];
    },
  }),
} satisfies OpDefTable;
