// NumPy-style (multidirectional) broadcasting: output shapes and strided iteration plans.
import { ShapeError } from '../ir/errors.js';
import { shapeSize, type Shape } from '../ir/tensor.js';

/** The broadcast shape of `shapes` (right-aligned, dims equal or 1). */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else throw new ShapeError(`shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} cannot be broadcast together`);
    }
  }
  return out;
}

/**
 * How to walk the output of a broadcast op row by row. Dims of size 1 are dropped and
 * neighbouring dims that every operand walks contiguously are merged, so that a
 * [N,C,H,W] + [1,C,1,1] add becomes three dims and its innermost row is H*W long.
 */
export interface BroadcastPlan {
  /** merged output dims, outermost first (at least one) */
  readonly dims: number[];
  /** per input: element stride along each merged dim (0 where broadcast) */
  readonly strides: number[][];
}

export function broadcastPlan(outShape: Shape, inShapes: readonly Shape[]): BroadcastPlan {
  const rank = outShape.length;
  const full = inShapes.map((s) => {
    if (s.length > rank) throw new ShapeError(`shape [${s.join(', ')}] has more dims than the output [${outShape.join(', ')}]`);
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      const d = s[i]!;
      const o = outShape[rank - s.length + i]!;
      if (d !== o && d !== 1) throw new ShapeError(`shape [${s.join(', ')}] does not broadcast to [${outShape.join(', ')}]`);
      st[rank - s.length + i] = d === 1 ? 0 : acc;
      acc *= d;
    }
    return st;
  });
  const dims: number[] = [];
  const strides: number[][] = inShapes.map(() => []);
  for (let i = 0; i < rank; i++) {
    const d = outShape[i]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && full.every((st, k) => strides[k]![last] === st[i]! * d)) {
      dims[last] = dims[last]! * d;
      full.forEach((st, k) => (strides[k]![last] = st[i]!));
    } else {
      dims.push(d);
      full.forEach((st, k) => strides[k]!.push(st[i]!));
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const s of strides) s.push(0);
  }
  return { dims, strides };
}

/**
 * Call `row(offsets, outOffset, n)` for every innermost row of the plan; input k's row
 * starts at offsets[k] and advances by plan.strides[k][last] per element.
 */
export function forEachRow(plan: BroadcastPlan, row: (offsets: number[], outOffset: number, n: number) => void): void {
  const { dims, strides } = plan;
  const r = dims.length;
  const n = dims[r - 1]!;
  if (n === 0 || dims.some((d) => d === 0)) return;
  const rows = shapeSize(dims.slice(0, r - 1));
  const idx = new Array<number>(r).fill(0);
  const offs = new Array<number>(strides.length).fill(0);
  for (let q = 0; q < rows; q++) {
    row(offs, q * n, n);
    // odometer over the outer dims
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![d]!;
      if (idx[d]! < dims[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

/** Source element index of every output element (for gathers over a broadcast operand). */
export function broadcastIndex(outShape: Shape, inShape: Shape): Int32Array {
  const n = shapeSize(outShape);
  const out = new Int32Array(n);
  const plan = broadcastPlan(outShape, [inShape]);
  const s = plan.strides[0]![plan.dims.length - 1]!;
  forEachRow(plan, (offs, o, len) => {
    for (let j = 0; j < len; j++) out[o + j] = offs[0]! + j * s;
  });
  return out;
}
