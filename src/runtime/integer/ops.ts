// Integer kernels of the `nnport.int` ops (islands.ts) with the arithmetic of TFLite's
// reference integer kernels: int32 (int64 for 16x8) accumulators, per-channel fixed-point
// requantization, TFLite's rounding, activation clamps in the quantized domain. Data is
// channels-last as in the `nnport` ops they replace. Plain scalar TypeScript loops.
import type { DType } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { quantizePerAxis, quantizePerTensor } from '../../wasm/quantize.js';
import { broadcastShapes } from '../broadcast.js';
import type { PadAttrs } from '../../ir/ops/index.js';
import { defineOp, type OpTable } from '../op.js';
import { ONNX_OPS } from '../ops/index.js';
import { need, normAxis, readNumbers } from '../ops/args.js';
import { reduceOp } from '../ops/reduce.js';
import {
  laneMultiplier, qaddRef16Wasm, qavgPool16RunsOnWasm, qavgPool16Wasm, qmean16RunsOnWasm, qmean16Wasm, qmul16RunsOnWasm, qmul16Wasm, quantize16Wasm, qaddRefWasm, qbinary16RunsOnWasm, qconv16RunsOnWasm, qconv2d16Wasm, qaddXnnpackWasm, qavgPoolRunsOnWasm, qavgPoolWasm, qmaxPoolWasm, qbinaryRunsOnWasm, qconv2dWasm, qconvRunsOnWasm, qmeanRunsOnWasm, qmeanWasm, qmulWasm,
  ResidentBytes, type ChannelRequant, type Q8Result, type QBinaryProblem, type QConvProblem, type QData, type QDType, type QMeanProblem, type QPoolProblem,
} from '../../wasm/int8.js';
import { logisticInt16, softmaxInt16, tanhInt16 } from './activations16.js';
import { clampInt, multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway } from './fixed-point.js';
import { tanhf } from './float32-math.js';
import { hardSwishInteger } from './hard-swish.js';
import { requantizationModeOf, requantizationOf } from './requantization.js';
import { QUANTIZED_LSTM_INTEGER_OPS } from './lstm.js';
import { SVDF_INTEGER_OPS } from './svdf.js';
import { qtransposeConv2dReference, type QTransposeConvProblem } from './transpose-conv.js';
import { BatchMatMulInt } from './batch-matmul.js';
import { outArray, qaddPot16Reference, qmaxPoolReference, qaddReference, qaddXnnpackReference, qavgPoolReference, qconv2dReference, qmeanReference, qmulReference, qmulXnnpackReference, roundHalfEven } from './reference.js';

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
function outputParams(inputs: ReadonlyArray<Tensor | undefined>, at: number, act: number[] | undefined, int32 = false) {
  const scale = readNumbers(need(inputs, at, 'output scale'), 'output scale')[0]!;
  const zpT = need(inputs, at + 1, 'output zero point');
  const zp = readNumbers(zpT, 'output zero point')[0]!;
  let [lo, hi] = int32 && zpT.dtype === 'int32' ? [-2147483648, 2147483647] : rangeOf(zpT.dtype, 'output');
  const dtype = zpT.dtype as QDType;
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
  builtin: boolean;
  wasm: boolean;
  resident: boolean;
}

function fp32Scales(sx: number, sw: number[], sy: number, o: number): Float32Array {
  const out = new Float32Array(o);
  for (let oc = 0; oc < o; oc++) out[oc] = Math.fround(Math.fround(sx * (sw.length > 1 ? sw[oc]! : sw[0]!)) / sy);
  return out;
}

/** Whether the node runs on the WASM kernels (default) or on their TypeScript twins (reference.ts). */
const wasmOf = (node: Node): boolean => {
  const k = attrString(node, 'kernels', 'wasm');
  if (k !== 'wasm' && k !== 'typescript') throw new UnsupportedError(`integer kernels '${k}'`, "use 'wasm' or 'typescript'");
  return k === 'wasm';
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
    builtin: requantizationModeOf(node) === 'builtin',
    wasm: wasmOf(node),
    resident: residentOf(node),
  };
}

// Packed weights (O, kh, kw, I/group) as int32 minus their zero points, per weight tensor.
const packedWeights = new WeakMap<Tensor, Int32Array>();

function packWeights(w: Tensor, layout: 'OHWI' | 'HWIO', wq: QParam, shape = w.shape): { data: Int32Array; o: number; kh: number; kw: number; ipg: number } {
  const [a, b, c, d] = shape as [number, number, number, number];
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

/** Per-output-channel requantization: fixed-point multipliers for scale_x·scale_w[oc]/scale_y (double, as TFLite), or XNNPACK's float32 scales. */
function channelRequant(sx: number, sw: number[], sy: number, o: number, fp32: boolean, single = false): ChannelRequant {
  const mult = new Int32Array(o);
  const shift = new Int32Array(o);
  for (let oc = 0; oc < o; oc++) {
    const q = quantizeMultiplier((sx * (sw.length > 1 ? sw[oc]! : sw[0]!)) / sy);
    mult[oc] = q.multiplier;
    shift[oc] = q.shift;
  }
  return { mult, shift, fp32: fp32 && !single ? fp32Scales(sx, sw, sy, o) : undefined, single: single || undefined };
}

/** A kernel input's elements: its host array, or a fresh view of a resident activation (valid until the next WASM allocation). */
const qdata = (t: Tensor): QData => {
  const d = !t.onHost && t.storage instanceof ResidentBytes ? t.storage.view() : t.data;
  if (!(d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array)) throw new UnsupportedError(`integer kernel input of type ${t.dtype}`);
  return d;
};

/** A kernel result as a tensor: on the host, or left in WASM memory (a resident activation). */
const qtensor = (dtype: QDType, shape: readonly number[], y: QData | Q8Result): Tensor => (y instanceof ResidentBytes ? Tensor.onDevice(dtype, shape, y) : new Tensor(dtype, shape, y));

/** Whether the node's 8-bit WASM results stay in WASM memory (set by runInteger's resident mode, islands.ts). */
const residentOf = (node: Node): boolean => attrInt(node, 'resident', 0) !== 0;

function runConv(p: QConvProblem, wasm: boolean, resident: boolean): QData | Q8Result {
  // XNNPACK's float requantization is for 8-bit data only; 16x8 keeps its int64 path
  if (p.x instanceof Int16Array) {
    if (p.rq.fp32) p.rq = { mult: p.rq.mult, shift: p.rq.shift };
    return wasm && qconv16RunsOnWasm(p) ? qconv2d16Wasm(p) : qconv2dReference(p);
  }
  return wasm && qconvRunsOnWasm(p) ? qconv2dWasm(p, resident) : qconv2dReference(p);
}

/**
 * What a conv node computes from its constant operands (packed weights, per-channel multipliers,
 * bias, output grid), kept per weight tensor while the operands it came from are the same
 * tensors: a model run many times pays for QuantizeMultiplier and the packing once.
 */
interface ConvSetup {
  deps: ReadonlyArray<Tensor | undefined>;
  key: string;
  fp32: boolean;
  builtin: boolean;
  act: number[] | undefined;
  packed: ReturnType<typeof packWeights>;
  rq: ChannelRequant;
  bias?: ArrayLike<number>;
  out: ReturnType<typeof outputParams>;
  xzp: number;
}

const convSetups = new WeakMap<Tensor, ConvSetup>();

/** The operands a conv's setup is made from, besides its weights: scales, zero points, bias. */
const SETUP_OPERANDS = [1, 2, 4, 5, 6, 7, 8, 9, 10];

const sameActivation = (a: number[] | undefined, b: number[] | undefined): boolean => a === b || (!!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]));

