// Conv, nnport::FusedConv and nnport::FusedConvAdd (NCHW, 1-D and 2-D, any group, pads /
// strides / dilations, bias, a residual and the fused clamp in the store). Convs with at least 16 output channels per group run as an
// implicit GEMM (tiled.ts: weights [M/G, Cg*kh*kw] times the im2col of the input, gathered
// straight into workgroup memory, never written out); depthwise and other thin groups run one
// invocation per output, which wastes nothing on a 1-row GEMM tile.
import { convDefs, forwardAxis, window2d, windowOf, type ConvAttrs, type Window2d } from '../../ir/ops/index.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { defineOp, type OpContext, type OpKernel, type OpTable } from '../../runtime/op.js';
import { ONNX_OPS } from '../../runtime/ops/index.js';
import { groups256, linearProgram, Params, wgslHeader } from '../runner.js';
import { gpu, isF32, onHost } from './common.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { chooseSplit, chooseTile, tileEdge, tiledMain, tileLayout, vec4Operand, type TileLayout } from './tiled.js';

// params shared by both programs
// 0 Mg, 1 P = OH*OW, 2 K = Cg*kh*kw, 3 G, 4 C, 5 H, 6 W, 7 OW, 8 kh, 9 kw, 10 sh, 11 sw,
// 12 dh, 13 dw, 14 pt, 15 pl, 16 hasBias, 17 lo, 18 hi, 19 M, 20 Cg, 21 N*M*P,
// the GEMM's split-K variant: 22 depth of a k slice, 23 N*G (Y then gets slice sums, no bias)
// The gather's divisions by kh*kw, kw and OW are by WGSL constants (one program per window
// shape and output width: a few per model), which the compiler turns into multiplies: with
// divisions by uniforms the index arithmetic cost more than the tile's multiply-adds.
// With `residual` (nnport::FusedConvAdd) a residual Z of Y's shape is added before the clamp
// (binding 3; Y and the params one further).
// `va`: the weights read as vec4s along k (K a multiple of 4); `vb`: a pointwise conv's X read as
// vec4s along p (P a multiple of 4).
function im2colGemm(t: 4 | 8, layout: TileLayout, geometry: { kh: number; kw: number; OW: number } | 'pointwise', split: boolean, residual: boolean, va: boolean, vb: boolean): string {
  const pointwise = geometry === 'pointwise';
  const consts = pointwise ? 'let OW = pu(7u); let kh = pu(8u); let kw = pu(9u);' : `const OW = ${geometry.OW}u; const kh = ${geometry.kh}u; const kw = ${geometry.kw}u;`;
  const r = residual ? 1 : 0;
  return `
@group(0) @binding(0) var<storage, read> X: array<${vb ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> Wt: array<${va ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
${residual ? '@group(0) @binding(3) var<storage, read> Z: array<f32>;' : ''}
@group(0) @binding(${3 + r}) var<storage, read_write> Y: array<f32>;
${wgslHeader(4 + r)}
${tiledMain({
  t,
  layout,
  aKFast: true,
  bNFast: true,
  prologue: `  let M = pu(0u); let N = pu(1u); let K = pu(2u); let G = pu(3u);
  let H = pu(5u); let W = pu(6u); ${consts}
  let sh = pu(10u); let sw = pu(11u); let dh = pu(12u); let dw = pu(13u);
  let pt = pi(14u); let pl = pi(15u); let Cg = pu(20u);
  let hasBias = pu(16u); let lo = pf(17u); let hi = pf(18u);
  ${
    split
      ? `let z = wg.z % pu(23u);
  let split = wg.z / pu(23u);
  let kBegin = split * pu(22u);
  let kEnd = min(K, kBegin + pu(22u));`
      : 'let z = wg.z; let kBegin = 0u; let kEnd = K;'
  }
  let n = z / G;
  let g = z % G;
  let xBase = (n * pu(4u) + g * Cg) * H * W;
  let wBase = g * M * K;
  let yBase = (n * pu(19u) + g * M) * N;
  let khw = kh * kw;`,
  // A = the group's weights [M/G, Cg*kh*kw]; B = the im2col of X, gathered here
  loadA: 'v = Wt[wBase + gm * K + gk];',
  loadA4: va ? 'v4 = Wt[(wBase + gm * K + gk) / 4u];' : undefined,
  loadB4: vb ? 'w4 = X[(xBase + gkb * N + gn) / 4u];' : undefined,
  // a 1x1 conv of stride 1 without padding reads X as it is: B = X[c][p]
  loadB: pointwise
    ? 'w = X[xBase + gkb * N + gn];'
    : `let c = gkb / khw; let rr = gkb % khw;
        let ki = rr / kw; let kj = rr % kw;
        let oh = gn / OW; let ow = gn % OW;
        let ih = i32(oh * sh + ki * dh) - pt;
        let iw = i32(ow * sw + kj * dw) - pl;
        if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) { w = X[xBase + (c * H + u32(ih)) * W + u32(iw)]; }`,
  store: split
    ? // Bias is not read here, but 'auto' layouts keep only the bindings a program names
      'Y[split * pu(21u) + yBase + r * N + c] = s; if (hasBias > 1u) { Y[0] = Bias[0]; }'
    : `var y = s;
      if (hasBias != 0u) { y = y + Bias[g * M + r]; }
      ${residual ? 'y = y + Z[yBase + r * N + c];' : ''}
      Y[yBase + r * N + c] = min(max(y, lo), hi);`,
})}`;
}

