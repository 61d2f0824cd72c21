// Deferred axis permutations: a weight re-laid by the layout pass (OIHW -> HWIO, a dense
// kernel transposed and its rows put in H·W·C order) is described as a permutation of its
// source's elements instead of being copied at once. A writer can then produce it a slice at
// a time (the 411 MB fc1 kernel of vgg16 never exists twice), and anything that reads `data`
// gets it materialized as before.
import type { NumericArray, TensorData } from './dtypes.js';

/**
 * The elements of `source` (row-major, `source.length` of them) seen as `shape` (same count),
 * then with axes permuted by `perm`: output axis i is source axis perm[i].
 */
export interface PermutedView {
  readonly source: TensorData | LazySource;
  readonly shape: readonly number[];
  readonly perm: readonly number[];
}

/**
 * Elements that are made only when asked for: e.g. a tensor's bytes in a model file at an
 * offset that a typed array cannot view (ONNX raw_data at an odd offset), copied aligned on read.
 */
export interface LazySource {
  readonly length: number;
  read(): TensorData;
  /** the elements' little-endian bytes at any alignment, when they are in memory as such */
  readonly bytes?: Uint8Array;
}

export function isLazySource(s: TensorData | LazySource): s is LazySource {
  return typeof (s as LazySource).read === 'function';
}

/** The source's elements (a lazy source makes them now: the caller holds them only while it needs them). */
export function sourceData(s: TensorData | LazySource): TensorData {
  return isLazySource(s) ? s.read() : s;
}

const product = (a: readonly number[], from = 0, to = a.length): number => {
  let n = 1;
  for (let i = from; i < to; i++) n *= a[i]!;
  return n;
};

/** The view's axes as the output sees them: sizes and source strides (in elements). */
export function viewAxes(v: PermutedView): { sizes: number[]; strides: number[] } {
  const srcStrides = v.shape.map((_, i) => product(v.shape, i + 1));
  return { sizes: v.perm.map((p) => v.shape[p]!), strides: v.perm.map((p) => srcStrides[p]!) };
}

/**
 * `view` (whose elements are read as a tensor of `logical` shape) permuted by `perm` over the
 * logical axes, as one view of the same source; undefined when the two factorings of the
 * elements have no common refinement (the caller then materializes).
 */
export function permuteView(view: PermutedView, logical: readonly number[], perm: readonly number[]): PermutedView | undefined {
  const V = view.perm.map((p) => view.shape[p]!);
  // common refinement of the logical shape L and the view's shape V (size-1 axes dropped): each
  // part knows its logical axis and its view axis
  const parts: { size: number; l: number; v: number }[] = [];
  let i = 0;
  let j = 0;
  let a = 1;
  let b = 1;
  for (;;) {
    while (a === 1 && i < logical.length) a = logical[i++]!;
    while (b === 1 && j < V.length) b = V[j++]!;
    if (a === 1 || b === 1) {
      if (a !== b) return undefined;
      break;
    }
    if (a === 0 || b === 0) return undefined;
    const s = Math.min(a, b);
    if (a % s || b % s) return undefined;
    parts.push({ size: s, l: i - 1, v: j - 1 });
    a /= s;
    b /= s;
  }
  // the source, split the same way: each source axis becomes the parts of the view axis it feeds
  const viewOfSource = new Array<number>(view.shape.length);
  view.perm.forEach((p, k) => (viewOfSource[p] = k));
  const shape: number[] = [];
  const sourceAxisOf = new Array<number>(parts.length);
  for (let s = 0; s < view.shape.length; s++) {
    parts.forEach((p, k) => {
      if (p.v !== viewOfSource[s]) return;
      sourceAxisOf[k] = shape.length;
      shape.push(p.size);
    });
  }
  const out: number[] = [];
  for (const l of perm) parts.forEach((p, k) => p.l === l && out.push(sourceAxisOf[k]!));
  return { source: view.source, shape, perm: out };
}

/**
 * Copy the box of `sizes` with source `strides` starting at source element `offset` into
 * `out` (row-major, from out[0]). Axes whose source stride is 1 are read in runs; otherwise the
 * innermost axis and the axis with the smallest stride are walked in tiles, so a transpose
 * reads whole cache lines.
 */
