// Axis permutation of tensors (transpose), for any dtype. The frameworks' named layout changes
// (NCHW -> NHWC, OIHW -> HWIO, ...) are tables in src/passes/layout-permutations.ts.
// The work runs in assembly/kernels/permute.ts; this file validates, coalesces axes, moves data
// into WASM memory once and chunks tensors too large for one WASM memory along the outer axis.
import { DTYPES, type NumericArray } from '../ir/dtypes.js';
import { ShapeError } from '../ir/errors.js';
import { Tensor, shapeSize, stridesOf, type Shape } from '../ir/tensor.js';
import { kernels, type Kernels } from './loader.js';
import { copyOutInto, ctorOf, MAX_STAGE_BYTES, stageIn, viewAt, wasmPointer, type ArrayCtor } from './kernel-io.js';
import { permuteScalar } from './scalar/permute.js';

export interface PermuteOptions {
  /** Largest input, in bytes, moved into WASM memory at once; larger tensors go in chunks along their outer axis. */
  chunkBytes?: number;
  /** Write the result here instead of a new array (same type and length; may be a view into WASM memory). */
  out?: NumericArray;
  /** Input bytes staged at once when a JS-owned array is streamed through WASM memory (default 1 MiB). */
  streamBytes?: number;
}

/** One output axis after coalescing: its length, the source stride and (when planned into a larger output) the destination stride, in elements of `es` bytes. */
export interface PermuteAxis {
  len: number;
  stride: number;
  dst?: number;
}

/** What the kernel runs: an element size and coalesced output axes. */
export interface PermutePlan {
  es: number;
  axes: PermuteAxis[];
}

export function checkPerm(rank: number, perm: readonly number[]): void {
  const seen = new Array<boolean>(rank).fill(false);
  const bad = () => new ShapeError(`permutation [${perm.join(', ')}] is not a permutation of the ${rank} axes`);
  if (perm.length !== rank) throw bad();
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen[p]) throw bad();
    seen[p] = true;
  }
}

/** The shape `shape` has after permuting by `perm`. */
export function permutedShape(shape: Shape, perm: readonly number[]): number[] {
  return perm.map((p) => shape[p]!);
}

/**
 * Drop length-1 axes, merge output axes that are adjacent in the input too, and fold a short
 * contiguous last axis into a wider element (e.g. 2 x float32 as one 8-byte element), so the kernel
 * sees the fewest, longest axes. With `outStrides` (element strides of each output axis in a larger
 * destination; the outermost non-unit input axis may be a slice of a longer one) every axis also
 * gets its destination stride.
 */
export function planPermute(shape: Shape, perm: readonly number[], elementBytes: number, outStrides?: readonly number[]): PermutePlan {
  checkPerm(shape.length, perm);
  const keep = shape.map((d) => d !== 1);
  const renum = new Array<number>(shape.length);
  let r = 0;
  for (let i = 0; i < shape.length; i++) if (keep[i]) renum[i] = r++;
  const sq = shape.filter((d) => d !== 1);
  // kept output positions and their (renumbered) input axes
  const pos: number[] = [];
  for (let k = 0; k < perm.length; k++) if (keep[perm[k]!]) pos.push(k);
  const p = pos.map((k) => renum[perm[k]!]!);
  // groups of consecutive input axes, in output order; `inner` is the output position of the last member
  const groups: { ax: number[]; inner: number }[] = [];
  p.forEach((a, i) => {
    const g = groups[groups.length - 1];
    // (into a larger output, the two must also be adjacent there: a dropped unit axis may be a slice of a longer one)
    if (g && g.ax[g.ax.length - 1]! + 1 === a && (!outStrides || outStrides[g.inner] === sq[a]! * outStrides[pos[i]!]!)) {
      g.ax.push(a);
      g.inner = pos[i]!;
    } else groups.push({ ax: [a], inner: pos[i]! });
  });
  const byInput = [...groups].sort((a, b) => a.ax[0]! - b.ax[0]!);
  const len = new Map<object, number>();
  const stride = new Map<object, number>();
  let acc = 1;
  for (let i = byInput.length - 1; i >= 0; i--) {
    const g = byInput[i]!;
    const l = g.ax.reduce((m, a) => m * sq[a]!, 1);
    len.set(g, l);
    stride.set(g, acc);
    acc *= l;
  }
  let axes: PermuteAxis[] = groups.map((g) => {
    const a: PermuteAxis = { len: len.get(g)!, stride: stride.get(g)! };
    if (outStrides) a.dst = outStrides[g.inner]!;
    return a;
  });
  let es = elementBytes;
  const last = axes[axes.length - 1];
  if (
    last &&
    last.stride === 1 &&
    axes.length > 1 &&
    [2, 4, 8].includes(last.len * es) &&
    (last.dst === undefined || (last.dst === 1 && axes[axes.length - 2]!.dst === last.len && axes.every((a, i) => i === axes.length - 1 || a.dst! % last.len === 0)))
  ) {
    es *= last.len;
    axes = axes.slice(0, -1).map((a) => (a.dst === undefined ? { len: a.len, stride: a.stride / last.len } : { len: a.len, stride: a.stride / last.len, dst: a.dst / last.len }));
  }
  // Coalescing leaves at most one axis per run of input axes; 16 covers any realistic tensor.
  if (axes.length > 16) throw new ShapeError(`permute: more than 16 independent axes in shape [${shape.join(', ')}]`);
  return { es, axes };
}

