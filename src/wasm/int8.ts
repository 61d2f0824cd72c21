// The integer kernels (assembly/kernels/qconv.ts, qconv16.ts, qelementwise.ts) behind plain
// functions of typed arrays and numbers: TFLite's int8/uint8 CONV_2D (any group),
// DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD/SUB, MUL, AVERAGE_POOL_2D and MEAN, and the 16x8
// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and ADD/SUB. This file owns their WASM memory:
// activations are copied in and out per call; weights are packed once into int16 (minus their
// zero points, padded for the SIMD loops) and kept in persistent arena memory while the packed
// weight array lives. The problem types are shared with the scalar twins in
// src/runtime/integer/reference.ts, which define the arithmetic.
import type { WasmArena } from './arena.js';
import type { KernelExports } from './bindings.js';
import { copyOut8 as copyOutBytes } from './host-buffers.js';
import { kernels } from './loader.js';
import { ResidentBytes, residentPointer } from './resident.js';

export { ResidentBytes } from './resident.js';

export type QData = Int8Array | Uint8Array | Int16Array;
export type QDType = 'int8' | 'uint8' | 'int16';

/** Output grid and clamp (activation range already folded in). */
export interface QOutput {
  dtype: QDType;
  zp: number;
  lo: number;
  hi: number;
}

/**
 * Per-output-channel requantization: TFLite's fixed point (double rounding), XNNPACK's float32
 * scale when `fp32` is set, or the fixed point with one rounding when `single` is set (the
 * interpreter's builtin FULLY_CONNECTED; the WASM kernels run it in float64 where that is exact,
 * qconvRequantizesInF64).
 */
export interface ChannelRequant {
  mult: Int32Array;
  shift: Int32Array;
  fp32?: Float32Array;
  single?: boolean;
}

/** A conv (or, with h = kh = kw = 1, a fully-connected layer) on NHWC data. */
export interface QConvProblem {
  x: QData;
  xzp: number;
  n: number;
  h: number;
  w: number;
  c: number;
  /** (o, kh, kw, ipg) weights minus their zero points; also the key of the packed copy */
  weights: Int32Array;
  o: number;
  kh: number;
  kw: number;
  ipg: number;
  group: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** begin padding (top, left) */
  pt: number;
  pl: number;
  oh: number;
  ow: number;
  /** int32 bias per output channel */
  bias?: ArrayLike<number>;
  rq: ChannelRequant;
  out: QOutput;
}

/** ADD / SUB (sign ±1) or MUL of two equally-shaped per-tensor quantized arrays. */
export interface QBinaryProblem {
  a: QData;
  b: QData;
  za: number;
  zb: number;
  /** input scales and output scale */
  sa: number;
  sb: number;
  out: QOutput & { scale: number };
}

/** AVERAGE_POOL_2D on NHWC with the same grid in and out. */
export interface QPoolProblem {
  x: QData;
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  oh: number;
  ow: number;
  lo: number;
  hi: number;
}

/** MEAN over the middle axis of x[outer, red, inner]. */
export interface QMeanProblem {
  x: QData;
  outer: number;
  red: number;
  inner: number;
  sx: number;
  zx: number;
  out: QOutput & { scale: number };
}

const is8 = (a: QData): a is Int8Array | Uint8Array => a instanceof Int8Array || a instanceof Uint8Array;
const eightBit = (d: QDType) => d === 'int8' || d === 'uint8';
const unsignedFlag = (a: QData) => (a instanceof Uint8Array ? 1 : 0);

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

// Whether a requantization's multipliers and shifts are ones TFLite's QuantizeMultiplier can give, per object
const laneRequant = new WeakMap<ChannelRequant, boolean>();

/** Whether qconv2dWasm runs this problem (8-bit data, shifts TFLite's QuantizeMultiplier can give). */
export function qconvRunsOnWasm(p: QConvProblem): boolean {
  if (!is8(p.x) || !eightBit(p.out.dtype) || p.x.length === 0 || p.oh * p.ow * p.o === 0) return false;
  let ok = laneRequant.get(p.rq);
  if (ok === undefined) {
    ok = true;
    for (let i = 0; i < p.rq.shift.length; i++) if (p.rq.shift[i]! > 30 || p.rq.shift[i]! < -31 || p.rq.mult[i]! < 0) ok = false;
    laneRequant.set(p.rq, ok);
  }
  return ok;
}

// Requantization block rows (assembly/util/requantize.ts): int32 rows, then float64 rows
const RQ_ROWS = 6;
const RQ_F64_ROWS = 4;
// requantization modes of the conv kernels
const RQ_MODE_FIXED = 0;
const RQ_MODE_FP32 = 1;
const RQ_MODE_F64 = 2;
const RQ_MODE_F64_NONNEG = 3;
const RQ_MODE_SINGLE = 4;

