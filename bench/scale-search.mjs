// int8 range choice measured by the real TFLite interpreter (qscale): each --method quantizes the
// model on 64 real photo crops (test/support/photos.ts), the .tflite runs in the interpreter
// (tfjs-tflite in headless Chromium) on the held-out photos, and the pooled output SNR against the
// float .tflite in the interpreter is printed (also over the first 6 photos, the set the tests
// used before), with top-1 agreement, nnport's own QDQ simulation of the same graph, the
// quantizeGraph time and nnport's integer runtime against the interpreter (LSB, first photo).
// --model trained: the corpus' TinyNN int8 MobileNet-v2, dequantized (trained weights);
// otherwise a torchvision fixture of .fixtures-cache/models.
// --mode int16x8: 16-bit activations (the interpreter's 16x8 kernels) instead of int8.
// --io int8|uint8: integer input and output (the photos quantized with the file's input
// parameters as TFLite's QUANTIZE rounds, the outputs dequantized with its output parameters).
// --time-only: quantizeGraph's wall and CPU time per method (and a checksum of the activation
// scales it chose, to see that a speed change changed no result; --print-scales: every one), without the interpreter.
// Run: node --import tsx bench/scale-search.mjs [--model trained|mobilenet_v2|resnet18] [--held N] [--methods minmax,mse,search] [--search-samples 8] [--search-step 0.05] [--search-run region|node] [--bias-correction] [--mode int8|int16x8] [--io float|int8|uint8] [--time-only]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTflite } from '../src/formats/tflite/read.js';
import { serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { runGraph } from '../src/runtime/executor.js';
import { int8BenchModel } from './int8-models.mjs';
import { runInteger } from '../src/runtime/integer/index.js';
import { pooledSnrDb } from '../test/support/error-metrics.js';
import * as photos from '../test/support/photos.js';
import { startTfliteOracle } from '../test/support/tflite-oracle.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const model = arg('model', 'trained');
// every held-out photo there is (24 with qbias' set, 6 before it)
const heldCount = Number(arg('held', photos.HELD_OUT_PHOTOS ?? 6));
const methods = arg('methods', 'mse,search').split(',');
const searchSamples = arg('search-samples');
// --search-step: the search's step (a fraction of each range end; default 0.05)
const searchStep = arg('search-step');
// --search-run node|region: the search's candidate runs node by node, or each region as one graph (default; the same scales)
const searchRun = arg('search-run');
const searchOptions = () => ({ ...(searchSamples ? { samples: Number(searchSamples) } : {}), ...(searchStep ? { step: Number(searchStep) } : {}), ...(searchRun ? { runRegions: searchRun } : {}), runs: { graph: 0, nodes: 0 } });
// --bias-correction: quantizeGraph's biasCorrection (src/passes/bias-correction.ts) after each method
const biasCorrection = process.argv.includes('--bias-correction');
const mode = arg('mode', 'int8');
const io = arg('io', 'float');
const loaded = await int8BenchModel(model);
const g = loaded.g;
const { nchw, h, w } = loaded;
const input = g.inputs[0];
const tmp = mkdtempSync(join(tmpdir(), 'nnport-scale-search-'));
const toInput = (t) => {
  const x = nchw ? t.permute([0, 3, 1, 2]) : t;
  return new Tensor('float32', x.shape, Float32Array.from(x.data));
};
const calibration = photos.makePhotoSet(join(tmp, 'calibration'), { set: 'calibration', count: 64, size: [h, w] }).map(toInput);
const held = photos.makePhotoSet(join(tmp, 'held'), { set: 'held-out', count: heldCount, size: [h, w] }).map(toInput);
rmSync(tmp, { recursive: true, force: true });

if (process.argv.includes('--time-only')) {
  for (const method of methods) {
    const load = loadavg()[0];
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const search = searchOptions();
    const q = (await quantizeGraph(g, { mode, calibration: calibration.map((t) => [t]), method, biasCorrection, search })).graph;
    const c = process.cpuUsage(c0);
    const scales = q.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => q.initializers.get(n.inputs[1]).toNumbers()[0]);
    const runs = method === 'search' ? `; region runs: ${search.runs.graph} as one graph, ${search.runs.nodes} node by node` : '';
    console.log(`${model} ${method}: quantizeGraph ${((performance.now() - t0) / 1000).toFixed(1)} s (CPU ${((c.user + c.system) / 1e6).toFixed(1)} s, load ${load.toFixed(1)}); ${scales.length} activation scales, sum ${scales.reduce((a, b) => a + b, 0)}${runs}`);
    if (process.argv.includes('--print-scales')) console.log(JSON.stringify(q.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => [n.inputs[0], q.initializers.get(n.inputs[1]).toNumbers()[0], q.initializers.get(n.inputs[2])?.toNumbers()[0]])));
  }
  process.exit(0);
}
const oracle = await startTfliteOracle();
const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
try {
  const on = async (bytes, x) => Float32Array.from((await oracle.run(bytes, [x.data]))[0].data);
  const floatFile = serializeTflite(g);
  const wants = [];
  for (const x of held) wants.push(await on(floatFile, x));
  const nn = async (graph, x) => [...(await runGraph(graph, { [input.name]: x })).outputs.values()][0].toFloat32().slice();
  const floats = [];
  for (const x of held) floats.push(await nn(g, x));
  for (const method of methods) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const q = (await quantizeGraph(g, { mode, io, calibration: calibration.map((t) => [t]), method, biasCorrection, search: searchOptions() })).graph;
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    const file = serializeTflite(q);
    const back = await readTflite(file);
    // integer I/O: a photo quantized as TFLite's QUANTIZE does (half away from zero), the output dequantized
    // (through the integer Transpose of an NCHW input, or before an output)
    const paramsAt = (v, forward) => {
      const n = back.nodes.find((m) => (m.opType === 'DequantizeLinear' && m.inputs[0] === v) || (m.opType === 'QuantizeLinear' && m.outputs[0] === v));
      if (n) return { scale: back.initializers.get(n.inputs[1]).toNumbers()[0], zeroPoint: back.initializers.get(n.inputs[2]).toNumbers()[0] };
      const next = forward ? back.nodes.find((m) => m.inputs[0] === v) : back.nodes.find((m) => m.outputs[0] === v);
      return paramsAt(forward ? next.outputs[0] : next.inputs[0], forward);
    };
    const [inQ, outQ] = io === 'float' ? [] : [paramsAt(back.inputs[0].name, true), paramsAt(back.outputs[0].name, false)];
    const Ints = io === 'int8' ? Int8Array : Uint8Array;
    const [qmin, qmax] = io === 'int8' ? [-128, 127] : [0, 255];
    const feedOf = (x) => (io === 'float' ? x : new Tensor(io, x.shape, Ints.from(x.data, (v) => Math.min(qmax, Math.max(qmin, Math.sign(v / inQ.scale) * Math.round(Math.abs(v / inQ.scale)) + inQ.zeroPoint)))));
    const floatOf = (a) => (io === 'float' ? Float32Array.from(a) : Float32Array.from(a, (v) => (v - outQ.zeroPoint) * outQ.scale));
    const raws = [];
    for (const x of held) raws.push((await oracle.run(file, [feedOf(x).data]))[0].data);
    const gots = raws.map(floatOf);
    const sims = [];
    for (const x of held) sims.push(floatOf([...(await runGraph(q, { [input.name]: feedOf(x) })).outputs.values()][0].toNumbers()));
    const mine = [...(await runInteger(back, { [back.inputs[0].name]: feedOf(held[0]) }, { requantization: 'xnnpack' })).outputs.values()][0].toNumbers();
    // in LSBs of the output: integers as they are, a float output over its DequantizeLinear's scale
    const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0].name);
    const lsb = io === 'float' ? back.initializers.get(dq.inputs[1]).toNumbers()[0] : 1;
    let off = 0;
    for (let i = 0; i < mine.length; i++) off = Math.max(off, Math.abs(mine[i] - Number(raws[0][i])) / lsb);
    const top1 = gots.filter((o, k) => argmax(o) === argmax(wants[k])).length;
    console.log(
      `${model} ${mode === 'int8' ? '' : `${mode} `}${io === 'float' ? '' : `io ${io} `}${method}${biasCorrection ? ' + bias correction' : ''}: interpreter ${pooledSnrDb(wants, gots).toFixed(2)} dB over ${held.length} photos (first 6: ${pooledSnrDb(wants.slice(0, 6), gots.slice(0, 6)).toFixed(2)} dB), top-1 ${top1}/${held.length}; ` +
        `QDQ simulation ${pooledSnrDb(floats, sims).toFixed(2)} dB; quantizeGraph ${seconds.toFixed(1)} s (CPU ${cpu.toFixed(1)} s); integer runtime vs interpreter ${off.toFixed(2)} LSB`,
    );
  }
} finally {
  await oracle.close();
}
