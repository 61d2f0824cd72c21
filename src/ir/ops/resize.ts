// Resize (opset 10-18) and the deprecated Upsample (7-9): output sizes from `sizes`, or
// floor(input * scale) from `scales`.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Dim, type Node } from '../graph.js';
import { defineOpDef, fmtShape, input, normAxes, unknownDims, type InferContext, type OpDefTable, type ValueType } from './op-def.js';

export type ResizeMode = 'nearest' | 'linear' | 'cubic';
export type CoordMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
/** 'simple' is Upsample / Resize-10 rounding: floor when upsampling, ceil when downsampling. */
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'simple';

const MODES = new Set(['nearest', 'linear', 'cubic']);
const COORD_MODES = new Set(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize']);
const NEAREST_MODES = new Set(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);

export interface ResizeAttrs {
  mode: ResizeMode;
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  /** the value of outputs whose source lies outside the input (tf_crop_and_resize only) */
  extrapolation: number;
  axes?: number[];
  /** Upsample-7: scales as an attribute */
  scales?: number[];
  /** opset 10 / Upsample: inputs are (X, scales) instead of (X, roi, scales, sizes) */
  scalesInput: number;
}

export function parseResizeAttrs(node: Node, opset: number): ResizeAttrs {
  const mode = attrString(node, 'mode', 'nearest');
  if (!MODES.has(mode)) throw new UnsupportedError(`Resize mode '${mode}'`);
  if (opset < 11) return { mode: mode as ResizeMode, coord: 'asymmetric', nearest: 'simple', cubicA: -0.75, excludeOutside: false, extrapolation: 0, scalesInput: 1 };
  const coord = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!COORD_MODES.has(coord)) throw new UnsupportedError(`Resize coordinate_transformation_mode '${coord}'`);
  const nearest = attrString(node, 'nearest_mode', 'round_prefer_floor');
  if (!NEAREST_MODES.has(nearest)) throw new UnsupportedError(`Resize nearest_mode '${nearest}'`);
  if (attrInt(node, 'antialias', 0) !== 0) throw new UnsupportedError('Resize antialias');
  const policy = attrString(node, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') throw new UnsupportedError(`Resize keep_aspect_ratio_policy '${policy}'`);
  return {
    mode: mode as ResizeMode,
    coord: coord as CoordMode,
    nearest: nearest as NearestMode,
    cubicA: attrFloat(node, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(node, 'exclude_outside', 0) !== 0,
    extrapolation: attrFloat(node, 'extrapolation_value', 0),
    axes: attrInts(node, 'axes'),
    scalesInput: 2,
  };
}

export function parseUpsampleAttrs(node: Node, opset: number): ResizeAttrs {
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') throw new UnsupportedError(`Upsample mode '${mode}'`);
  const scales = opset < 9 ? attrFloats(node, 'scales') : undefined;
  if (opset < 9 && !scales) throw new ShapeError('Upsample needs the scales attribute before opset 9');
  return { mode, coord: 'asymmetric', nearest: 'simple', cubicA: -0.75, excludeOutside: false, extrapolation: 0, scales, scalesInput: 1 };
}

/** A present, non-empty input (Resize passes '' or an empty tensor for the one it does not use). */
const given = (v: ValueType | undefined): ValueType | undefined => (v && !(v.shape?.length === 1 && v.shape[0] === 0) ? v : undefined);

function inferResize(ctx: InferContext<ResizeAttrs>): ValueType[] {
  const x = input(ctx, 0, 'X');
  const a = ctx.attrs;
  if (!x.shape) return [{ dtype: x.dtype }];
  const r = x.shape.length;
  const axes = a.axes ? normAxes(a.axes, r, 'Resize axes') : x.shape.map((_, i) => i);
  const sizesIn = a.scalesInput === 2 ? given(ctx.inputs[3]) : undefined;
  const scalesIn = a.scales ? { data: a.scales } : given(ctx.inputs[a.scalesInput]);
  const shape: Dim[] = [...x.shape];
  if (sizesIn) {
    if (!sizesIn.data) return [{ dtype: x.dtype, shape: shape.map((d, i) => (axes.includes(i) ? null : d)) }];
    if (sizesIn.data.length !== axes.length) throw new ShapeError(`Resize: ${sizesIn.data.length} sizes for ${axes.length} axes`);
    axes.forEach((ax, k) => (shape[ax] = sizesIn.data![k]!));
  } else if (scalesIn) {
    if (!scalesIn.data) return [{ dtype: x.dtype, shape: unknownDims(r) }];
    if (scalesIn.data.length !== axes.length) throw new ShapeError(`${ctx.node.opType}: ${scalesIn.data.length} scales for ${axes.length} axes of ${fmtShape(x.shape)}`);
    axes.forEach((ax, k) => {
      const s = scalesIn.data![k]!;
      if (typeof s === 'number' && !(s > 0)) throw new ShapeError(`Resize: scale ${s} must be positive`);
      const d = shape[ax]!;
      shape[ax] = s === 1 ? d : typeof d === 'number' && typeof s === 'number' ? Math.floor(d * s) : null;
    });
  } else {
    throw new ShapeError(`${ctx.node.opType} needs scales or sizes`);
  }
  return [{ dtype: x.dtype, shape }];
}

export const resizeDefs = {
  Resize: defineOpDef<ResizeAttrs>({ opType: 'Resize', domain: '', layout: 'spatial', attrs: parseResizeAttrs, infer: inferResize }),
  Upsample: defineOpDef<ResizeAttrs>({ opType: 'Upsample', domain: '', layout: 'spatial', attrs: parseUpsampleAttrs, infer: inferResize }),
} satisfies OpDefTable;
