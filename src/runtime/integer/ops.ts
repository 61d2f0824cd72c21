// Integer kernels of the `nnport.int` ops (islands.ts) with the arithmetic of TFLite's
// reference integer kernels: int32 (int64 for 16x8) accumulators, per-channel fixed-point
// requantization, TFLite's rounding, activation clamps in the quantized domain. Data is
// channels-last as in the `nnport` ops they replace. Plain scalar TypeScript loops.
import type { DType } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { attrFloats, attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { quantizePerAxis, quantizePerTensor } from '../../wasm/quantize.js';
import { broadcastShapes } from '../broadcast.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxis, readNumbers } from '../ops/args.js';
import { clampInt, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64, quantizeMultiplier, roundHalfAway } from './fixed-point.js';

const RANGES: Partial<Record<DType, [number, number]>> = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767] };

function rangeOf(dtype: DType, what: string): [number, number] {
  const r = RANGES[dtype];
  if (!r) throw new UnsupportedError(`integer ${what} of type ${dtype}`);
  return r;
}

interface QParam {
  scales: number[];
  zps: number[];
}

function qparam(inputs: ReadonlyArray<Tensor | undefined>, at: number, what: string): QParam {
  const s = need(inputs, at + 1, `${what} scale`);
  const z = inputs[at + 2];
  const scales = readNumbers(s, `${what} scale`);
  return { scales, zps: z ? readNumbers(z, `${what} zero point`) : scales.map(() => 0) };
}

/** Output dtype, zero point and the activation clamp in the quantized domain (CalculateActivationRangeQuantized). */
function outputParams(inputs: ReadonlyArray<Tensor | undefined>, at: number, act: number[] | undefined) {
  const scale = readNumbers(need(inputs, at, 'output scale'), 'output scale')[0]!;
  const zpT = need(inputs, at + 1, 'output zero point');
  const zp = readNumbers(zpT, 'output zero point')[0]!;
  const dtype = zpT.dtype;
  let [lo, hi] = rangeOf(dtype, 'output');
  if (act) {
    const qlo = zp + roundHalfAway(Math.fround(act[0]! / scale));
    const qhi = zp + roundHalfAway(Math.fround(act[1]! / scale));
    if (act[0]! > -3e38) lo = Math.max(lo, qlo);
    if (act[1]! < 3e38) hi = Math.min(hi, qhi);
  }
  return { scale, zp, dtype, lo, hi };
}

const toNumbers = (t: Tensor): ArrayLike<number> => (t.dtype === 'int64' ? Float64Array.from(t.toNumbers()) : (t.data as ArrayLike<number>));

interface ConvAttrs {
  layout: 'OHWI' | 'HWIO';
  strides: number[];
  dilations: number[];
  group: number;
  autoPad: string;
  pads?: number[];
  act?: number[];
  fp32: boolean;
}

/**
 * Requantization of the XNNPACK delegate (which the TFLite interpreter uses for int8 conv and
 * fully-connected): float32 scale = s_x·s_w/s_y, float32 product, round half to even.
 */
function fp32Requantize(acc: number, scale: number): number {
  return roundHalfEven(Math.fround(Math.fround(acc) * scale));
}

function fp32Scales(sx: number, sw: number[], sy: number, o: number): Float32Array {
  const out = new Float32Array(o);
  for (let oc = 0; oc < o; oc++) out[oc] = Math.fround(Math.fround(sx * (sw.length > 1 ? sw[oc]! : sw[0]!)) / sy);
  return out;
}

const requantizationOf = (node: Node): boolean => {
  const r = attrString(node, 'requantization', 'reference');
  if (r !== 'reference' && r !== 'xnnpack') throw new UnsupportedError(`requantization '${r}'`, "use 'reference' (TFLite's reference kernels) or 'xnnpack' (its XNNPACK delegate)");
  return r === 'xnnpack';
};

