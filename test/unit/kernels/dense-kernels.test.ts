// SIMD kernels (through the ops) against their scalar twins in reference.ts, on random
// shapes including odd sizes, size 1 and size 0, groups, dilations and asymmetric pads.
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { denseKernels } from '../../../src/wasm/dense.js';
import { convRef, convTransposeRef, gemmRef, poolRef, randomF32, rng, worstMismatch, type Geometry2d } from './reference.js';
import { runNode } from './run-node.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const { excess, index } = worstMismatch(got, want);
  expect(excess, `${what}: worst at ${index}: got ${got[index]} want ${want[index]}`).toBeLessThanOrEqual(0);
}

describe('sgemmPacked vs scalar gemm', () => {
  it('matches on random sizes, with bias, accumulation and the clamp epilogue', () => {
    const r = rng(1);
    const d = denseKernels();
    const { k, arena, MR, NR } = d;
    const sizes = [[1, 1, 1], [4, 8, 1], [5, 9, 3], [3, 7, 300], [17, 33, 257], [8, 16, 512], [1, 100, 7], [33, 1, 20]];
    for (let t = 0; t < 6; t++) sizes.push([1 + Math.floor(r() * 40), 1 + Math.floor(r() * 70), 1 + Math.floor(r() * 600)]);
    for (const [M, N, K] of sizes as [number, number, number][]) {
      const a = randomF32(M * K, r), b = randomF32(K * N, r), c0 = randomF32(M * N, r), bias = randomF32(M, r);
      for (const [accumulate, lo, hi] of [[0, -Infinity, Infinity], [1, -Infinity, Infinity], [0, -0.3, 0.4], [1, 0, Infinity]] as const) {
        arena.scoped(() => {
          const ap = arena.copyIn(a), bp = arena.copyIn(b);
          const aPack = arena.alloc(Math.ceil(M / MR) * MR * K * 4);
          const bPack = arena.alloc(Math.ceil(N / NR) * NR * K * 4);
          const biasP = arena.alloc(Math.ceil(M / MR) * MR * 4);
          arena.f32(biasP, M).set(bias);
          const cp = arena.copyIn(c0);
          const scratch = arena.alloc(k.gemmScratchBytes());
          // A transposed via strides exercises the general packing path.
          k.gemmPackA(ap, 1, M, M, K, 0.5, aPack);
          k.gemmPackB(bp, N, 1, K, N, bPack);
          k.sgemmPacked(M, N, K, aPack, bPack, cp, N, biasP, accumulate, scratch, lo, hi);
          const want = gemmRef(a, 1, M, b, N, 1, M, N, K).map((v, i) => clamp(0.5 * v + bias[Math.floor(i / N)]! + (accumulate ? c0[i]! : 0), lo, hi));
          expectClose(arena.f32(cp, M * N), want, `M=${M} N=${N} K=${K} acc=${accumulate} clamp=[${lo}, ${hi}]`);
        });
      }
    }
  });
});

interface ConvCase {
  N: number; C: number; H: number; W: number; M: number; G: number; g: Geometry2d; pb: number; pr: number; bias: boolean; oneD: boolean;
}

function randomConvCase(r: () => number, depthwise: boolean): ConvCase {
  const G = depthwise ? 1 + Math.floor(r() * 9) : pick(r, [1, 1, 2, 3]);
  const C = depthwise ? G : G * (1 + Math.floor(r() * 5));
  const M = depthwise ? G : G * (1 + Math.floor(r() * 6));
  const oneD = r() < 0.2;
  const g: Geometry2d = {
    kh: oneD ? 1 : pick(r, [1, 2, 3, 5]), kw: pick(r, [1, 2, 3, 4]),
    sh: oneD ? 1 : pick(r, [1, 2, 3]), sw: pick(r, [1, 1, 2, 3]),
    dh: oneD ? 1 : pick(r, [1, 1, 2]), dw: pick(r, [1, 1, 2]),
    pt: oneD ? 0 : pick(r, [0, 1, 2]), pl: pick(r, [0, 1, 2]),
  };
  return {
    N: pick(r, [1, 1, 2]), C, M, G, g, H: oneD ? 1 : 1 + Math.floor(r() * 20), W: 1 + Math.floor(r() * 37),
    pb: oneD ? 0 : pick(r, [0, 1, 3]), pr: pick(r, [0, 1, 2]), bias: r() < 0.6, oneD,
  };
}