/** The mode a conv runs with: the float64 fixed point without its negative-value correction when the output clamp starts at or above the zero point (fused ReLU/ReLU6). */
const runMode = (mode: number, out: QOutput): number => (mode === RQ_MODE_F64 && out.lo - out.zp >= 0 ? RQ_MODE_F64_NONNEG : mode);

/**
 * Write the requantization block of channels [from, from + count) (rows of roundUp(count, 8))
 * at p: the int32 rows of the 64-bit fixed point and the float32 scales, then the float64 rows
 * of the same fixed point as one floor (assembly/util/requantize.ts, fixedPointF64).
 */
function writeRequant(arena: WasmArena, p: number, rq: ChannelRequant, bias: ArrayLike<number> | undefined, from: number, count: number): void {
  const stride = roundUp(count, 8);
  const v = arena.i32(p, RQ_ROWS * stride);
  v.fill(0);
  const f = arena.f32(p + 5 * stride * 4, stride);
  const d = arena.f64(p + RQ_ROWS * stride * 4, RQ_F64_ROWS * stride);
  d.fill(0);
  for (let j = 0; j < count; j++) {
    const oc = from + j;
    const shift = rq.shift[oc]!;
    const left = shift > 0 ? shift : 0;
    const right = shift > 0 ? 0 : -shift;
    v[j] = bias ? bias[oc]! : 0;
    v[stride + j] = rq.mult[oc]!;
    v[2 * stride + j] = 2 ** left;
    v[3 * stride + j] = right > 0 ? 2 ** (31 - right) : 0;
    v[4 * stride + j] = right === 0 ? -1 : 0;
    if (rq.fp32) f[j] = rq.fp32[oc]!;
    // out = floor(v + h + k1 - [v < -h]·k2), v = acc·M·2^(left - 31 - right), h = 2^(30 - 31 - right),
    // taken as the nearest integer to v + h + k1 - 1/2 + q/2 - [v < -h]·k2, q = 2^-(31 + right)
    const h = 2 ** (-1 - right);
    d[j] = rq.mult[oc]! * 2 ** (left - 31 - right);
    if (rq.single) {
      // one rounding: RQ_MODE_SINGLE's shift T = 31 - shift; in float64 (bounded accumulators) floor(v + 1/2),
      // v on the grid of q = 2^(left - 31 - right), is v + q/2 rounded to nearest (never a tie), the
      // RQ_MODE_F64_NONNEG form with no correction of negative values
      v[2 * stride + j] = 31 - shift;
      d[2 * stride + j] = 2 ** (left - 32 - right);
      continue;
    }
    d[stride + j] = -h;
    d[2 * stride + j] = h + (right > 0 ? 0.5 : 0) - 0.5 + 2 ** (-32 - right);
    d[3 * stride + j] = right > 0 ? 2 ** -right : 0;
  }
}

/**
 * Whether every accumulator of this conv keeps |acc·M·2^left| below 2^52 - 2^32, where the
 * float64 form of the fixed point is exact: |bias| + max|x - zp|·Σ|w| per output channel.
 */
export function qconvRequantizesInF64(p: QConvProblem): boolean {
  const [lo, hi] = p.x instanceof Uint8Array ? [0, 255] : [-128, 127];
  const xMax = Math.max(Math.abs(lo - p.xzp), Math.abs(hi - p.xzp));
  const k = p.kh * p.kw * p.ipg;
  for (let oc = 0; oc < p.o; oc++) {
    let sum = 0;
    for (let i = oc * k; i < (oc + 1) * k; i++) sum += Math.abs(p.weights[i]!);
    const shift = p.rq.shift[oc]!;
    const bound = (Math.abs(p.bias ? p.bias[oc]! : 0) + xMax * sum) * p.rq.mult[oc]! * 2 ** (shift > 0 ? shift : 0);
    if (!(bound < 2 ** 52 - 2 ** 32)) return false;
  }
  return true;
}

/**
 * The per-channel blocks a conv's kernels read besides the weights, written once into
 * persistent memory while `rq` (the caller's per-node requantization) lives: per group the
 * requantization block (util/requantize.ts), and for depthwise the bias of interior pixels.
 */
interface ConvBlocks {
  bias: ArrayLike<number> | undefined;
  weights: Int32Array;
  xzp: number;
  group: number;
  unsignedIn: boolean;
  pointwise: boolean;
  ptr: number;
  /** the requantization mode of the kernels (RQ_MODE_*) */
  mode: number;
}

const convBlocks = new WeakMap<ChannelRequant, ConvBlocks>();

