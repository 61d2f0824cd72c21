// More TFLite builtin ops -> IR (the rows beside ops.ts's table): index, comparison, logical,
// broadcasting and reordering ops, mirror padding, normalizations, space/batch reshuffles. Each
// maps onto ONNX ops the reference runtime runs; a quantized operand is dequantized first and a
// quantized output quantized after (QDQ), as ops.ts does, unless the op only moves data.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { DType } from '../../ir/dtypes.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { CumsumOptions } from '../generated/tflite/cumsum-options.js';
import { L2NormOptions } from '../generated/tflite/l2-norm-options.js';
import { LocalResponseNormalizationOptions } from '../generated/tflite/local-response-normalization-options.js';
import { MirrorPadMode } from '../generated/tflite/mirror-pad-mode.js';
import { MirrorPadOptions } from '../generated/tflite/mirror-pad-options.js';
import { OneHotOptions } from '../generated/tflite/one-hot-options.js';
import { UnpackOptions } from '../generated/tflite/unpack-options.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import type { OpContext } from './read.js';
import { copiesBytes, sameQuant } from './read.js';
import { nonMaxSuppressionV4, nonMaxSuppressionV5 } from './read-nms.js';
import { constInts, fin, finish, floatOut, int, ints, isDynamic, moveData, options, outName, outTensor, scratch, str, tensor, unary, type Converter } from './ops.js';

/** ONNX TensorProto data type of a dtype (Cast's `to`). */
const ONNX_TYPES: Partial<Record<DType, number>> = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13 };

function onnxType(c: OpContext, d: DType): number {
  const t = ONNX_TYPES[d];
  if (t === undefined) throw new UnsupportedError(`TFLite ${c.opName} to ${d}`, `'${outName(c)}'`);
  return t;
}

/** A value of input i as int64 (ONNX's shape/index type): a constant converted once, or a Cast. */
function int64Of(c: OpContext, i: number): string {
  const t = tensor(c, i);
  if (t.dtype === 'int64') return t.name;
  // a constant keeps its shape (GATHER_ND's [n, k] indices)
  if (t.data) return c.b.constant(Tensor.int64([...t.data.shape], t.data.toNumbers()), `${t.name}_int64`);
  const y = c.b.fresh(`${t.name}_int64`);
  c.b.node('Cast', [t.name], [y], { to: int(7) });
  return y;
}

/** A float op's result cast to the output tensor's integer type (ONNX gives int64 where TFLite asks int32). */
function castTo(c: OpContext, y: string, from: DType): void {
  const out = outTensor(c);
  if (out.dtype === from) c.b.node('Identity', [y], [out.name]);
  else c.b.node('Cast', [y], [out.name], { to: int(onnxType(c, out.dtype)) });
}

const argMinMax =
  (opType: 'ArgMax' | 'ArgMin'): Converter =>
  (c) => {
    const rank = tensor(c, 0).shape.length;
    const [a] = constInts(c, 1, 'axis');
    if (a === undefined || a < -rank || a >= rank) throw new FormatError(`${c.opName} '${outName(c)}': axis ${a} of a rank-${rank} input`, { file: c.b.file });
    const y = c.b.fresh(`${outName(c)}_int64`);
    // TFLite keeps the first index of equal values, as ONNX's select_last_index=0 does
    c.b.node(opType, [fin(c, 0)], [y], { axis: int(a! < 0 ? a! + rank : a!), keepdims: int(0) });
    castTo(c, y, 'int64');
  };

const cast: Converter = (c) => {
  const x = tensor(c, 0);
  const out = outTensor(c);
  if (x.quant || out.quant) throw new UnsupportedError('TFLite CAST of a quantized tensor', `'${out.name}'`);
  c.b.node('Cast', [x.name], [out.name], { to: int(onnxType(c, out.dtype)) });
};

