// The float32 elementwise kernels (assembly/kernels/elementwise.ts, softmax.ts) behind plain
// functions: each copies its operands into the arena, runs, and returns a fresh JS array.
// Scalar twins: ./scalar/elementwise.ts.
import { noteOutputRange } from './calibrate.js';
import { copyOutF32 } from './host-buffers.js';
import { kernels } from './loader.js';
import type { BinaryOp, UnaryOp } from './opcodes.js';

/**
 * A strided walk over the output, outermost dim first: the output is dense, and input k
 * advances strides[k][d] elements per step along dim d (0 where it is broadcast). The runtime's
 * broadcast plans are of this shape.
 */
export interface StridePlan {
  readonly dims: readonly number[];
  readonly strides: readonly (readonly number[])[];
}

/** The binaryF32 kernel over a plan of at most four merged dims; undefined when the plan is deeper. */
export function binaryF32Wasm(op: BinaryOp, a: Float32Array, b: Float32Array, plan: StridePlan, n: number): Float32Array | undefined {
  const r = plan.dims.length;
  if (r > 4) return undefined;
  if (n === 0) return new Float32Array(0);
  const pad = (xs: readonly number[], fill: number) => [...new Array<number>(4 - r).fill(fill), ...xs];
  const k = kernels();
  const { exports, arena } = k;
  return arena.scoped(() => {
    const pa = arena.copyIn(a);
    const pb = arena.copyIn(b);
    const po = arena.alloc(n * 4);
    const [d0, d1, d2, d3] = pad(plan.dims, 1);
    const [a0, a1, a2, a3] = pad(plan.strides[0]!, 0);
    const [b0, b1, b2, b3] = pad(plan.strides[1]!, 0);
    exports.binaryF32(op, pa, pb, po, d0!, d1!, d2!, d3!, a0!, a1!, a2!, a3!, b0!, b1!, b2!, b3!);
    const y = copyOutF32(k, po, n);
    noteOutputRange(po, n, y);
    return y;
  });
}

export function unaryF32Wasm(op: UnaryOp, x: Float32Array, p0 = 0, p1 = 0): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const k = kernels();
  const { exports, arena } = k;
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    exports.unaryF32(op, px, px, x.length, p0, p1);
    const y = copyOutF32(k, px, x.length);
    noteOutputRange(px, x.length, y);
    return y;
  });
}

export function channelAffineF32Wasm(x: Float32Array, scale: Float32Array, bias: Float32Array, outer: number, channels: number, inner: number): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const k = kernels();
  const { exports, arena } = k;
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    const ps = arena.copyIn(scale);
    const pb = arena.copyIn(bias);
    exports.channelAffineF32(px, ps, pb, px, outer, channels, inner);
    const y = copyOutF32(k, px, x.length);
    noteOutputRange(px, x.length, y);
    return y;
  });
}

export function softmaxRowsWasm(x: Float32Array, rows: number, cols: number, log: boolean): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const k = kernels();
  const { exports, arena } = k;
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    exports.softmaxRowsF32(px, px, rows, cols, log ? 1 : 0);
    const y = copyOutF32(k, px, x.length);
    noteOutputRange(px, x.length, y);
    return y;
  });
}