function convSetup(inputs: ReadonlyArray<Tensor | undefined>, key: string, act: number[] | undefined, fp32: boolean, pack: (w: Tensor, wq: QParam) => ReturnType<typeof packWeights>, builtin = false): ConvSetup {
  const w = need(inputs, 3, 'w');
  const hit = convSetups.get(w);
  // checked without making strings or arrays: this runs for every conv of every run
  if (hit && hit.key === key && hit.fp32 === fp32 && hit.builtin === builtin && sameActivation(hit.act, act) && SETUP_OPERANDS.every((at, i) => hit.deps[i] === inputs[at])) return hit;
  const deps = SETUP_OPERANDS.map((i) => inputs[i]);
  const xq = qparam(inputs, 0, 'x');
  const wq = qparam(inputs, 3, 'w');
  const out = outputParams(inputs, 9, act);
  const packed = pack(w, wq);
  const b = inputs[6];
  // the interpreter runs a per-channel FULLY_CONNECTED on its builtin kernel, whose fixed point rounds
  // once (measured on torchvision swin_t: XNNPACK's float32 scale put 1 of 150,528 outputs of a
  // 384 -> 192 layer one step off, on a float32 product of exactly .5); a per-tensor one on XNNPACK,
  // unless the whole graph runs on the builtin kernels ('builtin'). There the ungrouped CONV_2D runs
  // through the same GEMM (ruy) and rounds once too (measured on torchvision's FCOS: the reference
  // kernel's double rounding put 862 of 1,048,576 outputs of its 7x7 stem one step off); DEPTHWISE_CONV_2D
  // and TRANSPOSE_CONV keep the reference kernel's double rounding.
  const single = (key === 'fc' && fp32 && wq.scales.length > 1) || (builtin && (key === 'fc' || key === 'conv'));
  const setup: ConvSetup = { deps, key, fp32, builtin, act, packed, rq: channelRequant(xq.scales[0]!, wq.scales, out.scale, packed.o, fp32, single), bias: b ? toNumbers(b) : undefined, out, xzp: xq.zps[0]! };
  convSetups.set(w, setup);
  return setup;
}

const Conv = defineOp<ConvAttrs>({
  attrs: convAttrs,
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const w = need(inputs, 3, 'w');
    if (x.rank !== 4 || w.rank !== 4) throw new ShapeError(`integer Conv needs 4-D NHWC input and weights, got [${x.shape}] and [${w.shape}]`);
    const s = convSetup(inputs, a.group === 1 ? 'conv' : 'grouped', a.act, a.fp32, (wt, wq) => packWeights(wt, a.layout, wq), a.builtin);
    const [n, h, wd, c] = x.shape as [number, number, number, number];
    const { data: weights, o, kh, kw, ipg } = s.packed;
    const group = a.group;
    if (ipg * group !== c || o % group !== 0) throw new ShapeError(`integer Conv: ${c} input channels do not fit weights [${w.shape}] with group ${group}`);
    const [pt, oh] = spatial(h, kh, a.strides[0]!, a.dilations[0]!, a.autoPad, a.pads, 0, 2);
    const [pl, ow] = spatial(wd, kw, a.strides[1]!, a.dilations[1]!, a.autoPad, a.pads, 1, 2);
    const p: QConvProblem = {
      x: qdata(x), xzp: s.xzp, n, h, w: wd, c, weights, o, kh, kw, ipg, group,
      sh: a.strides[0]!, sw: a.strides[1]!, dh: a.dilations[0]!, dw: a.dilations[1]!, pt, pl, oh, ow,
      bias: s.bias,
      rq: s.rq,
      out: s.out,
    };
    return [qtensor(s.out.dtype, [n, oh, ow, o], runConv(p, a.wasm, a.resident))];
  },
});

interface TransposeConvAttrs {
  strides: number[];
  pads: number[];
  outputPadding: number[];
  act?: number[];
}

/**
 * TRANSPOSE_CONV (OHWI weights, per-channel along O): islands.ts fuses only ungrouped, undilated
 * ones with explicit pads (TFLite's SAME / VALID as the reader gives them); the rows that
 * output_padding adds past the last tap hold the bias, as TFLite's rows past the full output.
 * Fixed-point requantization under either `requantization`: the interpreter runs int8
 * TRANSPOSE_CONV on its builtin kernel, not XNNPACK (measured: XNNPACK's float32 scales put 2 of
 * the corpus convtranspose2d's 960 outputs 1 LSB off the interpreter, TFLite's multipliers none).
 */