/** Begin/end padding and output size of one spatial dim (SAME_UPPER is TF's SAME). */
function spatial(inSize: number, k: number, stride: number, dilation: number, autoPad: string, pads: number[] | undefined, i: number, rank: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + eff - inSize, 0);
    return [autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2), out];
  }
  if (autoPad === 'VALID') return [0, Math.floor((inSize - eff) / stride) + 1];
  const b = pads?.[i] ?? 0;
  const e = pads?.[i + rank] ?? 0;
  return [b, Math.floor((inSize + b + e - eff) / stride) + 1];
}

function convAttrs(node: Node): ConvAttrs {
  const layout = attrString(node, 'kernel_layout', 'HWIO');
  if (layout !== 'OHWI' && layout !== 'HWIO') throw new UnsupportedError(`integer Conv with kernel_layout ${layout}`);
  return {
    layout,
    strides: attrInts(node, 'strides', [1, 1]),
    dilations: attrInts(node, 'dilations', [1, 1]),
    group: attrInt(node, 'group', 1),
    autoPad: attrString(node, 'auto_pad', 'NOTSET'),
    pads: attrInts(node, 'pads'),
    act: attrFloats(node, 'activation'),
    fp32: requantizationOf(node),
  };
}

// Packed weights (O, kh, kw, I/group) as int32 minus their zero points, per weight tensor.
const packedWeights = new WeakMap<Tensor, Int32Array>();

function packWeights(w: Tensor, layout: 'OHWI' | 'HWIO', wq: QParam): { data: Int32Array; o: number; kh: number; kw: number; ipg: number } {
  const [a, b, c, d] = w.shape as [number, number, number, number];
  const o = layout === 'OHWI' ? a : d;
  const [kh, kw, ipg] = layout === 'OHWI' ? [b, c, d] : [a, b, c];
  let data = packedWeights.get(w);
  if (!data) {
    data = new Int32Array(w.size);
    const src = w.data as ArrayLike<number>;
    for (let oc = 0; oc < o; oc++) {
      const zp = wq.zps.length > 1 ? wq.zps[oc]! : wq.zps[0]!;
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let i = 0; i < ipg; i++) {
            const from = layout === 'OHWI' ? ((oc * kh + y) * kw + x) * ipg + i : ((y * kw + x) * ipg + i) * o + oc;
            data[((oc * kh + y) * kw + x) * ipg + i] = src[from]! - zp;
          }
    }
    packedWeights.set(w, data);
  }
  return { data, o, kh, kw, ipg };
}

/** Per-output-channel fixed-point multipliers for scale_x·scale_w[oc]/scale_y (double, as TFLite). */
function channelMultipliers(sx: number, sw: number[], sy: number, o: number) {
  const mult = new Int32Array(o);
  const shift = new Int32Array(o);
  for (let oc = 0; oc < o; oc++) {
    const q = quantizeMultiplier((sx * (sw.length > 1 ? sw[oc]! : sw[0]!)) / sy);
    mult[oc] = q.multiplier;
    shift[oc] = q.shift;
  }
  return { mult, shift };
}