/** Bytes of one group's requantization block. */
const requantBytes = (count: number) => (RQ_ROWS * 4 + RQ_F64_ROWS * 8) * roundUp(count, 8);

function persistentConvBlocks(arena: WasmArena, p: QConvProblem, depthwise: boolean, pointwise: boolean): ConvBlocks {
  const unsignedIn = p.x instanceof Uint8Array;
  const hit = convBlocks.get(p.rq);
  if (hit && hit.bias === p.bias && hit.weights === p.weights && hit.xzp === p.xzp && hit.group === p.group && hit.unsignedIn === unsignedIn && hit.pointwise === pointwise) return hit;
  // depthwise: one block of every channel; else one per group
  const groups = depthwise ? 1 : p.group;
  const opg = p.o / groups;
  const taps = p.kh * p.kw;
  const cp = roundUp(p.c, 8);
  const rqBytes = requantBytes(opg);
  const ptr = arena.allocPersistent(rqBytes * groups + (depthwise ? cp * 4 : 0), p.rq);
  let bias = p.bias;
  if (pointwise && p.xzp !== 0) {
    // qconv1x1 reads the input as it is: bias - x_zp·Σw (wrapping as int32 sums do)
    const k = p.c;
    const folded = new Int32Array(p.o);
    for (let oc = 0; oc < p.o; oc++) {
      let sum = 0;
      for (let i = oc * k; i < (oc + 1) * k; i++) sum += p.weights[i]!;
      folded[oc] = ((p.bias ? p.bias[oc]! : 0) - p.xzp * sum) | 0;
    }
    bias = folded;
  }
  for (let g = 0; g < groups; g++) writeRequant(arena, ptr + g * rqBytes, p.rq, bias, g * opg, opg);
  if (depthwise) {
    // the bias of pixels with every tap inside, the input zero point folded in (wrapping as int32 sums do)
    const ibv = arena.i32(ptr + rqBytes, cp);
    ibv.fill(0);
    for (let c = 0; c < p.c; c++) {
      let sum = 0;
      for (let t = 0; t < taps; t++) sum += p.weights[c * taps + t]!;
      ibv[c] = ((p.bias ? p.bias[c]! : 0) - p.xzp * sum) | 0;
    }
  }
  // a replaced block is not freed here: its finalizer (owner p.rq) frees it with p.rq, and freeing
  // it now could let that finalizer free a later block at the same address
  const mode = p.rq.single ? (qconvRequantizesInF64(p) ? RQ_MODE_F64_NONNEG : RQ_MODE_SINGLE) : p.rq.fp32 ? RQ_MODE_FP32 : qconvRequantizesInF64(p) ? RQ_MODE_F64 : RQ_MODE_FIXED;
  const blocks = { bias: p.bias, weights: p.weights, xzp: p.xzp, group: p.group, unsignedIn, pointwise, ptr, mode };
  convBlocks.set(p.rq, blocks);
  return blocks;
}

// Packed int16 weights, persistent while their source array lives.
const packedQ = new WeakMap<Int32Array, Map<string, number>>();

function persistentQWeights(arena: WasmArena, weights: Int32Array, key: string, shorts: number, fill: (dst: Int16Array) => void): number {
  let m = packedQ.get(weights);
  const hit = m?.get(key);
  if (hit !== undefined) return hit;
  const p = arena.allocPersistent(shorts * 2, weights);
  const dst = new Int16Array(arena.memory.buffer, p, shorts);
  dst.fill(0);
  fill(dst);
  if (!m) packedQ.set(weights, (m = new Map()));
  m.set(key, p);
  return p;
}

/** Copy an 8-bit array into the arena with 16 bytes of slack for the kernels' 8-lane loads. */
/**
 * Conv weights for the 8-bit and 16x8 conv kernels (one layout, one cached copy): per group,
 * (roundUp(opg, 4), Kp) rows of the group's (kh, kw, ipg) taps.
 */
function groupedConvWeights(arena: WasmArena, p: QConvProblem): number {
  const opg = p.o / p.group;
  const K = p.kh * p.kw * p.ipg;
  const kp = roundUp(K, 8);
  const block = roundUp(opg, 4) * kp;
  return persistentQWeights(arena, p.weights, `conv:${p.group}`, block * p.group, (dst) => {
    for (let oc = 0; oc < p.o; oc++) {
      const g = Math.floor(oc / opg);
      dst.set(p.weights.subarray(oc * K, (oc + 1) * K), g * block + (oc - g * opg) * kp);
    }
  });
}