const ConvTranspose = defineOp<TransposeConvAttrs>({
  attrs: (node) => {
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if ((autoPad !== 'NOTSET' && autoPad !== 'VALID') || node.attrs.output_shape) throw new UnsupportedError(`integer ConvTranspose with auto_pad ${autoPad}${node.attrs.output_shape ? ' and output_shape' : ''}`, `node '${node.name}'`);
    if (attrInt(node, 'group', 1) !== 1 || attrInts(node, 'dilations', [1, 1]).some((d) => d !== 1)) throw new UnsupportedError('grouped or dilated integer ConvTranspose', `node '${node.name}'`);
    if (attrString(node, 'kernel_layout', 'OHWI') !== 'OHWI') throw new UnsupportedError(`integer ConvTranspose with kernel_layout ${attrString(node, 'kernel_layout', 'OHWI')}`, `node '${node.name}'`);
    wasmOf(node);
    return {
      strides: attrInts(node, 'strides', [1, 1]),
      pads: autoPad === 'VALID' ? [0, 0, 0, 0] : attrInts(node, 'pads', [0, 0, 0, 0]),
      outputPadding: attrInts(node, 'output_padding', [0, 0]),
      act: attrFloats(node, 'activation'),
    };
  },
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const w = need(inputs, 3, 'w');
    if (x.rank !== 4 || w.rank !== 4) throw new ShapeError(`integer ConvTranspose needs 4-D NHWC input and OHWI weights, got [${x.shape}] and [${w.shape}]`);
    const s = convSetup(inputs, 'transpose', a.act, false, (wt, wq) => packWeights(wt, 'OHWI', wq));
    const [n, h, wd, c] = x.shape as [number, number, number, number];
    const { data: weights, o, kh, kw, ipg } = s.packed;
    if (ipg !== c) throw new ShapeError(`integer ConvTranspose: ${c} input channels do not fit weights [${w.shape}]`);
    const [sh, sw] = a.strides as [number, number];
    const oh = (h - 1) * sh + kh + a.outputPadding[0]! - a.pads[0]! - a.pads[2]!;
    const ow = (wd - 1) * sw + kw + a.outputPadding[1]! - a.pads[1]! - a.pads[3]!;
    if (oh < 0 || ow < 0) throw new ShapeError(`integer ConvTranspose: pads [${a.pads}] exceed the output of input [${x.shape}]`);
    const p: QTransposeConvProblem = { x: qdata(x), xzp: s.xzp, n, h, w: wd, c, weights, o, kh, kw, sh, sw, pt: a.pads[0]!, pl: a.pads[1]!, oh, ow, bias: s.bias, rq: s.rq, out: s.out };
    return [new Tensor(s.out.dtype, [n, oh, ow, o], qtransposeConv2dReference(p))];
  },
});

/** FULLY_CONNECTED: a 1x1 conv over m "pixels". */
const Gemm = defineOp<{ act?: number[]; fp32: boolean; builtin: boolean; wasm: boolean; resident: boolean }>({
  attrs: (node) => ({ act: attrFloats(node, 'activation'), fp32: requantizationOf(node), builtin: requantizationModeOf(node) === 'builtin', wasm: wasmOf(node), resident: residentOf(node) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const w = need(inputs, 3, 'w');
    if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) throw new ShapeError(`integer FullyConnected: input [${x.shape}] and weights [${w.shape}] do not fit`);
    const [m, kk] = x.shape as [number, number];
    const nOut = w.shape[0]!;
    // keyed by the weight tensor itself (a reshaped view would be a new key on every run)
    const s = convSetup(inputs, 'fc', a.act, a.fp32, (wt, wq) => packWeights(wt, 'OHWI', wq, [nOut, 1, 1, kk]), a.builtin);
    const p: QConvProblem = {
      x: qdata(x), xzp: s.xzp, n: 1, h: 1, w: m, c: kk, weights: s.packed.data, o: nOut, kh: 1, kw: 1, ipg: kk, group: 1,
      sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, oh: 1, ow: m,
      bias: s.bias,
      rq: s.rq,
      out: s.out,
    };
    return [qtensor(s.out.dtype, [m, nOut], runConv(p, a.wasm, a.resident))];
  },
});

/**
 * `t`'s data broadcast to `shape` under NumPy rules (the data itself when the shapes agree):
 * an odometer over the outer dims, each innermost row copied or filled at once.
 */
