// Conv, ConvTranspose and nnport::FusedConv (NCHW): the window attributes they share with the
// pools, and the output-size rules (explicit pads, auto_pad SAME_*/VALID, ceil_mode).
import { ShapeError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString, type Dim, type Node } from '../graph.js';
import { defineOpDef, fmtShape, input, mergeDim, type InferContext, type OpDefTable, type ValueType } from './op-def.js';

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

/** Strides, dilations and pads of `a` for `k.length` spatial axes with kernel `k`, checked. */
export function windowOf(a: WindowAttrs, k: number[], what: string): { k: number[]; s: number[]; d: number[]; pads: number[] } {
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

/** A 1-D or 2-D window on a plane, as the 2-D kernels take it: a 1-D axis is the width, of height 1. */
export interface Window2d {
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** pads: top, left, bottom, right */
  pt: number;
  pl: number;
  pbot: number;
  pr: number;
}

/** The 2-D view of a 1-D or 2-D window: input and output dims, the window, begin and end pads per axis. */
export function window2d(spatial: readonly number[], out: readonly number[], win: { k: number[]; s: number[]; d: number[] }, pb: readonly number[], pe: readonly number[]): Window2d {
  const two = (v: readonly number[], one: number): [number, number] => (v.length === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);
  const [H, W] = two(spatial, 1);
  const [OH, OW] = two(out, 1);
  const [kh, kw] = two(win.k, 1);
  const [sh, sw] = two(win.s, 1);
  const [dh, dw] = two(win.d, 1);
  const [pt, pl] = two(pb, 0);
  const [pbot, pr] = two(pe, 0);
  return { H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pbot, pr };
}

/** Spatial output dims of a forward window over `spatial` (unknown input dims stay unknown). */
export function forwardDims(spatial: readonly Dim[], k: number[], a: WindowAttrs, op: string, ceil = false): Dim[] {
  const w = windowOf(a, k, op);
  const r = k.length;
  return spatial.map((inp, i) => {
    if (typeof inp !== 'number') return null;
    const [o] = forwardAxis(inp, k[i]!, w.s[i]!, w.d[i]!, w.pads[i]!, w.pads[i + r]!, a.autoPad, ceil);
    if (o < 0) throw new ShapeError(`${op} window (kernel ${k[i]}, dilation ${w.d[i]}) is larger than the padded input (${inp}) on spatial axis ${i}`);
    return o;
  });
}

export interface ConvAttrs extends WindowAttrs {
  group: number;
  /** fused activation as a clamp (nnport::FusedConv); -Infinity / Infinity for plain Conv */
  actMin: number;
  actMax: number;
}

export function parseConvAttrs(node: Node): ConvAttrs {
  const group = attrInt(node, 'group', 1);
  if (!Number.isInteger(group) || group < 1) throw new ShapeError(`group ${group} must be >= 1`);
  return { ...parseWindowAttrs(node), group, actMin: -Infinity, actMax: Infinity };
}

/**
 * nnport::FusedConv (made by runtime/fuse-conv.ts): a Conv whose output is clamped to
 * [activation_min, activation_max] in the kernels' store, which covers Relu, Relu6 and Clip.
 */
export function parseFusedConvAttrs(node: Node): ConvAttrs {
  const a = parseConvAttrs(node);
  const actMin = attrFloat(node, 'activation_min', -Infinity);
  const actMax = attrFloat(node, 'activation_max', Infinity);
  if (Number.isNaN(actMin) || Number.isNaN(actMax)) throw new ShapeError(`FusedConv activation bounds [${actMin}, ${actMax}] must be numbers`);
  return { ...a, actMin, actMax };
}

export interface ConvTransposeAttrs extends ConvAttrs {
  outputPadding?: number[];
  outputShape?: number[];
}

export function parseConvTransposeAttrs(node: Node): ConvTransposeAttrs {
  const a = parseConvAttrs(node);
  const outputPadding = attrInts(node, 'output_padding');
  const outputShape = attrInts(node, 'output_shape');
  if (outputPadding?.some((v) => !Number.isInteger(v) || v < 0)) throw new ShapeError(`output_padding [${outputPadding.join(', ')}] must be >= 0`);
  if (outputShape?.some((v) => !Number.isInteger(v) || v < 0)) throw new ShapeError(`output_shape [${outputShape.join(', ')}] must be >= 0`);
  return { ...a, outputPadding, outputShape };
}

/** Rank of an N-C-spatial op from X or W, whichever is known. */
function rankOf(op: string, x: ValueType, w: ValueType | undefined): number | undefined {
  const r = x.shape?.length ?? w?.shape?.length;
  if (r !== undefined && r < 3) throw new ShapeError(`${op} input X must have rank >= 3 (N, C, spatial...), got ${fmtShape(x.shape ?? w?.shape)}`);
  if (x.shape && w?.shape && w.shape.length !== x.shape.length) throw new ShapeError(`${op} weight W ${fmtShape(w.shape)} must have the rank of X ${fmtShape(x.shape)}`);
  return r;
}

/** The kernel's spatial size, from W or kernel_shape; undefined when neither is known. */
function kernelOf(op: string, w: ValueType | undefined, a: WindowAttrs, r: number): number[] | undefined {
  const fromW = w?.shape?.slice(2);
  if (a.kernelShape && a.kernelShape.length !== r - 2) throw new ShapeError(`${op}: kernel_shape [${a.kernelShape.join(', ')}] must have ${r - 2} entries`);
  if (fromW && fromW.every((d) => typeof d === 'number')) {
    if (a.kernelShape && a.kernelShape.join() !== fromW.join()) throw new ShapeError(`kernel_shape [${a.kernelShape.join(', ')}] does not match weights ${fmtShape(w!.shape)}`);
    return fromW as number[];
  }
  return a.kernelShape;
}

export function inferConv(ctx: InferContext<ConvAttrs>): ValueType[] {
  const op = ctx.node.opType;
  const x = input(ctx, 0, 'X');
  const w = input(ctx, 1, 'W');
  const r = rankOf(op, x, w);
  if (r === undefined) return [{ dtype: x.dtype }];
  const xs = x.shape ?? new Array<Dim>(r).fill(null);
  const ws = w.shape ?? new Array<Dim>(r).fill(null);
  const G = ctx.attrs.group;
  if (typeof xs[1] === 'number' && typeof ws[1] === 'number' && ws[1] * G !== xs[1]) {
    throw new ShapeError(`${op} input has ${xs[1]} channels but weights ${fmtShape(ws)} with group ${G} expect ${ws[1] * G}`);
  }
  if (typeof ws[0] === 'number' && ws[0] % G !== 0) throw new ShapeError(`${op} output channels ${ws[0]} are not divisible by group ${G}`);
  const b = ctx.inputs[2];
  let M: Dim = ws[0]!;
  if (b?.shape) {
    if (b.shape.length !== 1) throw new ShapeError(`${op} bias must have rank 1, got ${fmtShape(b.shape)}`);
    M = mergeDim(M, b.shape[0]!, `${op} bias and output channels`);
  }
  const k = kernelOf(op, w, ctx.attrs, r);
  const spatial = k ? forwardDims(xs.slice(2), k, ctx.attrs, op) : new Array<Dim>(r - 2).fill(null);
  return [{ dtype: x.dtype, shape: [xs[0]!, M, ...spatial] }];
}

export function inferConvTranspose(ctx: InferContext<ConvTransposeAttrs>): ValueType[] {
  const op = ctx.node.opType;
  const x = input(ctx, 0, 'X');
  const w = input(ctx, 1, 'W');
  const r = rankOf(op, x, w);
  if (r === undefined) return [{ dtype: x.dtype }];
  const xs = x.shape ?? new Array<Dim>(r).fill(null);
  const ws = w.shape ?? new Array<Dim>(r).fill(null);
  const a = ctx.attrs;
  const G = a.group;
  if (typeof xs[1] === 'number' && typeof ws[0] === 'number' && ws[0] !== xs[1]) throw new ShapeError(`${op} input has ${xs[1]} channels but weights ${fmtShape(ws)} expect ${ws[0]}`);
  if (typeof xs[1] === 'number' && xs[1] % G !== 0) throw new ShapeError(`${op} input channels ${xs[1]} are not divisible by group ${G}`);
  const M: Dim = typeof ws[1] === 'number' ? ws[1] * G : null;
  const k = kernelOf(op, w, a, r);
  const n = r - 2;
  let given = a.outputShape;
  if (given && given.length === r) given = given.slice(2);
  if (given && given.length !== n) throw new ShapeError(`output_shape [${a.outputShape!.join(', ')}] must have ${n} spatial entries`);
  const outPad = a.outputPadding ?? new Array<number>(n).fill(0);
  if (outPad.length !== n) throw new ShapeError(`output_padding [${outPad.join(', ')}] must have ${n} entries`);
  const spatial = xs.slice(2).map((inp, i): Dim => {
    if (given) return given[i]!;
    if (typeof inp !== 'number' || !k) return null;
    const win = windowOf(a, k, op);
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') return inp * win.s[i]!;
    const ek = (k[i]! - 1) * win.d[i]! + 1;
    const [pb, pe] = a.autoPad === 'VALID' ? [0, 0] : [win.pads[i]!, win.pads[i + n]!];
    const o = win.s[i]! * (inp - 1) + outPad[i]! + ek - pb - pe;
    if (o < 0) throw new ShapeError(`${op} pads [${win.pads.join(', ')}] exceed the output size on spatial axis ${i}`);
    return o;
  });
  return [{ dtype: x.dtype, shape: [xs[0]!, M, ...spatial] }];
}

export const convDefs = {
  Conv: defineOpDef<ConvAttrs>({ opType: 'Conv', domain: '', layout: 'spatial', attrs: parseConvAttrs, infer: inferConv }),
  ConvTranspose: defineOpDef<ConvTransposeAttrs>({ opType: 'ConvTranspose', domain: '', layout: 'spatial', attrs: parseConvTransposeAttrs, infer: inferConvTranspose }),
  'nnport::FusedConv': defineOpDef<ConvAttrs>({ opType: 'FusedConv', domain: 'nnport', layout: 'spatial', attrs: parseFusedConvAttrs, infer: inferConv }),
} satisfies OpDefTable;
