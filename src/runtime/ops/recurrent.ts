// LSTM, GRU and RNN (ONNX semantics, float32). The input projection X·Wᵀ (+ biases) of every time
// step and both directions is one GEMM on the packed SIMD kernel; the step loop then runs in WASM
// memory (src/wasm/recurrent.ts): H·Rᵀ on R packed once and kept (a GEMV per row for batch 1 or 2, the GEMM
// otherwise), sigmoid / tanh in SIMD, and the cell update as kernels per row for the default
// activations (LSTM without peepholes; GRU, in two halves around (r ⊙ h)·Rhᵀ when not
// linear_before_reset). Other activations, peepholes and input_forget take the JS loops below on
// the same buffers. nnport::HybridLSTM / HybridRNN (TFLite's hybrid kernels) are the same loops
// with each step's input rows and the previous hidden state's rows rounded to int8 first.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { recurrentDefs, RNN_GATES, type RecurrentAttrs, type RnnActivation } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { gemmF32 } from '../../wasm/dense.js';
import { withStepKernels, type StepKernels } from '../../wasm/recurrent.js';
import { defineOp, type OpTable } from '../op.js';
import { need, readInts } from './args.js';
import { hybridQuantizeAsymmetric, hybridQuantizeSymmetric } from './hybrid-input-quantize.js';

/** A hybrid kernel's int8 rounding of each `row`-float row of `v` (BatchQuantizeFloats), dequantized into `out` (may be `v`). */
function roundRows(hybrid: { symmetric: boolean }, v: Float32Array, row: number, out: Float32Array): void {
  const quantize = hybrid.symmetric ? hybridQuantizeSymmetric : hybridQuantizeAsymmetric;
  if (row > 0) for (let from = 0; from < v.length; from += row) quantize(v, out, from, from + row);
}

/**
 * v[from, to) = act(clip(v)) in place: one loop per activation (a closure per element costs
 * more than the exp it wraps). `clip` (ONNX's) bounds the activation's input when given.
 */
function activate(a: RnnActivation, clip: number | undefined, v: Float32Array, from: number, to: number): void {
  if (clip !== undefined) for (let k = from; k < to; k++) v[k] = Math.min(clip, Math.max(-clip, v[k]!));
  const { alpha, beta } = a;
  switch (a.name) {
    case 'Sigmoid':
      for (let k = from; k < to; k++) v[k] = 1 / (1 + Math.exp(-v[k]!));
      return;
    case 'Tanh':
      for (let k = from; k < to; k++) v[k] = Math.tanh(v[k]!);
      return;
    case 'Relu':
      for (let k = from; k < to; k++) v[k] = Math.max(0, v[k]!);
      return;
    case 'Affine':
      for (let k = from; k < to; k++) v[k] = alpha * v[k]! + beta;
      return;
    case 'LeakyRelu':
      for (let k = from; k < to; k++) v[k] = v[k]! >= 0 ? v[k]! : alpha * v[k]!;
      return;
    case 'ThresholdedRelu':
      for (let k = from; k < to; k++) v[k] = v[k]! > alpha ? v[k]! : 0;
      return;
    case 'ScaledTanh':
      for (let k = from; k < to; k++) v[k] = alpha * Math.tanh(beta * v[k]!);
      return;
    case 'HardSigmoid':
      for (let k = from; k < to; k++) v[k] = Math.min(1, Math.max(0, alpha * v[k]! + beta));
      return;
    case 'Elu':
      for (let k = from; k < to; k++) v[k] = v[k]! >= 0 ? v[k]! : alpha * (Math.exp(v[k]!) - 1);
      return;
    case 'Softsign':
      for (let k = from; k < to; k++) v[k] = v[k]! / (1 + Math.abs(v[k]!));
      return;
    case 'Softplus':
      for (let k = from; k < to; k++) {
        const x = v[k]!;
        v[k] = x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
      }
      return;
  }
}

function float32(t: Tensor, op: string, what: string): Float32Array {
  if (t.dtype !== 'float32') throw new UnsupportedError(`${op} on ${t.dtype}`, `${what} must be float32`);
  return t.data as Float32Array;
}