function convAttrs(c: ConvCase): Record<string, number[] | number> {
  const { g } = c;
  return c.oneD
    ? { strides: [g.sw], dilations: [g.dw], pads: [g.pl, c.pr], group: c.G }
    : { strides: [g.sh, g.sw], dilations: [g.dh, g.dw], pads: [g.pt, g.pl, c.pb, c.pr], group: c.G };
}

describe('Conv vs scalar twin', () => {
  for (const depthwise of [false, true]) {
    it(`${depthwise ? 'depthwise' : 'dense and grouped'}: random shapes, strides, dilations, asymmetric pads`, () => {
      const r = rng(depthwise ? 7 : 3);
      let ran = 0;
      for (let t = 0; t < 60; t++) {
        const c = randomConvCase(r, depthwise);
        const { g } = c;
        const OH = Math.floor((c.H + g.pt + c.pb - (g.kh - 1) * g.dh - 1) / g.sh) + 1;
        const OW = Math.floor((c.W + g.pl + c.pr - (g.kw - 1) * g.dw - 1) / g.sw) + 1;
        if (OH < 1 || OW < 1) continue;
        ran++;
        const x = randomF32(c.N * c.C * c.H * c.W, r);
        const w = randomF32(c.M * (c.C / c.G) * g.kh * g.kw, r);
        const b = c.bias ? randomF32(c.M, r) : undefined;
        const xs = c.oneD ? [c.N, c.C, c.W] : [c.N, c.C, c.H, c.W];
        const ws = c.oneD ? [c.M, c.C / c.G, g.kw] : [c.M, c.C / c.G, g.kh, g.kw];
        const y = runNode('Conv', [Tensor.float32(xs, x), Tensor.float32(ws, w), b && Tensor.float32([c.M], b)], convAttrs(c));
        expect(y.shape).toEqual(c.oneD ? [c.N, c.M, OW] : [c.N, c.M, OH, OW]);
        expectClose(y.data as Float32Array, convRef(x, [c.N, c.C, c.H, c.W], w, c.M, c.G, b, g, OH, OW), JSON.stringify(c));
      }
      expect(ran).toBeGreaterThan(30);
    });
  }

  for (const depthwise of [false, true]) {
    it(`nnport::FusedConv (${depthwise ? 'depthwise' : 'dense and grouped'}): the clamp epilogue matches the clamped twin, ragged widths included`, () => {
      const r = rng(depthwise ? 17 : 13);
      let ran = 0;
      for (let t = 0; t < 40; t++) {
        const c = randomConvCase(r, depthwise);
        const { g } = c;
        const OH = Math.floor((c.H + g.pt + c.pb - (g.kh - 1) * g.dh - 1) / g.sh) + 1;
        const OW = Math.floor((c.W + g.pl + c.pr - (g.kw - 1) * g.dw - 1) / g.sw) + 1;
        if (OH < 1 || OW < 1) continue;
        ran++;
        const [lo, hi] = pick(r, [[0, Infinity], [0, 0.25], [-0.2, 0.1]] as const);
        const x = randomF32(c.N * c.C * c.H * c.W, r);
        const w = randomF32(c.M * (c.C / c.G) * g.kh * g.kw, r);
        const b = c.bias ? randomF32(c.M, r) : undefined;
        const xs = c.oneD ? [c.N, c.C, c.W] : [c.N, c.C, c.H, c.W];
        const ws = c.oneD ? [c.M, c.C / c.G, g.kw] : [c.M, c.C / c.G, g.kh, g.kw];
        const attrs = { ...convAttrs(c), activation_min: { float: lo }, activation_max: { float: hi } };
        const y = runNode('FusedConv', [Tensor.float32(xs, x), Tensor.float32(ws, w), b && Tensor.float32([c.M], b)], attrs, 17, 'nnport');
        const want = convRef(x, [c.N, c.C, c.H, c.W], w, c.M, c.G, b, g, OH, OW).map((v) => clamp(v, lo, hi));
        expectClose(y.data as Float32Array, want, `${JSON.stringify(c)} clamp [${lo}, ${hi}]`);
      }
      expect(ran).toBeGreaterThan(20);
    });
  }

  it('depthwise 3x3 at every width 1..40, strides 1 and 2, dilation 1 and 2, batch 1 and 2 (ragged rows spill into the next)', () => {
    const r = rng(23);
    for (const [s, d, N, H] of [[1, 1, 1, 5], [2, 1, 1, 5], [1, 2, 2, 6], [2, 1, 2, 3], [1, 1, 2, 1]] as const) {
      for (let W = 1; W <= 40; W++) {
        const C = 3;
        const g: Geometry2d = { kh: 3, kw: 3, sh: s, sw: s, dh: d, dw: d, pt: 1, pl: 1 };
        const OH = Math.floor((H + 2 - 2 * d - 1) / s) + 1, OW = Math.floor((W + 2 - 2 * d - 1) / s) + 1;
        if (OH < 1 || OW < 1) continue;
        const x = randomF32(N * C * H * W, r), w = randomF32(C * 9, r), b = randomF32(C, r);
        const attrs = { pads: [1, 1, 1, 1], strides: [s, s], dilations: [d, d], group: C, activation_min: { float: -0.5 }, activation_max: { float: 0.75 } };
        const y = runNode('FusedConv', [Tensor.float32([N, C, H, W], x), Tensor.float32([C, 1, 3, 3], w), Tensor.float32([C], b)], attrs, 17, 'nnport');
        const want = convRef(x, [N, C, H, W], w, C, C, b, g, OH, OW).map((v) => clamp(v, -0.5, 0.75));
        expectClose(y.data as Float32Array, want, `W=${W} stride ${s} dilation ${d} batch ${N}`);
      }
    }
  });

  it('stride-2 stem and downsampling convs (7x7 pad 3, 3x3 pad 1, 1x1) over wide rows', () => {
    const r = rng(29);
    for (const [k, p, C, M, H, W] of [[7, 3, 3, 8, 21, 45], [3, 1, 5, 6, 9, 50], [1, 0, 7, 5, 6, 41]] as const) {
      const g: Geometry2d = { kh: k, kw: k, sh: 2, sw: 2, dh: 1, dw: 1, pt: p, pl: p };
      const OH = Math.floor((H + 2 * p - k) / 2) + 1, OW = Math.floor((W + 2 * p - k) / 2) + 1;
      const x = randomF32(C * H * W, r), w = randomF32(M * C * k * k, r), b = randomF32(M, r);
      const y = runNode('Conv', [Tensor.float32([1, C, H, W], x), Tensor.float32([M, C, k, k], w), Tensor.float32([M], b)], { pads: [p, p, p, p], strides: [2, 2] });
      expectClose(y.data as Float32Array, convRef(x, [1, C, H, W], w, M, 1, b, g, OH, OW), `${k}x${k} stride 2`);
    }
  });

  it('takes the im2col chunking and row-wrapping paths on a larger image', () => {
    const r = rng(11);
    const [N, C, H, W, M] = [1, 70, 13, 29, 9];
    const g: Geometry2d = { kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1 };
    const x = randomF32(N * C * H * W, r), w = randomF32(M * C * 9, r), b = randomF32(M, r);
    const y = runNode('Conv', [Tensor.float32([N, C, H, W], x), Tensor.float32([M, C, 3, 3], w), Tensor.float32([M], b)], { pads: [1, 1, 1, 1] });
    expectClose(y.data as Float32Array, convRef(x, [N, C, H, W], w, M, 1, b, g, H, W), 'chunked');
  });

  it('returns empty outputs for zero-size inputs and bias-only outputs for zero channels', () => {
    const y0 = runNode('Conv', [Tensor.float32([0, 3, 5, 5]), Tensor.float32([4, 3, 3, 3], randomF32(108, rng(2)))]);
    expect(y0.shape).toEqual([0, 4, 3, 3]);
    const y1 = runNode('Conv', [Tensor.float32([1, 0, 5, 5]), Tensor.float32([2, 0, 3, 3]), Tensor.float32([2], [1.5, -2])]);
    expect(y1.shape).toEqual([1, 2, 3, 3]);
    expect([...y1.data as Float32Array]).toEqual([...new Array(9).fill(1.5), ...new Array(9).fill(-2)]);
  });

  it('rejects other dtypes and mismatched shapes with typed errors', () => {
    const w = Tensor.float32([4, 3, 3, 3]);
    expect(() => runNode('Conv', [Tensor.zeros('float64', [1, 3, 5, 5]), w])).toThrow(UnsupportedError);
    expect(() => runNode('Conv', [Tensor.float32([1, 3, 5, 5, 5]), w])).toThrow(/rank of X/);
    expect(() => runNode('Conv', [Tensor.float32([1, 2, 5, 5]), w])).toThrow(/3 channels|expect 3/);
    expect(() => runNode('Conv', [Tensor.float32([1, 3, 5, 5]), w, Tensor.float32([3])])).toThrow(ShapeError);
    expect(() => runNode('Conv', [Tensor.float32([1, 3, 2, 2]), w])).toThrow(/larger than the padded input/);
    expect(() => runNode('Conv', [Tensor.float32([1, 3, 5, 5]), w], { kernel_shape: [2, 2] })).toThrow(/kernel_shape/);
  });
});