const POINTWISE = new Map<string, string>();
const IM2COL = new Map<string, string>();

function im2colProgram(t: 4 | 8, layout: TileLayout, split: boolean, geometry: { kh: number; kw: number; OW: number } | 'pointwise', residual: boolean, va: boolean, vb: boolean): string {
  const cache = geometry === 'pointwise' ? POINTWISE : IM2COL;
  // the split variant stores slice sums: the residual is added where they are summed
  const res = residual && !split;
  vb &&= geometry === 'pointwise';
  const lay = `${layout.bk} ${layout.pad}`;
  const key = geometry === 'pointwise' ? `${t} ${lay} ${split} ${res} ${va} ${vb}` : `${t} ${lay} ${split} ${res} ${va} ${geometry.kh} ${geometry.kw} ${geometry.OW}`;
  let code = cache.get(key);
  if (!code) cache.set(key, (code = im2colGemm(t, layout, geometry, split, res, va, vb)));
  return code;
}

// The sum of split-K slices, then bias, the residual and clamp: 0 N*M*P, 1 slices, 2 P, 3 M, 4 hasBias, 5 lo, 6 hi
const sumSlices = (residual: boolean): string =>
  linearProgram(
    residual ? ['Part', 'Bias', 'Z'] : ['Part', 'Bias'],
    `  let total = pu(0u);
  var acc = 0.0;
  for (var s = 0u; s < pu(1u); s = s + 1u) { acc = acc + Part[s * total + idx]; }
  if (pu(4u) != 0u) { acc = acc + Bias[(idx / pu(2u)) % pu(3u)]; }
  ${residual ? 'acc = acc + Z[idx];' : ''}
  Y[idx] = min(max(acc, pf(5u)), pf(6u));`,
  );
const SUM_SLICES = [sumSlices(false), sumSlices(true)] as const;

const direct = (residual: boolean): string => linearProgram(
  residual ? ['X', 'Wt', 'Bias', 'Z'] : ['X', 'Wt', 'Bias'],
  `  let Mg = pu(0u); let P = pu(1u); let K = pu(2u);
  let H = pu(5u); let W = pu(6u); let OW = pu(7u);
  let kh = pu(8u); let kw = pu(9u); let sh = pu(10u); let sw = pu(11u); let dh = pu(12u); let dw = pu(13u);
  let pt = pi(14u); let pl = pi(15u); let M = pu(19u); let Cg = pu(20u);
  let p = idx % P;
  let nm = idx / P;
  let m = nm % M;
  let n = nm / M;
  let g = m / Mg;
  let oh = p / OW; let ow = p % OW;
  let ih0 = i32(oh * sh) - pt;
  let iw0 = i32(ow * sw) - pl;
  var acc = 0.0;
  for (var c = 0u; c < Cg; c = c + 1u) {
    let xBase = ((n * pu(4u) + g * Cg + c) * H) * W;
    let wBase = (m * Cg + c) * kh * kw;
    for (var i = 0u; i < kh; i = i + 1u) {
      let ih = ih0 + i32(i * dh);
      if (ih < 0 || ih >= i32(H)) { continue; }
      for (var j = 0u; j < kw; j = j + 1u) {
        let iw = iw0 + i32(j * dw);
        if (iw < 0 || iw >= i32(W)) { continue; }
        acc = fma(X[xBase + u32(ih) * W + u32(iw)], Wt[wBase + i * kw + j], acc);
      }
    }
  }
  if (pu(16u) != 0u) { acc = acc + Bias[m]; }
  ${residual ? 'acc = acc + Z[idx];' : ''}
  Y[idx] = min(max(acc, pf(17u)), pf(18u));`,
  21,
);
const DIRECT = [direct(false), direct(true)] as const;