const splitV: Converter = (c) => {
  const x = tensor(c, 0);
  const rank = x.shape.length;
  const [a0] = constInts(c, 2, 'axis');
  const axis = a0! < 0 ? a0! + rank : a0!;
  let sizes = constInts(c, 1, 'size_splits');
  const outs = c.outputs.map((_, i) => outTensor(c, i));
  const open = sizes.indexOf(-1);
  if (open >= 0 && isDynamic(x, axis)) {
    // -1 on a dynamic axis: each output a Slice counted from the start before the -1 and from the
    // end after it, so the -1 part takes what the axis holds at run time
    const integer = outs.every((t) => copiesBytes(x, t));
    const ys = outs.map((t, i) => (integer ? t.name : floatOut(c, i)));
    const from = integer ? x.name : fin(c, 0);
    const before = (i: number) => sizes.slice(0, i).reduce((p, s) => p + s, 0);
    const after = (i: number) => sizes.slice(i).reduce((p, s) => p + s, 0);
    const edge = (i: number) => (i <= open ? before(i) : -after(i));
    const END = Number.MAX_SAFE_INTEGER;
    ys.forEach((y, i) => {
      const end = i + 1 === sizes.length || (i + 1 > open && after(i + 1) === 0) ? END : edge(i + 1);
      c.b.node('Slice', [from, c.b.int64s([edge(i)], 'starts'), c.b.int64s([end], 'ends'), c.b.int64s([axis], 'axes')], [y]);
      if (!integer) finish(c, i, y);
    });
    return;
  }
  const known = sizes.filter((s) => s >= 0).reduce((p, s) => p + s, 0);
  sizes = sizes.map((s) => (s < 0 ? x.shape[axis]! - known : s));
  const split = c.b.int64s(sizes, 'split');
  if (outs.every((t) => copiesBytes(x, t))) {
    c.b.node('Split', [x.name, split], outs.map((t) => t.name), { axis: int(axis) });
    return;
  }
  const ys = outs.map((_, i) => floatOut(c, i));
  c.b.node('Split', [fin(c, 0), split], ys, { axis: int(axis) });
  ys.forEach((y, i) => finish(c, i, y));
};

const unpack: Converter = (c) => {
  const o = options(c, BuiltinOptions.UnpackOptions, () => new UnpackOptions());
  const x = tensor(c, 0);
  const rank = x.shape.length;
  const a = o?.axis() ?? 0;
  const axis = a < 0 ? a + rank : a;
  const outs = c.outputs.map((_, i) => outTensor(c, i));
  const integer = outs.every((t) => sameQuant(x, t));
  const parts = outs.map((t) => c.b.fresh(`${t.name}_slice`));
  c.b.node('Split', [integer ? x.name : fin(c, 0)], parts, { axis: int(axis), num_outputs: int(outs.length) });
  const axes = c.b.int64s([axis], 'axes');
  outs.forEach((t, i) => {
    if (integer) return void c.b.node('Squeeze', [parts[i]!, axes], [t.name]);
    const y = floatOut(c, i);
    c.b.node('Squeeze', [parts[i]!, axes], [y]);
    finish(c, i, y);
  });
};

const tile: Converter = (c) => moveData(c, (x, y) => c.b.node('Tile', [x, int64Of(c, 1)], [y]));

const broadcastTo: Converter = (c) => moveData(c, (x, y) => c.b.node('Expand', [x, int64Of(c, 1)], [y]));

const reverseV2: Converter = (c) => {
  const rank = tensor(c, 0).shape.length;
  const axes = constInts(c, 1, 'axis').map((a) => (a < 0 ? a + rank : a));
  const BIG = 2 ** 53 - 1;
  moveData(c, (x, y) => c.b.node('Slice', [x, c.b.int64s(axes.map(() => -1), 'starts'), c.b.int64s(axes.map(() => -BIG), 'ends'), c.b.int64s(axes, 'axes'), c.b.int64s(axes.map(() => -1), 'steps')], [y]));
};

const squaredDifference: Converter = (c) => {
  const d = c.b.fresh(`${outName(c)}_diff`);
  c.b.node('Sub', [fin(c, 0), fin(c, 1)], [d]);
  const y = floatOut(c, 0);
  c.b.node('Mul', [d, d], [y]);
  finish(c, 0, y);
};

