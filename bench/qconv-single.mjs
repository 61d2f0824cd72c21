// node --import tsx bench/qconv-single.mjs [--rounds N] [--json] [--fcos [--fcos-rounds N]]
// The one-rounding requantization (the interpreter's builtin GEMM, ruy: per-channel
// FULLY_CONNECTED under 'xnnpack', every FULLY_CONNECTED and ungrouped CONV_2D under 'builtin')
// on the WASM conv kernels against the TypeScript kernel it fell back to before the WASM kernels
// had that mode, in one process, alternating A, B, A, B ... so that load from other processes on
// the shared machine falls on both alike. Also the WASM kernel with TFLite's double rounding (what
// the same layer costs under 'reference'), and the WASM kernel on the same layer with its
// accumulator bound forced inside float64's exact range (RQ_MODE_F64_NONNEG instead of the 64-bit
// lanes of RQ_MODE_SINGLE) to show what the lanes' requantization costs. Every WASM result is
// checked bit-equal to the TypeScript kernel's. Medians of wall time, single-threaded.
// --fcos: end to end, torchvision FCOS (the detectors-int8 test's fixture and conversion: full
// int8, 4 calibration photos, 256x256), whose NMS makes its tensors dynamic-sized so runInteger
// runs it 'builtin' throughout: every ungrouped conv rounds once. runInteger on the WASM kernels
// against kernels: 'typescript' (every op on the TypeScript kernels, not only the convs: an upper
// bound of what the fallback cost), alternating, outputs checked equal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
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

let fcos;
if (args.includes('--fcos')) {
  const [{ convert, loadModelFiles }, { readTflite }, { readNpy }, { permuteTensor }, { runInteger }, { ensureScriptFixtures }, { makePhotoSet }] = await Promise.all([
    import('../src/index.js'),
    import('../src/formats/tflite/read.js'),
    import('../src/formats/numpy/index.js'),
    import('../src/passes/layout.js'),
    import('../src/runtime/integer/index.js'),
    import('../test/support/fixture-script.js'),
    import('../test/support/photos.js'),
  ]);
  const dir = join(ensureScriptFixtures('detection_models2.py', 'detection-models2', ['fcos', 'ssd300', 'fcos_empty', 'ssd300_empty']), 'fcos');
  const tmp = mkdtempSync(join(tmpdir(), 'nnport-bench-fcos-'));
  try {
    const source = await loadModelFiles([join(dir, 'model.onnx')]);
    const photos = makePhotoSet(join(tmp, 'calibration'), { set: 'calibration', count: 4, size: [256, 256], mean: [0, 0, 0], std: [255, 255, 255] });
    const calibration = (inputs) => photos.map((p) => [inputs[0].shape[0] === 3 ? permuteTensor(p.reshape(p.shape.slice(1)), [2, 0, 1]) : p.reshape(p.shape.slice(1))]);
    const { bytes } = await convert(source, 'fcos-int8.tflite', { int32Io: true, quantize: { mode: 'int8', calibration } });
    const back = await readTflite(bytes);
    const x = readNpy(new Uint8Array(readFileSync(join(dir, 'image.npy'))));
    const inShape = back.inputs[0].shape;
    const fed = inShape.join() === x.shape.join() ? x : permuteTensor(x, [1, 2, 0]);
    const run = (kernels) => async () => [...(await runInteger(back, { [back.inputs[0].name]: fed }, { requantization: 'xnnpack', kernels })).outputs.values()].map((t) => Array.from(t.toFloat32()));
    const sides = { wasm: run('wasm'), typescript: run('typescript') };
    const want = JSON.stringify(await sides.wasm());
    if (JSON.stringify(await sides.typescript()) !== want) throw new Error('FCOS: the WASM and TypeScript kernels differ');
    const fcosRounds = Number(opt('--fcos-rounds', 3));
    const ms = { wasm: [], typescript: [] };
    for (let i = 0; i < fcosRounds; i++)
      for (const [k, f] of Object.entries(sides)) {
        const t = performance.now();
        await f();
        ms[k].push(performance.now() - t);
      }
    fcos = { rounds: fcosRounds, ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(median(v))])) };
    if (!json) console.log(`FCOS int8 256x256, runInteger ('xnnpack', run as 'builtin'), median of ${fcosRounds}: WASM kernels ${fcos.ms.wasm} ms, TypeScript kernels ${fcos.ms.typescript} ms (${(fcos.ms.typescript / fcos.ms.wasm).toFixed(0)}x)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
if (json) console.log(JSON.stringify({ cpu: cpus()[0]?.model, rounds, results, fcos }, null, 2));