export function copyStrided(src: ArrayLike<unknown>, offset: number, sizes: readonly number[], strides: readonly number[], out: NumericArray | unknown[]): void {
  // drop size-1 axes, merge axes that are contiguous in the source
  const d: number[] = [];
  const s: number[] = [];
  sizes.forEach((n, k) => {
    if (n === 1) return;
    const last = d.length - 1;
    if (last >= 0 && s[last] === strides[k]! * n) {
      d[last] = d[last]! * n;
      s[last] = strides[k]!;
    } else {
      d.push(n);
      s.push(strides[k]!);
    }
  });
  const total = product(d);
  if (total === 0) return;
  const r = d.length;
  const o = out as { [i: number]: unknown };
  const typed = ArrayBuffer.isView(src) && ArrayBuffer.isView(out);
  if (r === 0) {
    o[0] = src[offset];
    return;
  }
  const z = r - 1;
  if (s[z] === 1) {
    // runs along the innermost axis
    const run = d[z]!;
    const idx = new Array<number>(r).fill(0);
    for (let p = 0; p < total; p += run) {
      let base = offset;
      for (let k = 0; k < z; k++) base += idx[k]! * s[k]!;
      if (typed) (out as NumericArray).set((src as NumericArray).subarray(base, base + run) as never, p);
      else for (let t = 0; t < run; t++) o[p + t] = src[base + t];
      for (let k = z - 1; k >= 0; k--) {
        if (++idx[k]! < d[k]!) break;
        idx[k] = 0;
      }
    }
    return;
  }
  // the innermost output axis has a large source stride (a transpose): walk it in blocks of
  // ZB, and inside a block all other axes, the smallest source stride innermost, so that ZB
  // source rows are read along together and each output run of ZB is written whole
  const outStrides = d.map((_, k) => product(d, k + 1));
  const others = d.map((_, k) => k).filter((k) => k !== z).sort((x, y) => s[y]! - s[x]!);
  const inner = others.length ? others.pop()! : -1;
  const ny = inner < 0 ? 1 : d[inner]!;
  const sy = inner < 0 ? 0 : s[inner]!;
  const oy = inner < 0 ? 0 : outStrides[inner]!;
  const nz = d[z]!;
  const sz = s[z]!;
  const ZB = 64;
  const outer = product(others.map((k) => d[k]!));
  const idx = new Array<number>(others.length);
  const rows = src instanceof Float32Array && out instanceof Float32Array ? rowsFloat32 : rowsAny;
  for (let z0 = 0; z0 < nz; z0 += ZB) {
    const zn = Math.min(ZB, nz - z0);
    idx.fill(0);
    for (let q = 0; q < outer; q++) {
      let sb = offset + z0 * sz;
      let ob = z0;
      for (let m = 0; m < others.length; m++) {
        sb += idx[m]! * s[others[m]!]!;
        ob += idx[m]! * outStrides[others[m]!]!;
      }
      rows(src as never, o as never, sb, ob, ny, sy, oy, zn, sz);
      for (let m = others.length - 1; m >= 0; m--) {
        if (++idx[m]! < d[others[m]!]!) break;
        idx[m] = 0;
      }
    }
  }
}

// The inner loops of a transposing copy: `ny` rows of `zn` elements, the source read with
// stride `sz`. Twice, so that the float32 one (nearly every weight) stays monomorphic for the JIT.
function rowsFloat32(src: Float32Array, o: Float32Array, sb: number, ob: number, ny: number, sy: number, oy: number, zn: number, sz: number): void {
  for (let y = 0; y < ny; y++) {
    const sRow = sb + y * sy;
    const oRow = ob + y * oy;
    for (let j = 0; j < zn; j++) o[oRow + j] = src[sRow + j * sz]!;
  }
}

function rowsAny(src: ArrayLike<unknown>, o: { [i: number]: unknown }, sb: number, ob: number, ny: number, sy: number, oy: number, zn: number, sz: number): void {
  for (let y = 0; y < ny; y++) {
    const sRow = sb + y * sy;
    const oRow = ob + y * oy;
    for (let j = 0; j < zn; j++) o[oRow + j] = src[sRow + j * sz];
  }
}

/**
 * copyStrided from a source given as bytes at any alignment (a LazySource's `bytes`): the box's
 * runs are first copied byte-wise into `out`-typed scratch laid out in source order, then
 * permuted from there, so only box-sized memory is used however large the source. `scratchSpace`
 * (same type as `out`, at least the box's size) is used for that if given.
 */
export function copyStridedFromBytes(bytes: Uint8Array, offset: number, sizes: readonly number[], strides: readonly number[], out: NumericArray, scratchSpace?: NumericArray): void {
  const B = out.BYTES_PER_ELEMENT;
  const n = product(sizes);
  if (n === 0) return;
  // the box's axes in source order (largest stride first), packed densely
  const order = sizes.map((_, k) => k).sort((x, y) => strides[y]! - strides[x]!);
  const packedSizes = order.map((k) => sizes[k]!);
  const packedStrides = packedSizes.map((_, i) => product(packedSizes, i + 1));
  let last = order.length - 1;
  // the run copied at once: the innermost axes that are contiguous in the source
  let run = strides[order[last]!] === 1 ? packedSizes[last]! : 1;
  if (run > 1) while (last > 0 && strides[order[last - 1]!] === run) run *= packedSizes[--last]!;
  const scratch = scratchSpace && scratchSpace.length >= n && scratchSpace.constructor === out.constructor ? scratchSpace.subarray(0, n) : new (out.constructor as new (n: number) => NumericArray)(n);
  const dst = new Uint8Array(scratch.buffer, scratch.byteOffset, n * B);
  const walk = run === 1 ? order.length : last;
  const idx = new Array<number>(walk).fill(0);
  for (let p = 0; p < n; p += run) {
    let at = offset;
    for (let m = 0; m < walk; m++) at += idx[m]! * strides[order[m]!]!;
    dst.set(bytes.subarray(at * B, (at + run) * B), p * B);
    for (let m = walk - 1; m >= 0; m--) {
      if (++idx[m]! < packedSizes[m]!) break;
      idx[m] = 0;
    }
  }
  const scratchStrides = new Array<number>(sizes.length);
  order.forEach((k, i) => (scratchStrides[k] = packedStrides[i]!));
  copyStrided(scratch, 0, sizes, scratchStrides, out);
}