const mirrorPad: Converter = (c) => {
  const o = options(c, BuiltinOptions.MirrorPadOptions, () => new MirrorPadOptions());
  const x = tensor(c, 0);
  const shape = x.shape;
  const pt = tensor(c, 1);
  if (pt.shape.length !== 2 || pt.shape[0] !== shape.length || pt.shape[1] !== 2 || !['int32', 'int64'].includes(pt.dtype)) {
    throw new FormatError(`MIRROR_PAD '${outName(c)}': paddings '${pt.name}' are ${pt.dtype} [${pt.shape.join(', ')}], expected int32 or int64 [${shape.length}, 2] for input shape [${shape.join(', ')}]`, { file: c.b.file });
  }
  if (!pt.data) return mirrorPadComputed(c, o?.mode() === MirrorPadMode.SYMMETRIC);
  const p = constInts(c, 1, 'paddings');
  const rank = p.length / 2;
  if (rank !== shape.length || p.some((v) => v < 0)) throw new FormatError(`MIRROR_PAD '${outName(c)}': paddings [${p.join(', ')}] for shape [${shape.join(', ')}]`, { file: c.b.file });
  const symmetric = o?.mode() === MirrorPadMode.SYMMETRIC;
  moveData(c, (xin, yout) => {
    if (!rank) return void c.b.node('Identity', [xin], [yout]);
    if (!symmetric) {
      const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)];
      c.b.node('Pad', [xin, c.b.int64s(pads, 'pads')], [yout], { mode: { type: 'string', value: 'reflect' } });
      return;
    }
    // SYMMETRIC repeats the edge (ONNX has no such mode): per padded axis, the reversed leading and
    // trailing slices concatenated around the data
    const padded = Array.from({ length: rank }, (_, i) => i).filter((i) => p[2 * i]! || p[2 * i + 1]!);
    let v = xin;
    padded.forEach((axis, k) => {
      const [b, e] = [p[2 * axis]!, p[2 * axis + 1]!];
      const d = shape[axis]!;
      if (b > d || e > d) throw new FormatError(`MIRROR_PAD '${outName(c)}': pads ${b}, ${e} exceed dim ${axis} of size ${d}`, { file: c.b.file });
      const parts: string[] = [];
      const rev = (from: number, to: number, tag: string) => {
        // elements to-1 .. from, reversed
        const r = c.b.fresh(`${outName(c)}_${tag}${axis}`);
        c.b.node('Slice', [v, c.b.int64s([to - 1], 'starts'), c.b.int64s([from - 1 < 0 ? -(2 ** 53 - 1) : from - 1], 'ends'), c.b.int64s([axis], 'axes'), c.b.int64s([-1], 'steps')], [r]);
        return r;
      };
      if (b) parts.push(rev(0, b, 'before'));
      parts.push(v);
      if (e) parts.push(rev(d - e, d, 'after'));
      const last = k === padded.length - 1;
      const out = last ? yout : c.b.fresh(`${outName(c)}_padded${axis}`);
      c.b.node('Concat', parts, [out], { axis: int(axis) });
      v = out;
    });
    if (!padded.length) c.b.node('Identity', [v], [yout]);
  });
};

/**
 * MIRROR_PAD with paddings computed in the file ([rank, 2] rows of before / after, read when the model
 * runs). REFLECT: ONNX Pad's reflect mode on them. SYMMETRIC (the edge repeated; ONNX has no such
 * mode): per axis, the data between two reversed copies of itself, [rev(x), x, rev(x)], sliced from
 * n - before to 2n + after (TFLite's paddings are at most the dim: within the copies).
 */