const Conv = defineOp<ConvAttrs>({
  attrs: convAttrs,
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const w = need(inputs, 3, 'w');
    const b = inputs[6];
    if (x.rank !== 4 || w.rank !== 4) throw new ShapeError(`integer Conv needs 4-D NHWC input and weights, got [${x.shape}] and [${w.shape}]`);
    const xq = qparam(inputs, 0, 'x');
    const wq = qparam(inputs, 3, 'w');
    const out = outputParams(inputs, 9, a.act);
    const wide = x.dtype === 'int16';
    const [n, h, wd, c] = x.shape as [number, number, number, number];
    const { data: wt, o, kh, kw, ipg } = packWeights(w, a.layout, wq);
    const group = a.group;
    if (ipg * group !== c || o % group !== 0) throw new ShapeError(`integer Conv: ${c} input channels do not fit weights [${w.shape}] with group ${group}`);
    const opg = o / group;
    const [pt, oh] = spatial(h, kh, a.strides[0]!, a.dilations[0]!, a.autoPad, a.pads, 0, 2);
    const [pl, ow] = spatial(wd, kw, a.strides[1]!, a.dilations[1]!, a.autoPad, a.pads, 1, 2);
    const { mult, shift } = channelMultipliers(xq.scales[0]!, wq.scales, out.scale, o);
    const fp32 = a.fp32 ? fp32Scales(xq.scales[0]!, wq.scales, out.scale, o) : undefined;
    const bias = b ? toNumbers(b) : undefined;
    const xzp = xq.zps[0]!;
    const xs = x.data as ArrayLike<number>;
    const xv = new Int32Array(x.size);
    for (let i = 0; i < xv.length; i++) xv[i] = xs[i]! - xzp;
    const y = Tensor.zeros(out.dtype, [n, oh, ow, o]);
    const yd = y.data as Int8Array;
    const [sh, sw] = a.strides as [number, number];
    const [dh, dw] = a.dilations as [number, number];
    let k = 0;
    for (let bn = 0; bn < n; bn++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let oc = 0; oc < o; oc++) {
            const g = (oc / opg) | 0;
            let acc = bias ? bias[oc]! : 0;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - pt + ky * dh;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - pl + kx * dw;
                if (ix < 0 || ix >= wd) continue;
                const xo = ((bn * h + iy) * wd + ix) * c + g * ipg;
                const wo = ((oc * kh + ky) * kw + kx) * ipg;
                for (let i = 0; i < ipg; i++) acc += xv[xo + i]! * wt[wo + i]!;
              }
            }
            const scaled = wide ? multiplyByQuantizedMultiplier64(acc, mult[oc]!, shift[oc]!) : fp32 ? fp32Requantize(acc, fp32[oc]!) : multiplyByQuantizedMultiplier(acc, mult[oc]!, shift[oc]!);
            yd[k++] = clampInt(scaled + out.zp, out.lo, out.hi);
          }
    return [y];
  },
});

const Gemm = defineOp<{ act?: number[]; fp32: boolean }>({
  attrs: (node) => ({ act: attrFloats(node, 'activation'), fp32: requantizationOf(node) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const w = need(inputs, 3, 'w');
    const b = inputs[6];
    if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) throw new ShapeError(`integer FullyConnected: input [${x.shape}] and weights [${w.shape}] do not fit`);
    const xq = qparam(inputs, 0, 'x');
    const wq = qparam(inputs, 3, 'w');
    const out = outputParams(inputs, 9, a.act);
    const [m, kk] = x.shape as [number, number];
    const nOut = w.shape[0]!;
    const { data: wt } = packWeights(w.reshape([nOut, 1, 1, kk]), 'OHWI', wq);
    const { mult, shift } = channelMultipliers(xq.scales[0]!, wq.scales, out.scale, nOut);
    const fp32 = a.fp32 ? fp32Scales(xq.scales[0]!, wq.scales, out.scale, nOut) : undefined;
    const bias = b ? toNumbers(b) : undefined;
    const wide = x.dtype === 'int16';
    const xs = x.data as ArrayLike<number>;
    const xzp = xq.zps[0]!;
    const y = Tensor.zeros(out.dtype, [m, nOut]);
    const yd = y.data as Int8Array;
    for (let r = 0; r < m; r++)
      for (let oc = 0; oc < nOut; oc++) {
        let acc = bias ? bias[oc]! : 0;
        const xo = r * kk;
        const wo = oc * kk;
        for (let i = 0; i < kk; i++) acc += (xs[xo + i]! - xzp) * wt[wo + i]!;
        const scaled = wide ? multiplyByQuantizedMultiplier64(acc, mult[oc]!, shift[oc]!) : fp32 ? fp32Requantize(acc, fp32[oc]!) : multiplyByQuantizedMultiplier(acc, mult[oc]!, shift[oc]!);
        yd[r * nOut + oc] = clampInt(scaled + out.zp, out.lo, out.hi);
      }
    return [y];
  },
});

/** Element index of `b` for each output element under NumPy broadcasting. */
function broadcastIndex(outShape: number[], inShape: readonly number[]): Int32Array | undefined {
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return undefined;
  const n = shapeSize(outShape);
  const idx = new Int32Array(n);
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  const off = rank - inShape.length;
  const outStrides = stridesOf(outShape);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let j = 0;
    for (let d = 0; d < rank; d++) {
      const coord = Math.floor(rem / outStrides[d]!);
      rem -= coord * outStrides[d]!;
      if (d >= off && inShape[d - off]! !== 1) j += coord * inStrides[d - off]!;
    }
    idx[i] = j;
  }
  return idx;
}