describe('ConvTranspose vs scalar twin', () => {
  it('random shapes, strides, dilations, groups, pads and output_padding', () => {
    const r = rng(5);
    for (let t = 0; t < 50; t++) {
      const G = pick(r, [1, 1, 2, 3]);
      const C = G * (1 + Math.floor(r() * 4)), Mg = 1 + Math.floor(r() * 4), M = Mg * G;
      const g: Geometry2d = {
        kh: pick(r, [1, 2, 3]), kw: pick(r, [1, 2, 3, 4]), sh: pick(r, [1, 2, 3]), sw: pick(r, [1, 2]),
        dh: pick(r, [1, 2]), dw: pick(r, [1, 1, 2]), pt: pick(r, [0, 1]), pl: pick(r, [0, 1, 2]),
      };
      const [pb, pr] = [pick(r, [0, 1]), pick(r, [0, 2])];
      const [oph, opw] = [Math.floor(r() * g.sh), Math.floor(r() * g.sw)];
      const [N, H, W] = [pick(r, [1, 2]), 1 + Math.floor(r() * 9), 1 + Math.floor(r() * 11)];
      const OH = g.sh * (H - 1) + oph + (g.kh - 1) * g.dh + 1 - g.pt - pb;
      const OW = g.sw * (W - 1) + opw + (g.kw - 1) * g.dw + 1 - g.pl - pr;
      if (OH < 1 || OW < 1) continue;
      const x = randomF32(N * C * H * W, r), w = randomF32(C * Mg * g.kh * g.kw, r), b = r() < 0.5 ? randomF32(M, r) : undefined;
      const y = runNode('ConvTranspose', [Tensor.float32([N, C, H, W], x), Tensor.float32([C, Mg, g.kh, g.kw], w), b && Tensor.float32([M], b)], {
        strides: [g.sh, g.sw], dilations: [g.dh, g.dw], pads: [g.pt, g.pl, pb, pr], output_padding: [oph, opw], group: G,
      });
      expect(y.shape).toEqual([N, M, OH, OW]);
      expectClose(y.data as Float32Array, convTransposeRef(x, [N, C, H, W], w, M, G, b, g, OH, OW), `case ${t}`);
    }
  });
});

