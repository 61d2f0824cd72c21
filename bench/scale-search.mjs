// int8 range choice measured by the real TFLite interpreter (qscale): each --method quantizes the
// model on 64 real photo crops (test/support/photos.ts), the .tflite runs in the interpreter
// (tfjs-tflite in headless Chromium) on the held-out photos, and the pooled output SNR against the
// float .tflite in the interpreter is printed (also over the first 6 photos, the set the tests
// used before), with top-1 agreement, nnport's own QDQ simulation of the same graph, the
// quantizeGraph time and nnport's integer runtime against the interpreter (LSB, first photo).
// --model trained: the corpus' TinyNN int8 MobileNet-v2, dequantized (trained weights);
// otherwise a torchvision fixture of .fixtures-cache/models.
// --mode int16x8: 16-bit activations (the interpreter's 16x8 kernels) instead of int8.
// --time-only: quantizeGraph's wall and CPU time per method (and a checksum of the activation
// scales it chose, to see that a speed change changed no result), without the interpreter.
// Run: node --import tsx bench/scale-search.mjs [--model trained|mobilenet_v2|resnet18] [--held N] [--methods minmax,mse,search] [--search-samples 8] [--bias-correction] [--mode int8|int16x8] [--time-only]
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
// --bias-correction: quantizeGraph's biasCorrection (src/passes/bias-correction.ts) after each method
const biasCorrection = process.argv.includes('--bias-correction');
const mode = arg('mode', 'int8');
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
    const q = (await quantizeGraph(g, { mode, calibration: calibration.map((t) => [t]), method, biasCorrection })).graph;
    const c = process.cpuUsage(c0);
    const scales = q.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => q.initializers.get(n.inputs[1]).toNumbers()[0]);
    console.log(`${model} ${method}: quantizeGraph ${((performance.now() - t0) / 1000).toFixed(1)} s (CPU ${((c.user + c.system) / 1e6).toFixed(1)} s, load ${load.toFixed(1)}); ${scales.length} activation scales, sum ${scales.reduce((a, b) => a + b, 0)}`);
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
    const q = (await quantizeGraph(g, { mode, calibration: calibration.map((t) => [t]), method, biasCorrection, ...(searchSamples ? { search: { samples: Number(searchSamples) } } : {}) })).graph;
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    const file = serializeTflite(q);
    const gots = [];
    for (const x of held) gots.push(await on(file, x));
    const sims = [];
    for (const x of held) sims.push(await nn(q, x));
    const back = await readTflite(file);
    const mine = [...(await runInteger(back, { [back.inputs[0].name]: held[0] }, { requantization: 'xnnpack' })).outputs.values()][0].toFloat32();
    const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0].name);
    const lsb = back.initializers.get(dq.inputs[1]).toNumbers()[0];
    let off = 0;
    for (let i = 0; i < mine.length; i++) off = Math.max(off, Math.abs(mine[i] - gots[0][i]) / lsb);
    const top1 = gots.filter((o, k) => argmax(o) === argmax(wants[k])).length;
    console.log(
      `${model} ${mode === 'int8' ? '' : `${mode} `}${method}${biasCorrection ? ' + bias correction' : ''}: interpreter ${pooledSnrDb(wants, gots).toFixed(2)} dB over ${held.length} photos (first 6: ${pooledSnrDb(wants.slice(0, 6), gots.slice(0, 6)).toFixed(2)} dB), top-1 ${top1}/${held.length}; ` +
        `QDQ simulation ${pooledSnrDb(floats, sims).toFixed(2)} dB; quantizeGraph ${seconds.toFixed(1)} s (CPU ${cpu.toFixed(1)} s); integer runtime vs interpreter ${off.toFixed(2)} LSB`,
    );
  }
} finally {
  await oracle.close();
}