/** TFLite's quantized ADD/SUB: both inputs rescaled to a shared 2·max(scale) grid with 20 extra bits (15 for int16). */
/**
 * XNNPACK's qs8 ADD: both inputs on one integer grid of 2^shift·(s_in/s_out) multipliers below
 * 2^21, the rounding folded into the bias, one arithmetic shift.
 */
function xnnpackAddParams(sa: number, za: number, sb: number, zb: number, so: number, sign: number) {
  const f = Math.fround;
  const as = f(sa / so);
  const bs = f(sb / so);
  const exponent = Math.floor(Math.log2(Math.max(as, bs)));
  const shift = 20 - exponent;
  const am = roundHalfEven(f(as * 2 ** shift));
  const bm = sign * roundHalfEven(f(bs * 2 ** shift));
  return { am, bm, shift, bias: 2 ** (shift - 1) - am * za - bm * zb };
}

function addSub(sign: 1 | -1) {
  return defineOp<{ act?: number[]; xnnpack: boolean }>({
    attrs: (node) => ({ act: attrFloats(node, 'activation'), xnnpack: requantizationOf(node) }),
    run(inputs, a) {
      const x1 = need(inputs, 0, 'a');
      const x2 = need(inputs, 3, 'b');
      const q1 = qparam(inputs, 0, 'a');
      const q2 = qparam(inputs, 3, 'b');
      const out = outputParams(inputs, 6, a.act);
      const leftShift = x1.dtype === 'int16' ? 15 : 20;
      const twiceMax = 2 * Math.max(q1.scales[0]!, q2.scales[0]!);
      const m1 = quantizeMultiplier(q1.scales[0]! / twiceMax);
      const m2 = quantizeMultiplier(q2.scales[0]! / twiceMax);
      const mo = quantizeMultiplier(twiceMax / (2 ** leftShift * out.scale));
      const shape = broadcastShapes(x1.shape, x2.shape);
      const i1 = broadcastIndex(shape, x1.shape);
      const i2 = broadcastIndex(shape, x2.shape);
      const d1 = x1.data as ArrayLike<number>;
      const d2 = x2.data as ArrayLike<number>;
      const y = Tensor.zeros(out.dtype, shape);
      const yd = y.data as Int8Array;
      const z1 = q1.zps[0]!;
      const z2 = q2.zps[0]!;
      const p = 2 ** leftShift;
      if (a.xnnpack && x1.dtype === 'int8') {
        const x = xnnpackAddParams(q1.scales[0]!, z1, q2.scales[0]!, z2, out.scale, sign);
        for (let i = 0; i < yd.length; i++) {
          const acc = x.bias + d1[i1 ? i1[i]! : i]! * x.am + d2[i2 ? i2[i]! : i]! * x.bm;
          yd[i] = clampInt(Math.floor(acc / 2 ** x.shift) + out.zp, out.lo, out.hi);
        }
        return [y];
      }
      for (let i = 0; i < yd.length; i++) {
        const v1 = (d1[i1 ? i1[i]! : i]! - z1) * p;
        const v2 = (d2[i2 ? i2[i]! : i]! - z2) * p;
        const s1 = multiplyByQuantizedMultiplier(v1, m1.multiplier, m1.shift);
        const s2 = multiplyByQuantizedMultiplier(v2, m2.multiplier, m2.shift);
        const raw = multiplyByQuantizedMultiplier(s1 + sign * s2, mo.multiplier, mo.shift) + out.zp;
        yd[i] = clampInt(raw, out.lo, out.hi);
      }
      return [y];
    },
  });
}