function mirrorPadComputed(c: OpContext, symmetric: boolean): void {
  const { tmp, node } = scratch(c);
  const rank = tensor(c, 0).shape.length;
  const rows = int64Of(c, 1);
  moveData(c, (xin, yout) => {
    if (!rank) return void c.b.node('Identity', [xin], [yout]);
    if (!symmetric) {
      const pads = node('Reshape', [node('Transpose', [rows], 'paddings_columns', { perm: ints([1, 0]) }), c.b.int64s([-1], 'pads_shape')], 'pads');
      return void c.b.node('Pad', [xin, pads], [yout], { mode: str('reflect') });
    }
    const dims = node('Shape', [xin], 'input_shape');
    const BIG = 2 ** 53 - 1;
    let v = xin;
    for (let a = 0; a < rank; a++) {
      const at = (from: string, idx: number[], tag: string) => node('Slice', [from, c.b.int64s(idx, 'starts'), c.b.int64s(idx.map((i) => i + 1), 'ends')], tag);
      const size = at(dims, [a], `dim${a}`);
      const row = node('Reshape', [at(rows, [a], `paddings${a}`), c.b.int64s([2], 'shape_2')], `paddings${a}_row`);
      const before = at(row, [0], `before${a}`);
      const after = at(row, [1], `after${a}`);
      const axes = c.b.int64s([a], 'axes');
      const rev = node('Slice', [v, c.b.int64s([-1], 'starts'), c.b.int64s([-BIG], 'ends'), axes, c.b.int64s([-1], 'steps')], `reversed${a}`);
      const tripled = node('Concat', [rev, v, rev], `mirrored${a}`, { axis: int(a) });
      const start = node('Sub', [size, before], `start${a}`);
      const end = node('Add', [node('Add', [size, size], `twice${a}`), after], `end${a}`);
      const last = a === rank - 1;
      const out = last ? yout : tmp(`padded${a}`);
      c.b.node('Slice', [tripled, start, end, axes], [out]);
      v = out;
    }
  });
}

const l2Normalization: Converter = (c) => {
  const o = options(c, BuiltinOptions.L2NormOptions, () => new L2NormOptions());
  const act = o?.fusedActivationFunction() ?? ActivationFunctionType.NONE;
  const x = fin(c, 0);
  const n = outName(c);
  // TFLite: x / max(sqrt(Σx²), 1e-6) over the last axis
  const ss = c.b.fresh(`${n}_sum_squares`);
  c.b.node('ReduceSumSquare', [x, c.b.int64s([-1], 'axes')], [ss], { keepdims: int(1) });
  const norm = c.b.fresh(`${n}_norm`);
  c.b.node('Sqrt', [ss], [norm]);
  const clamped = c.b.fresh(`${n}_norm_clamped`);
  c.b.node('Max', [norm, c.b.float(1e-6, 'l2_epsilon')], [clamped]);
  const y = floatOut(c, 0, act);
  c.b.node('Div', [x, clamped], [y]);
  finish(c, 0, y, act);
};

const lrn: Converter = (c) => {
  const o = options(c, BuiltinOptions.LocalResponseNormalizationOptions, () => new LocalResponseNormalizationOptions());
  if (!o) throw new FormatError(`LOCAL_RESPONSE_NORMALIZATION '${outName(c)}' has no options`, { file: c.b.file });
  // TFLite sums alpha·x² over [c-r, c+r]; ONNX LRN divides alpha by the window size
  const size = 2 * o.radius() + 1;
  const y = floatOut(c, 0);
  c.b.node('LRN', [fin(c, 0)], [y], { size: int(size), alpha: { type: 'float', value: o.alpha() * size }, beta: { type: 'float', value: o.beta() }, bias: { type: 'float', value: o.bias() } }, 'nnport');
  finish(c, 0, y);
};

/** SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND as Pad/Slice, Reshape, Transpose, Reshape (static shapes). */
const spaceBatch =
  (toBatch: boolean): Converter =>
  (c) => {
    const x = tensor(c, 0);
    const out = outTensor(c);
    const block = constInts(c, 1, 'block_shape');
    const table = constInts(c, 2, toBatch ? 'paddings' : 'crops');
    const m = block.length;
    const s = x.shape;
    const rest = s.slice(1 + m);
    const nb = block.reduce((p, b) => p * b, 1);
    const bad = (why: string) => new FormatError(`${c.opName} '${outName(c)}': ${why}`, { file: c.b.file });
    if (table.length !== 2 * m || s.length < 1 + m || block.some((b) => b < 1)) throw bad(`block [${block.join(', ')}] and ${toBatch ? 'paddings' : 'crops'} [${table.join(', ')}] do not fit input shape [${s.join(', ')}]`);
    if (toBatch ? s.slice(1, 1 + m).some((d, i) => (d + table[2 * i]! + table[2 * i + 1]!) % block[i]!) : !isDynamic(x, 0) && s[0]! % nb) throw bad(`shape [${s.join(', ')}] does not divide by block [${block.join(', ')}]`);
    // a dynamic batch: -1 where the reshapes name it (the other dims are fixed by the block and crops)
    const batch = isDynamic(x, 0) ? -1 : s[0]!;
    moveData(c, (xin, yout) => {
      const t = (tag: string) => c.b.fresh(`${outName(c)}_${tag}`);
      if (toBatch) {
        const padded = s.slice(1, 1 + m).map((d, i) => d + table[2 * i]! + table[2 * i + 1]!);
        const pads = [0, ...block.map((_, i) => table[2 * i]!), ...rest.map(() => 0), 0, ...block.map((_, i) => table[2 * i + 1]!), ...rest.map(() => 0)];
        const p = t('padded');
        // integer data pads with the output's zero point (TFLite's output_offset), bytes copied as they are
        const zp = x.quant && out.quant && copiesBytes(x, out) ? [c.b.constant(Tensor.scalar(x.dtype, out.quant.zeroPoint[0]!), 'pad_value')] : [];
        c.b.node('Pad', [xin, c.b.int64s(pads, 'pads'), ...zp], [p]);
        // (N, H/bh, bh, W/bw, bw, C) -> (bh, bw, N, H/bh, W/bw, C)
        const split = t('split');
        c.b.node('Reshape', [p, c.b.int64s([batch, ...padded.flatMap((d, i) => [d / block[i]!, block[i]!]), ...rest], 'shape')], [split]);
        const moved = t('blocks_first');
        const perm = [...block.map((_, i) => 2 + 2 * i), 0, ...block.map((_, i) => 1 + 2 * i), ...rest.map((_, i) => 1 + 2 * m + i)];
        c.b.node('Transpose', [split], [moved], { perm: ints(perm) });
        c.b.node('Reshape', [moved, c.b.int64s([batch === -1 ? -1 : s[0]! * nb, ...padded.map((d, i) => d / block[i]!), ...rest], 'shape')], [yout]);
        return;
      }
      // (bh, bw, N, H, W, C) -> (N, H, bh, W, bw, C), then crop
      const n = batch === -1 ? -1 : s[0]! / nb;
      const split = t('split');
      c.b.node('Reshape', [xin, c.b.int64s([...block, n, ...s.slice(1)], 'shape')], [split]);
      const moved = t('blocks_inside');
      const perm = [m, ...block.flatMap((_, i) => [m + 1 + i, i]), ...rest.map((_, i) => 2 * m + 1 + i)];
      c.b.node('Transpose', [split], [moved], { perm: ints(perm) });
      const full = s.slice(1, 1 + m).map((d, i) => d * block[i]!);
      const merged = t('merged');
      c.b.node('Reshape', [moved, c.b.int64s([n, ...full, ...rest], 'shape')], [merged]);
      const axes = block.map((_, i) => 1 + i);
      c.b.node('Slice', [merged, c.b.int64s(block.map((_, i) => table[2 * i]!), 'starts'), c.b.int64s(full.map((d, i) => d - table[2 * i + 1]!), 'ends'), c.b.int64s(axes, 'axes')], [yout]);
    });
  };

