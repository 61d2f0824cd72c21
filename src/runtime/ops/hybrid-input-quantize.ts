// nnport::HybridInputQuantize: the on-the-fly int8 rounding of a TFLite hybrid op's float input
// (tensor_utils' AsymmetricQuantizeFloats / SymmetricQuantizeFloats over each block, as
// BatchQuantizeFloats and the hybrid conv kernels call them), dequantized again so that the float
// op after it computes what the hybrid kernel's int32 accumulation scaled back gives. Float32
// arithmetic where TFLite's is float (Math.fround), double where it is double.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { quantizeDefs, type HybridInputQuantizeAttrs } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { clampInt, roundHalfAway } from '../integer/fixed-point.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxis } from './args.js';

const f32 = Math.fround;

/**
 * AsymmetricQuantizeFloats on x[from, to) into y, dequantized: range [min(0, lo), max(0, hi)]
 * over int8 [-128, 127], the zero point taken from whichever end gives the smaller error and
 * nudged into range, values rounded as `zero_point + x · (1 / scale)` in float.
 */
export function hybridQuantizeAsymmetric(x: Float32Array, y: Float32Array, from: number, to: number): void {
  let lo = 0;
  let hi = 0;
  for (let i = from; i < to; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    y.fill(0, from, to);
    return;
  }
  const scale = (hi - lo) / 255;
  const zpFromMin = -128 - lo / scale;
  const zpFromMax = 127 - hi / scale;
  const zpDouble = 128 + Math.abs(lo / scale) < 127 + Math.abs(hi / scale) ? zpFromMin : zpFromMax;
  const zp = zpDouble <= -128 ? -128 : zpDouble >= 127 ? 127 : roundHalfAway(zpDouble);
  const s = f32(scale);
  const inv = f32(1 / s);
  for (let i = from; i < to; i++) {
    const q = clampInt(roundHalfAway(f32(zp + f32(x[i]! * inv))), -128, 127);
    y[i] = f32((q - zp) * s);
  }
}

/** SymmetricQuantizeFloats on x[from, to) into y, dequantized: scale max|x| / 127, values in [-127, 127]. */
export function hybridQuantizeSymmetric(x: Float32Array, y: Float32Array, from: number, to: number): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = Math.max(Math.abs(lo), Math.abs(hi));
  if (from === to || range === 0) {
    y.fill(0, from, to);
    return;
  }
  const s = f32(range / 127);
  const inv = f32(127 / range);
  for (let i = from; i < to; i++) {
    const q = clampInt(roundHalfAway(f32(x[i]! * inv)), -127, 127);
    y[i] = f32(q * s);
  }
}

const HybridInputQuantize = defineOp<HybridInputQuantizeAttrs>({
  attrs: quantizeDefs['nnport::HybridInputQuantize'].attrs,
  run(inputs, a, ctx) {
    const x = need(inputs, 0, 'x');
    if (x.dtype !== 'float32') throw new UnsupportedError(`HybridInputQuantize of ${x.dtype}`, `node '${ctx.node.name}': TFLite's hybrid kernels take float32 inputs`);
    if (x.rank === 0) throw new ShapeError(`HybridInputQuantize '${ctx.node.name}': a scalar input has no blocks`);
    const axis = normAxis(a.axis, x.rank, 'HybridInputQuantize axis');
    const block = x.shape.slice(axis).reduce((p, d) => p * d, 1);
    const src = x.data as Float32Array;
    const out = new Float32Array(src.length);
    const quantize = a.symmetric ? hybridQuantizeSymmetric : hybridQuantizeAsymmetric;
    if (block > 0) for (let from = 0; from < src.length; from += block) quantize(src, out, from, from + block);
    return [new Tensor('float32', x.shape, out)];
  },
});

export const hybridQuantizeOps: OpTable = { 'nnport::HybridInputQuantize': HybridInputQuantize };