describe('pooling vs scalar twin', () => {
  for (const isMax of [true, false]) {
    it(`${isMax ? 'MaxPool' : 'AveragePool'}: random windows, strides, dilations, pads, ceil_mode, count_include_pad`, () => {
      const r = rng(isMax ? 13 : 17);
      for (let t = 0; t < 60; t++) {
        const g: Geometry2d = {
          kh: pick(r, [1, 2, 3]), kw: pick(r, [1, 2, 3, 5]), sh: pick(r, [1, 2, 3]), sw: pick(r, [1, 2, 2, 3]),
          dh: pick(r, [1, 1, 2]), dw: pick(r, [1, 1, 2]), pt: 0, pl: 0,
        };
        g.pt = Math.floor(r() * g.kh);
        g.pl = Math.floor(r() * g.kw);
        const pb = Math.floor(r() * g.kh), pr = Math.floor(r() * g.kw);
        const ceil = r() < 0.4, include = r() < 0.5;
        const [P, H, W] = [1 + Math.floor(r() * 4), 1 + Math.floor(r() * 15), 1 + Math.floor(r() * 40)];
        const size = (inp: number, k: number, s: number, d: number, b: number, e: number): number => {
          const span = inp + b + e - (k - 1) * d - 1;
          let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
          if (ceil && (o - 1) * s >= inp + b) o--;
          return o;
        };
        const OH = size(H, g.kh, g.sh, g.dh, g.pt, pb), OW = size(W, g.kw, g.sw, g.dw, g.pl, pr);
        if (OH < 1 || OW < 1 || H + g.pt + pb < (g.kh - 1) * g.dh + 1 || W + g.pl + pr < (g.kw - 1) * g.dw + 1) continue;
        const x = randomF32(P * H * W, r);
        const y = runNode(isMax ? 'MaxPool' : 'AveragePool', [Tensor.float32([1, P, H, W], x)], {
          kernel_shape: [g.kh, g.kw], strides: [g.sh, g.sw], dilations: [g.dh, g.dw], pads: [g.pt, g.pl, pb, pr],
          ceil_mode: +ceil, ...(isMax ? {} : { count_include_pad: +include }),
        }, 19);
        expect(y.shape).toEqual([1, P, OH, OW]);
        const bounds = include ? { top: -g.pt, bottom: H + pb, left: -g.pl, right: W + pr } : { top: 0, bottom: H, left: 0, right: W };
        expectClose(y.data as Float32Array, poolRef(x, P, H, W, g, OH, OW, isMax, bounds), `case ${t} ${JSON.stringify({ g, pb, pr, ceil, include, H, W })}`);
      }
    });
  }

  it('global pools reduce every spatial axis, including odd sizes', () => {
    const r = rng(19);
    for (const shape of [[2, 3, 7, 5], [1, 1, 1, 1], [1, 4, 33], [2, 2, 3, 4, 5]]) {
      const x = randomF32(shape.reduce((a, b) => a * b), r);
      const P = shape[0]! * shape[1]!, HW = x.length / P;
      const avg = runNode('GlobalAveragePool', [Tensor.float32(shape, x)]);
      const max = runNode('GlobalMaxPool', [Tensor.float32(shape, x)]);
      expect(avg.shape).toEqual([shape[0], shape[1], ...shape.slice(2).map(() => 1)]);
      const wantAvg = Array.from({ length: P }, (_, p) => x.subarray(p * HW, (p + 1) * HW).reduce((a, b) => a + b) / HW);
      const wantMax = Array.from({ length: P }, (_, p) => Math.max(...x.subarray(p * HW, (p + 1) * HW)));
      expectClose(avg.data as Float32Array, wantAvg, 'GlobalAveragePool');
      expectClose(max.data as Float32Array, wantMax, 'GlobalMaxPool');
    }
    expect(runNode('GlobalMaxPool', [Tensor.float32([0, 3, 4, 4])]).shape).toEqual([0, 3, 1, 1]);
  });

  it('rejects mismatched kernels, other dtypes and empty windows with typed errors', () => {
    const x = Tensor.float32([1, 1, 4, 4]);
    expect(() => runNode('MaxPool', [Tensor.float32([1, 1, 4, 4, 4])], { kernel_shape: [2, 2] })).toThrow(ShapeError);
    expect(() => runNode('MaxPool', [x], {})).toThrow(/kernel_shape/);
    expect(() => runNode('AveragePool', [x], { kernel_shape: [2, 2], pads: [2, 0, 0, 0] })).toThrow(/smaller than the kernel/);
    expect(() => runNode('MaxPool', [Tensor.zeros('int32', [1, 1, 4, 4])], { kernel_shape: [2, 2] })).toThrow(UnsupportedError);
  });
});