function expectShape(t: Tensor, want: readonly number[], op: string, what: string): void {
  if (t.rank !== want.length || t.shape.some((d, i) => d !== want[i])) throw new ShapeError(`${op} ${what} must have shape [${want.join(', ')}], got [${t.shape.join(', ')}]`);
}

// Views of a weight tensor (W flattened to 2-D, R per direction and gate block) made once per
// tensor, so the GEMM's cache of packed weights (keyed by tensor) finds them on every step and run.
const views = new WeakMap<Tensor, Map<string, Tensor>>();

function weightView(t: Tensor, key: string, shape: number[], offset: number): Tensor {
  let m = views.get(t);
  if (!m) views.set(t, (m = new Map()));
  let v = m.get(key);
  if (!v) {
    const n = shape.reduce((a, b) => a * b, 1);
    m.set(key, (v = new Tensor('float32', shape, (t.data as Float32Array).subarray(offset, offset + n))));
  }
  return v;
}

/** out[M, N] += a[M, K] · wᵀ, w a [N, K] weight view. */
function addTimesWeightT(a: Float32Array, M: number, K: number, w: Tensor, out: Float32Array): void {
  const N = w.shape[0]!;
  if (M * N === 0 || K === 0) return;
  gemmF32(new Tensor('float32', [M, K], a), w, { M, N, K, transA: false, transB: true, alpha: 1 }, out, true);
}

interface Dims {
  S: number;
  N: number;
  I: number;
  H: number;
  nd: number;
}