/** Run a plan on data already in WASM memory (dense output, or the plan's destination strides). */
function runPlan(k: Kernels, plan: PermutePlan, src: number, dst: number): void {
  const rank = plan.axes.length;
  const strided = rank > 0 && plan.axes[0]!.dst !== undefined;
  k.arena.scoped(() => {
    const meta = k.arena.alloc(Math.max(rank, 1) * 16);
    const m = k.arena.i32(meta, rank * 4);
    plan.axes.forEach((a, i) => {
      m[i * 4] = a.len;
      m[i * 4 + 1] = a.stride;
      m[i * 4 + 2] = a.dst ?? 0;
    });
    (strided ? k.exports.permuteStrided : k.exports.permute)(src, dst, plan.es, rank, meta);
  });
}

/**
 * Permute the axes of C-ordered `data` of `shape`: output axis i is input axis perm[i] (like
 * numpy.transpose). Returns a new array of the same type (or `opts.out`).
 */
export function permuteArray<A extends NumericArray>(data: A, shape: Shape, perm: readonly number[], opts: PermuteOptions = {}): A {
  checkPerm(shape.length, perm);
  const n = shapeSize(shape);
  if (data.length !== n) throw new ShapeError(`permute: shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
  const ctor = ctorOf(data);
  const out = opts.out as A | undefined;
  if (out && (out.length !== n || ctorOf(out) !== ctor)) throw new ShapeError(`permute: 'out' must be a ${ctor.name} of ${n} elements`);
  if (n === 0) return out ?? new ctor(0);
  const es = ctor.BYTES_PER_ELEMENT;
  const k = kernels();
  const chunkBytes = opts.chunkBytes ?? MAX_STAGE_BYTES;
  const inPlace = wasmPointer(k, data) !== undefined;
  const outPtr = out ? wasmPointer(k, out) : undefined;
  const mark = k.arena.mark();
  try {
    if (inPlace || shape.every((d) => d === 1)) {
      const src = stageIn(k, data);
      const dst = outPtr ?? k.arena.alloc(n * es);
      runPlan(k, planPermute(shape, perm, es), src, dst);
      return outPtr !== undefined ? viewAt(k, ctor, outPtr, n) : copyResult(k, ctor, out, dst, n);
    }
    if (n * es <= chunkBytes) return permuteStreamed(k, data, shape, perm, Math.min(opts.streamBytes ?? STREAM_BYTES, chunkBytes), out, outPtr);
    return permuteChunked(k, data, shape, perm, chunkBytes, out, outPtr);
  } finally {
    k.arena.release(mark);
  }
}

function copyResult<A extends NumericArray>(k: Kernels, ctor: ArrayCtor<A>, out: A | undefined, dst: number, n: number): A {
  const result = out ?? new ctor(n);
  copyOutInto(k, result, 0, dst, n);
  return result;
}

/** Input bytes staged at once when streaming a JS array through WASM memory (stays in L2/L3 while permuted). */
const STREAM_BYTES = 1 << 20;

// A JS-owned input is moved in slices of its outermost non-unit axis into one reused staging buffer
// (still in cache when the kernel reads it); each slice is permuted straight into its place in the
// whole output in WASM memory (strided kernel), which is copied out once. Memory traffic is that of
// the kernel plus one read of the input and one copy of the result.
function permuteStreamed<A extends NumericArray>(
  k: Kernels,
  data: A,
  shape: Shape,
  perm: readonly number[],
  streamBytes: number,
  out: A | undefined,
  outPtr: number | undefined,
): A {
  const ctor = ctorOf(data);
  const es = ctor.BYTES_PER_ELEMENT;
  const n = data.length;
  const a = shape.findIndex((d) => d !== 1);
  const sliceElems = n / shape[a]!;
  const outShape = permutedShape(shape, perm);
  const outStrides = stridesOf(outShape);
  const j = perm.indexOf(a);
  // When the sliced axis is the output's last non-unit axis, each slice writes `rows` contiguous
  // elements per output row: at least 128 bytes, so that whole cache lines are written, and never a
  // slice of 1 (the kernel needs the last axis it sees to be contiguous in the output).
  const lastAxis = outShape.every((d, i) => i <= j || d === 1);
  const minRows = lastAxis ? Math.max(2, Math.ceil(128 / es)) : 1;
  const len = shape[a]!;
  const rows = Math.min(len, Math.max(minRows, Math.floor(streamBytes / (sliceElems * es))));
  const dst = outPtr ?? k.arena.alloc(n * es);
  const stage = k.arena.alloc(Math.min(rows + 1, len) * sliceElems * es);
  for (let lo = 0, hi = 0; lo < len; lo = hi) {
    hi = Math.min(len, lo + rows);
    if (lastAxis && len - hi === 1) hi = len;
    const count = (hi - lo) * sliceElems;
    k.arena.u8(stage, count * es).set(new Uint8Array(data.buffer, data.byteOffset + lo * sliceElems * es, count * es));
    const sub = shape.map((d, i) => (i === a ? hi - lo : d));
    runPlan(k, planPermute(sub, perm, es, outStrides), stage, dst + lo * outStrides[j]! * es);
  }
  return outPtr !== undefined ? viewAt(k, ctor, outPtr, n) : copyResult(k, ctor, out, dst, n);
}

// Input slices [lo, hi) of the outermost non-unit axis are contiguous; each is permuted on its own
// into a dense block, whose rows then land in the output at stride (the axis' place in the output).
function permuteChunked<A extends NumericArray>(
  k: Kernels,
  data: A,
  shape: Shape,
  perm: readonly number[],
  chunkBytes: number,
  out: A | undefined,
  outPtr: number | undefined,
): A {
  const ctor = ctorOf(data);
  const es = ctor.BYTES_PER_ELEMENT;
  const n = data.length;
  const a = shape.findIndex((d) => d !== 1);
  const sliceElems = n / shape[a]!;
  const rows = Math.max(1, Math.floor(chunkBytes / (sliceElems * es)));
  const outShape = permutedShape(shape, perm);
  const j = perm.indexOf(a);
  const runs = shapeSize(outShape.slice(0, j));
  const inner = shapeSize(outShape.slice(j + 1));
  const result = out ?? new ctor(n);
  const mark = k.arena.mark();
  for (let lo = 0; lo < shape[a]!; lo += rows) {
    const hi = Math.min(shape[a]!, lo + rows);
    const sub = shape.map((d, i) => (i === a ? hi - lo : d));
    const count = (hi - lo) * sliceElems;
    const src = k.arena.copyIn(data.subarray(lo * sliceElems, hi * sliceElems));
    const tmp = k.arena.alloc(count * es);
    runPlan(k, planPermute(sub, perm, es), src, tmp);
    const run = (hi - lo) * inner;
    for (let r = 0; r < runs; r++) {
      const at = r * shape[a]! * inner + lo * inner;
      if (outPtr !== undefined) k.arena.u8(outPtr + at * es, run * es).set(k.arena.u8(tmp + r * run * es, run * es));
      else copyOutInto(k, result, at, tmp + r * run * es, run);
    }
    k.arena.release(mark);
  }
  return outPtr !== undefined ? viewAt(k, ctor, outPtr, n) : result;
}

/** `t` with its axes permuted (output axis i = input axis perm[i]); string tensors too. */
export function permute(t: Tensor, perm: readonly number[], opts: PermuteOptions = {}): Tensor {
  checkPerm(t.rank, perm);
  const shape = permutedShape(t.shape, perm);
  if (t.dtype === 'string') {
    return new Tensor('string', shape, permuteScalar(t.data as string[], t.shape, perm, (n) => new Array<string>(n)));
  }
  if (DTYPES[t.dtype].bytes === 0) throw new ShapeError(`permute: cannot permute ${t.dtype}`);
  return new Tensor(t.dtype, shape, permuteArray(t.data as NumericArray, t.shape, perm, opts));
}
