// Why a model loses accuracy in full int8, on nnport's float runtime (QDQ simulation, no
// interpreter): (1) how much the float model amplifies white noise added to its input, (2) the
// output SNR with only the weights int8, only the activations int8, and both, (3) each quantized
// activation's own contribution (that one tensor int8, everything else float).
// Calibration and held-out inputs: photo-like images (scripts/fixtures/calibration_images.py), or
// with --photos real photos (test/support/photos.ts: 64 crops of 19 photos, 6 other photos held out).
// --model trained: the corpus' TinyNN int8 MobileNet-v2, dequantized (trained weights).
// --equalize [ALPHA] / --no-equalize: cross-layer equalization (src/passes/equalize.ts) applied to
// the float graph here first (--headroom H: its clipHeadroom; the equalized float model's SNR
// against the original on the held-out images is printed), or not at all (default: quantizeGraph's
// default). --method: the calibration method (minmax, mse, ...).
// SNRs are pooled over the held-out images (total signal / total noise), as the tests measure.
// --held N: held-out images (photos: up to 24, test/support/photos.ts). --bias-correction:
// quantizeGraph's empirical bias correction (src/passes/bias-correction.ts).
// --interpreter VARIANTS: instead of the above, each comma-separated variant (minmax, mse, ...;
// "+bc" adds bias correction ("+bc16": measured on the first 16 samples), "+gptq" GPTQ weight rounding, "+split" channel splitting
// (offset copies of the linear groups and, unless "+clip0", the ReLU6 outputs read by group-1 convs split by range in 2),
// "+clipN" the range split alone in N pieces (with "+split": in N pieces), "+ptdense" dense weights per tensor) is quantized, written as .tflite and
// run by the real TFLite interpreter (headless Chromium) on the held-out images against the
// float .tflite: SNR pooled over all images, and its spread (the SNR's standard error, from the
// per-image noise powers), and the conversion time.
// --halve A,B;C (with the quantized graph of (2)): each ';'-separated set of activations (value
// names as --per-tensor prints them, "all" = every one) gets its int8 step divided by 2
// (--halve-factor F: by F) without clipping, everything else as quantized: an upper bound for what
// outlier channel splitting or any other range reduction of those tensors can give (F = sqrt 2:
// every channel split in two). --group-alpha I:A,...: with --equalize, group I (findEqualizationGroups'
// order; "dw": every group a depthwise conv produces) at alpha A, the others as equalize chooses.
// Run: node --import tsx bench/int8-accuracy.mjs [--model mobilenet_v2|resnet18|trained|PATH.onnx] [--photos] [--held 24] [--samples 64] [--method minmax|mse|...] [--weight-rounding nearest|gptq] [--bias-correction] [--per-tensor] [--equalize [--group-alpha dw:0.5]] [--halve NAMES[;NAMES] [--halve-factor F]] [--interpreter minmax,minmax+bc,mse,mse+bc]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../src/formats/numpy/index.js';
import { serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { channelRangeObserver, equalizeGraph, findEqualizationGroups } from '../src/passes/equalize.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { runGraph } from '../src/runtime/executor.js';
import { int8BenchModel } from './int8-models.mjs';
import { makePhotoSet } from '../test/support/photos.js';
import { startTfliteOracle } from '../test/support/tflite-oracle.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const model = arg('model', 'mobilenet_v2');
const N = Number(arg('samples', 64));
const root = new URL('..', import.meta.url).pathname;
const loaded = await int8BenchModel(model);
let g = loaded.g;
const { nchw, h, w } = loaded;
const input = g.inputs[0];
const equalizeAt = process.argv.indexOf('--equalize');
const equalize = equalizeAt > 0 || process.argv.includes('--no-equalize') ? false : undefined;
const alpha = Number(process.argv[equalizeAt + 1]) || undefined;
const tmp = mkdtempSync(join(tmpdir(), 'nnport-int8-accuracy-'));
const toInput = (t) => (nchw ? Tensor.float32([1, 3, h, w], nhwcToNchw(t.data, h, w)) : t);
function nhwcToNchw(d, H, W) {
  const o = new Float32Array(d.length);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) o[c * H * W + y * W + x] = d[(y * W + x) * 3 + c];
  return o;
}
const images = (name, count, seed) => {
  const out = join(tmp, name);
  if (process.argv.includes('--photos')) return makePhotoSet(out, { set: name === 'held' ? 'held-out' : 'calibration', count, size: [h, w] }).map(toInput);
  execFileSync('/usr/bin/python3', [join(root, 'scripts/fixtures/calibration_images.py'), '--out', out, '--count', String(count), '--size', `${h}x${w}`, '--seed', String(seed), '--formats', 'png-rgb', '--mean', '123.675,116.28,103.53', '--std', '58.395,57.12,57.375']);
  return readdirSync(join(out, 'npy')).sort().map((f) => toInput(readNpy(readFileSync(join(out, 'npy', f)))));
};
const calibration = images('calibration', N, 11);
const held = images('held', Number(arg('held', process.argv.includes('--photos') ? 6 : 3)), 12);
rmSync(tmp, { recursive: true, force: true });
const interpreter = arg('interpreter');
if (interpreter) {
  const oracle = await startTfliteOracle();
  const on = async (bytes, x) => Float32Array.from((await oracle.run(bytes, [x.data]))[0].data);
  const floatFile = serializeTflite(g);
  const wants = [];
  for (const x of held) wants.push(await on(floatFile, x));
  let floatLatency;
  for (const variant of interpreter.split(',')) {
    const [m, ...extras] = variant.split('+');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const q = await quantizeGraph(g, { mode: 'int8', calibration: calibration.map((t) => [t]), method: m, biasCorrection: extras.some((e) => e.startsWith('bc')), biasCorrectionSamples: Number(extras.find((e) => e.startsWith('bc'))?.slice(2)) || undefined, weightRounding: extras.includes('gptq') ? 'gptq' : 'nearest', channelSplit: extras.includes('split'), perChannelDense: !extras.includes('ptdense'), clipSplit: extras.some((e) => e.startsWith('clip')) ? Number(extras.find((e) => e.startsWith('clip')).slice(4)) : undefined, onNote: (n) => console.log(`  note: ${n}`) });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const file = serializeTflite(q.graph);
    let sig = 0;
    let top1 = 0;
    const noises = [];
    const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
    for (const [k, x] of held.entries()) {
      const got = await on(file, x);
      if (argmax(got) === argmax(wants[k])) top1++;
      let n = 0;
      wants[k].forEach((v, i) => ((sig += v * v), (n += (v - got[i]) ** 2)));
      noises.push(n);
    }
    // the pooled SNR's standard error in dB, from the spread of the per-image noise powers
    const mean = noises.reduce((a, b) => a + b, 0) / noises.length;
    const sd = Math.sqrt(noises.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, noises.length - 1));
    const se = (10 / Math.LN10) * (sd / Math.sqrt(noises.length) / mean);
    // --latency N: the interpreter's median time of N runs of the int8 file on the first image (and of the float file, once)
    const runs = Number(arg('latency', 0));
    const latency = runs ? `; interpreter ${(await oracle.latency(file, [held[0].data], runs)).toFixed(1)} ms (float file ${(floatLatency ??= await oracle.latency(floatFile, [held[0].data], runs)).toFixed(1)} ms)` : '';
    console.log(`${model} ${variant}: ${(10 * Math.log10(sig / (mean * noises.length))).toFixed(2)} dB +- ${se.toFixed(2)} on ${held.length} held-out images (interpreter), top-1 ${top1}/${held.length}; quantizeGraph ${seconds.toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ${file.length} bytes${latency}`);
  }
  await oracle.close();
  process.exit(0);
}
if (equalizeAt > 0) {
  // equalized here (not inside quantizeGraph) so that "activations only" below uses its float weights
  const groups = findEqualizationGroups(g);
  // the values that get int8 parameters (as quantizeGraph observes them): not a conv output whose
  // only reader is the Relu / Clip that TFLite fuses into it
  const readers = new Map();
  for (const n of g.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
  const fused = (v) => (readers.get(v) ?? []).length === 1 && ['Relu', 'Clip'].includes(readers.get(v)[0].opType) && g.nodes.some((n) => n.opType === 'Conv' && n.outputs[0] === v);
  const obs = channelRangeObserver(groups, new Set(groups.flatMap((gr) => gr.values).filter((v) => !fused(v))));
  for (const x of calibration) await runGraph(g, { [input.name]: x }, { onValue: obs.observe });
  const headroom = arg('headroom');
  // --group-alpha I:A,J:B: group I (findEqualizationGroups' order) at alpha A, the others as chosen
  // (I = dw: every group a depthwise conv produces, the depthwise -> ReLU6 -> projection ones)
  const fixed = new Map();
  for (const [i, a] of arg('group-alpha', '').split(',').filter((x) => x).map((x) => x.split(':'))) {
    if (i !== 'dw') fixed.set(Number(i), Number(a));
    else groups.forEach((gr, k) => gr.producers.some((p) => (p.node.attrs.group?.value ?? 1) > 1) && fixed.set(k, Number(a)));
  }
  const opts = { ...(alpha === undefined ? {} : { alpha }), ...(headroom ? { clipHeadroom: Number(headroom) } : {}) };
  let eq = equalizeGraph(g, groups.filter((_, i) => !fixed.has(i)), obs.ranges, opts);
  for (const [i, a] of fixed) {
    const one = equalizeGraph(eq.graph, [groups[i]], obs.ranges, { ...opts, alpha: a });
    eq = { ...eq, graph: one.graph, groups: eq.groups + one.groups };
  }
  const before = await Promise.all(held.map(async (x) => [...(await runGraph(g, { [input.name]: x })).outputs.values()][0].toFloat32()));
  const afterEq = await Promise.all(held.map(async (x) => [...(await runGraph(eq.graph, { [input.name]: x })).outputs.values()][0].toFloat32()));
  let sig = 0, noise = 0;
  before.forEach((a, k) => a.forEach((v, i) => ((sig += v * v), (noise += (v - afterEq[k][i]) ** 2))));
  console.log(`equalized float vs float on the held-out images: ${(10 * Math.log10(sig / noise)).toFixed(1)} dB`);
  console.log(`equalized ${eq.groups} of ${groups.length} groups (alpha ${alpha ?? 'default'}): ${groups.map((gr) => `${gr.channels} channels, ${gr.values.length} values`).join('; ')}`);
  g = eq.graph;
}
const out = async (graph, x) => [...(await runGraph(graph, { [input.name]: x })).outputs.values()][0].toFloat32();
const floats = await Promise.all(held.map((x) => out(g, x)));
const pooled = (wants, gots) => {
  let sig = 0;
  let noise = 0;
  wants.forEach((a, k) => a.forEach((v, i) => ((sig += v * v), (noise += (v - gots[k][i]) ** 2))));
  return 10 * Math.log10(sig / noise);
};
const snrOn = async (graph) => {
  const gots = [];
  for (const x of held) gots.push(await out(graph, x));
  return pooled(floats, gots);
};

// (1) noise sensitivity of the float model
let seed = 5;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
for (const db of [50, 40, 30]) {
  const r = [];
  if (process.argv.includes('--skip-noise')) break;
  for (let k = 0; k < held.length; k++) {
    const x = held[k].data;
    let p = 0;
    for (const v of x) p += v * v;
    const a = Math.sqrt(p / x.length) * 10 ** (-db / 20);
    r.push(await out(g, Tensor.float32(held[k].shape, x.map((v) => v + a * gauss()))));
  }
  console.log(`float model, white noise ${db} dB below the input -> output SNR ${pooled(floats, r).toFixed(1)} dB`);
}

// (2) weights only / activations only / both
const method = arg('method', 'minmax');
const weightRounding = arg('weight-rounding', 'nearest');
const t0 = performance.now();
const q = (await quantizeGraph(g, { mode: 'int8', calibration: calibration.map((t) => [t]), method, weightRounding, biasCorrection: process.argv.includes('--bias-correction'), ...(equalize === undefined ? {} : { equalize }) })).graph;
console.log(`quantizeGraph (${method}, weight rounding ${weightRounding}): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const actQ = new Set(q.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.outputs[0]));
const producerOf = new Map(q.nodes.map((n) => [n.outputs[0], n]));
/** The quantized graph with the activation Q/DQ pairs in `keep` only (all: undefined). */
const activations = (keep) => ({
  ...q,
  nodes: q.nodes.flatMap((n) => {
    if (n.opType === 'QuantizeLinear' && keep && !keep.has(n)) return [];
    if (n.opType === 'DequantizeLinear' && actQ.has(n.inputs[0]) && keep && !keep.has(producerOf.get(n.inputs[0]))) return [{ ...n, opType: 'Identity', inputs: [producerOf.get(n.inputs[0]).inputs[0]], attrs: {} }];
    return [n];
  }),
});
/** float weights and biases in place of their DequantizeLinear (names: <float>_dequantized) */
const floatWeights = (graph) => {
  const inits = new Map(graph.initializers);
  const nodes = graph.nodes.map((n) => {
    const orig = n.outputs[0].replace(/_dequantized$/, '');
    // the float weights the quantizer started from (equalized ones where it equalized)
    const src = graph.floatInitializers?.get(orig) ?? g.initializers.get(orig);
    if (n.opType !== 'DequantizeLinear' || !graph.initializers.has(n.inputs[0]) || !src) return n;
    inits.set(orig, src);
    return { ...n, opType: 'Identity', inputs: [orig], attrs: {} };
  });
  return { ...graph, nodes, initializers: inits };
};
// quantizeGraph's own equalization (the default without --equalize / --no-equalize) rescales weights
// this bench does not see: "activations only" (float weights) and --per-tensor need one of the flags
const ownWeights = equalize === false;
console.log(`int8 (${method}, ${N} images), held-out images: weights and activations ${(await snrOn(q)).toFixed(1)} dB, weights only ${(await snrOn(activations(new Set()))).toFixed(1)} dB, activations only ${ownWeights ? `${(await snrOn(floatWeights(q))).toFixed(1)} dB` : 'n/a (quantizeGraph equalized: give --equalize)'}`);

// (2b) upper bound for splitting a tensor's outlier channels: the named activations (--halve
// a,b,c; "all" = every one) get half their int8 step without clipping (int16 codes on scale/2,
// zero point 2z: the same grid points and half-way ones), everything else as quantized
// (several sets: separated by ';')
for (const halve of arg('halve', '').split(';').filter((x) => x)) {
  const names = halve === 'all' ? undefined : new Set(halve.split(','));
  // a pad / reshape after a named value shares its parameters: its own rounding is halved too
  for (let more = true; names && more; ) {
    more = false;
    for (const k of q.nodes) {
      const out = k.outputs[0].replace(/_float$/, '');
      if (['Pad', 'Transpose', 'Reshape', 'Squeeze', 'Flatten'].includes(k.opType) && names.has(k.inputs[0]) && !names.has(out)) (names.add(out), (more = true));
    }
  }
  const inits = new Map(q.initializers);
  let n = 0;
  const nodes = q.nodes.map((k) => {
    if (k.opType !== 'QuantizeLinear' && k.opType !== 'DequantizeLinear') return k;
    const qn = k.opType === 'QuantizeLinear' ? k : producerOf.get(k.inputs[0]);
    if (!qn || qn.opType !== 'QuantizeLinear' || !actQ.has(qn.outputs[0])) return k;
    const v = qn.inputs[0].replace(/_float$/, '');
    if (names && !names.has(v)) return k;
    if (k === qn) n++;
    const [, s, z] = k.inputs;
    const sh = `${s}_half`, zh = `${z}_half`;
    // --halve-factor F: the step divided by F instead
    const f = Number(arg('halve-factor', 2));
    inits.set(sh, Tensor.float32([], [q.initializers.get(s).data[0] / f]));
    inits.set(zh, new Tensor('int16', [], Int16Array.of(Math.round(f * q.initializers.get(z).data[0]))));
    return { ...k, inputs: [k.inputs[0], sh, zh] };
  });
  console.log(`half step on ${n} activations (${halve}): ${(await snrOn({ ...q, nodes, initializers: inits })).toFixed(2)} dB (as quantized: ${(await snrOn(q)).toFixed(2)} dB)`);
}

// (3) each activation alone
if (process.argv.includes('--per-tensor') && !ownWeights) console.log('--per-tensor needs --equalize or --no-equalize (float weights of the graph quantized)');
else if (process.argv.includes('--per-tensor')) {
  const base = floatWeights(q);
  const rows = [];
  // a pad / transpose / reshape shares its input's parameters: quantizing it again adds nothing
  const sharing = new Set(['Pad', 'Transpose', 'Reshape', 'Squeeze', 'Flatten']);
  const made = new Map(base.nodes.map((k) => [k.outputs[0], k]));
  for (const n of base.nodes.filter((k) => k.opType === 'QuantizeLinear' && !sharing.has(made.get(k.inputs[0])?.opType))) {
    const one = { ...base, nodes: base.nodes.flatMap((k) => {
      if (k.opType === 'QuantizeLinear' && k !== n) return [];
      if (k.opType === 'DequantizeLinear' && actQ.has(k.inputs[0]) && k.inputs[0] !== n.outputs[0]) return [{ ...k, opType: 'Identity', inputs: [producerOf.get(k.inputs[0]).inputs[0]], attrs: {} }];
      return [k];
    }) };
    const db = await snrOn(one);
    rows.push([n.inputs[0].replace(/_float$/, ''), db]);
    console.log(`  only ${n.inputs[0].replace(/_float$/, '')}: ${db.toFixed(1)} dB`);
  }
  // noise powers add: each tensor's share of the total noise of all activations alone
  const total = rows.reduce((a, [, db]) => a + 10 ** (-db / 10), 0);
  console.log(`sum of the single-tensor noise powers: ${(-10 * Math.log10(total)).toFixed(1)} dB; the ten costliest:`);
  for (const [name, db] of rows.sort((a, b) => a[1] - b[1]).slice(0, 10)) console.log(`  ${name}: ${db.toFixed(1)} dB (${((100 * 10 ** (-db / 10)) / total).toFixed(0)} % of the noise)`);
}
