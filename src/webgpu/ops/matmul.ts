// Gemm and MatMul on the GPU: one register-tiled program (tiled.ts) over strided A and B, so that
// transA / transB and MatMul's batch broadcasting are only strides and per-batch offsets.
import { gemmDefs, type GemmAttrs } from '../../ir/ops/index.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { broadcastShapes } from '../../runtime/broadcast.js';
import { defineOp, type OpKernel } from '../../runtime/op.js';
import { groups256, linearProgram, Params, wgslHeader, type GpuRunner } from '../runner.js';
import { gpu, isF32 } from './common.js';
import { chooseSplit, chooseTile, tileEdge, tiledMain, tileLayout, vec4Operand, type TileLayout } from './tiled.js';

/**
 * The tiled GEMM: Y[z][m][n] = act(alpha * sum_k A[m][k] B[k][n] + beta * C[m][n]) with A, B,
 * C strided and offsets per batch z. `aKFast`/`bNFast` pick the tile-loading order in which
 * neighbouring invocations read neighbouring addresses; `split` makes the split-K variant (the
 * common path has no split arithmetic in its loop bounds or store). Params: 0 M, 1 N, 2 K, 3-6 strides of A
 * and B, 7-8 of C, 9 hasC, 10 alpha, 11 beta, 12 lo, 13 hi, split-K: 14 depth of a k slice,
 * 15 batches, 16 split (Y then gets slice sums at 17 = batches*M*N apart, no epilogue).
 */
function gemmProgram(t: 4 | 8, layout: TileLayout, aKFast: boolean, bNFast: boolean, split: boolean, va: boolean, vb: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> A: array<${va ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> B: array<${vb ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> C: array<f32>;
@group(0) @binding(3) var<storage, read> offs: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
${wgslHeader(5)}
${tiledMain({
  t,
  layout,
  aKFast,
  bNFast,
  prologue: `  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let sam = pu(3u); let sak = pu(4u); let sbk = pu(5u); let sbn = pu(6u);
  let scm = pu(7u); let scn = pu(8u); let hasC = pu(9u);
  let alpha = pf(10u); let beta = pf(11u); let lo = pf(12u); let hi = pf(13u);
  ${
    split
      ? `let split = wg.z / pu(15u);
  let kBegin = split * pu(14u);
  let kEnd = min(K, kBegin + pu(14u));
  let o = offs[wg.z % pu(15u)];`
      : 'let kBegin = 0u; let kEnd = K; let o = offs[wg.z];'
  }`,
  loadA: 'v = A[o.x + gm * sam + gk * sak];',
  loadB: 'w = B[o.y + gkb * sbk + gn * sbn];',
  // every term a multiple of 4 (vec4Operand)
  loadA4: va ? 'v4 = A[(o.x + gm * sam + gk * sak) / 4u];' : undefined,
  loadB4: vb ? 'w4 = B[(o.y + gkb * sbk + gn * sbn) / 4u];' : undefined,
  store: split
    ? // C is not read here, but 'auto' layouts keep only the bindings a program names
      'Y[split * pu(17u) + o.w + r * N + c] = s; if (hasC > 1u) { Y[0] = C[0]; }'
    : `var y = alpha * s;
      if (hasC != 0u) { y = y + beta * C[o.z + r * scm + c * scn]; }
      Y[o.w + r * N + c] = min(max(y, lo), hi);`,
})}`;
}

// The sum of split-K slices and the epilogue (C only with one batch): 0 batches*M*N, 1 slices,
// 2 N, 3 M, 4 scm, 5 scn, 6 hasC, 7 alpha, 8 beta, 9 lo, 10 hi
const SUM_SLICES = linearProgram(
  ['Part', 'C'],
  `  let total = pu(0u);
  var acc = 0.0;
  for (var s = 0u; s < pu(1u); s = s + 1u) { acc = acc + Part[s * total + idx]; }
  var y = pf(7u) * acc;
  if (pu(6u) != 0u) { y = y + pf(8u) * C[((idx / pu(2u)) % pu(3u)) * pu(4u) + (idx % pu(2u)) * pu(5u)]; }
  Y[idx] = min(max(y, pf(9u)), pf(10u));`,
);

const PROGRAMS = new Map<string, string>();
function program(t: 4 | 8, layout: TileLayout, aKFast: boolean, bNFast: boolean, split: boolean, va: boolean, vb: boolean): string {
  const key = `${t}${layout.bk}${layout.pad}${aKFast}${bNFast}${split}${va}${vb}`;
  let p = PROGRAMS.get(key);
  if (!p) PROGRAMS.set(key, (p = gemmProgram(t, layout, aKFast, bNFast, split, va, vb)));
  return p;
}

export interface GemmCall {
  M: number;
  N: number;
  K: number;
  a: GPUBuffer;
  b: GPUBuffer;
  /** row / column strides of A as [m][k] and of B as [k][n] */
  sam: number;
  sak: number;
  sbk: number;
  sbn: number;
  c?: { buffer: GPUBuffer; scm: number; scn: number; beta: number };
  alpha?: number;
  lo?: number;
  hi?: number;
  /** per batch: [offset in A, offset in B, offset in C, offset in Y] (default one batch at 0) */
  offsets?: Uint32Array;
  y: GPUBuffer;
}

const ONE_BATCH = new Uint32Array(4);

/** Encode Y = act(alpha A B + beta C) for the node `owner` (its sites 0 and, with split-K, 1). */
export function encodeGemm(runner: GpuRunner, owner: object, g: GemmCall): void {
  const site = runner.site(owner);
  const offsets = g.offsets ?? ONE_BATCH;
  const table = runner.table(site, offsets);
  const p = new Params()
    .u(g.M, g.N, g.K, g.sam, g.sak, g.sbk, g.sbn, g.c?.scm ?? 0, g.c?.scn ?? 0, g.c ? 1 : 0)
    .f(g.alpha ?? 1, g.c?.beta ?? 0, g.lo ?? -Infinity, g.hi ?? Infinity);
  const batches = offsets.length / 4;
  const t = chooseTile(g.M, g.N, batches);
  const layout = tileLayout(t, runner.device.limits.maxComputeWorkgroupStorageSize);
  const edge = tileEdge(t);
  const [gx, gy] = [Math.ceil(g.N / edge), Math.ceil(g.M / edge)];
  const total = batches * g.M * g.N;
  const { splits, depth } = chooseSplit(gx * gy * batches, g.K, total * g.K);
  const [aKFast, bNFast] = [g.sak === 1, g.sbn === 1];
  // vec4 loads along A's k (or m, transposed) and B's n (or k, transposed)
  const va = aKFast ? vec4Operand(g.K, g.sam, offsets, 0) : g.sam === 1 && vec4Operand(g.M, g.sak, offsets, 0);
  const vb = bNFast ? vec4Operand(g.N, g.sbk, offsets, 1) : g.sbk === 1 && vec4Operand(g.K, g.sbn, offsets, 1);
  if (splits > 1 && batches * splits <= 65535 && (batches === 1 || !g.c)) {
    const sum = runner.site(owner, 1);
    const part = runner.scratch(splits * total * 4, sum);
    runner.dispatch(site, program(t, layout, aKFast, bNFast, true, va, vb), [g.a, g.b, runner.none, table, part], p.u(depth, batches, 1, total), [gx, gy, batches * splits]);
    const q = new Params().u(total, splits, g.N, g.M, g.c?.scm ?? 0, g.c?.scn ?? 0, g.c ? 1 : 0).f(g.alpha ?? 1, g.c?.beta ?? 0, g.lo ?? -Infinity, g.hi ?? Infinity);
    runner.dispatch(sum, SUM_SLICES, [part, g.c?.buffer ?? runner.none, g.y], q, groups256(total));
    runner.release(part);
  } else runner.dispatch(site, program(t, layout, aKFast, bNFast, false, va, vb), [g.a, g.b, g.c?.buffer ?? runner.none, table, g.y], p.u(g.K, batches, 0, total), [gx, gy, batches]);
}

const Gemm: OpKernel<GemmAttrs> = defineOp<GemmAttrs>({
  attrs: gemmDefs.Gemm.attrs,
  accepts(inputs, a) {
    const [A, B, C] = inputs;
    if (!A || !B || !isF32(A) || !isF32(B) || A.rank !== 2 || B.rank !== 2) return false;
    const K = a.transA ? A.shape[0]! : A.shape[1]!;
    if (K !== (a.transB ? B.shape[1]! : B.shape[0]!)) return false;
    const M = a.transA ? A.shape[1]! : A.shape[0]!;
    const N = a.transB ? B.shape[0]! : B.shape[1]!;
    if (C && (!isF32(C) || C.rank > 2)) return false;
    if (C && C.rank >= 1 && C.shape[C.rank - 1] !== 1 && C.shape[C.rank - 1] !== N) return false;
    if (C && C.rank === 2 && C.shape[0] !== 1 && C.shape[0] !== M) return false;
    return M * N > 0 && K > 0;
  },
  run(inputs, a, ctx) {
    const runner = gpu();
    const site = runner.site(ctx.node);
    const [A, B, C] = inputs as [Tensor, Tensor, Tensor | undefined];
    const M = a.transA ? A.shape[1]! : A.shape[0]!;
    const K = a.transA ? A.shape[0]! : A.shape[1]!;
    const N = a.transB ? B.shape[0]! : B.shape[1]!;
    const out = runner.output([M, N], site);
    const [am, ak] = a.transA ? [1, M] : [K, 1];
    const [bk, bn] = a.transB ? [1, K] : [N, 1];
    let c: GemmCall['c'];
    if (C && a.beta !== 0) {
      const cm = C.rank === 2 && C.shape[0] !== 1 ? C.shape[1]! : 0;
      const cn = C.rank >= 1 && C.shape[C.rank - 1] !== 1 ? 1 : 0;
      c = { buffer: runner.input(C, true), scm: cm, scn: cn, beta: a.beta };
    }
    encodeGemm(runner, ctx.node, { M, N, K, a: runner.input(A), b: runner.input(B, true), sam: am, sak: ak, sbk: bk, sbn: bn, c, alpha: a.alpha, y: out.buffer });
    return [out.tensor];
  },
});

/** MatMul's output shape and per-batch offsets, or undefined when the shapes do not fit. */
function matmulPlan(A: Tensor, B: Tensor): { shape: number[]; M: number; N: number; K: number; offsets: Uint32Array } | undefined {
  if (A.rank < 1 || B.rank < 1) return undefined;
  const a = A.rank === 1 ? [1, A.shape[0]!] : [...A.shape];
  const b = B.rank === 1 ? [B.shape[0]!, 1] : [...B.shape];
  const M = a[a.length - 2]!;
  const K = a[a.length - 1]!;
  const N = b[b.length - 1]!;
  if (b[b.length - 2] !== K) return undefined;
  let batch: number[];
  try {
    batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  } catch {
    return undefined;
  }
  const nb = shapeSize(batch);
  const offsets = new Uint32Array(nb * 4);
  const stridesOf = (dims: number[], size: number): number[] => {
    // stride per broadcast batch axis (0 where this operand has 1 or lacks the axis)
    const s = new Array<number>(batch.length).fill(0);
    let acc = size;
    for (let i = dims.length - 1, j = batch.length - 1; i >= 0; i--, j--) {
      s[j] = dims[i] === 1 ? 0 : acc;
      acc *= dims[i]!;
    }
    return s;
  };
  const sa = stridesOf(a.slice(0, -2), M * K);
  const sb = stridesOf(b.slice(0, -2), K * N);
  for (let z = 0; z < nb; z++) {
    let rem = z;
    let oa = 0;
    let ob = 0;
    for (let j = batch.length - 1; j >= 0; j--) {
      const d = rem % batch[j]!;
      rem = Math.floor(rem / batch[j]!);
      oa += d * sa[j]!;
      ob += d * sb[j]!;
    }
    offsets.set([oa, ob, 0, z * M * N], z * 4);
  }
  const shape = [...batch, ...(A.rank === 1 ? [] : [M]), ...(B.rank === 1 ? [] : [N])];
  return { shape, M, N, K, offsets };
}

const MatMul: OpKernel<Record<string, never>> = defineOp({
  attrs: gemmDefs.MatMul.attrs,
  accepts(inputs) {
    const [A, B] = inputs;
    if (!A || !B || !isF32(A) || !isF32(B)) return false;
    const plan = matmulPlan(A, B);
    // one dispatch covers at most 65535 batches
    return !!plan && shapeSize(plan.shape) > 0 && plan.K > 0 && plan.offsets.length / 4 <= 65535;
  },
  run(inputs, _a, ctx) {
    const runner = gpu();
    const site = runner.site(ctx.node);
    const [A, B] = inputs as [Tensor, Tensor];
    const { shape, M, N, K, offsets } = matmulPlan(A, B)!;
    const out = runner.output(shape, site);
    encodeGemm(runner, ctx.node, { M, N, K, a: runner.input(A), b: runner.input(B, true), sam: K, sak: 1, sbk: N, sbn: 1, offsets, y: out.buffer });
    return [out.tensor];
  },
});

export const MATMUL_OPS = { Gemm, MatMul };