/** Comparison ops: a bool output from the float (dequantized) operands. */
const compare =
  (opType: string, negate = false): Converter =>
  (c) => {
    const out = outTensor(c);
    if (!negate) return void c.b.node(opType, [fin(c, 0), fin(c, 1)], [out.name]);
    const eq = c.b.fresh(`${out.name}_equal`);
    c.b.node(opType, [fin(c, 0), fin(c, 1)], [eq]);
    c.b.node('Not', [eq], [out.name]);
  };

const logical =
  (opType: string): Converter =>
  (c) =>
    void c.b.node(opType, c.inputs.map((_, i) => tensor(c, i).name), [outTensor(c).name]);

const select: Converter = (c) => {
  const cond = tensor(c, 0);
  const x = tensor(c, 1);
  let condName = cond.name;
  // SELECT (v1) with a 1-D condition over a higher-rank x picks whole rows (dim 0)
  if (c.opName === 'SELECT' && cond.shape.length === 1 && x.shape.length > 1) {
    condName = c.b.fresh(`${cond.name}_rows`);
    c.b.node('Reshape', [cond.name, c.b.int64s([cond.shape[0]!, ...x.shape.slice(1).map(() => 1)], 'shape')], [condName]);
  }
  const out = outTensor(c);
  const y = tensor(c, 2);
  if (sameQuant(x, out) && sameQuant(y, out)) return void c.b.node('Where', [condName, x.name, y.name], [out.name]);
  const f = floatOut(c, 0);
  c.b.node('Where', [condName, fin(c, 1), fin(c, 2)], [f]);
  finish(c, 0, f);
};

const isFloat = (d: DType) => d === 'float32' || d === 'float16';

const floorDiv: Converter = (c) => {
  const out = outTensor(c);
  const a = fin(c, 0);
  const b = fin(c, 1);
  if (isFloat(tensor(c, 0).dtype) || tensor(c, 0).quant) {
    const q = c.b.fresh(`${outName(c)}_quotient`);
    c.b.node('Div', [a, b], [q]);
    const y = floatOut(c, 0);
    c.b.node('Floor', [q], [y]);
    return finish(c, 0, y);
  }
  // integers: (a - floormod(a, b)) / b divides exactly, so ONNX's truncating Div is the floor
  const m = c.b.fresh(`${outName(c)}_mod`);
  c.b.node('Mod', [a, b], [m], { fmod: int(0) });
  const d = c.b.fresh(`${outName(c)}_multiple`);
  c.b.node('Sub', [a, m], [d]);
  c.b.node('Div', [d, b], [out.name]);
};

const floorMod: Converter = (c) => {
  const out = outTensor(c);
  const a = fin(c, 0);
  const b = fin(c, 1);
  if (!isFloat(tensor(c, 0).dtype) && !tensor(c, 0).quant) return void c.b.node('Mod', [a, b], [out.name], { fmod: int(0) });
  // float: C fmod, moved to the divisor's sign when they differ (TFLite's FloorMod)
  const n = outName(c);
  const t = (s: string) => c.b.fresh(`${n}_${s}`);
  const zero = c.b.float(0, 'zero');
  const r = t('fmod');
  c.b.node('Mod', [a, b], [r], { fmod: int(1) });
  const [rNeg, bNeg, signsDiffer, rZero, rNonZero, fix, shifted] = ['r_negative', 'b_negative', 'signs_differ', 'r_zero', 'r_nonzero', 'fix', 'shifted'].map(t) as [string, string, string, string, string, string, string];
  c.b.node('Less', [r, zero], [rNeg]);
  c.b.node('Less', [b, zero], [bNeg]);
  c.b.node('Xor', [rNeg, bNeg], [signsDiffer]);
  c.b.node('Equal', [r, zero], [rZero]);
  c.b.node('Not', [rZero], [rNonZero]);
  c.b.node('And', [rNonZero, signsDiffer], [fix]);
  c.b.node('Add', [r, b], [shifted]);
  const y = floatOut(c, 0);
  c.b.node('Where', [fix, shifted, r], [y]);
  finish(c, 0, y);
};