/**
 * Weights of the 8-bit conv kernels qconv1x1 and qconv2d (assembly/kernels/qconv.ts,
 * gemmC2S4): per group, blocks of 8 of its channels; in each, per 8 k of the group's
 * K = kh·kw·ipg (Kp = roundUp(K, 8)), per rotation r (0..3) and half v (0, 1), eight int16
 * whose pair c holds channel 8b + 4v + c at k = 8s + 2·((c + r) & 3) and the k after it; zero
 * past the group's channels and K. One group takes roundUp(opg, 8)·Kp int16.
 */
function c2s4Weights(arena: WasmArena, p: QConvProblem): number {
  const K = p.kh * p.kw * p.ipg;
  const kp = roundUp(K, 8);
  const steps = kp / 8;
  const opg = p.o / p.group;
  const blocks = roundUp(opg, 8) / 8;
  return persistentQWeights(arena, p.weights, `c2s4:${p.group}`, p.group * blocks * 8 * kp, (dst) => {
    let i = 0;
    for (let g = 0; g < p.group; g++)
      for (let b = 0; b < blocks; b++)
        for (let s = 0; s < steps; s++)
          for (let r = 0; r < 4; r++)
            for (let v = 0; v < 2; v++)
              for (let c = 0; c < 4; c++) {
                const j = 8 * b + 4 * v + c;
                const k = 8 * s + 2 * ((c + r) & 3);
                for (let e = 0; e < 2; e++, i++) if (j < opg && k + e < K) dst[i] = p.weights[(g * opg + j) * K + k + e]!;
              }
  });
}

const isDepthwise = (p: QConvProblem) => p.group === p.c && p.ipg === 1 && p.o === p.c;

/** A 1x1 conv whose output pixels are its input pixels (stride 1, no padding, one group), or FULLY_CONNECTED: no im2col. */
const isPointwise = (p: QConvProblem) => p.group === 1 && p.kh === 1 && p.kw === 1 && p.pt === 0 && p.pl === 0 && p.oh === p.h && p.ow === p.w && p.sh === 1 && p.sw === 1;

function copyIn8(arena: WasmArena, a: Int8Array | Uint8Array): number {
  const p = arena.alloc(a.length + 16);
  const dst = arena.u8(p, a.length + 16);
  dst.set(new Uint8Array(a.buffer, a.byteOffset, a.length));
  dst.fill(0, a.length);
  return p;
}

/** The output at p copied into a host array (a reused one when the executor gave one back: wasm/host-buffers.ts). */
function copyOut8(arena: WasmArena, dtype: QDType, p: number, n: number): Int8Array | Uint8Array {
  return copyOutBytes(kernels(), p, n, dtype === 'uint8');
}

/** An 8-bit kernel result: a host array, or (resident mode) the block in WASM memory it was written to. */
export type Q8Result = Int8Array | Uint8Array | ResidentBytes;

/**
 * Where an 8-bit kernel call takes its inputs and puts its output: an input in place when it is
 * a view into WASM memory (a resident activation), else copied into scratch (inputPtr); the
 * output in a pooled block when `resident`, else scratch copied out (outputPtr, result8). Made
 * before the call's first allocation (an input view detaches when memory grows); the rest runs
 * inside the call's arena.scoped.
 */
interface Io8 {
  xs: ReadonlyArray<Int8Array | Uint8Array>;
  inPlace: (number | undefined)[];
  block: ResidentBytes | undefined;
  outBytes: number;
  outDtype: QDType;
}

function io8(xs: ReadonlyArray<Int8Array | Uint8Array>, outBytes: number, outDtype: QDType, resident: boolean): Io8 {
  const inPlace = [residentPointer(xs[0]!), xs.length > 1 ? residentPointer(xs[1]!) : undefined];
  return { xs, inPlace, block: resident ? ResidentBytes.alloc(outBytes, outDtype === 'uint8') : undefined, outBytes, outDtype };
}

const inputPtr = (io: Io8, arena: WasmArena, i: number): number => io.inPlace[i] ?? copyIn8(arena, io.xs[i]!);
const outputPtr = (io: Io8, arena: WasmArena): number => io.block?.ptr ?? arena.alloc(io.outBytes);
const result8 = (io: Io8, arena: WasmArena, p: number): Q8Result => io.block ?? copyOut8(arena, io.outDtype, p, io.outBytes);

/**
 * Bytes of A rows (im2col's int16 rows, or the input's own 8-bit rows) per chunk of output
 * pixels: each chunk passes every weight block, so small chunks keep A in L1 but read the
 * weights once per chunk. 32 KB while the weights are small; 256 KB (A in L2) when they are
 * large: a 3x3 512 -> 512 conv has 2.4 MB, which 32 KB chunks of 6 pixels read 9 times from
 * DRAM (resnet18's 7x7 layers ran at a third of the speed of the others).
 */