const Mul = defineOp<{ act?: number[] }>({
  attrs: (node) => ({ act: attrFloats(node, 'activation') }),
  run(inputs, a) {
    const x1 = need(inputs, 0, 'a');
    const x2 = need(inputs, 3, 'b');
    const q1 = qparam(inputs, 0, 'a');
    const q2 = qparam(inputs, 3, 'b');
    const out = outputParams(inputs, 6, a.act);
    const m = quantizeMultiplier((q1.scales[0]! * q2.scales[0]!) / out.scale);
    const shape = broadcastShapes(x1.shape, x2.shape);
    const i1 = broadcastIndex(shape, x1.shape);
    const i2 = broadcastIndex(shape, x2.shape);
    const d1 = x1.data as ArrayLike<number>;
    const d2 = x2.data as ArrayLike<number>;
    const y = Tensor.zeros(out.dtype, shape);
    const yd = y.data as Int8Array;
    for (let i = 0; i < yd.length; i++) {
      const prod = (d1[i1 ? i1[i]! : i]! - q1.zps[0]!) * (d2[i2 ? i2[i]! : i]! - q2.zps[0]!);
      yd[i] = clampInt(multiplyByQuantizedMultiplier(prod, m.multiplier, m.shift) + out.zp, out.lo, out.hi);
    }
    return [y];
  },
});

interface PoolAttrs {
  kernel: number[];
  strides: number[];
  autoPad: string;
  pads?: number[];
  act?: number[];
}

function pool(kind: 'avg' | 'max') {
  return defineOp<PoolAttrs>({
    attrs: (node) => ({
      kernel: attrInts(node, 'kernel_shape', []),
      strides: attrInts(node, 'strides', [1, 1]),
      autoPad: attrString(node, 'auto_pad', 'NOTSET'),
      pads: attrInts(node, 'pads'),
      act: attrFloats(node, 'activation'),
    }),
    run(inputs, a) {
      const x = need(inputs, 0, 'x');
      const xq = qparam(inputs, 0, 'x');
      const out = outputParams(inputs, 3, a.act);
      if (xq.scales[0] !== out.scale || xq.zps[0] !== out.zp) throw new UnsupportedError('integer pooling with different input and output quantization');
      if (x.rank !== 4) throw new ShapeError(`integer pooling needs NHWC input, got [${x.shape}]`);
      const [n, h, w, c] = x.shape as [number, number, number, number];
      const [kh, kw] = a.kernel as [number, number];
      const [pt, oh] = spatial(h, kh, a.strides[0]!, 1, a.autoPad, a.pads, 0, 2);
      const [pl, ow] = spatial(w, kw, a.strides[1]!, 1, a.autoPad, a.pads, 1, 2);
      const xd = x.data as ArrayLike<number>;
      const y = Tensor.zeros(out.dtype, [n, oh, ow, c]);
      const yd = y.data as Int8Array;
      let k = 0;
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++)
            for (let ch = 0; ch < c; ch++) {
              let acc = kind === 'max' ? -Infinity : 0;
              let count = 0;
              for (let ky = 0; ky < kh; ky++) {
                const iy = oy * a.strides[0]! - pt + ky;
                if (iy < 0 || iy >= h) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ox * a.strides[1]! - pl + kx;
                  if (ix < 0 || ix >= w) continue;
                  const v = xd[((b * h + iy) * w + ix) * c + ch]!;
                  if (kind === 'max') acc = v > acc ? v : acc;
                  else acc += v;
                  count++;
                }
              }
              // average: round half away from zero with C's truncating division
              if (kind === 'avg') acc = acc > 0 ? Math.trunc((acc + Math.trunc(count / 2)) / count) : Math.trunc((acc - Math.trunc(count / 2)) / count);
              yd[k++] = clampInt(acc, out.lo, out.hi);
            }
      return [y];
    },
  });
}