/** ZEROS_LIKE (and FILL): a constant of the output tensor's static shape, broadcast with Expand. */
const zerosLike: Converter = (c) => {
  const x = tensor(c, 0);
  const out = outTensor(c);
  const shape = c.b.fresh(`${out.name}_shape`);
  c.b.node('Shape', [x.name], [shape]);
  const zero = c.b.constant(Tensor.scalar(out.dtype, 0), 'zero_of_type');
  c.b.node('Expand', [zero, shape], [out.name]);
};

const fill: Converter = (c) => {
  const out = outTensor(c);
  const v = tensor(c, 1);
  if (v.quant || out.quant) throw new UnsupportedError('TFLite FILL of a quantized value', `'${out.name}'`);
  c.b.node('Expand', [v.name, int64Of(c, 0)], [out.name]);
};

const shape: Converter = (c) => {
  const y = c.b.fresh(`${outName(c)}_int64`);
  c.b.node('Shape', [tensor(c, 0).name], [y]);
  castTo(c, y, 'int64');
};

const range: Converter = (c) => {
  const out = outTensor(c);
  // ONNX Range takes scalars; TFLite's may be [1]
  const scalar = (i: number) => {
    const t = tensor(c, i);
    if (!t.shape.length) return t.name;
    const s = c.b.fresh(`${t.name}_scalar`);
    c.b.node('Reshape', [t.name, c.b.int64s([], 'scalar_shape')], [s]);
    return s;
  };
  c.b.node('Range', [scalar(0), scalar(1), scalar(2)], [out.name]);
};

const gatherNd: Converter = (c) => moveData(c, (x, y) => c.b.node('GatherND', [x, int64Of(c, 1)], [y]));

const oneHot: Converter = (c) => {
  const o = options(c, BuiltinOptions.OneHotOptions, () => new OneHotOptions());
  const out = outTensor(c);
  const flat = (i: number) => {
    const t = tensor(c, i);
    const v = c.b.fresh(`${t.name}_1d`);
    c.b.node('Reshape', [t.name, c.b.int64s([1], 'shape_1')], [v]);
    return v;
  };
  // ONNX values: [off, on]
  const values = c.b.fresh(`${out.name}_values`);
  c.b.node('Concat', [flat(3), flat(2)], [values], { axis: int(0) });
  // TFLite's negative indices are out of range (all off); ONNX counts them from the back
  const idx = tensor(c, 0);
  const depth = tensor(c, 1);
  const negative = c.b.fresh(`${idx.name}_negative`);
  c.b.node('Less', [idx.name, c.b.constant(Tensor.scalar(idx.dtype, 0), `zero_${idx.dtype}`)], [negative]);
  const inRange = c.b.fresh(`${idx.name}_or_depth`);
  // (int64 indices beside TFLite's int32 depth: the depth cast to the indices' type for Where)
  let depthLike = depth.name;
  if (depth.dtype !== idx.dtype) {
    const codes: Partial<Record<string, number>> = { int32: 6, int64: 7 };
    if (codes[idx.dtype] === undefined) throw new UnsupportedError(`ONE_HOT of ${idx.dtype} indices`, `'${out.name}'`);
    depthLike = c.b.fresh(`${depth.name}_${idx.dtype}`);
    c.b.node('Cast', [depth.name], [depthLike], { to: int(codes[idx.dtype]!) });
  }
  c.b.node('Where', [negative, depthLike, idx.name], [inRange]);
  c.b.node('OneHot', [inRange, depth.name, values], [out.name], { axis: int(o?.axis() ?? -1) });
};

const cumsum: Converter = (c) => {
  const o = options(c, BuiltinOptions.CumsumOptions, () => new CumsumOptions());
  const y = floatOut(c, 0);
  const x = tensor(c, 0);
  c.b.node('CumSum', [x.quant ? fin(c, 0) : x.name, tensor(c, 1).name], [y], { exclusive: int(o?.exclusive() ? 1 : 0), reverse: int(o?.reverse() ? 1 : 0) });
  finish(c, 0, y);
};

