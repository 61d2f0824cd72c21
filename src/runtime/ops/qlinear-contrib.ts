// The com.microsoft quantized ops of onnxruntime's QOperator models, computed as onnxruntime's
// CPU kernels (MLAS) compute them, in float32 where they do: QLinearAdd / QLinearMul as scale
// ratios applied to the 8-bit values, QLinearSigmoid / QLinearLeakyRelu / QLinearConcat through a
// 256-entry table (dequantize, the float op, quantize), QLinearGlobalAveragePool as an int32 sum
// requantized by x_scale / (y_scale * size), QLinearAveragePool as a float mean of dequantized
// values, and QGemm as the integer GEMM of qlinear.ts with its int32 bias.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { forwardAxis, qlinearContribDefs, windowOf, type GemmAttrs, type PoolAttrs, type QLinearConcatAttrs, type QLinearLeakyReluAttrs } from '../../ir/ops/index.js';
import type { Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { broadcastIndex, broadcastShapes } from '../broadcast.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxis } from './args.js';
import { eightBitArray, eightBitOf, matmulInt32, outputMultiplier, rangeOf, requantize, roundHalfEven, scalesOf, zeroPointsOf, type EightBit } from './qlinear.js';

/** One scale and zero point of a per-tensor quantized value (inputs `i`, `i + 1`). */
function perTensor(inputs: ReadonlyArray<Tensor | undefined>, i: number, dtype: EightBit, op: string, what: string): { scale: number; zp: number } {
  const s = scalesOf(need(inputs, i, `${what}_scale`), op, `${what}_scale`);
  const z = zeroPointsOf(inputs[i + 1], dtype, op, `${what}_zero_point`);
  if (s.length !== 1 || z.length !== 1) throw new UnsupportedError(`com.microsoft.${op} with per-channel ${what} parameters`);
  return { scale: s[0]!, zp: z[0]! };
}

/** MlasQuantizeLinear of one float: round half to even of value / scale, plus the zero point, saturated. */
function quantizeValue(v: number, scale: number, zp: number, lo: number, hi: number): number {
  const q = roundHalfEven(Math.fround(v / scale)) + zp;
  return q < lo ? lo : q > hi ? hi : q;
}

/** The 256-entry table of a unary op on 8-bit data: dequantize, `f` in float32, quantize. */
function lookupTable(dtype: EightBit, x: { scale: number; zp: number }, y: { scale: number; zp: number }, f: (v: number) => number): Int32Array {
  const [lo, hi] = rangeOf(dtype);
  const table = new Int32Array(256);
  for (let q = lo; q <= hi; q++) table[q - lo] = quantizeValue(Math.fround(f(Math.fround((q - x.zp) * x.scale))), y.scale, y.zp, lo, hi);
  return table;
}

function applyTable(X: Tensor, table: Int32Array, dtype: EightBit): Tensor {
  const d = X.data as Uint8Array | Int8Array;
  const lo = rangeOf(dtype)[0];
  const y = eightBitArray(dtype, d.length);
  for (let i = 0; i < d.length; i++) y[i] = table[d[i]! - lo]!;
  return new Tensor(dtype, [...X.shape], y);
}

function unaryTableOp<A>(op: string, attrs: (node: Node, opset: number) => A, f: (a: A) => (v: number) => number) {
  return defineOp<A>({
    attrs,
    run(inputs, a) {
      const X = need(inputs, 0, 'X');
      const t = eightBitOf(X, op, 'X');
      if (inputs[4] && inputs[4].dtype !== t) throw new UnsupportedError(`com.microsoft.${op} from ${t} to ${inputs[4].dtype}`);
      const x = perTensor(inputs, 1, t, op, 'X');
      const y = perTensor(inputs, 3, t, op, 'Y');
      return [applyTable(X, lookupTable(t, x, y, f(a)), t)];
    },
  });
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

const QLinearSigmoid = unaryTableOp('QLinearSigmoid', qlinearContribDefs['com.microsoft::QLinearSigmoid'].attrs, () => sigmoid);
const QLinearLeakyRelu = unaryTableOp<QLinearLeakyReluAttrs>('QLinearLeakyRelu', qlinearContribDefs['com.microsoft::QLinearLeakyRelu'].attrs, (a) => (v) => (v >= 0 ? v : Math.fround(v * a.alpha)));

/** A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point, broadcast. */
function binaryOperands(inputs: ReadonlyArray<Tensor | undefined>, op: string) {
  const A = need(inputs, 0, 'A');
  const B = need(inputs, 3, 'B');
  const t = eightBitOf(A, op, 'A');
  if (B.dtype !== t) throw new ShapeError(`${op} A is ${t} but B is ${B.dtype}`);
  const a = perTensor(inputs, 1, t, op, 'A');
  const b = perTensor(inputs, 4, t, op, 'B');
  const c = perTensor(inputs, 6, t, op, 'C');
  const shape = broadcastShapes(A.shape, B.shape);
  return { t, a, b, c, shape, ai: broadcastIndex(shape, A.shape), bi: broadcastIndex(shape, B.shape), ad: A.data as Uint8Array | Int8Array, bd: B.data as Uint8Array | Int8Array };
}

const QLinearAdd = defineOp<Record<string, never>>({
  attrs: qlinearContribDefs['com.microsoft::QLinearAdd'].attrs,
  run(inputs) {
    const { t, a, b, c, shape, ai, bi, ad, bd } = binaryOperands(inputs, 'QLinearAdd');
    // MlasQLinearAdd: a * (sa / sc) + b * (sb / sc) + (zc - za * sa / sc - zb * sb / sc)
    const rA = Math.fround(a.scale / c.scale);
    const rB = Math.fround(b.scale / c.scale);
    const k = Math.fround(Math.fround(c.zp - Math.fround(rA * a.zp)) - Math.fround(rB * b.zp));
    const [lo, hi] = rangeOf(t);
    const y = eightBitArray(t, ai.length);
    for (let i = 0; i < y.length; i++) {
      const v = roundHalfEven(Math.fround(Math.fround(Math.fround(rA * ad[ai[i]!]!) + Math.fround(rB * bd[bi[i]!]!)) + k));
      y[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return [new Tensor(t, shape, y)];
  },
});

const QLinearMul = defineOp<Record<string, never>>({
  attrs: qlinearContribDefs['com.microsoft::QLinearMul'].attrs,
  run(inputs) {
    const { t, a, b, c, shape, ai, bi, ad, bd } = binaryOperands(inputs, 'QLinearMul');
    // MlasQLinearMul: (a - za) * (b - zb) * (sa * sb / sc), rounded, plus zc
    const m = Math.fround(Math.fround(a.scale * b.scale) / c.scale);
    const [lo, hi] = rangeOf(t);
    const y = eightBitArray(t, ai.length);
    for (let i = 0; i < y.length; i++) y[i] = requantize((ad[ai[i]!]! - a.zp) * (bd[bi[i]!]! - b.zp), m, c.zp, lo, hi);
    return [new Tensor(t, shape, y)];
  },
});

const QLinearConcat = defineOp<QLinearConcatAttrs>({
  attrs: qlinearContribDefs['com.microsoft::QLinearConcat'].attrs,
  run(inputs, at) {
    const op = 'QLinearConcat';
    const yzp = need(inputs, 1, 'Y_zero_point');
    const t = eightBitOf(yzp, op, 'Y_zero_point');
    const y = perTensor(inputs, 0, t, op, 'Y');
    const xs: Tensor[] = [];
    const tables: (Int32Array | undefined)[] = [];
    for (let i = 2; i < inputs.length; i += 3) {
      const X = need(inputs, i, `X${(i - 2) / 3}`);
      if (eightBitOf(X, op, 'X') !== t) throw new ShapeError(`${op} inputs must be ${t}, got ${X.dtype}`);
      const x = perTensor(inputs, i + 1, t, op, 'X');
      xs.push(X);
      // an input with the output's parameters is copied (onnxruntime builds no table for it)
      tables.push(x.scale === y.scale && x.zp === y.zp ? undefined : lookupTable(t, x, y, (v) => v));
    }
    const r = xs[0]!.rank;
    const axis = normAxis(at.axis, r, `${op} axis`);
    for (const X of xs) {
      if (X.rank !== r || X.shape.some((d, k) => k !== axis && d !== xs[0]!.shape[k])) throw new ShapeError(`${op} inputs [${xs[0]!.shape.join(', ')}] and [${X.shape.join(', ')}] differ outside axis ${axis}`);
    }
    const outer = xs[0]!.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = xs[0]!.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
    const total = xs.reduce((s, X) => s + X.shape[axis]!, 0);
    const shape = [...xs[0]!.shape];
    shape[axis] = total;
    const out = eightBitArray(t, outer * total * inner);
    const lo = rangeOf(t)[0];
    let at0 = 0;
    xs.forEach((X, k) => {
      const d = X.data as Uint8Array | Int8Array;
      const row = X.shape[axis]! * inner;
      const tb = tables[k];
      for (let o = 0; o < outer; o++) {
        const dst = o * total * inner + at0 * inner;
        for (let j = 0; j < row; j++) out[dst + j] = tb ? tb[d[o * row + j]! - lo]! : d[o * row + j]!;
      }
      at0 += X.shape[axis]!;
    });
    return [new Tensor(t, shape, out)];
  },
});

const QLinearGlobalAveragePool = defineOp<Record<string, never>>({
  attrs: qlinearContribDefs['com.microsoft::QLinearGlobalAveragePool'].attrs,
  run(inputs) {
    const op = 'QLinearGlobalAveragePool';
    const X = need(inputs, 0, 'X');
    const t = eightBitOf(X, op, 'X');
    if (X.rank < 3) throw new ShapeError(`${op} input must have rank >= 3 (N, C, spatial...), got [${X.shape.join(', ')}]`);
    const yt = inputs[4] ? eightBitOf(inputs[4], op, 'y_zero_point') : t;
    const x = perTensor(inputs, 1, t, op, 'x');
    const y = perTensor(inputs, 3, yt, op, 'y');
    const size = X.shape.slice(2).reduce((p, d) => p * d, 1);
    const rows = X.shape[0]! * X.shape[1]!;
    // MlasQLinearGlobalAveragePoolNchw: (sum - zx * size) requantized by x_scale / (y_scale * size)
    const m = Math.fround(x.scale / Math.fround(y.scale * size));
    const [lo, hi] = rangeOf(yt);
    const d = X.data as Uint8Array | Int8Array;
    const out = eightBitArray(yt, rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < size; j++) s += d[r * size + j]!;
      out[r] = requantize(s - x.zp * size, m, y.zp, lo, hi);
    }
    return [new Tensor(yt, [X.shape[0]!, X.shape[1]!, ...X.shape.slice(2).map(() => 1)], out)];
  },
});

const QLinearAveragePool = defineOp<PoolAttrs>({
  attrs: qlinearContribDefs['com.microsoft::QLinearAveragePool'].attrs,
  run(inputs, at) {
    const op = 'QLinearAveragePool';
    const X = need(inputs, 0, 'X');
    const t = eightBitOf(X, op, 'X');
    const yt = inputs[4] ? eightBitOf(inputs[4], op, 'y_zero_point') : t;
    const r = X.rank - 2;
    if (r < 1 || r > 2) throw new UnsupportedError(`${op} with ${r} spatial dims`, 'the quantized pool takes 1-D and 2-D windows');
    const k = at.kernelShape;
    if (k.length !== r) throw new ShapeError(`kernel_shape [${k.join(', ')}] must have ${r} entries`);
    const x = perTensor(inputs, 1, t, op, 'x');
    const y = perTensor(inputs, 3, yt, op, 'y');
    const w = windowOf(at, k, op);
    const sp = X.shape.slice(2);
    const geo = sp.map((inp, i) => {
      const [o, pb, pe] = forwardAxis(inp, k[i]!, w.s[i]!, w.d[i]!, w.pads[i]!, w.pads[i + r]!, at.autoPad, at.ceil);
      if (o < 0) throw new ShapeError(`${op} window ${k[i]} is larger than the padded input (${inp}) on spatial axis ${i}`);
      return { inp, o, pb, pe, k: k[i]!, s: w.s[i]! };
    });
    const [gh, gw] = r === 1 ? [{ inp: 1, o: 1, pb: 0, pe: 0, k: 1, s: 1 }, geo[0]!] : [geo[0]!, geo[1]!];
    const rows = X.shape[0]! * X.shape[1]!;
    const d = X.data as Uint8Array | Int8Array;
    const out = eightBitArray(yt, rows * gh.o * gw.o);
    const [lo, hi] = rangeOf(yt);
    // onnxruntime's QLinearPool: the mean of the dequantized values in float32, then quantized
    const deq = new Float32Array(256);
    const xlo = rangeOf(t)[0];
    for (let q = xlo; q < xlo + 256; q++) deq[q - xlo] = Math.fround((q - x.zp) * x.scale);
    const plane = gh.inp * gw.inp;
    for (let c = 0; c < rows; c++) {
      for (let oh = 0; oh < gh.o; oh++) {
        const h0 = oh * gh.s - gh.pb;
        const h1 = Math.min(h0 + gh.k, gh.inp + gh.pe);
        const hs = Math.max(h0, 0);
        const he = Math.min(h1, gh.inp);
        for (let ow = 0; ow < gw.o; ow++) {
          const w0 = ow * gw.s - gw.pb;
          const w1 = Math.min(w0 + gw.k, gw.inp + gw.pe);
          const ws = Math.max(w0, 0);
          const we = Math.min(w1, gw.inp);
          let s = 0;
          for (let i = hs; i < he; i++) for (let j = ws; j < we; j++) s = Math.fround(s + deq[d[c * plane + i * gw.inp + j]! - xlo]!);
          const count = at.countIncludePad ? (h1 - h0) * (w1 - w0) : (he - hs) * (we - ws);
          // (onnxruntime's pool adds the zero point before rounding: a tie rounds to the even output value)
          const q = roundHalfEven(Math.fround(Math.fround(Math.fround(s / count) / y.scale) + y.zp));
          out[(c * gh.o + oh) * gw.o + ow] = q < lo ? lo : q > hi ? hi : q;
        }
      }
    }
    return [new Tensor(yt, [X.shape[0]!, X.shape[1]!, ...(r === 1 ? [gw.o] : [gh.o, gw.o])], out)];
  },
});

const QGemm = defineOp<GemmAttrs>({
  attrs: qlinearContribDefs['com.microsoft::QGemm'].attrs,
  run(inputs, at) {
    const op = 'QGemm';
    const A = need(inputs, 0, 'A');
    const B = need(inputs, 3, 'B');
    const ta = eightBitOf(A, op, 'A');
    const tb = eightBitOf(B, op, 'B');
    if (A.rank !== 2 || B.rank !== 2) throw new ShapeError(`${op} needs 2-D A and B, got [${A.shape.join(', ')}] and [${B.shape.join(', ')}]`);
    const [M, K] = at.transA ? [A.shape[1]!, A.shape[0]!] : [A.shape[0]!, A.shape[1]!];
    const [Kb, N] = at.transB ? [B.shape[1]!, B.shape[0]!] : [B.shape[0]!, B.shape[1]!];
    if (K !== Kb) throw new ShapeError(`${op} inner dimensions differ: op(A) is [${M}, ${K}], op(B) is [${Kb}, ${N}]`);
    const a = perTensor(inputs, 1, ta, op, 'a');
    const bs = scalesOf(need(inputs, 4, 'b_scale'), op, 'b_scale');
    const bz = zeroPointsOf(inputs[5], tb, op, 'b_zero_point');
    if ((bs.length !== 1 && bs.length !== N) || (bz.length !== 1 && bz.length !== N)) throw new ShapeError(`${op} b_scale / b_zero_point must have 1 or ${N} elements`);
    // A and B as [M, K] and [K, N], less their zero points
    const ad = A.data as Uint8Array | Int8Array;
    const bd = B.data as Uint8Array | Int8Array;
    const ac = new Int32Array(M * K);
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) ac[i * K + k] = ad[at.transA ? k * M + i : i * K + k]! - a.zp;
    const bc = new Int32Array(K * N);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bc[k * N + j] = bd[at.transB ? j * K + k : k * N + j]! - bz[bz.length === 1 ? 0 : j]!;
    const acc = matmulInt32(ac, bc, { shape: [M, N], M, K, N, aBase: Int32Array.of(0), bBase: Int32Array.of(0) });
    const C = inputs[6];
    if (C) {
      if (C.dtype !== 'int32') throw new ShapeError(`${op} C must be int32, got ${C.dtype}`);
      const ci = broadcastIndex([M, N], C.shape);
      const cd = C.data as Int32Array;
      for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + cd[ci[i]!]!) | 0;
    }
    const scaleOf = (j: number) => Math.fround(Math.fround(at.alpha * a.scale) * bs[bs.length === 1 ? 0 : j]!);
    if (!inputs[7]) {
      // float output: alpha * a_scale * b_scale * acc
      const y = new Float32Array(acc.length);
      for (let i = 0; i < acc.length; i++) y[i] = Math.fround(Math.fround(acc[i]!) * scaleOf(i % N));
      return [new Tensor('float32', [M, N], y)];
    }
    const yt = inputs[8] ? eightBitOf(inputs[8], op, 'y_zero_point') : ta;
    const yq = perTensor(inputs, 7, yt, op, 'y');
    const [lo, hi] = rangeOf(yt);
    const y = eightBitArray(yt, acc.length);
    for (let i = 0; i < acc.length; i++) y[i] = requantize(acc[i]!, outputMultiplier(Math.fround(at.alpha * a.scale), bs[bs.length === 1 ? 0 : i % N]!, yq.scale), yq.zp, lo, hi);
    return [new Tensor(yt, [M, N], y)];
  },
});

export const qlinearContribOps: OpTable = {
  'com.microsoft::QLinearAdd': QLinearAdd,
  'com.microsoft::QLinearMul': QLinearMul,
  'com.microsoft::QLinearConcat': QLinearConcat,
  'com.microsoft::QLinearSigmoid': QLinearSigmoid,
  'com.microsoft::QLinearLeakyRelu': QLinearLeakyRelu,
  'com.microsoft::QLinearGlobalAveragePool': QLinearGlobalAveragePool,
  'com.microsoft::QLinearAveragePool': QLinearAveragePool,
  'com.microsoft::QGemm': QGemm,
};