/** TFLite's table-driven int8 softmax: exp(-scale·beta·(max - x)) in float32, lrint to the output grid. */
const Softmax = defineOp<{ axis: number }>({
  attrs: (node) => ({ axis: attrInt(node, 'axis', -1) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    if (normAxis(a.axis, x.rank) !== x.rank - 1) throw new UnsupportedError('integer Softmax on an axis other than the last');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    const f = Math.fround;
    const scale = f(-xq.scales[0]!);
    const table = new Float32Array(512);
    for (let d = 0; d < 512; d++) table[d] = f(Math.exp(f(scale * d)));
    const last = x.shape[x.rank - 1]!;
    const xd = x.data as ArrayLike<number>;
    const y = Tensor.zeros(out.dtype, x.shape);
    const yd = y.data as Int8Array;
    for (let base = 0; base < xd.length; base += last) {
      let max = -Infinity;
      for (let j = 0; j < last; j++) max = Math.max(max, xd[base + j]!);
      let sum = 0;
      for (let j = 0; j < last; j++) sum = f(sum + table[max - xd[base + j]!]!);
      const inv = f(1 / f(sum * f(out.scale)));
      for (let j = 0; j < last; j++) {
        const p = f(table[max - xd[base + j]!]! * inv);
        yd[base + j] = clampInt(roundHalfEven(p) + out.zp, out.lo, out.hi);
      }
    }
    return [y];
  },
});

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Elementwise functions through a 256/65536-entry table: dequantize, apply, round half away, clamp. */
function lookup(fn: (v: number) => number) {
  return defineOp<Record<string, never>>({
    attrs: () => ({}),
    run(inputs) {
      const x = need(inputs, 0, 'x');
      const xq = qparam(inputs, 0, 'x');
      const out = outputParams(inputs, 3, undefined);
      const [lo, hi] = rangeOf(x.dtype, 'input');
      const f = Math.fround;
      const table = new Int32Array(hi - lo + 1);
      for (let v = lo; v <= hi; v++) table[v - lo] = clampInt(roundHalfAway(f(f(fn(f(xq.scales[0]! * (v - xq.zps[0]!)))) / out.scale)) + out.zp, out.lo, out.hi);
      const xd = x.data as ArrayLike<number>;
      const y = Tensor.zeros(out.dtype, x.shape);
      const yd = y.data as Int8Array;
      for (let i = 0; i < yd.length; i++) yd[i] = table[xd[i]! - lo]!;
      return [y];
    },
  });
}

/** MEAN: integer sum, then TFLite's float rescale (QuantizedMeanOrSum), or its integer rounding when the grids match. */
const ReduceMean = defineOp<{ axes: number[]; keepdims: boolean }>({
  attrs: (node) => ({ axes: attrInts(node, 'axes', []), keepdims: attrInt(node, 'keepdims', 1) !== 0 }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    const axes = new Set(a.axes.map((ax) => normAxis(ax, x.rank)));
    const outShapeKeep = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const outSize = shapeSize(outShapeKeep);
    const count = x.size / Math.max(outSize, 1);
    const sums = new Float64Array(outSize);
    const inStrides = stridesOf(x.shape);
    const outStrides = stridesOf(outShapeKeep);
    const xd = x.data as ArrayLike<number>;
    for (let i = 0; i < x.size; i++) {
      let rem = i;
      let j = 0;
      for (let d = 0; d < x.rank; d++) {
        const coord = Math.floor(rem / inStrides[d]!);
        rem -= coord * inStrides[d]!;
        if (!axes.has(d)) j += coord * outStrides[d]!;
      }
      sums[j] += xd[i]!;
    }
    const shape = a.keepdims ? outShapeKeep : x.shape.filter((_, i) => !axes.has(i));
    const y = Tensor.zeros(out.dtype, shape);
    const yd = y.data as Int8Array;
    const same = xq.scales[0] === out.scale && xq.zps[0] === out.zp;
    const f = Math.fround;
    const scale = f(xq.scales[0]! / out.scale);
    const bias = f(-xq.zps[0]! * scale);
    for (let j = 0; j < outSize; j++) {
      const s = sums[j]!;
      if (same) {
        const half = Math.trunc(count / 2);
        yd[j] = clampInt(s > 0 ? Math.trunc((s + half) / count) : Math.trunc((s - half) / count), out.lo, out.hi);
      } else {
        const mean = f(f(s) / f(count));
        yd[j] = clampInt(roundHalfAway(f(f(mean * scale) + bias)) + out.zp, out.lo, out.hi);
      }
    }
    return [y];
  },
});

/** CONCATENATION: inputs on the output grid copied, others rescaled in float (ConcatenationWithScaling). */
const Concat = defineOp<{ axis: number }>({
  attrs: (node) => ({ axis: attrInt(node, 'axis', 0) }),
  run(inputs, a) {
    const k = (inputs.length - 2) / 3;
    const xs = Array.from({ length: k }, (_, i) => need(inputs, 3 * i, `input ${i}`));
    const qs = xs.map((_, i) => qparam(inputs, 3 * i, `input ${i}`));
    const out = outputParams(inputs, 3 * k, undefined);
    const rank = xs[0]!.rank;
    const axis = normAxis(a.axis, rank);
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce((s, t) => s + t.shape[axis]!, 0);
    const y = Tensor.zeros(out.dtype, shape);
    const yd = y.data as Int8Array;
    const outer = shapeSize(shape.slice(0, axis));
    const inner = shapeSize(shape.slice(axis + 1));
    const f = Math.fround;
    let offset = 0;
    xs.forEach((t, i) => {
      const q = qs[i]!;
      const rows = t.shape[axis]! * inner;
      const d = t.data as ArrayLike<number>;
      const same = q.scales[0] === out.scale && q.zps[0] === out.zp;
      const scale = f(q.scales[0]! * f(1 / out.scale));
      const bias = f(-q.zps[0]! * scale);
      for (let o = 0; o < outer; o++)
        for (let r = 0; r < rows; r++) {
          const v = d[o * rows + r]!;
          yd[o * shape[axis]! * inner + offset + r] = same ? v : clampInt(roundHalfAway(f(f(v * scale) + bias)) + out.zp, out.lo, out.hi);
        }
      offset += rows;
    });
    return [y];
  },
});

/** QUANTIZE int -> int: (x - zp_in)·(s_in/s_out) in fixed point. */
const Requantize = defineOp<Record<string, never>>({
  attrs: () => ({}),
  run(inputs) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    const m = quantizeMultiplier(xq.scales[0]! / out.scale);
    const xd = x.data as ArrayLike<number>;
    const y = Tensor.zeros(out.dtype, x.shape);
    const yd = y.data as Int8Array;
    for (let i = 0; i < yd.length; i++) yd[i] = clampInt(multiplyByQuantizedMultiplier(xd[i]! - xq.zps[0]!, m.multiplier, m.shift) + out.zp, out.lo, out.hi);
    return [y];
  },
});

/** TFLite's QUANTIZE float -> int rounds half away from zero (ONNX: half to even). */
const QuantizeLinear = defineOp<{ axis: number }>({
  attrs: (node) => ({ axis: attrInt(node, 'axis', 1) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const scale = need(inputs, 1, 'y_scale');
    const zp = need(inputs, 2, 'y_zero_point');
    const scales = readNumbers(scale, 'scale');
    const zps = readNumbers(zp, 'zero point');
    const dtype = zp.dtype as 'int8' | 'uint8' | 'int16';
    const xf = x.dtype === 'float32' ? x : new Tensor('float32', x.shape, x.toFloat32());
    if (scales.length === 1) return [quantizePerTensor(xf, scales[0]!, zps[0]!, { dtype, rounding: 'half-away' })];
    return [quantizePerAxis(xf, normAxis(a.axis, x.rank), scales, zps, { dtype, rounding: 'half-away' })];
  },
});

export const INTEGER_OPS: OpTable = {
  'nnport.int::Conv': Conv,
  'nnport.int::Gemm': Gemm,
  'nnport.int::Add': addSub(1),
  'nnport.int::Sub': addSub(-1),
  'nnport.int::Mul': Mul,
  'nnport.int::AveragePool': pool('avg'),
  'nnport.int::MaxPool': pool('max'),
  'nnport.int::Softmax': Softmax,
  'nnport.int::Sigmoid': lookup((v) => 1 / (1 + Math.exp(-v))),
  'nnport.int::Tanh': lookup(Math.tanh),
  'nnport.int::ReduceMean': ReduceMean,
  'nnport.int::Concat': Concat,
  'nnport.int::Requantize': Requantize,
  QuantizeLinear,
};