function runRecurrent(inputs: ReadonlyArray<Tensor | undefined>, at: RecurrentAttrs): Tensor[] {
  const op = at.op;
  const G = RNN_GATES[op];
  const X = need(inputs, 0, 'X');
  const W = need(inputs, 1, 'W');
  const R = need(inputs, 2, 'R');
  const Bt = inputs[3];
  const lensT = inputs[4];
  const h0 = inputs[5];
  const c0 = op === 'LSTM' ? inputs[6] : undefined;
  const P = op === 'LSTM' ? inputs[7] : undefined;
  const x = float32(X, op, 'X');
  if (X.rank !== 3) throw new ShapeError(`${op} X must be 3-D, got [${X.shape.join(', ')}]`);
  if (R.rank !== 3) throw new ShapeError(`${op} R must be 3-D, got [${R.shape.join(', ')}]`);
  const [S, N, I] = at.layout === 0 ? [X.shape[0]!, X.shape[1]!, X.shape[2]!] : [X.shape[1]!, X.shape[0]!, X.shape[2]!];
  const nd = at.numDirections;
  const H = R.shape[2]!;
  if (at.hiddenSize !== undefined && at.hiddenSize !== H) throw new ShapeError(`${op} hidden_size ${at.hiddenSize} differs from R's last dimension ${H}`);
  const GH = G * H;
  expectShape(W, [nd, GH, I], op, 'W');
  expectShape(R, [nd, GH, H], op, 'R');
  const w = float32(W, op, 'W');
  float32(R, op, 'R');
  const stateShape = at.layout === 0 ? [nd, N, H] : [N, nd, H];
  const bias = Bt && (expectShape(Bt, [nd, 2 * GH], op, 'B'), float32(Bt, op, 'B'));
  const initH = h0 && (expectShape(h0, stateShape, op, 'initial_h'), float32(h0, op, 'initial_h'));
  const initC = c0 && (expectShape(c0, stateShape, op, 'initial_c'), float32(c0, op, 'initial_c'));
  const peep = P && (expectShape(P, [nd, 3 * H], op, 'P'), float32(P, op, 'P'));
  const lens = lensT ? readInts(lensT, `${op} sequence_lens`) : new Array<number>(N).fill(S);
  if (lens.length !== N) throw new ShapeError(`${op} sequence_lens has ${lens.length} elements for a batch of ${N}`);
  for (const l of lens) if (!Number.isInteger(l) || l < 0 || l > S) throw new ShapeError(`${op} sequence_lens value ${l} is outside [0, ${S}]`);
  const dims: Dims = { S, N, I, H, nd };

  // X time-major [S, N, I]
  let xt = x;
  if (at.layout === 1) {
    xt = new Float32Array(x.length);
    for (let b = 0; b < N; b++) for (let t = 0; t < S; t++) xt.set(x.subarray((b * S + t) * I, (b * S + t + 1) * I), (t * N + b) * I);
  }

  // a hybrid kernel multiplies each step's input rounded to int8 row by row
  if (at.hybrid) {
    if (op === 'GRU') throw new UnsupportedError('a hybrid GRU', 'TFLite has no GRU kernel');
    const rounded = new Float32Array(xt.length);
    roundRows(at.hybrid, xt, I, rounded);
    xt = rounded;
  }

  // proj[S·N, nd·GH] = X·Wᵀ + the biases that add before any gate product
  const rowLen = nd * GH;
  const proj = new Float32Array(S * N * rowLen);
  if (bias) {
    const row = new Float32Array(rowLen);
    for (let d = 0; d < nd; d++) {
      for (let j = 0; j < GH; j++) {
        // GRU with linear_before_reset: Rbh is added to H·Rhᵀ before the reset gate multiplies it
        const rb = at.linearBeforeReset && j >= 2 * H ? 0 : bias[d * 2 * GH + GH + j]!;
        row[d * GH + j] = bias[d * 2 * GH + j]! + rb;
      }
    }
    for (let r = 0; r < S * N; r++) proj.set(row, r * rowLen);
  }
  addTimesWeightT(xt, S * N, I, weightView(W, 'W2d', [nd * GH, I], 0), proj);

  const y = new Float32Array(S * nd * N * H);
  const yh = new Float32Array(nd * N * H);
  const yc = new Float32Array(nd * N * H);
  for (let d = 0; d < nd; d++) {
    const reverse = at.direction === 'reverse' || d === 1;
    const h0 = new Float32Array(N * H);
    const c0 = new Float32Array(N * H);
    const stateAt = (b: number) => (at.layout === 0 ? (d * N + b) * H : (b * nd + d) * H);
    for (let b = 0; b < N; b++) {
      if (initH) h0.set(initH.subarray(stateAt(b), stateAt(b) + H), b * H);
      if (initC) c0.set(initC.subarray(stateAt(b), stateAt(b) + H), b * H);
    }
    const hN = yh.subarray(d * N * H, (d + 1) * N * H);
    const cN = yc.subarray(d * N * H, (d + 1) * N * H);
    const ctx: DirectionContext = { at, dims, d, reverse, lens, proj, rowLen, R, bias, peep, h0, c0, y, hN, cN };
    if (op === 'LSTM') lstmDirection(ctx);
    else if (op === 'GRU') gruDirection(ctx);
    else rnnDirection(ctx);
  }

  if (at.layout === 0) {
    const out = [new Tensor('float32', [S, nd, N, H], y), new Tensor('float32', [nd, N, H], yh)];
    if (op === 'LSTM') out.push(new Tensor('float32', [nd, N, H], yc));
    return out;
  }
  // batch-major: Y [N, S, nd, H], states [N, nd, H]
  const y1 = new Float32Array(y.length);
  for (let t = 0; t < S; t++) for (let d = 0; d < nd; d++) for (let b = 0; b < N; b++) y1.set(y.subarray(((t * nd + d) * N + b) * H, ((t * nd + d) * N + b + 1) * H), ((b * S + t) * nd + d) * H);
  const state1 = (s: Float32Array): Float32Array => {
    const o = new Float32Array(s.length);
    for (let d = 0; d < nd; d++) for (let b = 0; b < N; b++) o.set(s.subarray((d * N + b) * H, (d * N + b + 1) * H), (b * nd + d) * H);
    return o;
  };
  const out = [new Tensor('float32', [N, S, nd, H], y1), new Tensor('float32', [N, nd, H], state1(yh))];
  if (op === 'LSTM') out.push(new Tensor('float32', [N, nd, H], state1(yc)));
  return out;
}