const chunkBytes = (weightBytes: number): number => (weightBytes > 256 * 1024 ? 256 * 1024 : 32 * 1024);

/** Rows per chunk: a multiple of 4 (the micro-kernel's rows), at least 4. */
const rowsPerChunk = (rowBytes: number, weightBytes: number): number => Math.max(4, Math.floor(chunkBytes(weightBytes) / rowBytes / 4) * 4);


/** CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on the WASM kernels (check qconvRunsOnWasm first); `resident`: the output stays in WASM memory. */
export function qconv2dWasm(p: QConvProblem): Int8Array | Uint8Array;
export function qconv2dWasm(p: QConvProblem, resident: boolean): Q8Result;
export function qconv2dWasm(p: QConvProblem, resident = false): Q8Result {
  const { exports: k, arena } = kernels();
  const x = p.x as Int8Array | Uint8Array;
  const opg = p.o / p.group;
  const size = p.n * p.oh * p.ow * p.o;
  const io = io8([x], size, p.out.dtype, resident);
  const depthwise = isDepthwise(p);
  const taps = p.kh * p.kw;
  let wp: number;
  if (depthwise) {
    // (kh*kw, Cp): one 8-channel vector per tap; then the taps in pairs, each channel's two
    // weights adjacent, for the dot-product path (assembly/kernels/qconv.ts)
    const cp = roundUp(p.c, 8);
    const pairs = Math.floor(taps / 2);
    wp = persistentQWeights(arena, p.weights, 'dw', (taps + 2 * pairs) * cp, (dst) => {
      for (let c = 0; c < p.c; c++) {
        for (let t = 0; t < taps; t++) dst[t * cp + c] = p.weights[c * taps + t]!;
        for (let j = 0; j < pairs; j++) {
          dst[taps * cp + j * 2 * cp + 2 * c] = p.weights[c * taps + 2 * j]!;
          dst[taps * cp + j * 2 * cp + 2 * c + 1] = p.weights[c * taps + 2 * j + 1]!;
        }
      }
    });
  } else wp = c2s4Weights(arena, p);
  const pointwise = !depthwise && isPointwise(p);
  const { ptr: blocks, mode: blockMode } = persistentConvBlocks(arena, p, depthwise, pointwise);
  const mode = runMode(blockMode, p.out);
  return arena.scoped(() => {
    const xp = inputPtr(io, arena, 0);
    const yp = outputPtr(io, arena);
    const uIn = unsignedFlag(x);
    const uOut = p.out.dtype === 'uint8' ? 1 : 0;
    const { zp, lo, hi } = p.out;
    const rqBytes = requantBytes(opg);
    if (depthwise) {
      const cp = roundUp(p.c, 8);
      const ib = arena.alloc((cp + taps) * 4);
      arena.u8(ib, cp * 4).set(arena.u8(blocks + requantBytes(p.o), cp * 4));
      k.qdepthwise(xp, uIn, p.xzp, p.n, p.h, p.w, p.c, wp, blocks, ib, mode, zp, lo, hi, uOut, yp, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.dh, p.dw);
    } else if (pointwise) {
      const chunk = rowsPerChunk(p.c, p.o * roundUp(p.c, 8) * 2);
      k.qconv1x1(xp, uIn, p.n * p.h * p.w, p.c, wp, blocks, mode, zp, lo, hi, uOut, yp, p.o, chunk);
    } else {
      const kp = roundUp(taps * p.ipg, 8);
      const chunk = rowsPerChunk(kp * 2, p.o * kp * 2);
      const col = arena.alloc(chunk * kp * 2 + 16);
      const block = roundUp(opg, 8) * kp * 2;
      for (let g = 0; g < p.group; g++) {
        k.qconv2d(
          xp, uIn, p.xzp, p.n, p.h, p.w, p.c, g * p.ipg, p.ipg, wp + g * block, blocks + g * rqBytes, mode, zp, lo, hi, uOut,
          yp, p.o, g * opg, opg, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.dh, p.dw, col, chunk,
        );
      }
    }
    return result8(io, arena, yp);
  });
}

/** Whether the binary kernels run this problem (8-bit, equal sizes, one dtype in). */
export function qbinaryRunsOnWasm(p: QBinaryProblem): boolean {
  return is8(p.a) && is8(p.b) && p.a.constructor === p.b.constructor && p.a.length === p.b.length && p.a.length > 0 && eightBit(p.out.dtype);
}

/** Whether a fixed-point multiplier suits the lane-wise kernels (what QuantizeMultiplier gives for a positive scale). */
export const laneMultiplier = (m: number, shift: number): boolean => m >= 0 && shift <= 30 && shift >= -31;