describe('Gemm and MatMul vs scalar gemm', () => {
  it('Gemm: transposes, alpha, beta and every C broadcast', () => {
    const r = rng(23);
    for (let t = 0; t < 30; t++) {
      const [M, N, K] = [1 + Math.floor(r() * 20), 1 + Math.floor(r() * 30), 1 + Math.floor(r() * 40)];
      const ta = r() < 0.5, tb = r() < 0.5, alpha = pick(r, [1, 0.5, -2]), beta = pick(r, [1, 0, 0.25]);
      const cShape = pick(r, [[M, N], [1, N], [M, 1], [N], [1], [], null]);
      const a = randomF32(M * K, r), b = randomF32(K * N, r);
      const c = cShape ? randomF32(cShape.reduce((x, y) => x * y, 1), r) : undefined;
      const y = runNode('Gemm', [
        Tensor.float32(ta ? [K, M] : [M, K], a), Tensor.float32(tb ? [N, K] : [K, N], b), cShape ? Tensor.float32(cShape, c) : undefined,
      ], { transA: +ta, transB: +tb, alpha: { float: alpha }, beta: { float: beta } });
      const ab = gemmRef(a, ta ? 1 : K, ta ? M : 1, b, tb ? 1 : N, tb ? K : 1, M, N, K);
      const want = ab.map((v, i) => {
        if (!cShape || !c) return alpha * v;
        const [ci, cj] = [Math.floor(i / N), i % N];
        const cm = cShape.length === 2 ? cShape[0]! : 1, cn = cShape.length ? cShape[cShape.length - 1]! : 1;
        return alpha * v + beta * c[(cm === 1 ? 0 : ci) * cn + (cn === 1 ? 0 : cj)]!;
      });
      expect(y.shape).toEqual([M, N]);
      expectClose(y.data as Float32Array, want, `case ${t}`);
    }
    expect(runNode('Gemm', [Tensor.float32([3, 0]), Tensor.float32([0, 2]), Tensor.float32([2], [1, 2])]).data).toEqual(new Float32Array([1, 2, 1, 2, 1, 2]));
    expect(() => runNode('Gemm', [Tensor.float32([3, 4]), Tensor.float32([5, 2])])).toThrow(ShapeError);
    expect(() => runNode('Gemm', [Tensor.float32([3, 4]), Tensor.float32([4, 2]), Tensor.float32([3, 3])])).toThrow(/broadcast/);
  });

  it('MatMul: 1-D promotion, batches and batch broadcasting', () => {
    const r = rng(29);
    const cases: [number[], number[], number[]][] = [
      [[5], [5], []], [[3, 5], [5], [3]], [[5], [5, 4], [4]], [[2, 3, 5], [5, 4], [2, 3, 4]],
      [[2, 1, 3, 5], [4, 5, 6], [2, 4, 3, 6]], [[1, 7], [3, 7, 2], [3, 1, 2]], [[0, 3, 5], [5, 2], [0, 3, 2]], [[3, 0], [0, 2], [3, 2]],
    ];
    for (const [as, bs, ys] of cases) {
      const a = randomF32(as.reduce((x, y) => x * y, 1), r), b = randomF32(bs.reduce((x, y) => x * y, 1), r);
      const y = runNode('MatMul', [Tensor.float32(as, a), Tensor.float32(bs, b)]);
      expect(y.shape).toEqual(ys);
      // Reference: loop over the broadcast batch with explicit index arithmetic.
      const A = as.length === 1 ? [1, as[0]!] : as, B = bs.length === 1 ? [bs[0]!, 1] : bs;
      const [M, K, N] = [A[A.length - 2]!, A[A.length - 1]!, B[B.length - 1]!];
      const ab = A.slice(0, -2), bb = B.slice(0, -2);
      const nb = Math.max(ab.length, bb.length);
      const batch = Array.from({ length: nb }, (_, i) => {
        const [x, z] = [ab[ab.length - nb + i] ?? 1, bb[bb.length - nb + i] ?? 1];
        return x === 1 ? z : x;
      });
      const want: number[] = [];
      const total = batch.reduce((x, y) => x * y, 1);
      for (let i = 0; i < total; i++) {
        const idx = batch.map((_, d) => Math.floor(i / batch.slice(d + 1).reduce((x, y) => x * y, 1)) % batch[d]!);
        const off = (s: number[]): number => s.reduce((acc, dim, d) => acc * dim + (dim === 1 ? 0 : idx[nb - s.length + d]!), 0);
        const ao = off(ab), bo = off(bb);
        want.push(...gemmRef(a.subarray(ao * M * K), K, 1, b.subarray(bo * K * N), N, 1, M, N, K));
      }
      expectClose(y.data as Float32Array, want, `${as} x ${bs}`);
    }
    expect(() => runNode('MatMul', [Tensor.float32([2, 3, 4]), Tensor.float32([3, 4, 2])])).toThrow(/broadcast/);
  });
});

describe('packed weights in persistent arena memory', () => {
  it('packs a weight once from its second use, gives the same results, and leaves no scratch behind', () => {
    const r = rng(31);
    const { arena } = denseKernels();
    const x = Tensor.float32([2, 5, 9, 11], randomF32(2 * 5 * 9 * 11, r));
    const w = Tensor.float32([6, 5, 3, 3], randomF32(6 * 5 * 9, r));
    const dw = Tensor.float32([5, 1, 3, 3], randomF32(5 * 9, r));
    const a = Tensor.float32([7, 20], randomF32(140, r));
    const b = Tensor.float32([13, 20], randomF32(260, r));
    const runs = () => [
      runNode('Conv', [x, w], { pads: [1, 1, 1, 1] }),
      runNode('Conv', [x, dw], { pads: [1, 1, 1, 1], group: 5 }),
      runNode('Gemm', [a, b], { transB: 1 }),
      runNode('MatMul', [Tensor.float32([3, 4, 6], randomF32(72, rng(1))), Tensor.float32([6, 5], randomF32(30, rng(2)))]),
    ].map((t) => [...(t.data as Float32Array)]);
    const first = runs();
    const before = arena.persistentBytes;
    const second = runs();
    const grown = arena.persistentBytes - before;
    const used = arena.used;
    const third = runs();
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    // The second run packed w, dw and (as a weight-like operand seen twice) a and b; the third reused them.
    expect(grown).toBeGreaterThan(0);
    expect(arena.persistentBytes - before).toBe(grown);
    expect(arena.used).toBe(used);
  });
});
