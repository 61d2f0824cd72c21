// Every SIMD kernel of assembly/kernels/{elementwise,softmax}.ts against its scalar twin,
// on random shapes including size 0, size 1 and odd sizes.
import { beforeAll, describe, expect, test } from 'vitest';
import { initKernels } from '../../../src/wasm/loader.js';
import { broadcastPlan, broadcastShapes } from '../../../src/runtime/broadcast.js';
import { binaryF32Wasm, channelAffineF32Wasm, softmaxRowsWasm, unaryF32Wasm } from '../../../src/wasm/elementwise.js';
import { BinaryOp, UnaryOp } from '../../../src/wasm/opcodes.js';
import { binaryF32Scalar, channelAffineF32Scalar, softmaxRowsScalar, unaryF32Scalar } from '../../../src/wasm/scalar/elementwise.js';

/** name -> code of a numeric enum (without TypeScript's reverse entries). */
const members = <E extends Record<string, string | number>>(e: E) => Object.entries(e).filter((kv): kv is [string, E[keyof E] & number] => typeof kv[1] === 'number');

beforeAll(async () => {
  await initKernels();
});

/** Deterministic pseudo-random numbers (LCG) so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomArray(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() - 0.5) * 8;
  // a few specials
  if (n > 3) {
    a[0] = 0;
    a[1] = -0;
  }
  return a;
}

const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100];

/** Random pairs of broadcast-compatible shapes of rank <= 5. */
function shapePairs(r: () => number, count: number): Array<[number[], number[]]> {
  const pick = () => SIZES[Math.floor(r() * SIZES.length)]!;
  const out: Array<[number[], number[]]> = [
    [[0], [0]],
    [[1], [1]],
    [[5], [1]],
    [[1], [7]],
    [[2, 3, 5, 7], [1, 3, 1, 1]], // per-channel operand
    [[2, 3, 5, 7], [3, 1, 1]],
    [[3, 1, 5], [1, 4, 1]], // both broadcast
    [[2, 3, 4, 5, 3], [3, 1, 1, 3]], // rank 5: more than four merged dims after coalescing?
    [[2, 1, 3, 1, 5, 1], [1, 4, 1, 2, 1, 3]], // deep plan: scalar fallback
    [[17], []],
    [[], [9]],
  ];
  for (let k = 0; k < count; k++) {
    const rank = 1 + Math.floor(r() * 4);
    const a = Array.from({ length: rank }, () => (r() < 0.15 ? 1 : [1, 2, 3, 5, 7][Math.floor(r() * 5)]!));
    const b = a.map((d) => (r() < 0.4 ? 1 : d)).slice(Math.floor(r() * rank));
    out.push(r() < 0.5 ? [a, b] : [b, a]);
  }
  return out;
}

describe('binaryF32 (SIMD) matches binaryF32Scalar', () => {
  const r = rng(1);
  const cases = shapePairs(r, 40);
  for (const [name, op] of members(BinaryOp)) {
    test(name, () => {
      for (const [sa, sb] of cases) {
        const shape = broadcastShapes(sa, sb);
        const n = shape.reduce((x, y) => x * y, 1);
        const a = randomArray(sa.reduce((x, y) => x * y, 1), r);
        const b = randomArray(sb.reduce((x, y) => x * y, 1), r);
        const plan = broadcastPlan(shape, [sa, sb]);
        const ref = binaryF32Scalar(op, a, b, plan, n);
        const got = binaryF32Wasm(op, a, b, plan, n);
        if (plan.dims.length > 4) {
          expect(got).toBeUndefined();
          continue;
        }
        expect(got, `[${sa}] op [${sb}]`).toEqual(ref);
      }
    });
  }

  test('NaN propagates through max/min like the scalar twin', () => {
    const a = new Float32Array([NaN, 1, 2, NaN, 5]);
    const b = new Float32Array([1, NaN, 3, NaN, 4]);
    const plan = broadcastPlan([5], [[5], [5]]);
    for (const op of [BinaryOp.Max, BinaryOp.Min]) expect(binaryF32Wasm(op, a, b, plan, 5)).toEqual(binaryF32Scalar(op, a, b, plan, 5));
  });
});

describe('unaryF32 (SIMD) matches unaryF32Scalar', () => {
  const r = rng(2);
  const params: Record<keyof typeof UnaryOp, [number, number]> = {
    Relu: [0, 0],
    LeakyRelu: [0.01, 0],
    Clip: [-1.5, 2.25],
    HardSigmoid: [0.2, 0.5],
    HardSwish: [0, 0],
    Neg: [0, 0],
    Abs: [0, 0],
    Sqrt: [0, 0],
  };
  for (const [name, op] of members(UnaryOp)) {
    test(name, () => {
      for (const n of SIZES) {
        const x = randomArray(n, r);
        const [p0, p1] = params[name as keyof typeof UnaryOp];
        const ref = unaryF32Scalar(op, x, p0, p1);
        const got = unaryF32Wasm(op, x, p0, p1);
        expect(got.length).toBe(n);
        for (let i = 0; i < n; i++) {
          if (Number.isNaN(ref[i])) expect(Number.isNaN(got[i]), `${name}[${i}]`).toBe(true);
          else expect(got[i], `${name}(${x[i]}) at ${i} of ${n}`).toBeCloseTo(ref[i]!, 6);
        }
      }
    });
  }
});

test('channelAffineF32 (SIMD) matches its scalar twin', () => {
  const r = rng(3);
  for (const [outer, c, inner] of [[0, 3, 4], [1, 1, 1], [2, 3, 5], [3, 7, 1], [1, 4, 17], [2, 16, 0], [5, 2, 9]] as const) {
    const x = randomArray(outer * c * inner, r);
    const s = randomArray(c, r);
    const b = randomArray(c, r);
    expect(channelAffineF32Wasm(x, s, b, outer, c, inner)).toEqual(channelAffineF32Scalar(x, s, b, outer, c, inner));
  }
});

test('softmaxRowsF32 (SIMD) matches softmaxRowsScalar', () => {
  const r = rng(4);
  for (const [rows, cols] of [[0, 5], [1, 1], [1, 3], [3, 4], [2, 17], [7, 1], [4, 100], [5, 0]] as const) {
    const x = randomArray(rows * cols, r);
    if (x.length > 2) x[2] = 1000; // large value: max subtraction keeps exp finite
    for (const log of [false, true]) {
      const ref = softmaxRowsScalar(x, rows, cols, log);
      const got = softmaxRowsWasm(x, rows, cols, log);
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!), `row-major ${i} (${rows}x${cols}, log=${log})`).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref[i]!)));
    }
  }
});