interface ConvPlan extends Window2d {
  N: number;
  C: number;
  M: number;
  G: number;
  Cg: number;
}

/** The 2-D geometry of a 1-D or 2-D conv, or undefined where the WASM kernel must decide (errors, other ranks). */
function convPlan(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs): ConvPlan | undefined {
  const [X, Wt, B] = inputs;
  if (!isF32(X) || !isF32(Wt) || !onHost(Wt) || (B && (!isF32(B) || !onHost(B)))) return undefined;
  if ((X.rank !== 3 && X.rank !== 4) || Wt.rank !== X.rank) return undefined;
  const [N, C] = [X.shape[0]!, X.shape[1]!];
  const [M, Cg] = [Wt.shape[0]!, Wt.shape[1]!];
  const G = at.group;
  const k = Wt.shape.slice(2);
  if (at.kernelShape && at.kernelShape.join() !== k.join()) return undefined;
  if (Cg * G !== C || M % G !== 0 || (B && (B.rank !== 1 || B.shape[0] !== M))) return undefined;
  if (X.size === 0 || Cg * shapeSize(k) === 0) return undefined;
  let win;
  try {
    win = windowOf(at, k, 'Conv');
  } catch {
    return undefined;
  }
  const r = k.length;
  const out: number[] = [];
  const pb: number[] = [];
  for (let i = 0; i < r; i++) {
    const [o, b] = forwardAxis(X.shape[2 + i]!, k[i]!, win.s[i]!, win.d[i]!, win.pads[i]!, win.pads[i + r]!, at.autoPad);
    if (o <= 0) return undefined;
    out.push(o);
    pb.push(b);
  }
  return { N, C, M, G, Cg, ...window2d(X.shape.slice(2), out, win, pb, pb) };
}

/**
 * convPlan, kept per attributes object (the executor's cached plan keeps one per node) for the
 * last X shape, weights and bias it saw: `accepts` and `run` ask for it on every run of every
 * conv (it was ~10 % of a non-replayed resnet18 run's host time on an H100).
 */
const plans = new WeakMap<ConvAttrs, { x: readonly number[]; w: Tensor; b: Tensor | undefined; q: ConvPlan | undefined }>();
function keptConvPlan(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs): ConvPlan | undefined {
  const [X, Wt, B] = inputs;
  if (!isF32(X) || !isF32(Wt) || !onHost(Wt) || (B && (!isF32(B) || !onHost(B)))) return undefined;
  const c = plans.get(at);
  const xs = X.shape;
  if (c && c.w === Wt && c.b === B && c.x.length === xs.length && c.x.every((d, i) => d === xs[i])) return c.q;
  const q = convPlan(inputs, at);
  plans.set(at, { x: xs.slice(), w: Wt, b: B, q });
  return q;
}

/** The conv of `inputs` on the GPU, plus the residual `Z` (of the output's shape) before the clamp. */
function runConv(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs, ctx: OpContext, Z?: Tensor): Tensor[] {
  const runner = gpu();
  const site = runner.site(ctx.node);
  const q = keptConvPlan(inputs, at)!;
  const [X, Wt, B] = inputs as [Tensor, Tensor, Tensor | undefined];
  const res = Z ? 1 : 0;
  const z = Z ? [runner.input(Z)] : [];
  const Mg = q.M / q.G;
  const P = q.OH * q.OW;
  const K = q.Cg * q.kh * q.kw;
  const outShape = X.rank === 3 ? [q.N, q.M, q.OW] : [q.N, q.M, q.OH, q.OW];
  const out = runner.output(outShape, site);
  const total = q.N * q.M * P;
  const p = new Params()
    .u(Mg, P, K, q.G, q.C, q.H, q.W, q.OW, q.kh, q.kw, q.sh, q.sw, q.dh, q.dw, q.pt, q.pl, B ? 1 : 0)
    .f(at.actMin, at.actMax)
    .u(q.M, q.Cg, total);
  const buffers = [runner.input(X), runner.input(Wt, true), B ? runner.input(B, true) : runner.none, ...z, out.buffer];
  const batches = q.N * q.G;
  if (Mg >= 16 && batches <= 65535) {
    const t = chooseTile(Mg, P, batches);
    const layout = tileLayout(t, runner.device.limits.maxComputeWorkgroupStorageSize);
    const edge = tileEdge(t);
    const [gx, gy] = [Math.ceil(P / edge), Math.ceil(Mg / edge)];
    const { splits, depth } = chooseSplit(gx * gy * batches, K, total * K);
    const pointwise = q.kh === 1 && q.kw === 1 && q.sh === 1 && q.sw === 1 && q.pt === 0 && q.pl === 0 && q.OH === q.H && q.OW === q.W;
    const geometry = pointwise ? ('pointwise' as const) : { kh: q.kh, kw: q.kw, OW: q.OW };
    // the weights' rows start at multiples of K, a pointwise X's at multiples of P
    const [va, vb] = [vec4Operand(K, K), pointwise && vec4Operand(P, P)];
    if (splits > 1 && batches * splits <= 65535) {
      const sum = runner.site(ctx.node, 1);
      const part = runner.scratch(splits * total * 4, sum);
      runner.dispatch(site, im2colProgram(t, layout, true, geometry, false, va, vb), [buffers[0]!, buffers[1]!, runner.none, part], p.u(depth, batches, 1), [gx, gy, batches * splits]);
      runner.dispatch(sum, SUM_SLICES[res], [part, buffers[2]!, ...z, out.buffer], new Params().u(total, splits, P, q.M, B ? 1 : 0).f(at.actMin, at.actMax), groups256(total));
      runner.release(part);
    } else runner.dispatch(site, im2colProgram(t, layout, false, geometry, !!Z, va, vb), buffers, p.u(K, batches, 0), [gx, gy, batches]);
  } else runner.dispatch(site, DIRECT[res], buffers, p, groups256(total));
  return [out.tensor];
}

