// ONNX QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear on the SIMD quantize kernels.
// ONNX rounds half to even. Per-tensor when the scale has one element, per-axis (attribute
// `axis`, default 1) when it is 1-D. Blocked quantization and 4-bit / float8 types are not done.
import type { DType } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { quantizeDefs, type QAttrs } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { minMax } from '../../wasm/calibrate.js';
import { castFloat } from '../../wasm/half.js';
import { dequantizePerAxis, dequantizePerTensor, quantizePerAxis, quantizePerTensor, scaleZeroPointFromMinMax, type QuantDType } from '../../wasm/quantize.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxis, readNumbers } from './args.js';


const QTYPES: ReadonlySet<DType> = new Set(['int8', 'uint8', 'int16', 'uint16']);

function asQuantDType(d: DType, op: string): QuantDType {
  if (!QTYPES.has(d)) throw new UnsupportedError(`${op} to ${d}`);
  return d as QuantDType;
}

/** float32 values of a float input (float32 as is; float16/bfloat16 decoded; int32 converted). */
function asFloat32(t: Tensor, what: string): Tensor {
  if (t.dtype === 'float32') return t;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return castFloat(t, 'float32');
  if (t.dtype === 'int32') return new Tensor('float32', t.shape, Float32Array.from(t.data as Int32Array));
  throw new ShapeError(`${what} must be float32, float16, bfloat16 or int32, got ${t.dtype}`);
}

/** (per-axis?, scales, zero points) from the scale / zero-point inputs. */
function params(x: Tensor, scale: Tensor, zp: Tensor | undefined, axis: number, op: string): { axis?: number; scales: number[]; zps: number[] } {
  if (zp && zp.size !== scale.size) throw new ShapeError(`${op}: zero point has ${zp.size} elements, scale has ${scale.size}`);
  const scales = readNumbers(scale.dtype === 'float32' ? scale : asFloat32(scale, `${op} scale`), `${op} scale`);
  const zps = zp ? readNumbers(zp, `${op} zero point`) : new Array<number>(scales.length).fill(0);
  if (scale.rank === 0 || (scale.rank === 1 && scale.size === 1 && (x.rank === 0 || x.shape[normAxis(axis, x.rank)] !== 1))) {
    if (scale.size !== 1) throw new ShapeError(`${op}: scale must have one element`);
    return { scales, zps };
  }
  if (scale.rank !== 1) throw new UnsupportedError(`${op} with a rank-${scale.rank} scale (blocked quantization)`);
  const a = normAxis(axis, x.rank, `${op} axis`);
  if (x.shape[a] !== scale.size) throw new ShapeError(`${op}: axis ${axis} has ${x.shape[a]} elements but the scale has ${scale.size}`);
  return { axis: a, scales, zps };
}

const QuantizeLinear = defineOp<QAttrs>({
  attrs: quantizeDefs.QuantizeLinear.attrs,
  run(inputs, a) {
    const x = asFloat32(need(inputs, 0, 'x'), 'QuantizeLinear x');
    const scale = need(inputs, 1, 'y_scale');
    const zp = inputs[2];
    const dtype = asQuantDType(zp?.dtype ?? a.outputDType ?? 'uint8', 'QuantizeLinear');
    if (zp && a.outputDType && a.outputDType !== zp.dtype) throw new ShapeError(`QuantizeLinear: output_dtype ${a.outputDType} but zero point is ${zp.dtype}`);
    const p = params(x, scale, zp, a.axis, 'QuantizeLinear');
    const opts = { dtype, rounding: 'half-even' as const };
    if (p.axis === undefined) return [quantizePerTensor(x, p.scales[0]!, p.zps[0]!, opts)];
    return [quantizePerAxis(x, p.axis, p.scales, p.zps, opts)];
  },
});

const DequantizeLinear = defineOp<QAttrs>({
  attrs: quantizeDefs.DequantizeLinear.attrs,
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const scale = need(inputs, 1, 'x_scale');
    const zp = inputs[2];
    if (zp && zp.dtype !== x.dtype) throw new ShapeError(`DequantizeLinear: zero point is ${zp.dtype} but x is ${x.dtype}`);
    if (!QTYPES.has(x.dtype) && x.dtype !== 'int32') throw new UnsupportedError(`DequantizeLinear from ${x.dtype}`);
    if (x.dtype === 'int32' && zp && readNumbers(zp, 'zero point').some((v) => v !== 0)) {
      throw new ShapeError('DequantizeLinear: an int32 input needs zero point 0');
    }
    const p = params(x, scale, zp, a.axis, 'DequantizeLinear');
    const y = p.axis === undefined ? dequantizePerTensor(x, p.scales[0]!, p.zps[0]!) : dequantizePerAxis(x, p.axis, p.scales, p.zps);
    // opset 19+: the output has the scale's type
    return [scale.dtype === 'float16' || scale.dtype === 'bfloat16' ? castFloat(y, scale.dtype) : y];
  },
});

const DynamicQuantizeLinear = defineOp<Record<string, never>>({
  attrs: quantizeDefs.DynamicQuantizeLinear.attrs,
  run(inputs) {
    const x = asFloat32(need(inputs, 0, 'x'), 'DynamicQuantizeLinear x');
    const { min, max } = minMax(x);
    // uint8 over [min(0, min), max(0, max)]; zero point = round(clip(0 - min / scale, 0, 255))
    const p = scaleZeroPointFromMinMax(x.size ? min : 0, x.size ? max : 0, { dtype: 'uint8' });
    const y = quantizePerTensor(x, p.scale, p.zeroPoint, { dtype: 'uint8', rounding: 'half-even' });
    return [y, Tensor.float32([], [p.scale]), new Tensor('uint8', [], Uint8Array.of(p.zeroPoint))];
  },
});

export const quantizeOps: OpTable = { QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear };
