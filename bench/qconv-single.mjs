// node --import tsx bench/qconv-single.mjs [--rounds N] [--json]
// The one-rounding requantization (the interpreter's builtin GEMM, ruy: per-channel
// FULLY_CONNECTED under 'xnnpack', every FULLY_CONNECTED and ungrouped CONV_2D under 'builtin')
// on the WASM conv kernels against the TypeScript kernel it fell back to before the WASM kernels
// had that mode, in one process, alternating A, B, A, B ... so that load from other processes on
// the shared machine falls on both alike. Also the WASM kernel with TFLite's double rounding (what
// the same layer costs under 'reference'), and the WASM kernel on the same layer with its
// accumulator bound forced inside float64's exact range (RQ_MODE_F64_NONNEG instead of the 64-bit
// lanes of RQ_MODE_SINGLE) to show what the lanes' requantization costs. Every WASM result is
// checked bit-equal to the TypeScript kernel's. Medians of wall time, single-threaded.
import { cpus } from 'node:os';
import { quantizeMultiplier } from '../src/runtime/integer/fixed-point.js';
import { qconv2dReference } from '../src/runtime/integer/reference.js';
import { qconv2dWasm, qconvRequantizesInF64, qconvRunsOnWasm } from '../src/wasm/int8.js';
import { initKernels } from '../src/wasm/loader.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const rounds = Number(opt('--rounds', 7));
const json = args.includes('--json');

await initKernels();

/** Deterministic LCG in [0, 1). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * An int8 layer as a per-channel symmetric quantizer leaves it: weights roughly normal with each
 * channel's largest at ±127, activations after a ReLU (zero point -128) or not (zero point 0),
 * multipliers s_x·s_w[oc]/s_y from per-channel scales spread over 4x.
 */
function layer({ n = 1, h, w, c, o, k, pad, relu, seed }) {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const K = k * k * c;
  const weights = new Int32Array(o * K);
  for (let oc = 0; oc < o; oc++) {
    const g = Array.from({ length: K }, normal);
    const m = Math.max(...g.map(Math.abs));
    for (let i = 0; i < K; i++) weights[oc * K + i] = Math.round((g[i] / m) * 127);
  }
  const xzp = relu ? -128 : 0;
  const x = Int8Array.from({ length: n * h * w * c }, () => Math.max(-128, Math.min(127, relu ? -128 + Math.floor(r() * 160) : Math.round(normal() * 30))));
  const mult = new Int32Array(o);
  const shift = new Int32Array(o);
  for (let oc = 0; oc < o; oc++) {
    const q = quantizeMultiplier((0.02 * (0.001 + 0.003 * r())) / 0.05);
    mult[oc] = q.multiplier;
    shift[oc] = q.shift;
  }
  const bias = Int32Array.from({ length: o }, () => Math.round(normal() * 2000));
  return {
    x, xzp, n, h, w, c, weights, o, kh: k, kw: k, ipg: c, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: pad, pl: pad, oh: h, ow: w, bias,
    rq: { mult, shift, single: true },
    out: { dtype: 'int8', zp: -10, lo: -128, hi: 127 },
  };
}

const LAYERS = [
  // swin_t / ViT-B style dense layer: 196 tokens x 768 -> 3072, per-channel ('xnnpack' or 'builtin')
  { name: 'fc 196x768 -> 3072', p: layer({ h: 1, w: 196, c: 768, o: 3072, k: 1, pad: 0, relu: false, seed: 1 }) },
  // a ResNet stage-1 conv under 'builtin' (FCOS and other models with dynamic-sized tensors)
  { name: 'conv 3x3 64 -> 64 @ 56x56', p: layer({ h: 56, w: 56, c: 64, o: 64, k: 3, pad: 1, relu: true, seed: 2 }) },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (f) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

const results = [];
for (const { name, p } of LAYERS) {
  if (!qconvRunsOnWasm(p)) throw new Error(`${name}: not on the WASM kernels`);
  const sides = {
    typescript: { p, run: qconv2dReference },
    wasm: { p, run: qconv2dWasm },
    'wasm double rounding': { p: { ...p, rq: { mult: p.rq.mult, shift: p.rq.shift } }, run: qconv2dWasm },
  };
  // the same layer with weights scaled so the float64 bound holds (only to time RQ_MODE_F64_NONNEG)
  const small = { ...p, weights: p.weights.map((v) => v >> 3), bias: p.bias.map((v) => v >> 3), rq: { ...p.rq } };
  if (qconvRequantizesInF64(small)) sides['wasm, float64 bound (weights / 8)'] = { p: small, run: qconv2dWasm, ref: qconv2dReference(small) };
  const want = qconv2dReference(p);
  const ms = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (const [k, s] of Object.entries(sides)) if (!equal(s.run(s.p), s.ref ?? (k === 'wasm double rounding' ? qconv2dReference(s.p) : want))) throw new Error(`${name} ${k}: differs from the TypeScript kernel`);
  for (let i = 0; i < rounds; i++) for (const [k, s] of Object.entries(sides)) ms[k].push(time(() => s.run(s.p)));
  const row = { layer: name, f64: qconvRequantizesInF64(p), ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, +median(v).toFixed(1)])) };
  results.push(row);
  if (!json) {
    console.log(`${name} (one rounding in ${row.f64 ? 'float64' : '64-bit lanes'}), median of ${rounds}:`);
    for (const [k, v] of Object.entries(row.ms)) console.log(`  ${k.padEnd(36)} ${String(v).padStart(8)} ms${k === 'wasm' ? `  (${(row.ms.typescript / v).toFixed(0)}x the TypeScript kernel)` : ''}`);
  }
}
if (json) console.log(JSON.stringify({ cpu: cpus()[0]?.model, rounds, results }, null, 2));