const conv = (key: 'Conv' | 'nnport::FusedConv'): OpKernel<ConvAttrs> =>
  defineOp<ConvAttrs>({
    attrs: convDefs[key].attrs,
    accepts: (inputs, at) => !!keptConvPlan(inputs, at),
    run: runConv,
  });

/**
 * nnport::FusedConvAdd (fuse-residual.ts): Y = clamp(conv(X, W, B) + Z). One program where the
 * conv runs on the GPU and Z has the output's shape; otherwise its parts one after another
 * (the conv unclamped, the Add, the clamp), each on the GPU where that kernel takes its inputs
 * and on the host (wasm) where not, so the op runs whatever its inputs.
 */
const FusedConvAdd: OpKernel<ConvAttrs> = defineOp<ConvAttrs>({
  attrs: convDefs['nnport::FusedConv'].attrs,
  run(inputs, at, ctx) {
    const [X, Wt, B, Z] = inputs;
    const q = keptConvPlan([X, Wt, B], at);
    if (q && isF32(Z) && Z.rank === X!.rank && Z.shape.every((d, i) => d === (i === 0 ? q.N : i === 1 ? q.M : i === Z.rank - 1 ? q.OW : q.OH))) {
      return runConv([X, Wt, B], at, ctx, Z);
    }
    return composite(inputs, at, ctx);
  },
});

const GPU_PARTS: OpTable = { 'nnport::FusedConv': conv('nnport::FusedConv'), Add: ELEMENTWISE_OPS.Add!, Clip: ELEMENTWISE_OPS.Clip! };

/** Run the GPU kernel of `op` when it takes `inputs`, else its wasm twin on the inputs downloaded. */
async function part(op: string, inputs: ReadonlyArray<Tensor | undefined>, attrs: unknown, ctx: OpContext): Promise<Tensor> {
  const k = GPU_PARTS[op]!;
  if (!k.accepts || k.accepts(inputs, attrs, ctx)) return (await k.run(inputs, attrs, ctx))[0]!;
  const host = ONNX_OPS[op]!;
  for (const t of inputs) if (t && !t.onHost) await t.download();
  return (await host.run(inputs, attrs, ctx))[0]!;
}

async function composite(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs, ctx: OpContext): Promise<Tensor[]> {
  const [X, Wt, B, Z] = inputs;
  // the parts' own sites (a node's site 0 and 1 are the conv's)
  const sub = (k: number): OpContext => ({ node: gpu().subOwner(ctx.node, k), opset: ctx.opset });
  const y = await part('nnport::FusedConv', [X, Wt, B], { ...at, actMin: -Infinity, actMax: Infinity }, sub(0));
  let s = await part('Add', [y, Z], {}, sub(1));
  if (at.actMin !== -Infinity || at.actMax !== Infinity) s = await part('Clip', [s], { min: at.actMin, max: at.actMax }, sub(2));
  return [s];
}

export const CONV_OPS: OpTable = { Conv: conv('Conv'), 'nnport::FusedConv': conv('nnport::FusedConv'), 'nnport::FusedConvAdd': FusedConvAdd };