function binary(p: QBinaryProblem, resident: boolean, run: (k: KernelExports, a: number, b: number, y: number, n: number, u: number) => void): Q8Result {
  const { exports: k, arena } = kernels();
  const n = p.a.length;
  const io = io8([p.a as Int8Array, p.b as Int8Array], n, p.out.dtype, resident);
  return arena.scoped(() => {
    const a = inputPtr(io, arena, 0);
    const b = inputPtr(io, arena, 1);
    const y = outputPtr(io, arena);
    run(k, a, b, y, n, unsignedFlag(p.a));
    return result8(io, arena, y);
  });
}

/** Reference ADD/SUB: multipliers (ma, sa), (mb, sb) onto the shared grid, (mo, so) to the output. */
export function qaddRefWasm(p: QBinaryProblem, sign: 1 | -1, leftShift: number, m: { ma: number; sa: number; mb: number; sb: number; mo: number; so: number }, resident = false): Q8Result {
  const { zp, lo, hi } = p.out;
  return binary(p, resident, (k, a, b, y, n, u) => k.qaddRef(a, b, y, n, u, p.za, p.zb, leftShift, m.ma, m.sa, m.mb, m.sb, m.mo, m.so, sign, zp, lo, hi, p.out.dtype === 'uint8' ? 1 : 0));
}

/** Whether qaddRef16Wasm runs this problem (int16 in and out, equal sizes). */
export function qbinary16RunsOnWasm(p: QBinaryProblem): boolean {
  return p.a instanceof Int16Array && p.b instanceof Int16Array && p.a.length === p.b.length && p.a.length > 0 && p.out.dtype === 'int16';
}

/** 16-bit ADD/SUB with the reference kernels' multipliers (leftShift 15 for TFLite's int16 kernel). */
export function qaddRef16Wasm(p: QBinaryProblem, sign: 1 | -1, leftShift: number, m: { ma: number; sa: number; mb: number; sb: number; mo: number; so: number }): Int16Array {
  const { exports: k, arena } = kernels();
  const n = p.a.length;
  const { zp, lo, hi } = p.out;
  return arena.scoped(() => {
    const a = arena.copyIn(p.a);
    const b = arena.copyIn(p.b);
    const y = arena.alloc(n * 2);
    k.qaddRef16(a, b, y, n, p.za, p.zb, leftShift, m.ma, m.sa, m.mb, m.sb, m.mo, m.so, sign, zp, lo, hi);
    return new Int16Array(arena.memory.buffer, y, n).slice();
  });
}

/** XNNPACK's ADD with its integer multipliers (bm negative for SUB) and shift (1..62). */
export function qaddXnnpackWasm(p: QBinaryProblem, am: number, bm: number, shift: number, resident = false): Q8Result {
  const { zp, lo, hi } = p.out;
  return binary(p, resident, (k, a, b, y, n, u) => k.qaddXnnpack(a, b, y, n, u, p.za, p.zb, am, bm, shift, zp, lo, hi));
}

/** MUL with the fixed-point multiplier (m, s) of s_a·s_b/s_out. */
export function qmulWasm(p: QBinaryProblem, m: number, s: number, resident = false): Q8Result {
  const { zp, lo, hi } = p.out;
  return binary(p, resident, (k, a, b, y, n, u) => k.qmul(a, b, y, n, u, p.za, p.zb, m, s, zp, lo, hi, p.out.dtype === 'uint8' ? 1 : 0));
}

export function qavgPoolRunsOnWasm(p: QPoolProblem): boolean {
  return is8(p.x) && p.x.length > 0 && p.oh * p.ow > 0;
}

/** An 8-bit pool (same grid in and out; output dtype is the input's): `call` runs the kernel on x, y and `scratch` bytes of scratch. */
function pool8(p: QPoolProblem, resident: boolean, scratch: number, call: (k: KernelExports, x: number, y: number, s: number) => void): Q8Result {
  const { exports: k, arena } = kernels();
  const size = p.n * p.oh * p.ow * p.c;
  const dtype: QDType = p.x instanceof Uint8Array ? 'uint8' : 'int8';
  const io = io8([p.x as Int8Array], size, dtype, resident);
  return arena.scoped(() => {
    const x = inputPtr(io, arena, 0);
    const y = outputPtr(io, arena);
    call(k, x, y, arena.alloc(scratch));
    return result8(io, arena, y);
  });
}

/** AVERAGE_POOL_2D (same grid in and out); output dtype is the input's. */
export function qavgPoolWasm(p: QPoolProblem, resident = false): Q8Result {
  return pool8(p, resident, p.c * 4, (k, x, y, acc) => k.qavgPool(x, unsignedFlag(p.x), p.n, p.h, p.w, p.c, y, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.lo, p.hi, acc));
}

