// 16x8 TFLite (int16 activations, int8 weights) latency of mobilenet_v2 (the torchvision
// fixture): nnport's integer runtime with its WASM SIMD 16x8 kernels and with their TypeScript
// twins (what 16x8 ran on before), next to the int8 file, and the TFLite interpreter
// (tfjs-tflite WASM in headless Chromium, single-threaded) on both files, in the same run on the
// same input. Also checks that nnport's 16x8 output equals the interpreter's.
// Run: node --import tsx bench/tflite-int16.mjs [--samples 8] [--runs 6]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { runInteger } from '../src/runtime/integer/index.js';
import { initKernels } from '../src/wasm/loader.js';
import { startTfliteOracle } from '../test/support/tflite-oracle.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('samples', 8);
const RUNS = arg('runs', 6);
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();
const m = await readModel(new Uint8Array(readFileSync(join(root, '.fixtures-cache/models/mobilenet_v2/model.onnx'))), { fileName: 'mobilenet_v2.onnx' });
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const sample = () => Tensor.float32([1, 224, 224, 3], Float32Array.from({ length: 224 * 224 * 3 }, gauss));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const g = await prepareForTflite(m.graph);
const samples = Array.from({ length: N }, () => new Map([['input', sample()]]));
const files = {
  int8: serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration: samples })).graph),
  int16x8: serializeTflite((await quantizeGraph(g, { mode: 'int16x8', calibration: samples })).graph),
};
const x = sample();

// wall and CPU time of this process (the machine is shared: CPU time is the steadier figure)
async function timeInteger(graph, options, runs) {
  const feeds = { [graph.inputs[0].name]: x };
  const wall = [];
  const cpu = [];
  let out;
  for (let k = 0; k < runs; k++) {
    const s = performance.now();
    const c = process.cpuUsage();
    out = await runInteger(graph, feeds, options);
    wall.push(performance.now() - s);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  // the first run packs the weights: left out
  return { wall: median(wall.slice(1)), cpu: median(cpu.slice(1)), y: [...out.outputs.values()][0].toFloat32() };
}

const mine = {};
for (const [mode, bytes] of Object.entries(files)) {
  const back = await readTflite(bytes);
  // int8: the XNNPACK requantization, which the interpreter runs int8 convs with
  const base = mode === 'int8' ? { requantization: 'xnnpack' } : {};
  mine[mode] = { wasm: await timeInteger(back, base, RUNS), typescript: await timeInteger(back, { ...base, kernels: 'typescript' }, Math.max(2, Math.floor(RUNS / 2))) };
}
const oracle = await startTfliteOracle();
const interp = {};
const theirs = {};
for (const [mode, bytes] of Object.entries(files)) {
  interp[mode] = await oracle.latency(bytes, [x.data], 10);
  theirs[mode] = (await oracle.run(bytes, [x.data]))[0].data;
}
await oracle.close();

const ms = (v) => `${v.toFixed(0)} ms`;
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
for (const mode of Object.keys(files)) {
  const w = mine[mode].wasm;
  const t = mine[mode].typescript;
  console.log(
    `| ${mode} | nnport WASM kernels ${ms(w.wall)} (CPU ${ms(w.cpu)}) | nnport TypeScript kernels ${ms(t.wall)} (CPU ${ms(t.cpu)}) | interpreter ${ms(interp[mode])} | WASM / interpreter ${(w.wall / interp[mode]).toFixed(2)}x | output = interpreter's: ${same(w.y, theirs[mode]) ? 'yes' : 'no'} |`,
  );
}
console.log(`load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}, ${N} calibration samples, median of ${RUNS - 1} runs after one warm-up`);
