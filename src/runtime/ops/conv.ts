// Conv and ConvTranspose (ONNX semantics, NCHW float32): attributes, checks and output shapes
// here; the compute behind src/wasm/dense.ts (1-D and 2-D: im2col + packed GEMM, a direct SIMD
// kernel for depthwise) and src/wasm/conv-nd.ts (any other spatial rank).
import { ShapeError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { convNd, convTransposeNd } from '../../wasm/conv-nd.js';
import { conv2dF32, convTranspose2dF32, type Conv2dGeometry } from '../../wasm/dense.js';
import { float32Data, requireInput } from './gemm.js';

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

/** Attributes shared by Conv, ConvTranspose and the pools, parsed once. */
export interface WindowAttrs {
  autoPad: AutoPad;
  kernelShape?: number[];
  strides?: number[];
  dilations?: number[];
  /** [x1_begin, x2_begin, ..., x1_end, x2_end, ...] */
  pads?: number[];
}

export function parseWindowAttrs(node: Node): WindowAttrs {
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw new ShapeError(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  const a: WindowAttrs = {
    autoPad: autoPad as AutoPad,
    kernelShape: attrInts(node, 'kernel_shape'),
    strides: attrInts(node, 'strides'),
    dilations: attrInts(node, 'dilations'),
    pads: attrInts(node, 'pads'),
  };
  for (const [name, v, min] of [['kernel_shape', a.kernelShape, 1], ['strides', a.strides, 1], ['dilations', a.dilations, 1], ['pads', a.pads, 0]] as const) {
    if (v && v.some((x) => !Number.isInteger(x) || x < min)) throw new ShapeError(`${name} [${v.join(', ')}] must be integers >= ${min}`);
  }
  if (a.pads && a.autoPad !== 'NOTSET') throw new ShapeError(`pads and auto_pad '${a.autoPad}' cannot both be set`);
  return a;
}

/** Per spatial axis: the resolved window geometry. */
export interface Window {
  k: number[];
  s: number[];
  d: number[];
  /** begin / end padding per axis */
  pb: number[];
  pe: number[];
}

/** Strides, dilations and pads of `a` for `rank` spatial axes with kernel `k`, checked. */
export function windowOf(a: WindowAttrs, k: number[], what: string): Omit<Window, 'pb' | 'pe'> & { pads: number[] } {
  const r = k.length;
  const s = a.strides ?? new Array<number>(r).fill(1);
  const d = a.dilations ?? new Array<number>(r).fill(1);
  const pads = a.pads ?? new Array<number>(2 * r).fill(0);
  if (s.length !== r) throw new ShapeError(`${what}: strides [${s.join(', ')}] must have ${r} entries`);
  if (d.length !== r) throw new ShapeError(`${what}: dilations [${d.join(', ')}] must have ${r} entries`);
  if (pads.length !== 2 * r) throw new ShapeError(`${what}: pads [${pads.join(', ')}] must have ${2 * r} entries`);
  return { k, s, d, pads };
}

/**
 * Output size and begin/end pads of a forward window (Conv, pools) on one axis.
 * SAME_* pads so that out = ceil(in / stride); SAME_UPPER puts the odd pixel at the end.
 */
export function forwardAxis(inp: number, k: number, s: number, d: number, padB: number, padE: number, autoPad: AutoPad, ceil = false): [number, number, number] {
  const ek = (k - 1) * d + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const out = Math.ceil(inp / s);
    const total = Math.max(0, (out - 1) * s + ek - inp);
    const small = Math.floor(total / 2);
    return autoPad === 'SAME_UPPER' ? [out, small, total - small] : [out, total - small, small];
  }
  if (autoPad === 'VALID') {
    padB = 0;
    padE = 0;
  }
  const span = inp + padB + padE - ek;
  if (span < 0) return [-1, padB, padE];
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // ceil_mode: a last window that would start inside the end padding is dropped (as PyTorch and onnx do).
  if (ceil && (out - 1) * s >= inp + padB) out--;
  return [out, padB, padE];
}

interface ConvAttrs extends WindowAttrs {
  group: number;
  /** fused activation as a clamp (nnport::FusedConv); -Infinity / Infinity for plain Conv */
  actMin: number;
  actMax: number;
}

function parseConvAttrs(node: Node): ConvAttrs {
  const group = attrInt(node, 'group', 1);
  if (!Number.isInteger(group) || group < 1) throw new ShapeError(`group ${group} must be >= 1`);
  return { ...parseWindowAttrs(node), group, actMin: -Infinity, actMax: Infinity };
}

/**
 * nnport::FusedConv (made by runtime/fuse-conv.ts): a Conv whose output is clamped to
 * [activation_min, activation_max] in the kernels' store, which covers Relu, Relu6 and Clip.
 */
function parseFusedConvAttrs(node: Node): ConvAttrs {
  const a = parseConvAttrs(node);
  const actMin = attrFloat(node, 'activation_min', -Infinity);
  const actMax = attrFloat(node, 'activation_max', Infinity);
  if (Number.isNaN(actMin) || Number.isNaN(actMax)) throw new ShapeError(`FusedConv activation bounds [${actMin}, ${actMax}] must be numbers`);
  return { ...a, actMin, actMax };
}

/** The spatial extent of a conv's input (at least one spatial axis). */
function spatialOf(shape: readonly number[], op: string, what: string): number[] {
  if (shape.length < 3) throw new ShapeError(`${op} ${what} must have rank >= 3 (N, C, spatial...), got [${shape.join(', ')}]`);
  return shape.slice(2);
}

/** [H, W] pair of a 1-D or 2-D list (1-D becomes [1, x]). */
const hw = (v: number[], one = 1): [number, number] => (v.length === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);

function checkBias(B: Tensor | undefined, M: number, op: string): Float32Array | undefined {
  if (!B) return undefined;
  const b = float32Data(B, op, 'B');
  if (B.rank !== 1 || B.shape[0] !== M) throw new ShapeError(`${op} bias must have shape [${M}], got [${B.shape.join(', ')}]`);
  return b;
}

const Conv = defineOp<ConvAttrs>({
  attrs: parseConvAttrs,
  run: runConv,
});

const FusedConv = defineOp<ConvAttrs>({
  attrs: parseFusedConvAttrs,
  run: runConv,
});

function runConv(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs): Tensor[] {
  const X = requireInput(inputs, 0, 'X');
  const Wt = requireInput(inputs, 1, 'W');
  const x = float32Data(X, 'Conv', 'X');
  float32Data(Wt, 'Conv', 'W');
  const sp = spatialOf(X.shape, 'Conv', 'input X');
  if (Wt.rank !== X.rank) throw new ShapeError(`Conv weight W [${Wt.shape.join(', ')}] must have the rank of X [${X.shape.join(', ')}]`);
  const [N, C] = [X.shape[0]!, X.shape[1]!];
  const [M, Cg] = [Wt.shape[0]!, Wt.shape[1]!];
  const G = at.group;
  const k = Wt.shape.slice(2);
  if (at.kernelShape && at.kernelShape.join() !== k.join()) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] does not match weights [${Wt.shape.join(', ')}]`);
  if (Cg * G !== C) throw new ShapeError(`Conv input has ${C} channels but weights [${Wt.shape.join(', ')}] with group ${G} expect ${Cg * G}`);
  if (M % G !== 0) throw new ShapeError(`Conv output channels ${M} are not divisible by group ${G}`);
  const bias = checkBias(inputs[2], M, 'Conv');
  const win = windowOf(at, k, 'Conv');
  const r = k.length;
  const out: number[] = [];
  const pb: number[] = [];
  for (let i = 0; i < r; i++) {
    const [o, b] = forwardAxis(sp[i]!, k[i]!, win.s[i]!, win.d[i]!, win.pads[i]!, win.pads[i + r]!, at.autoPad);
    if (o < 0) throw new ShapeError(`Conv window (kernel ${k[i]}, dilation ${win.d[i]}) is larger than the padded input (${sp[i]}) on spatial axis ${i}`);
    out.push(o);
    pb.push(b);
  }
  const outShape = [N, M, ...out];
  const size = shapeSize(outShape);
  if (size === 0) return [new Tensor('float32', outShape, new Float32Array(0))];
  const plane = shapeSize(out);
  if (Cg * shapeSize(k) === 0 || X.size === 0) {
    // No input taps: every output is its bias.
    const y = new Float32Array(size);
    if (bias) for (let i = 0; i < y.length; i++) y[i] = clampTo(bias[Math.floor(i / plane) % M]!, at.actMin, at.actMax);
    else if (at.actMin > 0 || at.actMax < 0) y.fill(clampTo(0, at.actMin, at.actMax));
    return [new Tensor('float32', outShape, y)];
  }
  if (r !== 1 && r !== 2) {
    return [new Tensor('float32', outShape, convNd(x, N, C, sp, Wt, M, G, bias, { k, s: win.s, d: win.d, pb }, out, at.actMin, at.actMax))];
  }
  const [H, W] = hw(sp);
  const [OH, OW] = hw(out);
  const [kh, kw] = hw(k);
  const [sh, sw] = hw(win.s);
  const [dh, dw] = hw(win.d);
  const [pt, pl] = hw(pb, 0);
  const geom: Conv2dGeometry = { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl };
  const y = conv2dF32(x, Wt, bias, geom, at.actMin, at.actMax);
  return [new Tensor('float32', outShape, y)];
}

/** The scalar clamp of the kernels' activation epilogue (NaN passes through). */
function clampTo(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

interface ConvTransposeAttrs extends ConvAttrs {
  outputPadding?: number[];
  outputShape?: number[];
}

const ConvTranspose = defineOp<ConvTransposeAttrs>({
  attrs(node) {
    const a = parseConvAttrs(node);
    const outputPadding = attrInts(node, 'output_padding');
    const outputShape = attrInts(node, 'output_shape');
    if (outputPadding?.some((v) => !Number.isInteger(v) || v < 0)) throw new ShapeError(`output_padding [${outputPadding.join(', ')}] must be >= 0`);
    if (outputShape?.some((v) => !Number.isInteger(v) || v < 0)) throw new ShapeError(`output_shape [${outputShape.join(', ')}] must be >= 0`);
    return { ...a, outputPadding, outputShape };
  },
  run(inputs, at) {
    const X = requireInput(inputs, 0, 'X');
    const Wt = requireInput(inputs, 1, 'W');
    const x = float32Data(X, 'ConvTranspose', 'X');
    float32Data(Wt, 'ConvTranspose', 'W');
    const sp = spatialOf(X.shape, 'ConvTranspose', 'input X');
    if (Wt.rank !== X.rank) throw new ShapeError(`ConvTranspose weight W [${Wt.shape.join(', ')}] must have the rank of X [${X.shape.join(', ')}]`);
    const [N, C] = [X.shape[0]!, X.shape[1]!];
    const G = at.group;
    const [Cw, Mg] = [Wt.shape[0]!, Wt.shape[1]!];
    const k = Wt.shape.slice(2);
    if (Cw !== C) throw new ShapeError(`ConvTranspose input has ${C} channels but weights [${Wt.shape.join(', ')}] expect ${Cw}`);
    if (C % G !== 0) throw new ShapeError(`ConvTranspose input channels ${C} are not divisible by group ${G}`);
    if (at.kernelShape && at.kernelShape.join() !== k.join()) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] does not match weights [${Wt.shape.join(', ')}]`);
    const M = Mg * G;
    const Cg = C / G;
    const bias = checkBias(inputs[2], M, 'ConvTranspose');
    const win = windowOf(at, k, 'ConvTranspose');
    const r = k.length;
    const op = at.outputPadding ?? new Array<number>(r).fill(0);
    if (op.length !== r) throw new ShapeError(`output_padding [${op.join(', ')}] must have ${r} entries`);
    let given = at.outputShape;
    if (given && given.length === r + 2) given = given.slice(2);
    if (given && given.length !== r) throw new ShapeError(`output_shape [${at.outputShape!.join(', ')}] must have ${r} spatial entries`);
    const out: number[] = [];
    const pb: number[] = [];
    for (let i = 0; i < r; i++) {
      const ek = (k[i]! - 1) * win.d[i]! + 1;
      const natural = win.s[i]! * (sp[i]! - 1) + op[i]! + ek;
      if (given || at.autoPad === 'SAME_UPPER' || at.autoPad === 'SAME_LOWER') {
        // The pads follow from the requested size; SAME_UPPER puts the odd one at the end.
        const o = given ? given[i]! : sp[i]! * win.s[i]!;
        const total = natural - o;
        const half = Math.floor(total / 2);
        out.push(o);
        pb.push(at.autoPad === 'SAME_UPPER' ? half : total - half);
      } else {
        const [b, e] = at.autoPad === 'VALID' ? [0, 0] : [win.pads[i]!, win.pads[i + r]!];
        const o = natural - b - e;
        if (o < 0) throw new ShapeError(`ConvTranspose pads [${win.pads.join(', ')}] exceed the output size on spatial axis ${i}`);
        out.push(o);
        pb.push(b);
      }
    }
    const outShape = [N, M, ...out];
    const y = new Float32Array(shapeSize(outShape));
    if (y.length === 0) return [new Tensor('float32', outShape, y)];
    const plane = shapeSize(out);
    if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / plane) % M]!;
    if (X.size === 0 || Cg === 0 || Mg * shapeSize(k) === 0) return [new Tensor('float32', outShape, y)];
    if (r !== 1 && r !== 2) {
      convTransposeNd(x, N, C, sp, Wt, M, G, { k, s: win.s, d: win.d, pb }, out, y);
      return [new Tensor('float32', outShape, y)];
    }
    const [H, W] = hw(sp);
    const [OH, OW] = hw(out);
    const [kh, kw] = hw(k);
    const [sh, sw] = hw(win.s);
    const [dh, dw] = hw(win.d);
    const [pt, pl] = hw(pb, 0);
    convTranspose2dF32(x, Wt, { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl }, y);
    return [new Tensor('float32', outShape, y)];
  },
});

export const CONV_OPS: OpTable = { Conv, ConvTranspose, 'nnport::FusedConv': FusedConv };