/** MAX_POOL_2D on 8-bit data (same grid in and out: TFLite's int8 max pool); output dtype is the input's. */
export function qmaxPoolWasm(p: QPoolProblem, resident = false): Q8Result {
  return pool8(p, resident, 16, (k, x, y, tail) => k.qmaxPool(x, unsignedFlag(p.x), p.n, p.h, p.w, p.c, y, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.lo, p.hi, tail));
}

export function qmeanRunsOnWasm(p: QMeanProblem): boolean {
  return is8(p.x) && p.x.length > 0 && p.red > 0 && eightBit(p.out.dtype);
}

/** MEAN's rescale: integer rounding on equal grids (same = 1), else TFLite's float32 scale = s_x/s_y and bias = -z_x·scale. */
function meanRescale(p: QMeanProblem): { same: number; scale: number; bias: number } {
  const scale = Math.fround(p.sx / p.out.scale);
  return { same: p.sx === p.out.scale && p.zx === p.out.zp ? 1 : 0, scale, bias: Math.fround(-p.zx * scale) };
}

/** MEAN: TFLite's float32 rescale, or integer rounding on equal grids. */
export function qmeanWasm(p: QMeanProblem, resident = false): Q8Result {
  const { exports: k, arena } = kernels();
  const size = p.outer * p.inner;
  const { same, scale, bias } = meanRescale(p);
  const io = io8([p.x as Int8Array], size, p.out.dtype, resident);
  return arena.scoped(() => {
    const x = inputPtr(io, arena, 0);
    const y = outputPtr(io, arena);
    const acc = arena.alloc(p.inner * 8);
    k.qmean(x, unsignedFlag(p.x), p.outer, p.red, p.inner, same, scale, bias, p.out.zp, p.out.lo, p.out.hi, y, acc);
    return result8(io, arena, y);
  });
}

// Whether a packed weight array fits the 16x8 kernels' int32 partial sums (|w| <= 255).
const weightsFit16 = new WeakMap<Int32Array, boolean>();

/**
 * Whether qconv2d16Wasm runs this problem: int16 in and out with input zero point 0 (TFLite's
 * 16x8), weights within ±255, shifts of TFLite's QuantizeMultiplier; depthwise up to 255 taps.
 */
export function qconv16RunsOnWasm(p: QConvProblem): boolean {
  if (!(p.x instanceof Int16Array) || p.out.dtype !== 'int16' || p.xzp !== 0 || p.x.length === 0 || p.oh * p.ow * p.o === 0) return false;
  for (let i = 0; i < p.rq.shift.length; i++) if (p.rq.shift[i]! > 14 || p.rq.shift[i]! < -31 || p.rq.mult[i]! < 0) return false;
  if (p.bias) for (let i = 0; i < p.o; i++) if (!Number.isSafeInteger(p.bias[i]!)) return false;
  let fits = weightsFit16.get(p.weights);
  if (fits === undefined) {
    fits = p.weights.every((v) => v >= -255 && v <= 255);
    weightsFit16.set(p.weights, fits);
  }
  return fits && !(isDepthwise(p) && p.kh * p.kw > 255);
}


/** CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED 16x8 on the WASM kernels (check qconv16RunsOnWasm first). */
export function qconv2d16Wasm(p: QConvProblem): Int16Array {
  const { exports: k, arena } = kernels();
  const x = p.x as Int16Array;
  const opg = p.o / p.group;
  const size = p.n * p.oh * p.ow * p.o;
  const depthwise = isDepthwise(p);
  const taps = p.kh * p.kw;
  let wp: number;
  if (depthwise) {
    // (kh*kw, Cp): one 8-channel vector per tap
    const cp = roundUp(p.c, 8);
    wp = persistentQWeights(arena, p.weights, 'dw16', taps * cp, (dst) => {
      for (let c = 0; c < p.c; c++) for (let t = 0; t < taps; t++) dst[t * cp + c] = p.weights[c * taps + t]!;
    });
  } else wp = groupedConvWeights(arena, p);
  return arena.scoped(() => {
    const xp = arena.alloc(x.byteLength + 16);
    arena.u8(xp, x.byteLength + 16).fill(0);
    new Int16Array(arena.memory.buffer, xp, x.length).set(x);
    const yp = arena.alloc(size * 2);
    // per-channel int64 bias, multiplier and shift
    const bp = arena.alloc(p.o * 8);
    const bias = new BigInt64Array(arena.memory.buffer, bp, p.o);
    for (let oc = 0; oc < p.o; oc++) bias[oc] = BigInt(p.bias ? p.bias[oc]! : 0);
    const mp = arena.alloc(p.o * 4);
    arena.i32(mp, p.o).set(p.rq.mult.subarray(0, p.o));
    const sp = arena.alloc(p.o * 4);
    arena.i32(sp, p.o).set(p.rq.shift.subarray(0, p.o));
    const { zp, lo, hi } = p.out;
    if (depthwise) {
      const acc = arena.alloc(roundUp(p.c, 8) * 4);
      k.qdepthwise16(xp, p.n, p.h, p.w, p.c, wp, bp, mp, sp, zp, lo, hi, yp, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.dh, p.dw, acc);
    } else {
      const kp = roundUp(taps * p.ipg, 8);
      const chunk = Math.max(2, Math.floor(chunkBytes(p.o * kp * 2) / (kp * 2 * 2)) * 2);
      const col = arena.alloc(chunk * kp * 2 + 16);
      const block = roundUp(opg, 4) * kp * 2;
      for (let g = 0; g < p.group; g++) {
        k.qconv2d16(
          xp, p.n, p.h, p.w, p.c, g * p.ipg, p.ipg, wp + g * block, bp + g * opg * 8, mp + g * opg * 4, sp + g * opg * 4, zp, lo, hi,
          yp, p.o, g * opg, opg, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.dh, p.dw, col, chunk,
        );
      }
    }
    return new Int16Array(arena.memory.buffer, yp, size).slice();
  });
}