/** All elements of the view, in a fresh array like the source's. */
export function materializeView(v: PermutedView): TensorData {
  const src = sourceData(v.source);
  // a lazy source's elements in their own order are already a fresh array
  if (src !== v.source && v.perm.every((p, i) => p === i)) return src;
  const n = src.length;
  const out = Array.isArray(src) ? new Array<string>(n) : new (src.constructor as new (n: number) => NumericArray)(n);
  const { sizes, strides } = viewAxes(v);
  copyStrided(src, 0, sizes, strides, out);
  return out as TensorData;
}

/** One box of a view (see viewSlices): copy it with copyStrided, then its runs of rows follow each other in the copy. */
export interface ViewSlice {
  /** source element the box starts at, the box's sizes and source strides (for copyStrided) */
  offset: number;
  sizes: number[];
  strides: number[];
  /** the box's elements in order are these runs of whole logical rows, `rows` rows each */
  starts: number[];
  rows: number;
}

/**
 * The view cut into boxes of at most about `budget` elements, each a set of runs of whole rows
 * of the logical axis 0 (`rows` of them). A box spans a range of the row axis with the largest
 * source stride, so that it reads a contiguous stretch of each source row: the dense kernel
 * after a flatten (rows in H·W·C order from a C·H·W source) is cut by channel, each box
 * reading every source row once, rather than by output row, which would read all rows again
 * for every box. Every row is in exactly one run.
 */
export function* viewSlices(v: PermutedView, rows: number, budget: number): Generator<ViewSlice> {
  const { sizes, strides } = viewAxes(v);
  const total = product(sizes);
  if (total === 0 || rows === 0) return;
  // the leading view axes that together span the logical rows (the view refines the logical shape)
  let lead = 0;
  for (let acc = 1; lead < sizes.length && acc < rows; lead++) acc *= sizes[lead]!;
  if (lead === 0 || product(sizes, 0, lead) !== rows) {
    // the view's axes do not split at a row boundary: one box of everything
    yield { offset: 0, sizes, strides, starts: [0], rows };
    return;
  }
  // the row axis cut into ranges: the one with the largest source stride
  let a = 0;
  for (let k = 1; k < lead; k++) if (sizes[k]! > 1 && (sizes[a] === 1 || strides[k]! > strides[a]!)) a = k;
  // axes before it: taken whole from p on, one index at a time before p (p as small as fits the budget)
  const unit = (p: number) => product(sizes, p, a) * product(sizes, a + 1);
  let p = 0;
  while (p < a && unit(p) > budget) p++;
  const run = Math.max(1, Math.min(sizes[a]!, Math.floor(budget / unit(p))));
  const rowsAfter = product(sizes, a + 1, lead);
  const fixed = new Array<number>(p).fill(0);
  for (let q = 0, nq = product(sizes, 0, p); q < nq; q++) {
    let base = 0;
    for (let m = 0; m < p; m++) base += fixed[m]! * strides[m]!;
    for (let x = 0; x < sizes[a]!; x += run) {
      const n = Math.min(run, sizes[a]! - x);
      const boxSizes = [...sizes.slice(p, a), n, ...sizes.slice(a + 1)];
      // the runs: one per index of the whole axes p..a-1, in order
      const starts: number[] = [];
      const whole = sizes.slice(p, a);
      const idx = new Array<number>(whole.length).fill(0);
      for (let t = 0, nt = product(whole); t < nt; t++) {
        let row = 0;
        for (let m = 0; m < a; m++) row = row * sizes[m]! + (m < p ? fixed[m]! : idx[m - p]!);
        starts.push((row * sizes[a]! + x) * rowsAfter);
        for (let m = whole.length - 1; m >= 0; m--) {
          if (++idx[m]! < whole[m]!) break;
          idx[m] = 0;
        }
      }
      yield { offset: base + x * strides[a]!, sizes: boxSizes, strides: strides.slice(p), starts, rows: n * rowsAfter };
    }
    for (let m = p - 1; m >= 0; m--) {
      if (++fixed[m]! < sizes[m]!) break;
      fixed[m] = 0;
    }
  }
}