interface DirectionContext {
  at: RecurrentAttrs;
  dims: Dims;
  d: number;
  reverse: boolean;
  lens: readonly number[];
  proj: Float32Array;
  rowLen: number;
  R: Tensor;
  bias: Float32Array | undefined;
  peep: Float32Array | undefined;
  /** the initial hidden (and LSTM cell) state [N, H] of this direction, zeros when not given */
  h0: Float32Array;
  c0: Float32Array;
  /** Y time-major [S, nd, N, H] */
  y: Float32Array;
  /** the final states [N, H] (written) */
  hN: Float32Array;
  cN: Float32Array;
}

/**
 * Step k of a direction: the time index each batch row is at (-1 when its sequence is over).
 * A reverse direction walks each row's own sequence backwards from its last valid step.
 */
function stepTimes(c: DirectionContext, k: number, out: Int32Array): boolean {
  let any = false;
  for (let b = 0; b < c.dims.N; b++) {
    const len = c.lens[b]!;
    out[b] = k < len ? (c.reverse ? len - 1 - k : k) : -1;
    if (out[b]! >= 0) any = true;
  }
  return any;
}

/** gates[b] = proj row of (t_b, b), this direction's block. */
function gatherGates(c: DirectionContext, times: Int32Array, GH: number, gates: Float32Array): void {
  const { N } = c.dims;
  for (let b = 0; b < N; b++) {
    const t = times[b]!;
    if (t < 0) continue;
    const from = (t * N + b) * c.rowLen + c.d * GH;
    gates.set(c.proj.subarray(from, from + GH), b * GH);
  }
}

const yAt = (c: DirectionContext, t: number, b: number): number => ((t * c.dims.nd + c.d) * c.dims.N + b) * c.dims.H;

/** v[from, to) = act(clip(v)): the SIMD kernel for sigmoid and tanh, the JS loops for the rest. */
function activateIn(s: StepKernels, a: RnnActivation, clip: number | undefined, v: Float32Array, from: number, to: number): void {
  if (a.name === 'Sigmoid') s.sigmoid(v, from, to, clip ?? Infinity);
  else if (a.name === 'Tanh') s.tanh(v, from, to, clip ?? Infinity);
  else activate(a, clip, v, from, to);
}

function lstmDirection(c: DirectionContext): void {
  const { S, N, H } = c.dims;
  const GH = 4 * H;
  const [fa, ga, ha] = c.at.activations[c.d]! as [RnnActivation, RnnActivation, RnnActivation];
  const clip = c.at.clip;
  const Rd = weightView(c.R, `R${c.d}`, [GH, H], c.d * GH * H);
  const P = c.peep;
  const po = c.d * 3 * H;
  // the default activations without peepholes run as one fused kernel per row and step
  const fused = !P && !c.at.inputForget && c.at.cellClip === undefined && fa.name === 'Sigmoid' && ga.name === 'Tanh' && ha.name === 'Tanh';
  const cellClip = c.at.cellClip;
  const hybrid = c.at.hybrid;
  withStepKernels(N, H, H, [Rd], [N * GH, N * H, N * H, H, hybrid ? N * H : 0], (s) => {
    const [gates, h, cs, hc, hq] = s.buffers as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    h.set(c.h0);
    cs.set(c.c0);
    const times = new Int32Array(N);
    for (let k = 0; k < S && stepTimes(c, k, times); k++) {
      gatherGates(c, times, GH, gates);
      if (hybrid) roundRows(hybrid, h, H, hq);
      s.mulAddT(0, hybrid ? hq : h, gates);
      for (let b = 0; b < N; b++) {
        const t = times[b]!;
        if (t < 0) continue;
        // gate blocks i, o, f, c at o + 0, H, 2H, 3H; peepholes i, o, f
        const o = b * GH;
        const so = b * H;
        if (fused) s.lstmCell(gates, o, cs, h, so, clip ?? Infinity);
        else {
          if (P) {
            for (let j = 0; j < H; j++) {
              gates[o + j] += P[po + j]! * cs[so + j]!;
              gates[o + 2 * H + j] += P[po + 2 * H + j]! * cs[so + j]!;
            }
          }
          activateIn(s, fa, clip, gates, o, o + H);
          if (c.at.inputForget) for (let j = 0; j < H; j++) gates[o + 2 * H + j] = 1 - gates[o + j]!;
          else activateIn(s, fa, clip, gates, o + 2 * H, o + 3 * H);
          activateIn(s, ga, clip, gates, o + 3 * H, o + 4 * H);
          for (let j = 0; j < H; j++) cs[so + j] = gates[o + 2 * H + j]! * cs[so + j]! + gates[o + j]! * gates[o + 3 * H + j]!;
          // TFLite's cell_clip: the bounded cell state is what the output gate and h read, and what is kept
          if (cellClip !== undefined) for (let j = 0; j < H; j++) cs[so + j] = Math.min(cellClip, Math.max(-cellClip, cs[so + j]!));
          if (P) for (let j = 0; j < H; j++) gates[o + H + j] += P[po + H + j]! * cs[so + j]!;
          activateIn(s, fa, clip, gates, o + H, o + 2 * H);
          // clip bounds the gates' pre-activations only; h(Ct) takes the cell state unclipped (as onnxruntime computes it)
          hc.set(cs.subarray(so, so + H));
          activateIn(s, ha, undefined, hc, 0, H);
          for (let j = 0; j < H; j++) h[so + j] = gates[o + H + j]! * hc[j]!;
        }
        c.y.set(h.subarray(so, so + H), yAt(c, t, b));
      }
    }
    c.hN.set(h);
    c.cN.set(cs);
  });
}