/** Whether qmul16Wasm runs this problem (int16 in and out, equal sizes, a lane-wise multiplier). */
export function qmul16RunsOnWasm(p: QBinaryProblem, m: number, s: number): boolean {
  return qbinary16RunsOnWasm(p) && laneMultiplier(m, s);
}

const int16Out = (arena: WasmArena, p: number, n: number): Int16Array => new Int16Array(arena.memory.buffer, p, n).slice();

/** 16x8 MUL with the fixed-point multiplier (m, s) of s_a·s_b/s_out. */
export function qmul16Wasm(p: QBinaryProblem, m: number, s: number): Int16Array {
  const { exports: k, arena } = kernels();
  const n = p.a.length;
  const { zp, lo, hi } = p.out;
  return arena.scoped(() => {
    const a = arena.copyIn(p.a as Int16Array);
    const b = arena.copyIn(p.b as Int16Array);
    const y = arena.alloc(n * 2);
    k.qmul16(a, b, y, n, p.za, p.zb, m, s, zp, lo, hi);
    return int16Out(arena, y, n);
  });
}

export function qavgPool16RunsOnWasm(p: QPoolProblem): boolean {
  return p.x instanceof Int16Array && p.x.length > 0 && p.oh * p.ow > 0 && p.kh * p.kw <= 65536;
}

/** 16x8 AVERAGE_POOL_2D (same grid in and out). */
export function qavgPool16Wasm(p: QPoolProblem): Int16Array {
  const { exports: k, arena } = kernels();
  const size = p.n * p.oh * p.ow * p.c;
  return arena.scoped(() => {
    const x = arena.copyIn(p.x as Int16Array);
    const y = arena.alloc(size * 2);
    const acc = arena.alloc(p.c * 4);
    k.qavgPool16(x, p.n, p.h, p.w, p.c, y, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.lo, p.hi, acc);
    return int16Out(arena, y, size);
  });
}

export function qmean16RunsOnWasm(p: QMeanProblem): boolean {
  return p.x instanceof Int16Array && p.x.length > 0 && p.red > 0 && p.out.dtype === 'int16';
}

/** 16x8 MEAN: TFLite's float32 rescale, or integer rounding on equal grids. */
export function qmean16Wasm(p: QMeanProblem): Int16Array {
  const { exports: k, arena } = kernels();
  const size = p.outer * p.inner;
  const { same, scale, bias } = meanRescale(p);
  return arena.scoped(() => {
    const x = arena.copyIn(p.x as Int16Array);
    const y = arena.alloc(size * 2);
    const acc = arena.alloc(p.inner * 8);
    k.qmean16(x, p.outer, p.red, p.inner, same, scale, bias, p.out.zp, p.out.lo, p.out.hi, y, acc);
    return int16Out(arena, y, size);
  });
}

/** TFLite's QUANTIZE float32 -> int16: x / scale in double, rounded half away from zero, NaN to the zero point. */
export function quantize16Wasm(x: Float32Array, scale: number, zp: number): Int16Array {
  const { exports: k, arena } = kernels();
  const n = x.length;
  return arena.scoped(() => {
    const src = arena.copyIn(x);
    const y = arena.alloc(n * 2);
    k.quantize16(src, y, n, Math.fround(scale), zp);
    return int16Out(arena, y, n);
  });
}
