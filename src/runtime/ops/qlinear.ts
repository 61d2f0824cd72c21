// QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger (ONNX domain) in exact integer
// arithmetic: 8-bit inputs less their zero points, int32 accumulation (wrapping as int32 does),
// then for the QLinear ops a requantization as onnxruntime's MlasRequantizeOutput computes it:
// float32(acc) * float32(x_scale * w_scale / y_scale), rounded half to even, plus the output zero
// point, saturated to the output type. Weights per tensor or per output channel (per column).
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { forwardAxis, qlinearDefs, window2d, windowOf, type ConvAttrs, type Window2d } from '../../ir/ops/index.js';
import { Tensor, shapeSize, type Shape } from '../../ir/tensor.js';
import { broadcastIndex, broadcastShapes } from '../broadcast.js';
import { defineOp, type OpTable } from '../op.js';
import { need, readNumbers } from './args.js';

export type EightBit = 'uint8' | 'int8';

/** The saturation range of an 8-bit type. */
export const rangeOf = (d: EightBit): [number, number] => (d === 'uint8' ? [0, 255] : [-128, 127]);

/** Round half to even (nearbyint under the default rounding mode, as ONNX and MLAS round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** An 8-bit quantized input's dtype, or a typed error naming the op. */
export function eightBitOf(t: Tensor, op: string, what: string): EightBit {
  if (t.dtype !== 'uint8' && t.dtype !== 'int8') throw new UnsupportedError(`${op} on ${t.dtype}`, `${what} must be uint8 or int8`);
  return t.dtype;
}

/** A scale input's values (float32). */
export function scalesOf(t: Tensor, op: string, what: string): number[] {
  if (t.dtype !== 'float32') throw new UnsupportedError(`${op} with a ${t.dtype} ${what}`, 'scales must be float32');
  if (t.rank > 1) throw new ShapeError(`${op} ${what} must be a scalar or 1-D, got [${t.shape.join(', ')}]`);
  return readNumbers(t, `${op} ${what}`);
}

/** A zero-point input's values (0 when omitted); its type must be the quantized value's. */
export function zeroPointsOf(t: Tensor | undefined, dtype: EightBit, op: string, what: string): number[] {
  if (!t) return [0];
  if (t.dtype !== dtype) throw new ShapeError(`${op} ${what} is ${t.dtype} but its tensor is ${dtype}`);
  if (t.rank > 1) throw new ShapeError(`${op} ${what} must be a scalar or 1-D, got [${t.shape.join(', ')}]`);
  return readNumbers(t, `${op} ${what}`);
}

/** One value, or one per index of an axis of length n: a 1-element list broadcasts. */
function perIndex(v: number[], n: number, op: string, what: string): number[] {
  if (v.length === 1) return new Array<number>(n).fill(v[0]!);
  if (v.length !== n) throw new ShapeError(`${op} ${what} has ${v.length} elements, expected 1 or ${n}`);
  return v;
}

/** The 8-bit data less a zero point picked per element (`zpOf(i)`), as int32. */
function centered(t: Tensor, zps: number[], zpIndex?: (i: number) => number): Int32Array {
  const d = t.data as Uint8Array | Int8Array;
  const out = new Int32Array(d.length);
  if (zps.length === 1 || !zpIndex) {
    const z = zps[0]!;
    for (let i = 0; i < d.length; i++) out[i] = d[i]! - z;
  } else {
    for (let i = 0; i < d.length; i++) out[i] = d[i]! - zps[zpIndex(i)]!;
  }
  return out;
}

/** float32(acc) * multiplier in float32, rounded half to even, plus the zero point, saturated. */
export function requantize(acc: number, multiplier: number, zp: number, lo: number, hi: number): number {
  const q = roundHalfEven(Math.fround(Math.fround(acc) * multiplier)) + zp;
  return q < lo ? lo : q > hi ? hi : q;
}

/** x_scale * w_scale / y_scale in float32, as onnxruntime computes the output scale. */
export const outputMultiplier = (xs: number, ws: number, ys: number): number => Math.fround(Math.fround(xs * ws) / ys);

export function eightBitArray(dtype: EightBit, n: number): Uint8Array | Int8Array {
  return dtype === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
}

// ---- convolution ----

interface IntConvGeometry {
  N: number;
  C: number;
  M: number;
  G: number;
  win: Window2d;
  outShape: number[];
}

function convGeometry(X: Tensor, Wt: Tensor, at: ConvAttrs, op: string): IntConvGeometry {
  if (X.rank < 3) throw new ShapeError(`${op} input x must have rank >= 3 (N, C, spatial...), got [${X.shape.join(', ')}]`);
  if (Wt.rank !== X.rank) throw new ShapeError(`${op} weight w [${Wt.shape.join(', ')}] must have the rank of x [${X.shape.join(', ')}]`);
  const r = X.rank - 2;
  if (r > 2) throw new UnsupportedError(`${op} with ${r} spatial dims`, 'the integer conv takes 1-D and 2-D windows');
  const [N, C] = [X.shape[0]!, X.shape[1]!];
  const [M, Cg] = [Wt.shape[0]!, Wt.shape[1]!];
  const G = at.group;
  const k = Wt.shape.slice(2);
  if (at.kernelShape && at.kernelShape.join() !== k.join()) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] does not match weights [${Wt.shape.join(', ')}]`);
  if (Cg * G !== C) throw new ShapeError(`${op} input has ${C} channels but weights [${Wt.shape.join(', ')}] with group ${G} expect ${Cg * G}`);
  if (M % G !== 0) throw new ShapeError(`${op} output channels ${M} are not divisible by group ${G}`);
  const w = windowOf(at, k, op);
  const sp = X.shape.slice(2);
  const out: number[] = [];
  const pb: number[] = [];
  const pe: number[] = [];
  for (let i = 0; i < r; i++) {
    const [o, b, e] = forwardAxis(sp[i]!, k[i]!, w.s[i]!, w.d[i]!, w.pads[i]!, w.pads[i + r]!, at.autoPad);
    if (o < 0) throw new ShapeError(`${op} window (kernel ${k[i]}, dilation ${w.d[i]}) is larger than the padded input (${sp[i]}) on spatial axis ${i}`);
    out.push(o);
    pb.push(b);
    pe.push(e);
  }
  return { N, C, M, G, win: window2d(sp, out, w, pb, pe), outShape: [N, M, ...out] };
}

/**
 * Integer convolution of centered data: x [N, C, H, W] and w [M, C/G, kh, kw] as int32, padding
 * contributing 0 (the zero point, centered). Accumulates per output element into int32.
 */
export function convInt32(x: Int32Array, w: Int32Array, g: IntConvGeometry): Int32Array {
  const { N, C, M, G } = g;
  const { H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl } = g.win;
  const Cg = C / G;
  const Mg = M / G;
  const plane = OH * OW;
  const out = new Int32Array(N * M * plane);
  // the output columns each kernel column reaches inside the input, once per kernel column
  const owLo = new Int32Array(kw);
  const owHi = new Int32Array(kw);
  for (let j = 0; j < kw; j++) {
    const off = j * dw - pl;
    owLo[j] = Math.max(0, Math.ceil(-off / sw));
    owHi[j] = Math.min(OW, Math.floor((W - 1 - off) / sw) + 1);
  }
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / Mg);
      const o = (n * M + m) * plane;
      for (let c = 0; c < Cg; c++) {
        const xc = (n * C + gi * Cg + c) * H * W;
        const wb = (m * Cg + c) * kh * kw;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const wv = w[wb + i * kw + j]!;
            if (wv === 0) continue;
            const lo = owLo[j]!;
            const hi = owHi[j]!;
            const off = j * dw - pl;
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * sh - pt + i * dh;
              if (ih < 0 || ih >= H) continue;
              const xr = xc + ih * W + off;
              const orow = o + oh * OW;
              for (let ow = lo; ow < hi; ow++) out[orow + ow] += wv * x[xr + ow * sw]!;
            }
          }
        }
      }
    }
  }
  return out;
}

/** The weights less their zero points (per tensor or per output channel), as int32. */
function centeredWeights(Wt: Tensor, zps: number[], M: number, op: string): Int32Array {
  const per = Wt.size / Math.max(M, 1);
  return centered(Wt, perIndex(zps, M, op, 'w_zero_point'), (i) => Math.floor(i / per));
}

const ConvInteger = defineOp<ConvAttrs>({
  attrs: qlinearDefs.ConvInteger.attrs,
  run(inputs, at) {
    const X = need(inputs, 0, 'x');
    const Wt = need(inputs, 1, 'w');
    const xt = eightBitOf(X, 'ConvInteger', 'x');
    const wt = eightBitOf(Wt, 'ConvInteger', 'w');
    const g = convGeometry(X, Wt, at, 'ConvInteger');
    const xz = zeroPointsOf(inputs[2], xt, 'ConvInteger', 'x_zero_point');
    if (xz.length !== 1) throw new UnsupportedError('ConvInteger with a per-channel x_zero_point');
    const wz = zeroPointsOf(inputs[3], wt, 'ConvInteger', 'w_zero_point');
    const acc = convInt32(centered(X, xz), centeredWeights(Wt, wz, g.M, 'ConvInteger'), g);
    return [new Tensor('int32', g.outShape, acc)];
  },
});

const QLinearConv = defineOp<ConvAttrs>({
  attrs: qlinearDefs.QLinearConv.attrs,
  run(inputs, at) {
    const op = 'QLinearConv';
    const X = need(inputs, 0, 'x');
    const Wt = need(inputs, 3, 'w');
    const xt = eightBitOf(X, op, 'x');
    const wt = eightBitOf(Wt, op, 'w');
    const yzp = need(inputs, 7, 'y_zero_point');
    const yt = eightBitOf(yzp, op, 'y_zero_point');
    const g = convGeometry(X, Wt, at, op);
    const xs = scalesOf(need(inputs, 1, 'x_scale'), op, 'x_scale');
    const xz = zeroPointsOf(need(inputs, 2, 'x_zero_point'), xt, op, 'x_zero_point');
    if (xs.length !== 1 || xz.length !== 1) throw new ShapeError(`${op} x_scale and x_zero_point must have one element`);
    const ws = perIndex(scalesOf(need(inputs, 4, 'w_scale'), op, 'w_scale'), g.M, op, 'w_scale');
    const wz = zeroPointsOf(need(inputs, 5, 'w_zero_point'), wt, op, 'w_zero_point');
    const ys = scalesOf(need(inputs, 6, 'y_scale'), op, 'y_scale');
    const yz = zeroPointsOf(yzp, yt, op, 'y_zero_point');
    if (ys.length !== 1 || yz.length !== 1) throw new ShapeError(`${op} y_scale and y_zero_point must have one element`);
    const B = inputs[8];
    if (B && (B.dtype !== 'int32' || B.rank !== 1 || B.shape[0] !== g.M)) throw new ShapeError(`${op} bias B must be int32 [${g.M}], got ${B.dtype} [${B.shape.join(', ')}]`);
    const acc = convInt32(centered(X, xz), centeredWeights(Wt, wz, g.M, op), g);
    const bias = B ? (B.data as Int32Array) : undefined;
    const mult = ws.map((s) => outputMultiplier(xs[0]!, s, ys[0]!));
    const [lo, hi] = rangeOf(yt);
    const y = eightBitArray(yt, acc.length);
    const plane = acc.length / Math.max(g.N * g.M, 1);
    for (let i = 0; i < acc.length; i++) {
      const m = Math.floor(i / plane) % g.M;
      y[i] = requantize(bias ? (acc[i]! + bias[m]!) | 0 : acc[i]!, mult[m]!, yz[0]!, lo, hi);
    }
    return [new Tensor(yt, g.outShape, y)];
  },
});

// ---- matrix multiplication ----

interface MatmulLayout {
  /** the output's shape */
  shape: number[];
  M: number;
  K: number;
  N: number;
  /** per output matrix: the first element of its A and B matrices */
  aBase: Int32Array;
  bBase: Int32Array;
}

/** numpy matmul shapes: 1-D operands promoted (and the added dim dropped), batch dims broadcast. */
export function matmulLayout(as: Shape, bs: Shape, op: string): MatmulLayout {
  if (as.length === 0 || bs.length === 0) throw new ShapeError(`${op} operands must have rank >= 1`);
  const a = as.length === 1 ? [1, as[0]!] : [...as];
  const b = bs.length === 1 ? [bs[0]!, 1] : [...bs];
  const [M, K] = [a[a.length - 2]!, a[a.length - 1]!];
  const [Kb, N] = [b[b.length - 2]!, b[b.length - 1]!];
  if (K !== Kb) throw new ShapeError(`${op} inner dimensions differ: [${as.join(', ')}] and [${bs.join(', ')}]`);
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  const ai = broadcastIndex(batch, a.slice(0, -2));
  const bi = broadcastIndex(batch, b.slice(0, -2));
  const shape = [...batch, ...(as.length === 1 ? [] : [M]), ...(bs.length === 1 ? [] : [N])];
  return { shape, M, K, N, aBase: ai.map((v) => v * M * K), bBase: bi.map((v) => v * K * N) };
}

/** Integer matmul of centered data: one int32 accumulator per output element. */
export function matmulInt32(a: Int32Array, b: Int32Array, l: MatmulLayout): Int32Array {
  const { M, K, N } = l;
  const out = new Int32Array(l.aBase.length * M * N);
  for (let p = 0; p < l.aBase.length; p++) {
    const ab = l.aBase[p]!;
    const bb = l.bBase[p]!;
    const ob = p * M * N;
    for (let i = 0; i < M; i++) {
      const orow = ob + i * N;
      for (let k = 0; k < K; k++) {
        const av = a[ab + i * K + k]!;
        if (av === 0) continue;
        const brow = bb + k * N;
        for (let j = 0; j < N; j++) out[orow + j] += av * b[brow + j]!;
      }
    }
  }
  return out;
}

/** A's data less its zero point: one, or one per row (M). */
function centeredRows(A: Tensor, zps: number[], l: MatmulLayout, op: string, what: string): Int32Array {
  const z = perIndex(zps, l.M, op, what);
  return centered(A, z, (i) => Math.floor(i / l.K) % l.M);
}

/** B's data less its zero point: one, or one per column (N). */
function centeredColumns(B: Tensor, zps: number[], l: MatmulLayout, op: string, what: string): Int32Array {
  const z = perIndex(zps, l.N, op, what);
  return centered(B, z, (i) => i % l.N);
}

const MatMulInteger = defineOp<Record<string, never>>({
  attrs: qlinearDefs.MatMulInteger.attrs,
  run(inputs) {
    const op = 'MatMulInteger';
    const A = need(inputs, 0, 'A');
    const B = need(inputs, 1, 'B');
    const at = eightBitOf(A, op, 'A');
    const bt = eightBitOf(B, op, 'B');
    const l = matmulLayout(A.shape, B.shape, op);
    const a = centeredRows(A, zeroPointsOf(inputs[2], at, op, 'a_zero_point'), l, op, 'a_zero_point');
    const b = centeredColumns(B, zeroPointsOf(inputs[3], bt, op, 'b_zero_point'), l, op, 'b_zero_point');
    return [new Tensor('int32', l.shape, matmulInt32(a, b, l))];
  },
});

const QLinearMatMul = defineOp<Record<string, never>>({
  attrs: qlinearDefs.QLinearMatMul.attrs,
  run(inputs) {
    const op = 'QLinearMatMul';
    const A = need(inputs, 0, 'a');
    const B = need(inputs, 3, 'b');
    const at = eightBitOf(A, op, 'a');
    const bt = eightBitOf(B, op, 'b');
    const yzp = need(inputs, 7, 'y_zero_point');
    const yt = eightBitOf(yzp, op, 'y_zero_point');
    const l = matmulLayout(A.shape, B.shape, op);
    const aS = perIndex(scalesOf(need(inputs, 1, 'a_scale'), op, 'a_scale'), l.M, op, 'a_scale');
    const bS = perIndex(scalesOf(need(inputs, 4, 'b_scale'), op, 'b_scale'), l.N, op, 'b_scale');
    const ys = scalesOf(need(inputs, 6, 'y_scale'), op, 'y_scale');
    const yz = zeroPointsOf(yzp, yt, op, 'y_zero_point');
    if (ys.length !== 1 || yz.length !== 1) throw new ShapeError(`${op} y_scale and y_zero_point must have one element`);
    const a = centeredRows(A, zeroPointsOf(need(inputs, 2, 'a_zero_point'), at, op, 'a_zero_point'), l, op, 'a_zero_point');
    const b = centeredColumns(B, zeroPointsOf(need(inputs, 5, 'b_zero_point'), bt, op, 'b_zero_point'), l, op, 'b_zero_point');
    const acc = matmulInt32(a, b, l);
    const [lo, hi] = rangeOf(yt);
    const y = eightBitArray(yt, acc.length);
    for (let i = 0; i < acc.length; i++) {
      const row = Math.floor(i / l.N) % l.M;
      const col = i % l.N;
      y[i] = requantize(acc[i]!, outputMultiplier(aS[row]!, bS[col]!, ys[0]!), yz[0]!, lo, hi);
    }
    return [new Tensor(yt, l.shape, y)];
  },
});

export const qlinearOps: OpTable = { QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger };
