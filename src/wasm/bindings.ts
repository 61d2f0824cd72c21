// Typed bindings of build/kernels.wasm: every export of assembly/index.ts with its signature.
// Pointers are byte addresses in the module's memory; `usize`/`i32` arguments are JS numbers,
// flags are 0/1. KERNEL_ARITY is checked against these signatures by the compiler, and against
// the built module by test/unit/wasm/bindings.test.ts, so the declaration cannot drift from the
// kernels without a failing build or test.
import type { BinaryOp, PoolKind, RoundingMode, UnaryOp } from './opcodes.js';

/** The kernel functions (assembly/kernels/*.ts via assembly/index.ts). */
export interface KernelFunctions {
  heapBase(): number;

  // gemm.ts: packed SIMD GEMM (A packed in MR-row panels, B in NR-column panels)
  gemmMR(): number;
  gemmNR(): number;
  gemmScratchBytes(): number;
  gemmPackA(src: number, rs: number, cs: number, M: number, K: number, alpha: number, dst: number): void;
  gemmPackB(src: number, rs: number, cs: number, K: number, N: number, dst: number): void;
  /** actMin/actMax: the fused activation's clamp (-Infinity, Infinity for none) */
  sgemmPacked(
    M: number, N: number, K: number, aPack: number, bPack: number, c: number, ldc: number, bias: number, accumulate: number, scratch: number,
    actMin: number, actMax: number,
  ): void;

  // conv.ts
  conv2dGemm(
    x: number, C: number, H: number, W: number, aPack: number, M: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, col: number, nChunk: number, scratch: number,
    actMin: number, actMax: number,
  ): void;
  depthwiseConv2d(
    x: number, C: number, H: number, W: number, w: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, pad: number,
    actMin: number, actMax: number,
  ): void;
  col2imAdd(col: number, M: number, H: number, W: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number): void;

  // pool.ts
  pool2d(
    x: number, C: number, H: number, W: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number,
    pt: number, pl: number, dh: number, dw: number, kind: PoolKind, invH: number, invW: number, pad: number,
  ): void;
  globalPool(x: number, NC: number, HW: number, y: number, kind: PoolKind): void;

  // elementwise.ts, softmax.ts
  binaryF32(
    op: BinaryOp, a: number, b: number, out: number,
    d0: number, d1: number, d2: number, d3: number,
    as0: number, as1: number, as2: number, as3: number,
    bs0: number, bs1: number, bs2: number, bs3: number,
  ): void;
  unaryF32(op: UnaryOp, x: number, out: number, n: number, p0: number, p1: number): void;
  channelAffineF32(x: number, scale: number, bias: number, out: number, outer: number, channels: number, inner: number): void;
  softmaxRowsF32(x: number, out: number, rows: number, cols: number, log: number): void;
  // recurrent.ts
  sgemvPacked(N: number, K: number, x: number, bPack: number, y: number): void;
  sigmoidF32(v: number, n: number, clip: number): void;
  tanhF32(v: number, n: number, clip: number): void;
  lstmCellF32(g: number, c: number, h: number, H: number, clip: number): void;
  gruCellF32(g: number, r: number, rbh: number, h: number, H: number, clip: number): void;
  gruResetF32(zr: number, g: number, h: number, rh: number, H: number, clip: number): void;
  gruUpdateF32(z: number, hh: number, gh: number, h: number, H: number, clip: number): void;

  // permute.ts: meta holds `rank` axes of 4 i32 (length, source stride, destination stride, 0)
  permute(src: number, dst: number, es: number, rank: number, meta: number): void;
  permuteStrided(src: number, dst: number, es: number, rank: number, meta: number): void;
  /** block tuning for bench/permute-ab.mjs */
  setPermuteTuning(minRows: number, w: number, h: number, g: number): void;

  // quantize.ts
  quantizeLinear(src: number, dst: number, n: number, scale: number, zp: number, qmin: number, qmax: number, mode: RoundingMode, unsigned: number): void;
  quantizePerAxis(
    src: number, dst: number, outer: number, channels: number, inner: number, scales: number, zps: number, qmin: number, qmax: number, mode: RoundingMode, unsigned: number,
  ): void;
  dequantizeLinear(src: number, dst: number, n: number, scale: number, zp: number, unsigned: number): void;
  dequantizePerAxis(src: number, dst: number, outer: number, channels: number, inner: number, scales: number, zps: number, unsigned: number): void;

  // half.ts
  float32ToFloat16(src: number, dst: number, n: number): void;
  float16ToFloat32(src: number, dst: number, n: number): void;
  float32ToBfloat16(src: number, dst: number, n: number): void;
  bfloat16ToFloat32(src: number, dst: number, n: number): void;

  // qconv.ts, qelementwise.ts: TFLite integer kernels (int8/uint8 NHWC; rq = requantization block of util/requantize.ts)
  qconv2d(
    x: number, unsignedIn: number, xzp: number, N: number, H: number, W: number, C: number, cOff: number, ipg: number,
    w: number, rq: number, mode: number, yzp: number, lo: number, hi: number, unsignedOut: number,
    y: number, O: number, oOff: number, opg: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, col: number, chunk: number,
  ): void;
  qconv1x1(x: number, unsignedIn: number, P: number, C: number, w: number, rq: number, mode: number, yzp: number, lo: number, hi: number, unsignedOut: number, y: number, O: number, chunk: number): void;
  qdepthwise(
    x: number, unsignedIn: number, xzp: number, N: number, H: number, W: number, C: number, w: number, rq: number, ibias: number, mode: number, yzp: number,
    lo: number, hi: number, unsignedOut: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number,
  ): void;
  // qconv16.ts: 16x8 (int16 activations with zero point 0, int64 bias and accumulators)
  qconv2d16(
    x: number, N: number, H: number, W: number, C: number, cOff: number, ipg: number,
    w: number, bias: number, mult: number, shift: number, yzp: number, lo: number, hi: number,
    y: number, O: number, oOff: number, opg: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, col: number, chunk: number,
  ): void;
  qdepthwise16(
    x: number, N: number, H: number, W: number, C: number, w: number, bias: number, mult: number, shift: number, yzp: number, lo: number, hi: number,
    y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, acc: number,
  ): void;
  qaddRef(
    a: number, b: number, y: number, n: number, unsignedIn: number, za: number, zb: number, leftShift: number, ma: number, sa: number, mb: number, sb: number,
    mo: number, so: number, sign: number, yzp: number, lo: number, hi: number, unsignedOut: number,
  ): void;
  qaddRef16(
    a: number, b: number, y: number, n: number, za: number, zb: number, leftShift: number, ma: number, sa: number, mb: number, sb: number,
    mo: number, so: number, sign: number, yzp: number, lo: number, hi: number,
  ): void;
  qaddXnnpack(a: number, b: number, y: number, n: number, unsignedIn: number, za: number, zb: number, am: number, bm: number, shift: number, yzp: number, lo: number, hi: number): void;
  qmul(a: number, b: number, y: number, n: number, unsignedIn: number, za: number, zb: number, m: number, s: number, yzp: number, lo: number, hi: number, unsignedOut: number): void;
  qavgPool(
    x: number, unsignedIn: number, N: number, H: number, W: number, C: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number,
    pt: number, pl: number, lo: number, hi: number, acc: number,
  ): void;
  qmaxPool(
    x: number, unsignedIn: number, N: number, H: number, W: number, C: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number,
    pt: number, pl: number, lo: number, hi: number, tail: number,
  ): void;
  qmean(
    x: number, unsignedIn: number, outer: number, red: number, inner: number, same: number, scale: number, bias: number, yzp: number, lo: number, hi: number, y: number, acc: number,
  ): void;

  // qelementwise16.ts: the 16x8 MUL, AVERAGE_POOL_2D, MEAN and float -> int16 QUANTIZE
  qmul16(a: number, b: number, y: number, n: number, za: number, zb: number, m: number, s: number, yzp: number, lo: number, hi: number): void;
  qavgPool16(
    x: number, N: number, H: number, W: number, C: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number,
    pt: number, pl: number, lo: number, hi: number, acc: number,
  ): void;
  qmean16(x: number, outer: number, red: number, inner: number, same: number, scale: number, bias: number, yzp: number, lo: number, hi: number, y: number, acc: number): void;
  quantize16(src: number, dst: number, n: number, scale: number, zp: number): void;

  // calibrate.ts
  minMax(src: number, n: number, out: number): void;
  minMaxPerAxis(src: number, outer: number, channels: number, inner: number, outMin: number, outMax: number): void;
  channelStats(src: number, outer: number, channels: number, inner: number, outMin: number, outMax: number, outSumSq: number, outSum: number, outNonZero: number): void;
  histogram(src: number, n: number, bins: number, lo: number, hi: number, counts: number): void;

  // gptq.ts: GPTQ weight rounding (input Hessians, the factor of H^-1, the column sweep)
  hessianAdd(x: number, rows: number, K: number, ld: number, h: number): void;
  hessianAddChannels(v: number, rows: number, T: number, C: number, h: number): void;
  /** 1 when H is positive definite (U written), else 0 */
  upperCholeskyOfInverse(h: number, n: number, l: number, t: number, u: number, ld: number): number;
  gptqRound(wt: number, rows: number, n: number, scales: number, u: number, qt: number, e: number, block: number, pk: number): void;
}

/** The instance's exports: the kernel functions and the memory they address. */
export interface KernelExports extends KernelFunctions {
  readonly memory: WebAssembly.Memory;
}

type Arity<F> = F extends (...args: infer P) => unknown ? P['length'] : never;

/** Parameter count of every kernel function: the compiler checks it against KernelFunctions. */
export const KERNEL_ARITY: { readonly [K in keyof KernelFunctions]: Arity<KernelFunctions[K]> } = {
  heapBase: 0,
  gemmMR: 0,
  gemmNR: 0,
  gemmScratchBytes: 0,
  gemmPackA: 7,
  gemmPackB: 6,
  sgemmPacked: 12,
  conv2dGemm: 23,
  depthwiseConv2d: 20,
  col2imAdd: 15,
  pool2d: 19,
  globalPool: 5,
  binaryF32: 16,
  unaryF32: 6,
  channelAffineF32: 7,
  softmaxRowsF32: 5,
  sgemvPacked: 5,
  sigmoidF32: 3,
  tanhF32: 3,
  lstmCellF32: 5,
  gruCellF32: 6,
  gruResetF32: 6,
  gruUpdateF32: 6,
  permute: 5,
  permuteStrided: 5,
  setPermuteTuning: 4,
  quantizeLinear: 9,
  quantizePerAxis: 11,
  dequantizeLinear: 6,
  dequantizePerAxis: 8,
  float32ToFloat16: 3,
  float16ToFloat32: 3,
  float32ToBfloat16: 3,
  bfloat16ToFloat32: 3,
  qconv2d: 32,
  qconv1x1: 14,
  qdepthwise: 26,
  qconv2d16: 30,
  qdepthwise16: 24,
  qaddRef: 19,
  qaddRef16: 17,
  qaddXnnpack: 13,
  qmul: 13,
  qavgPool: 18,
  qmaxPool: 18,
  qmean: 13,
  qmul16: 11,
  qavgPool16: 17,
  qmean16: 12,
  quantize16: 5,
  minMax: 3,
  minMaxPerAxis: 6,
  channelStats: 9,
  histogram: 6,
  hessianAdd: 5,
  hessianAddChannels: 5,
  upperCholeskyOfInverse: 6,
  gptqRound: 9,
};