const topKV2: Converter = (c) => {
  const k = tensor(c, 1);
  const indices = outTensor(c, 1);
  const y = floatOut(c, 0);
  const idx = c.b.fresh(`${indices.name}_int64`);
  // ONNX TopK takes k as int64 [1]; TFLite gives int32 indices
  const kName = k.data ? c.b.int64s([k.data.toNumbers()[0]!], 'k') : c.b.fresh(`${k.name}_int64`);
  if (!k.data) {
    const k64 = c.b.fresh(`${k.name}_cast`);
    c.b.node('Cast', [k.name], [k64], { to: int(7) });
    c.b.node('Reshape', [k64, c.b.int64s([1], 'shape_1')], [kName]);
  }
  c.b.node('TopK', [fin(c, 0), kName], [y, idx], { axis: int(-1), largest: int(1), sorted: int(1) });
  finish(c, 0, y);
  if (indices.dtype === 'int64') c.b.node('Identity', [idx], [indices.name]);
  else c.b.node('Cast', [idx], [indices.name], { to: int(onnxType(c, indices.dtype)) });
};

export const TFLITE_READ_MORE_OPS: Record<string, Converter> = {
  ARG_MAX: argMinMax('ArgMax'),
  ARG_MIN: argMinMax('ArgMin'),
  CAST: cast,
  SPLIT_V: splitV,
  UNPACK: unpack,
  TILE: tile,
  BROADCAST_TO: broadcastTo,
  REVERSE_V2: reverseV2,
  SQUARED_DIFFERENCE: squaredDifference,
  MIRROR_PAD: mirrorPad,
  L2_NORMALIZATION: l2Normalization,
  LOCAL_RESPONSE_NORMALIZATION: lrn,
  SPACE_TO_BATCH_ND: spaceBatch(true),
  BATCH_TO_SPACE_ND: spaceBatch(false),
  EQUAL: compare('Equal'),
  NOT_EQUAL: compare('Equal', true),
  LESS: compare('Less'),
  LESS_EQUAL: compare('LessOrEqual'),
  GREATER: compare('Greater'),
  GREATER_EQUAL: compare('GreaterOrEqual'),
  SELECT: select,
  SELECT_V2: select,
  LOGICAL_AND: logical('And'),
  LOGICAL_OR: logical('Or'),
  LOGICAL_NOT: logical('Not'),
  FLOOR_DIV: floorDiv,
  FLOOR_MOD: floorMod,
  ZEROS_LIKE: zerosLike,
  FILL: fill,
  SHAPE: shape,
  RANGE: range,
  GATHER_ND: gatherNd,
  ONE_HOT: oneHot,
  CUMSUM: cumsum,
  TOPK_V2: topKV2,
  NON_MAX_SUPPRESSION_V4: nonMaxSuppressionV4,
  NON_MAX_SUPPRESSION_V5: nonMaxSuppressionV5,
  // the coordinates of the true (non-zero) elements, one row each: ONNX NonZero gives one column each
  WHERE: (c) => {
    const nz = c.b.fresh(`${outName(c)}_columns`);
    c.b.node('NonZero', [tensor(c, 0).name], [nz]);
    const y = c.b.fresh(`${outName(c)}_int64`);
    c.b.node('Transpose', [nz], [y], { perm: ints([1, 0]) });
    castTo(c, y, 'int64');
  },
  RANK: (c) => {
    const sh = c.b.fresh(`${outName(c)}_shape`);
    c.b.node('Shape', [tensor(c, 0).name], [sh]);
    const y = c.b.fresh(`${outName(c)}_int64`);
    c.b.node('Size', [sh], [y]);
    castTo(c, y, 'int64');
  },
  ADD_N: (c) => {
    const y = floatOut(c, 0);
    c.b.node('Sum', c.inputs.map((_, i) => fin(c, i)), [y]);
    finish(c, 0, y);
  },
  SIGN: unary('Sign'),
  ROUND: unary('Round'),
};