function broadcastData(t: Tensor, shape: number[]): QData {
  const d = qdata(t);
  if (t.shape.length === shape.length && t.shape.every((v, i) => v === shape[i])) return d;
  const out = new (d.constructor as new (n: number) => QData)(shapeSize(shape));
  const rank = shape.length;
  const last = shape[rank - 1]!;
  if (out.length === 0) return out;
  const inShape = [...new Array<number>(rank - t.shape.length).fill(1), ...t.shape];
  const strides = stridesOf(inShape).map((s, i) => (inShape[i] === 1 ? 0 : s));
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o += last) {
    if (strides[rank - 1]) out.set(d.subarray(src, src + last), o);
    else out.fill(d[src]!, o, o + last);
    for (let k = rank - 2; k >= 0; k--) {
      src += strides[k]!;
      if (++idx[k]! < shape[k]!) break;
      src -= strides[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}

/** The binary problem of a fused ADD/SUB/MUL node: inputs broadcast to the output shape. */
function binaryProblem(inputs: ReadonlyArray<Tensor | undefined>, act: number[] | undefined): { p: QBinaryProblem; shape: number[] } {
  const x1 = need(inputs, 0, 'a');
  const x2 = need(inputs, 3, 'b');
  const q1 = qparam(inputs, 0, 'a');
  const q2 = qparam(inputs, 3, 'b');
  const out = outputParams(inputs, 6, act);
  const shape = broadcastShapes(x1.shape, x2.shape);
  const p: QBinaryProblem = { a: broadcastData(x1, shape), b: broadcastData(x2, shape), za: q1.zps[0]!, zb: q2.zps[0]!, sa: q1.scales[0]!, sb: q2.scales[0]!, out };
  return { p, shape };
}

/**
 * XNNPACK's qs8 ADD: both inputs on one integer grid of 2^shift·(s_in/s_out) multipliers below
 * 2^21, the rounding folded into the bias, one arithmetic shift.
 */
function xnnpackAddParams(sa: number, sb: number, so: number, sign: number) {
  const f = Math.fround;
  const as = f(sa / so);
  const bs = f(sb / so);
  const exponent = Math.floor(Math.log2(Math.max(as, bs)));
  const shift = 20 - exponent;
  return { am: roundHalfEven(f(as * 2 ** shift)), bm: sign * roundHalfEven(f(bs * 2 ** shift)), shift };
}

const sameShape = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((d, i) => d === y[i]);

/** TFLite's CheckedLog2: log2 of a float32 scale, rounded, when within 1e-3 of an integer (in float32, as TFLite). */
function checkedLog2(x: number): number | undefined {
  const f = Math.fround;
  const l = f(f(Math.log(f(x))) * f(1 / f(Math.log(2))));
  const r = roundHalfAway(l);
  return Math.abs(f(l - r)) < f(1e-3) ? r : undefined;
}

/**
 * The input shifts of TFLite's power-of-two int16 ADD/SUB, or undefined where its Prepare takes
 * the general path: the file's pot_scale_int16 (true by default in the schema) with int16
 * operands, zero points 0 and power-of-two scales. Combinations that kernel refuses are refused.
 */
function potShifts(node: string, pot: boolean, p: QBinaryProblem, shapesEqual: boolean): [number, number] | undefined {
  if (!pot || !(p.a instanceof Int16Array && p.b instanceof Int16Array) || p.out.dtype !== 'int16' || p.za || p.zb || p.out.zp) return undefined;
  const [la, lb, lo] = [checkedLog2(p.sa), checkedLog2(p.sb), checkedLog2(p.out.scale)];
  if (la === undefined || lb === undefined || lo === undefined) return undefined;
  const [sa, sb] = [la - lo, lb - lo];
  if ((sa !== 0 && sb !== 0) || sa > 0 || sb > 0) {
    throw new UnsupportedError(`int16 ${node} with pot_scale_int16 and input scales 2^${la}, 2^${lb} for output scale 2^${lo}`, "TFLite's power-of-two kernel takes one input at the output scale and the other at a finer one (its Prepare fails too); write the file with pot_scale_int16 = false");
  }
  if (!shapesEqual) throw new UnsupportedError(`int16 ${node} with pot_scale_int16 and broadcast inputs`, "TFLite's power-of-two kernel does not broadcast");
  return [sa, sb];
}

/**
 * TFLite's quantized ADD/SUB: both inputs rescaled to a shared 2·max(scale) grid with 20 extra
 * bits (15 for int16); int16 files that ask for it (pot_scale_int16) with power-of-two scales
 * take TFLite's shift-and-saturate kernel instead.
 */
function addSub(sign: 1 | -1) {
  return defineOp<{ act?: number[]; xnnpack: boolean; wasm: boolean; pot: boolean; resident: boolean }>({
    attrs: (node) => ({ act: attrFloats(node, 'activation'), xnnpack: requantizationOf(node), wasm: wasmOf(node), pot: attrInt(node, 'pot_scale_int16', 0) !== 0, resident: residentOf(node) }),
    run(inputs, a) {
      const { p, shape } = binaryProblem(inputs, a.act);
      const shifts = potShifts(sign > 0 ? 'ADD' : 'SUB', a.pot, p, sameShape(need(inputs, 0, 'a').shape, need(inputs, 3, 'b').shape));
      if (shifts) return [new Tensor('int16', shape, qaddPot16Reference(p.a as Int16Array, p.b as Int16Array, shifts[0], shifts[1], sign, p.out.lo, p.out.hi))];
      const wasm = a.wasm && qbinaryRunsOnWasm(p);
      let y: QData | Q8Result;
      if (a.xnnpack && p.a instanceof Int8Array) {
        const { am, bm, shift } = xnnpackAddParams(p.sa, p.sb, p.out.scale, sign);
        // the 64-bit kernel and the double-precision twin agree while the bias stays below 2^53
        y = wasm && shift >= 1 && shift <= 50 ? qaddXnnpackWasm(p, am, bm, shift, a.resident) : qaddXnnpackReference(p, am, bm, shift);
      } else {
        const leftShift = p.a instanceof Int16Array ? 15 : 20;
        const twiceMax = 2 * Math.max(p.sa, p.sb);
        const m1 = quantizeMultiplier(p.sa / twiceMax);
        const m2 = quantizeMultiplier(p.sb / twiceMax);
        const mo = quantizeMultiplier(twiceMax / (2 ** leftShift * p.out.scale));
        const m = { ma: m1.multiplier, sa: m1.shift, mb: m2.multiplier, sb: m2.shift, mo: mo.multiplier, so: mo.shift };
        const lanes = laneMultiplier(m.ma, m.sa) && laneMultiplier(m.mb, m.sb) && laneMultiplier(m.mo, m.so);
        if (a.wasm && lanes && qbinary16RunsOnWasm(p)) y = qaddRef16Wasm(p, sign, leftShift, m);
        else y = wasm && lanes ? qaddRefWasm(p, sign, leftShift, m, a.resident) : qaddReference(p, sign, leftShift, m);
      }
      return [qtensor(p.out.dtype, shape, y)];
    },
  });
}

const Mul = defineOp<{ act?: number[]; xnnpack: boolean; wasm: boolean; resident: boolean }>({
  attrs: (node) => ({ act: attrFloats(node, 'activation'), xnnpack: requantizationOf(node), wasm: wasmOf(node), resident: residentOf(node) }),
  run(inputs, a) {
    const { p, shape } = binaryProblem(inputs, a.act);
    const m = quantizeMultiplier((p.sa * p.sb) / p.out.scale);
    let y: QData | Q8Result;
    if (a.xnnpack && p.a instanceof Int8Array) y = qmulXnnpackReference(p, Math.fround(Math.fround(Math.fround(p.sa) * Math.fround(p.sb)) / Math.fround(p.out.scale)));
    else if (a.wasm && qbinaryRunsOnWasm(p) && laneMultiplier(m.multiplier, m.shift)) y = qmulWasm(p, m.multiplier, m.shift, a.resident);
    else if (a.wasm && qmul16RunsOnWasm(p, m.multiplier, m.shift)) y = qmul16Wasm(p, m.multiplier, m.shift);
    else y = qmulReference(p, m.multiplier, m.shift);
    return [qtensor(p.out.dtype, shape, y)];
  },
});

interface PoolAttrs {
  kernel: number[];
  strides: number[];
  autoPad: string;
  pads?: number[];
  act?: number[];
  wasm: boolean;
  resident: boolean;
}

const poolAttrs = (node: Node): PoolAttrs => ({
  kernel: attrInts(node, 'kernel_shape', []),
  strides: attrInts(node, 'strides', [1, 1]),
  autoPad: attrString(node, 'auto_pad', 'NOTSET'),
  pads: attrInts(node, 'pads'),
  act: attrFloats(node, 'activation'),
  wasm: wasmOf(node),
  resident: residentOf(node),
});

function poolProblem(inputs: ReadonlyArray<Tensor | undefined>, a: PoolAttrs): { p: QPoolProblem; out: ReturnType<typeof outputParams> } {
  const x = need(inputs, 0, 'x');
  const xq = qparam(inputs, 0, 'x');
  const out = outputParams(inputs, 3, a.act);
  if (xq.scales[0] !== out.scale || xq.zps[0] !== out.zp || x.dtype !== out.dtype) throw new UnsupportedError('integer pooling with different input and output quantization');
  if (x.rank !== 4) throw new ShapeError(`integer pooling needs NHWC input, got [${x.shape}]`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw] = a.kernel as [number, number];
  const [pt, oh] = spatial(h, kh, a.strides[0]!, 1, a.autoPad, a.pads, 0, 2);
  const [pl, ow] = spatial(w, kw, a.strides[1]!, 1, a.autoPad, a.pads, 1, 2);
  return { p: { x: qdata(x), n, h, w, c, kh, kw, sh: a.strides[0]!, sw: a.strides[1]!, pt, pl, oh, ow, lo: out.lo, hi: out.hi }, out };
}

const AveragePool = defineOp<PoolAttrs>({
  attrs: poolAttrs,
  run(inputs, a) {
    const { p, out } = poolProblem(inputs, a);
    const y = !a.wasm ? qavgPoolReference(p) : qavgPoolRunsOnWasm(p) ? qavgPoolWasm(p, a.resident) : qavgPool16RunsOnWasm(p) ? qavgPool16Wasm(p) : qavgPoolReference(p);
    return [qtensor(out.dtype, [p.n, p.oh, p.ow, p.c], y)];
  },
});

const MaxPool = defineOp<PoolAttrs>({
  attrs: poolAttrs,
  run(inputs, a) {
    const { p, out } = poolProblem(inputs, a);
    const y = a.wasm && qavgPoolRunsOnWasm(p) ? qmaxPoolWasm(p, a.resident) : qmaxPoolReference(p);
    return [qtensor(out.dtype, [p.n, p.oh, p.ow, p.c], y)];
  },
});

/**
 * TFLite's table-driven 8-bit softmax: exp(-scale·beta·(max - x)) in float32, scaled to the output grid
 * and rounded as its QuantizeSoftmaxOutput does: std::round (ties away from zero) for int8, float32
 * p + 0.5 truncated for uint8 (measured: an exact 4.5 in torchvision swin_t's attention, 5 in the
 * interpreter; it was rounded to even).
 */
const Softmax = defineOp<{ axis: number }>({
  attrs: (node) => ({ axis: attrInt(node, 'axis', -1) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    if (normAxis(a.axis, x.rank) !== x.rank - 1) throw new UnsupportedError('integer Softmax on an axis other than the last');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    const last = x.shape[x.rank - 1]!;
    // TFLite's int16 kernel (zero points 0): table interpolation in Q0.15
    if (x.data instanceof Int16Array && out.dtype === 'int16' && xq.zps[0] === 0 && out.zp === 0) return [new Tensor('int16', x.shape, softmaxInt16(x.data, last, xq.scales[0]!, 1))];
    const f = Math.fround;
    const scale = f(-xq.scales[0]!);
    // one entry per possible max - x: 0..255 for int8, 0..65535 for int16 inputs
    const span = x.dtype === 'int16' ? 65536 : 512;
    const table = new Float32Array(span);
    for (let d = 0; d < span; d++) table[d] = f(Math.exp(f(scale * d)));
    const xd = x.data as ArrayLike<number>;
    const y = Tensor.zeros(out.dtype, x.shape);
    const yd = y.data as Int8Array;
    const unsigned = out.dtype === 'uint8';
    for (let base = 0; base < xd.length; base += last) {
      let max = -Infinity;
      for (let j = 0; j < last; j++) max = Math.max(max, xd[base + j]!);
      let sum = 0;
      for (let j = 0; j < last; j++) sum = f(sum + table[max - xd[base + j]!]!);
      const inv = f(1 / f(sum * f(out.scale)));
      for (let j = 0; j < last; j++) {
        const p = f(table[max - xd[base + j]!]! * inv);
        yd[base + j] = clampInt((unsigned ? Math.trunc(f(p + 0.5)) : roundHalfAway(p)) + out.zp, out.lo, out.hi);
      }
    }
    return [y];
  },
});

/**
 * LOGISTIC / TANH: int16 with zero points 0 (all TFLite runs) through TFLite's own 16-bit kernel; 8-bit
 * through a 256-entry table built as the interpreter builds it. Each entry maps
 * x = float32(scale_x · (q − zp_x)) to round(float32(fn(x) · float32(1 / scale_y))) + zp_y, clamped:
 * `builtin` is TFLite's own table (LUTPopulate: std::round, ties away from zero), `xnnpack` XNNPACK's
 * (lrintf: ties to even) where the delegate takes the op (its fixed output grid), else `builtin`.
 * The function values are float32 as the interpreter's C library gives them (float32-math.ts):
 * an entry within an ulp of a tie lands on the interpreter's side of it.
 */
function lookup(fns: { builtin: (x: number) => number; xnnpack?: { fn: (x: number) => number; scale: number; zp: { int8: number; uint8: number } } }, int16Kernel: (x: Int16Array, inputScale: number) => Int16Array) {
  return defineOp<{ xnnpack: boolean }>({
    attrs: (node) => ({ xnnpack: requantizationOf(node) }),
    run(inputs, a) {
      const x = need(inputs, 0, 'x');
      const xq = qparam(inputs, 0, 'x');
      const out = outputParams(inputs, 3, undefined);
      if (x.data instanceof Int16Array && out.dtype === 'int16' && xq.zps[0] === 0 && out.zp === 0) return [new Tensor('int16', x.shape, int16Kernel(x.data, xq.scales[0]!))];
      const [lo, hi] = rangeOf(x.dtype, 'input');
      const f = Math.fround;
      const xnn = fns.xnnpack;
      const delegated = a.xnnpack && xnn !== undefined && f(out.scale) === xnn.scale && (out.dtype === 'int8' || out.dtype === 'uint8') && out.zp === xnn.zp[out.dtype];
      const fn = delegated ? xnn.fn : fns.builtin;
      const round = delegated ? roundHalfEven : roundHalfAway;
      const inverse = f(1 / f(out.scale));
      const sx = f(xq.scales[0]!);
      const table = new Int32Array(hi - lo + 1);
      for (let v = lo; v <= hi; v++) table[v - lo] = clampInt(round(f(fn(f(sx * (v - xq.zps[0]!))) * inverse)) + out.zp, out.lo, out.hi);
      const xd = x.data as ArrayLike<number>;
      const y = Tensor.zeros(out.dtype, x.shape);
      const yd = y.data as Int8Array;
      for (let i = 0; i < yd.length; i++) yd[i] = table[xd[i]! - lo]!;
      return [y];
    },
  });
}

const f32 = Math.fround;
const expf = (x: number): number => f32(Math.exp(x));
/** TFLite's sigmoid in float32: 1 / (1 + e^−x) */
const sigmoidf = (x: number): number => f32(1 / f32(1 + expf(-x)));

/** MEAN: integer sum, then TFLite's float rescale (QuantizedMeanOrSum), or its integer rounding when the grids match. */
const ReduceMean = defineOp<{ axes: number[]; keepdims: boolean; wasm: boolean; resident: boolean }>({
  attrs: (node) => ({ axes: attrInts(node, 'axes', []), keepdims: attrInt(node, 'keepdims', 1) !== 0, wasm: wasmOf(node), resident: residentOf(node) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    const axes = new Set(a.axes.map((ax) => normAxis(ax, x.rank)));
    const outShapeKeep = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const shape = a.keepdims ? outShapeKeep : x.shape.filter((_, i) => !axes.has(i));
    const sorted = [...axes].sort((i, j) => i - j);
    if (sorted.length && sorted[sorted.length - 1]! - sorted[0]! === sorted.length - 1) {
      // one run of adjacent axes (NHWC spatial means): x is (outer, reduced, inner)
      const p: QMeanProblem = {
        x: qdata(x),
        outer: shapeSize(x.shape.slice(0, sorted[0]!)),
        red: shapeSize(sorted.map((i) => x.shape[i]!)),
        inner: shapeSize(x.shape.slice(sorted[sorted.length - 1]! + 1)),
        sx: xq.scales[0]!,
        zx: xq.zps[0]!,
        out,
      };
      const y = !a.wasm ? qmeanReference(p) : qmeanRunsOnWasm(p) ? qmeanWasm(p, a.resident) : qmean16RunsOnWasm(p) ? qmean16Wasm(p) : qmeanReference(p);
      return [qtensor(out.dtype, shape, y)];
    }
    const outSize = shapeSize(outShapeKeep);
    const count = x.size / Math.max(outSize, 1);
    const sums = new Float64Array(outSize);
    const inStrides = stridesOf(x.shape);
    const outStrides = stridesOf(outShapeKeep);
    const xd = qdata(x);
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

/**
 * QUANTIZE int -> int: (x - zp_in)·(s_in/s_out) in fixed point. XNNPACK's int8 -> int8 convert
 * (the delegate takes it for a ratio in [2^-8, 2^7]) multiplies by the ratio rounded to 1/256:
 * m = lrintf(256·s_in/s_out), y = ((x - zp_in)·m + 128) >> 8, + zp_out.
 */
const Requantize = defineOp<{ xnnpack: boolean }>({
  attrs: (node) => ({ xnnpack: requantizationOf(node) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    // TFLite's QUANTIZE also requantizes to int32 (TFLite Micro's keyword model ends int16 -> int32)
    const out = outputParams(inputs, 3, undefined, true);
    const xd = x.data as ArrayLike<number>;
    const y = Tensor.zeros(out.dtype, x.shape);
    const yd = y.data as Int8Array;
    const ratio = Math.fround(Math.fround(xq.scales[0]!) / Math.fround(out.scale));
    if (a.xnnpack && x.data instanceof Int8Array && out.dtype === 'int8' && ratio >= 2 ** -8 && ratio <= 2 ** 7) {
      const m = roundHalfEven(256 * ratio);
      for (let i = 0; i < yd.length; i++) yd[i] = clampInt(Math.floor(((xd[i]! - xq.zps[0]!) * m + 128) / 256) + out.zp, out.lo, out.hi);
      return [y];
    }
    const m = quantizeMultiplier(xq.scales[0]! / out.scale);
    for (let i = 0; i < yd.length; i++) yd[i] = clampInt(multiplyByQuantizedMultiplier(xd[i]! - xq.zps[0]!, m.multiplier, m.shift) + out.zp, out.lo, out.hi);
    return [y];
  },
});

/** TFLite's QUANTIZE kernel: x / (double)scale, rounded half away from zero, plus the zero point, clamped to the type. */
function quantizeHalfAway<T extends Int8Array | Uint8Array | Int16Array>(x: Float32Array, scale: number, zp: number, y: T, lo: number, hi: number): T {
  const s = Math.fround(scale);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = Number.isNaN(v) ? zp : clampInt(roundHalfAway(v / s) + zp, lo, hi);
  }
  return y;
}

/** TFLite's QUANTIZE float -> int16 (the reference int8 kernel divides in float32); the scalar twin of quantize16Wasm. */
export function quantizeInt16(x: Float32Array, scale: number, zp: number): Int16Array {
  return quantizeHalfAway(x, scale, zp, new Int16Array(x.length), -32768, 32767);
}

/** optimized_ops::AffineQuantize of 8-bit data (the division in double, as for int16). */
function quantizeDouble(x: Float32Array, shape: readonly number[], scale: number, zp: number, dtype: 'int8' | 'uint8'): Tensor {
  const y = dtype === 'int8' ? quantizeHalfAway(x, scale, zp, new Int8Array(x.length), -128, 127) : quantizeHalfAway(x, scale, zp, new Uint8Array(x.length), 0, 255);
  return new Tensor(dtype, shape, y);
}

/**
 * TFLite's QUANTIZE float -> int rounds half away from zero (ONNX and XNNPACK: half to even, attribute `rounding`).
 * XNNPACK's convert (requantization 'xnnpack') multiplies by the float32 reciprocal of the scale instead of dividing;
 * the interpreter's builtin kernel ('builtin') divides in double where the reference kernel divides in float32.
 */
const QuantizeLinear = defineOp<{ axis: number; rounding: 'half-away' | 'half-even'; wasm: boolean; xnnpack: boolean; builtin: boolean }>({
  attrs: (node) => ({ axis: attrInt(node, 'axis', 1), rounding: attrString(node, 'rounding', 'half-away') === 'half-even' ? 'half-even' : 'half-away', wasm: wasmOf(node), xnnpack: requantizationOf(node), builtin: requantizationModeOf(node) === 'builtin' }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const scale = need(inputs, 1, 'y_scale');
    const zp = need(inputs, 2, 'y_zero_point');
    let scales = readNumbers(scale, 'scale');
    const zps = readNumbers(zp, 'zero point');
    const dtype = zp.dtype as 'int8' | 'uint8' | 'int16';
    let xf = x.dtype === 'float32' ? x : new Tensor('float32', x.shape, x.toFloat32());
    if (a.builtin && scales.length === 1 && dtype !== 'int16') return [quantizeDouble(xf.data as Float32Array, xf.shape, scales[0]!, zps[0]!, dtype)];
    if (a.xnnpack && scales.length === 1) {
      // x · fround(1 / scale) in float32, then quantized at scale 1 (an exact division)
      const inv = Math.fround(1 / scales[0]!);
      const xd = xf.data as Float32Array;
      const scaled = new Float32Array(xd.length);
      for (let i = 0; i < xd.length; i++) scaled[i] = xd[i]! * inv;
      xf = new Tensor('float32', xf.shape, scaled);
      scales = [1];
    }
    if (scales.length === 1 && dtype === 'int16' && a.rounding === 'half-away') {
      const xd = xf.data as Float32Array;
      return [new Tensor('int16', xf.shape, a.wasm && xd.length > 0 ? quantize16Wasm(xd, scales[0]!, zps[0]!) : quantizeInt16(xd, scales[0]!, zps[0]!))];
    }
    if (scales.length === 1) return [quantizePerTensor(xf, scales[0]!, zps[0]!, { dtype, rounding: a.rounding })];
    return [quantizePerAxis(xf, normAxis(a.axis, x.rank), scales, zps, { dtype, rounding: a.rounding })];
  },
});

/**
 * PAD with a constant on 8/16-bit data (TFLite pads quantized tensors with their zero point
 * before strided convs): whole innermost rows copied at once instead of element by element.
 * Other modes, dtypes and negative (cropping) pads go to the general kernel.
 */
const padGeneral = ONNX_OPS['Pad']!;
const Pad = defineOp<PadAttrs>({
  attrs: padGeneral.attrs as (node: Node, opset: number) => PadAttrs,
  run(inputs, a, ctx) {
    const x = need(inputs, 0, 'data');
    const pads = a.pads ?? (inputs[1] ? readNumbers(inputs[1], 'Pad pads') : undefined);
    const d = x.data;
    const small = d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array;
    if (!small || a.mode !== 'constant' || !pads || inputs[3] || pads.length !== 2 * x.rank || pads.some((v) => v < 0) || x.rank === 0) return padGeneral.run(inputs, a, ctx);
    const value = a.pads ? a.value : inputs[2] ? readNumbers(inputs[2], 'Pad constant_value')[0]! : 0;
    const r = x.rank;
    const shape = x.shape.map((dim, i) => dim + pads[i]! + pads[i + r]!);
    const y = Tensor.zeros(x.dtype, shape);
    const yd = y.data as Int8Array;
    if (value !== 0) yd.fill(value);
    const last = x.shape[r - 1]!;
    const rows = last === 0 ? 0 : x.size / last;
    const inStrides = stridesOf(x.shape);
    const outStrides = stridesOf(shape);
    for (let row = 0; row < rows; row++) {
      // output offset of input row `row` (coordinates of every dim but the last)
      let rem = row * last;
      let at = pads[r - 1]!;
      for (let i = 0; i < r - 1; i++) {
        const coord = Math.floor(rem / inStrides[i]!);
        rem -= coord * inStrides[i]!;
        at += (coord + pads[i]!) * outStrides[i]!;
      }
      yd.set((d as Int8Array).subarray(row * last, (row + 1) * last), at);
    }
    return [y];
  },
});

/** HARD_SWISH (int8 / uint8): TFLite's int16 fixed-point kernel (hard-swish.ts). */
const HardSwish = defineOp<Record<string, never>>({
  attrs: () => ({}),
  run(inputs) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, undefined);
    if (x.dtype !== 'int8' && x.dtype !== 'uint8') throw new UnsupportedError(`integer HardSwish of ${x.dtype} data (TFLite has int8 and uint8 kernels)`);
    const y = outArray(out.dtype, x.size);
    hardSwishInteger(qdata(x), xq.scales[0]!, xq.zps[0]!, out.scale, out.zp, out.lo, out.hi, y);
    return [new Tensor(out.dtype, x.shape, y)];
  },
});

/**
 * PRELU (int8 / uint8), TFLite's reference kernel: x - z_x >= 0 requantized by s_x/s_y, else
 * (x - z_x)(α - z_α) by s_x·s_α/s_y, each multiplier computed in float32 as its Prepare does. Run
 * as QDQ floats before, the MTCNN nets' PReLU chains ended 2-3 steps off the interpreter.
 */
const PRelu = defineOp<{ act?: number[] }>({
  attrs: (node) => ({ act: attrFloats(node, 'activation') }),
  run(inputs, a) {
    const { p, shape } = binaryProblem(inputs, a.act);
    const f = Math.fround;
    const identity = quantizeMultiplier(f(f(p.sa) / f(p.out.scale)));
    const slope = quantizeMultiplier(f(f(f(p.sa) * f(p.sb)) / f(p.out.scale)));
    const y = outArray(p.out.dtype, p.a.length);
    for (let i = 0; i < p.a.length; i++) {
      const v = p.a[i]! - p.za;
      const r = v >= 0 ? multiplyByQuantizedMultiplier(v, identity.multiplier, identity.shift) : multiplyByQuantizedMultiplier(v * (p.b[i]! - p.zb), slope.multiplier, slope.shift);
      y[i] = clampInt(p.out.zp + r, p.out.lo, p.out.hi);
    }
    return [qtensor(p.out.dtype, shape, y)];
  },
});

/**
 * LEAKY_RELU: TFLite's kernel requantizes each side by its fixed-point multiplier, s_x/s_y or
 * s_x·alpha/s_y. On 8-bit data under XNNPACK's requantization the delegate's kernel: each
 * side's float32 scale as a multiplier rounded to 1/256, y = (bias + (x - z_x)·m) >> 8 with
 * bias = z_y·256 + 128, where its limits on the scales admit it (else TFLite's kernel runs).
 */
const LeakyRelu = defineOp<{ alpha: number; act?: number[]; xnnpack: boolean }>({
  attrs: (node) => ({ alpha: attrFloat(node, 'alpha', 0.01), act: attrFloats(node, 'activation'), xnnpack: requantizationOf(node) }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    const xq = qparam(inputs, 0, 'x');
    const out = outputParams(inputs, 3, a.act);
    const xd = qdata(x);
    const y = outArray(out.dtype, xd.length);
    const f = Math.fround;
    const sx = f(xq.scales[0]!);
    const positive = f(sx / f(out.scale));
    const negative = f(positive * f(a.alpha));
    const xnnpackTakes = positive >= 2 ** -8 && positive <= 2 ** 7 && negative <= 2 ** 7 && negative >= -127.984375 && Math.abs(negative) >= 2 ** -8;
    if (a.xnnpack && !(xd instanceof Int16Array) && xnnpackTakes) {
      const [mp, mn] = [roundHalfEven(256 * positive), roundHalfEven(256 * negative)];
      const bias = out.zp * 256 + 128;
      for (let i = 0; i < xd.length; i++) {
        const v = xd[i]! - xq.zps[0]!;
        y[i] = clampInt((bias + v * (v >= 0 ? mp : mn)) >> 8, out.lo, out.hi);
      }
      return [new Tensor(out.dtype, x.shape, y)];
    }
    const identity = quantizeMultiplier(sx / f(out.scale));
    const alpha = quantizeMultiplier((sx * f(a.alpha)) / f(out.scale));
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i]! - xq.zps[0]!;
      const m = v >= 0 ? identity : alpha;
      y[i] = clampInt(out.zp + multiplyByQuantizedMultiplier(v, m.multiplier, m.shift), out.lo, out.hi);
    }
    return [new Tensor(out.dtype, x.shape, y)];
  },
});

/**
 * RESIZE_BILINEAR on integers (ResizeBilinearInteger): source coordinates in 1/1024 steps, the
 * four taps weighted in 2^20, rounded half away from zero; input and output share one grid.
 */
const ResizeBilinear = defineOp<{ ctm: string; sizes?: number[]; scales?: number[]; act?: number[] }>({
  attrs: (node) => ({ ctm: attrString(node, 'coordinate_transformation_mode', 'half_pixel'), sizes: attrInts(node, 'sizes'), scales: attrFloats(node, 'scales'), act: attrFloats(node, 'activation') }),
  run(inputs, a) {
    const x = need(inputs, 0, 'x');
    if (x.rank !== 4) throw new ShapeError(`integer Resize needs NHWC input, got [${x.shape}]`);
    const out = outputParams(inputs, 3, a.act);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const [oh, ow] = a.sizes ? [a.sizes[1]!, a.sizes[2]!] : [Math.floor(h * a.scales![1]!), Math.floor(w * a.scales![2]!)];
    // a size of -1 keeps the input's dim (the batch and channels of a dynamic-batch model's Resize)
    if ((a.sizes && ((a.sizes[0] !== n && a.sizes[0] !== -1) || (a.sizes[3] !== c && a.sizes[3] !== -1))) || (a.scales && (a.scales[0] !== 1 || a.scales[3] !== 1))) throw new UnsupportedError('integer Resize of the batch or channel dims');
    const align = a.ctm === 'align_corners';
    const half = a.ctm === 'half_pixel' || a.ctm === 'pytorch_half_pixel';
    const scaleOf = (inSize: number, outSize: number) => (align && outSize > 1 ? Math.trunc((1024 * (inSize - 1) + Math.trunc((outSize - 1) / 2)) / (outSize - 1)) : Math.trunc((1024 * inSize + Math.trunc(outSize / 2)) / outSize));
    const coords = (outSize: number, inSize: number) => {
      const s10 = scaleOf(inSize, outSize);
      const at = new Int32Array(outSize * 3);
      for (let i = 0; i < outSize; i++) {
        const v = half ? i * s10 + Math.trunc(s10 / 2) - 512 : i * s10;
        at[3 * i] = v;
        at[3 * i + 1] = Math.max(Math.trunc(v / 1024), 0);
        at[3 * i + 2] = Math.min(Math.trunc((v + 1023) / 1024), inSize - 1);
      }
      return at;
    };
    const ys = coords(oh, h);
    const xs = coords(ow, w);
    const xd = qdata(x);
    const y = outArray(out.dtype, n * oh * ow * c);
    let k = 0;
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < oh; oy++) {
        const [iy, y0, y1] = [ys[3 * oy]!, ys[3 * oy + 1]!, ys[3 * oy + 2]!];
        const fy = iy - 1024 * y0;
        for (let ox = 0; ox < ow; ox++) {
          const [ix, x0, x1] = [xs[3 * ox]!, xs[3 * ox + 1]!, xs[3 * ox + 2]!];
          const fx = ix - 1024 * x0;
          const r0 = (b * h + y0) * w;
          const r1 = (b * h + y1) * w;
          for (let ch = 0; ch < c; ch++) {
            // |sum| < 2^15·2^20: exact in doubles
            const s = xd[(r0 + x0) * c + ch]! * (1024 - fy) * (1024 - fx) + xd[(r1 + x0) * c + ch]! * fy * (1024 - fx) + xd[(r0 + x1) * c + ch]! * (1024 - fy) * fx + xd[(r1 + x1) * c + ch]! * fy * fx;
            y[k++] = clampInt(Math.trunc((s + (s > 0 ? 1 << 19 : -(1 << 19))) / (1 << 20)), out.lo, out.hi);
          }
        }
      }
    return [new Tensor(out.dtype, [n, oh, ow, c], y)];
  },
});

export const INTEGER_OPS: OpTable = {
  'nnport.int::Conv': Conv,
  'nnport.int::Gemm': Gemm,
  'nnport.int::ConvTranspose': ConvTranspose,
  'nnport.int::Add': addSub(1),
  'nnport.int::Sub': addSub(-1),
  'nnport.int::Mul': Mul,
  'nnport.int::AveragePool': AveragePool,
  'nnport.int::MaxPool': MaxPool,
  'nnport.int::Softmax': Softmax,
  'nnport.int::Sigmoid': lookup(
    {
      builtin: sigmoidf,
      // XNNPACK's sigmoid: the complement 1 − sigmoid(−x) on x ≥ 0; output grid 1/256, zero point −128 (int8) / 0 (uint8)
      xnnpack: { fn: (x) => (x < 0 || Object.is(x, -0) ? sigmoidf(x) : f32(1 - sigmoidf(-x))), scale: 2 ** -8, zp: { int8: -128, uint8: 0 } },
    },
    logisticInt16,
  ),
  // the interpreter runs an int8 TANH on TFLite's own table (measured: ties away from zero)
  'nnport.int::Tanh': lookup({ builtin: tanhf }, tanhInt16),
  'nnport.int::ReduceMean': ReduceMean,
  'nnport.int::Concat': Concat,
  'nnport.int::Requantize': Requantize,
  'nnport.int::LeakyRelu': LeakyRelu,
  'nnport.int::MatMul': BatchMatMulInt,
  'nnport.int::PRelu': PRelu,
  'nnport.int::HardSwish': HardSwish,
  'nnport.int::Resize': ResizeBilinear,
  QuantizeLinear,
  Pad,
  // float SUM / MEAN between an island's DEQUANTIZE and QUANTIZE (a GroupNorm's statistics) as the
  // interpreter's kernels: summed in float32 in input order (measured on torchvision's FCOS head: a
  // sum in double put 20 of 262,144 of its first GroupNorm's int8 outputs one step off)
  ReduceSum: reduceOp('ReduceSum', true),
  ReduceMean: reduceOp('ReduceMean', true),
  ...SVDF_INTEGER_OPS,
  ...QUANTIZED_LSTM_INTEGER_OPS,
};