function gruDirection(c: DirectionContext): void {
  const { S, N, H } = c.dims;
  const GH = 3 * H;
  const [fa, ga] = c.at.activations[c.d]! as [RnnActivation, RnnActivation];
  const clip = c.at.clip;
  const lbr = c.at.linearBeforeReset;
  const base = c.d * GH * H;
  const rbh = c.bias && lbr ? c.bias.subarray(c.d * 2 * GH + GH + 2 * H, c.d * 2 * GH + GH + 3 * H) : undefined;
  const times = new Int32Array(N);
  if (lbr && fa.name === 'Sigmoid' && ga.name === 'Tanh') {
    // linear_before_reset (PyTorch's GRU) with the default activations: H·Rᵀ of all three gates
    // in one product, then one fused kernel per row and step
    const Rd = weightView(c.R, `R${c.d}`, [GH, H], base);
    withStepKernels(N, H, H, [Rd], [N * GH, N * GH, N * H, H], (s) => {
      const [gates, hr, h, rb] = s.buffers as [Float32Array, Float32Array, Float32Array, Float32Array];
      h.set(c.h0);
      if (rbh) rb.set(rbh);
      for (let k = 0; k < S && stepTimes(c, k, times); k++) {
        gatherGates(c, times, GH, gates);
        hr.fill(0);
        s.mulAddT(0, h, hr);
        for (let b = 0; b < N; b++) {
          const t = times[b]!;
          if (t < 0) continue;
          s.gruCell(gates, hr, b * GH, rbh && rb, h, b * H, clip ?? Infinity);
          c.y.set(h.subarray(b * H, (b + 1) * H), yAt(c, t, b));
        }
      }
      c.hN.set(h);
    });
    return;
  }
  // the fused halves of a linear_before_reset = 0 step with the default activations
  const fused = !lbr && fa.name === 'Sigmoid' && ga.name === 'Tanh';
  const Rzr = weightView(c.R, `Rzr${c.d}`, [2 * H, H], base);
  const Rh = weightView(c.R, `Rh${c.d}`, [H, H], base + 2 * H * H);
  withStepKernels(N, H, H, [Rzr, Rh], [N * GH, N * 2 * H, N * H, N * H, N * H], (s) => {
    const [gates, zr, hh, rh, h] = s.buffers as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    h.set(c.h0);
    for (let k = 0; k < S && stepTimes(c, k, times); k++) {
      gatherGates(c, times, GH, gates);
      zr.fill(0);
      s.mulAddT(0, h, zr);
      if (fused) {
        for (let b = 0; b < N; b++) if (times[b]! >= 0) s.gruReset(zr, b * 2 * H, gates, b * GH, h, rh, b * H, clip ?? Infinity);
        hh.fill(0);
        s.mulAddT(1, rh, hh);
        for (let b = 0; b < N; b++) {
          const t = times[b]!;
          if (t < 0) continue;
          s.gruUpdate(zr, b * 2 * H, hh, gates, b * GH, h, b * H, clip ?? Infinity);
          c.y.set(h.subarray(b * H, (b + 1) * H), yAt(c, t, b));
        }
        continue;
      }
      for (let b = 0; b < N; b++) {
        if (times[b]! < 0) continue;
        for (let j = 0; j < 2 * H; j++) zr[b * 2 * H + j] += gates[b * GH + j]!;
        activateIn(s, fa, clip, zr, b * 2 * H, (b + 1) * 2 * H);
      }
      hh.fill(0);
      if (lbr) {
        // ht = g(Xt·Whᵀ + Wbh + rt ⊙ (Ht-1·Rhᵀ + Rbh))
        s.mulAddT(1, h, hh);
        for (let b = 0; b < N; b++) for (let j = 0; j < H; j++) hh[b * H + j] = zr[b * 2 * H + H + j]! * (hh[b * H + j]! + (rbh ? rbh[j]! : 0));
      } else {
        // ht = g(Xt·Whᵀ + (rt ⊙ Ht-1)·Rhᵀ + Rbh + Wbh)
        for (let b = 0; b < N; b++) for (let j = 0; j < H; j++) rh[b * H + j] = zr[b * 2 * H + H + j]! * h[b * H + j]!;
        s.mulAddT(1, rh, hh);
      }
      for (let b = 0; b < N; b++) {
        const t = times[b]!;
        if (t < 0) continue;
        for (let j = 0; j < H; j++) hh[b * H + j] += gates[b * GH + 2 * H + j]!;
        activateIn(s, ga, clip, hh, b * H, (b + 1) * H);
        const yo = yAt(c, t, b);
        for (let j = 0; j < H; j++) {
          const z = zr[b * 2 * H + j]!;
          const hNew = (1 - z) * hh[b * H + j]! + z * h[b * H + j]!;
          h[b * H + j] = hNew;
          c.y[yo + j] = hNew;
        }
      }
    }
    c.hN.set(h);
  });
}

function rnnDirection(c: DirectionContext): void {
  const { S, N, H } = c.dims;
  const fa = c.at.activations[c.d]![0]!;
  const Rd = weightView(c.R, `R${c.d}`, [H, H], c.d * H * H);
  const times = new Int32Array(N);
  const hybrid = c.at.hybrid;
  withStepKernels(N, H, H, [Rd], [N * H, N * H, hybrid ? N * H : 0], (s) => {
    const [gates, h, hq] = s.buffers as [Float32Array, Float32Array, Float32Array];
    h.set(c.h0);
    for (let k = 0; k < S && stepTimes(c, k, times); k++) {
      gatherGates(c, times, H, gates);
      if (hybrid) roundRows(hybrid, h, H, hq);
      s.mulAddT(0, hybrid ? hq : h, gates);
      for (let b = 0; b < N; b++) {
        const t = times[b]!;
        if (t < 0) continue;
        activateIn(s, fa, c.at.clip, gates, b * H, (b + 1) * H);
        h.set(gates.subarray(b * H, (b + 1) * H), b * H);
        c.y.set(gates.subarray(b * H, (b + 1) * H), yAt(c, t, b));
      }
    }
    c.hN.set(h);
  });
}

export const recurrentOps: OpTable = {
  LSTM: defineOp<RecurrentAttrs>({ attrs: recurrentDefs.LSTM.attrs, run: (inputs, at) => runRecurrent(inputs, at) }),
  GRU: defineOp<RecurrentAttrs>({ attrs: recurrentDefs.GRU.attrs, run: (inputs, at) => runRecurrent(inputs, at) }),
  RNN: defineOp<RecurrentAttrs>({ attrs: recurrentDefs.RNN.attrs, run: (inputs, at) => runRecurrent(inputs, at) }),
  'nnport::HybridLSTM': defineOp<RecurrentAttrs>({ attrs: recurrentDefs['nnport::HybridLSTM'].attrs, run: (inputs, at) => runRecurrent(inputs, at) }),
  'nnport::HybridRNN': defineOp<RecurrentAttrs>({ attrs: recurrentDefs['nnport::HybridRNN'].attrs, run: (inputs, at) => runRecurrent(inputs, at) }),
};
