// MaxPool, AveragePool (1-D and 2-D, pads, strides, dilations, ceil_mode, count_include_pad)
// one invocation per output, and GlobalAveragePool / GlobalMaxPool one workgroup per plane.
import { forwardAxis, poolDefs, window2d, windowOf, type PoolAttrs } from '../../ir/ops/index.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { defineOp, type OpKernel, type OpTable } from '../../runtime/op.js';
import { groups256, linearProgram, Params, wgslHeader } from '../runner.js';
import { gpu, isF32 } from './common.js';

// 0 total, 1 H, 2 W, 3 OH, 4 OW, 5 kh, 6 kw, 7 sh, 8 sw, 9 dh, 10 dw, 11 pt, 12 pl,
// 13 loH, 14 hiH, 15 loW, 16 hiW (the taps an average counts: [lo, hi) per axis)
const poolProgram = (isMax: boolean): string =>
  linearProgram(
    ['X'],
    `  let H = i32(pu(1u)); let W = i32(pu(2u)); let OH = pu(3u); let OW = pu(4u);
  let kh = pu(5u); let kw = pu(6u);
  let ow = idx % OW;
  let oh = (idx / OW) % OH;
  let plane = idx / (OW * OH);
  let ih0 = i32(oh * pu(7u)) - pi(11u);
  let iw0 = i32(ow * pu(8u)) - pi(12u);
  let base = plane * u32(H) * u32(W);
  var acc = ${isMax ? '-3.402823466e+38' : '0.0'};
  var nanSeen = false;
  var countH = 0;
  var countW = 0;
  for (var i = 0u; i < kh; i = i + 1u) {
    let ih = ih0 + i32(i * pu(9u));
    if (ih >= pi(13u) && ih < pi(14u)) { countH = countH + 1; }
    if (ih < 0 || ih >= H) { continue; }
    for (var j = 0u; j < kw; j = j + 1u) {
      let iw = iw0 + i32(j * pu(10u));
      if (iw < 0 || iw >= W) { continue; }
      let v = X[base + u32(ih) * u32(W) + u32(iw)];
      ${isMax ? 'if (v != v) { nanSeen = true; } acc = max(acc, v);' : 'acc = acc + v;'}
    }
  }
  for (var j = 0u; j < kw; j = j + 1u) {
    let iw = iw0 + i32(j * pu(10u));
    if (iw >= pi(15u) && iw < pi(16u)) { countW = countW + 1; }
  }
  ${isMax ? 'if (nanSeen) { acc = bitcast<f32>(0x7fc00000u | (pu(0u) & 0u)); }' : 'acc = acc / f32(countH * countW);'}
  Y[idx] = acc;`,
  );

interface PoolPlan {
  NC: number;
  out: number[];
  params: Params;
}

function poolPlan(X: Tensor | undefined, at: PoolAttrs, op: string): PoolPlan | undefined {
  if (!isF32(X) || at.indices || (X.rank !== 3 && X.rank !== 4) || at.kernelShape.length !== X.rank - 2 || X.size === 0) return undefined;
  let win;
  try {
    win = windowOf(at, at.kernelShape, op);
  } catch {
    return undefined;
  }
  const r = X.rank - 2;
  const out: number[] = [];
  const pb: number[] = [];
  const pe: number[] = [];
  for (let i = 0; i < r; i++) {
    const [o, b, e] = forwardAxis(X.shape[2 + i]!, win.k[i]!, win.s[i]!, win.d[i]!, win.pads[i]!, win.pads[i + r]!, at.autoPad, at.ceil);
    const ek = (win.k[i]! - 1) * win.d[i]! + 1;
    if (o <= 0 || b >= ek || e >= ek) return undefined;
    out.push(o);
    pb.push(b);
    pe.push(e);
  }
  const { H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pbot, pr } = window2d(X.shape.slice(2), out, win, pb, pe);
  const NC = X.shape[0]! * X.shape[1]!;
  const inc = at.countIncludePad;
  const params = new Params().u(NC * OH * OW, H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, inc ? -pt : 0, inc ? H + pbot : H, inc ? -pl : 0, inc ? W + pr : W);
  return { NC, out, params };
}

function pool(op: 'MaxPool' | 'AveragePool'): OpKernel<PoolAttrs> {
  const code = poolProgram(op === 'MaxPool');
  return defineOp<PoolAttrs>({
    attrs: poolDefs[op].attrs,
    accepts: (inputs, at) => !!poolPlan(inputs[0], at, op),
    run(inputs, at, ctx) {
      const runner = gpu();
      const site = runner.site(ctx.node);
      const X = inputs[0]!;
      const plan = poolPlan(X, at, op)!;
      const out = runner.output([X.shape[0]!, X.shape[1]!, ...plan.out], site);
      runner.dispatch(site, code, [runner.input(X), out.buffer], plan.params, groups256(out.tensor.size));
      return [out.tensor];
    },
  });
}

// 0 planes, 1 plane size, 2 1/size (average) ; one 256-wide workgroup per plane
const globalProgram = (isMax: boolean): string => `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${wgslHeader(2)}
var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let plane = wg.y * nwg.x + wg.x;
  let size = pu(1u);
  var acc = ${isMax ? '-3.402823466e+38' : '0.0'};
  var nanSeen = false;
  if (plane < pu(0u)) {
    for (var i = li; i < size; i = i + 256u) {
      let v = X[plane * size + i];
      ${isMax ? 'if (v != v) { nanSeen = true; } acc = max(acc, v);' : 'acc = acc + v;'}
    }
  }
  ${isMax ? 'if (nanSeen) { acc = bitcast<f32>(0x7fc00000u | (pu(0u) & 0u)); }' : ''}
  part[li] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s / 2u) {
    if (li < s) { ${isMax ? 'let a = part[li]; let b = part[li + s]; part[li] = select(max(a, b), a + b, a != a || b != b);' : 'part[li] = part[li] + part[li + s];'} }
    workgroupBarrier();
  }
  if (li == 0u && plane < pu(0u)) { Y[plane] = ${isMax ? 'part[0]' : 'part[0] * pf(2u)'}; }
}`;

function globalPool(op: 'GlobalMaxPool' | 'GlobalAveragePool'): OpKernel<Record<string, never>> {
  const code = globalProgram(op === 'GlobalMaxPool');
  return defineOp({
    attrs: poolDefs[op].attrs,
    accepts: (inputs) => isF32(inputs[0]) && inputs[0].rank >= 3 && inputs[0].size > 0,
    run(inputs, _a, ctx) {
      const runner = gpu();
      const site = runner.site(ctx.node);
      const X = inputs[0]!;
      const planes = X.shape[0]! * X.shape[1]!;
      const size = shapeSize(X.shape.slice(2));
      const out = runner.output(X.shape.map((d, i) => (i < 2 ? d : 1)), site);
      const x = Math.min(planes, 65535);
      runner.dispatch(site, code, [runner.input(X), out.buffer], new Params().u(planes, size).f(1 / size), [x, Math.ceil(planes / x), 1]);
      return [out.tensor];
    },
  });
}

export const POOL_OPS: OpTable = {
  MaxPool: pool('MaxPool'),
  AveragePool: pool('AveragePool'),
  GlobalAveragePool: globalPool('GlobalAveragePool'),
  GlobalMaxPool: globalPool('GlobalMaxPool'),
};
