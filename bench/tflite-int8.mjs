// Full-int8 TFLite conversion of mobilenet_v2 (the torchvision fixture) with N calibration
// samples: wall time and the calibration share, next to N of nnport's own float forward passes;
// then int8 latency: nnport's integer runtime vs its float runtime vs the TFLite interpreter
// (tfjs-tflite WASM in headless Chromium, single-threaded) on the same input. The integer
// runtime is timed with its WASM SIMD kernels (both requantization modes) and with their
// TypeScript twins (the scalar reference, what it ran before the WASM kernels).
// Run: node --import tsx bench/tflite-int8.mjs [--samples 100]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { runGraph } from '../src/runtime/executor.js';
import { runInteger } from '../src/runtime/integer/index.js';
import { initKernels } from '../src/wasm/loader.js';
import { startTfliteOracle } from '../test/support/tflite-oracle.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('samples', 100);
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();
const m = await readModel(new Uint8Array(readFileSync(join(root, '.fixtures-cache/models/mobilenet_v2/model.onnx'))), { fileName: 'mobilenet_v2.onnx' });
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const sample = () => Tensor.float32([1, 224, 224, 3], Float32Array.from({ length: 224 * 224 * 3 }, gauss));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// the samples exist before the clock starts: making random data is not part of the conversion
const samples = Array.from({ length: N }, () => new Map([['input', sample()]]));
// warm up first (untimed): one forward pass of the prepared graph, so that V8's tier-up compiling
// of the WASM kernels and the JS lands in neither calibration nor the plain passes (calibration
// ran first and cold, and its ratio swung between 1.02x and 1.27x with CPU time above wall time)
{
  const cold = await readModel(new Uint8Array(readFileSync(join(root, '.fixtures-cache/models/mobilenet_v2/model.onnx'))), { fileName: 'mobilenet_v2.onnx' });
  await runGraph(await prepareForTflite(cold.graph), samples[0]);
}
const t0 = performance.now();
const g = await prepareForTflite(m.graph);
const tPrep = performance.now();
let tCalEnd = 0;
// CPU time too: on a shared machine wall time swings with the load, CPU time much less
const cpu = (d) => (d.user + d.system) / 1000;
const cCal0 = process.cpuUsage();
let cpuCal = 0;
const q = await quantizeGraph(g, { mode: 'int8', calibration: samples, onProgress: (k) => k === N && ((tCalEnd = performance.now()), (cpuCal = cpu(process.cpuUsage(cCal0)))) });
const bytes = serializeTflite(q.graph);
const tEnd = performance.now();
const calibration = tCalEnd - tPrep;
// N plain forward passes of the same float graph, for the calibration budget (N passes + 20 %)
const tf0 = performance.now();
const cf0 = process.cpuUsage();
for (const feeds of samples) await runGraph(g, feeds);
const forward = performance.now() - tf0;
const cpuForward = cpu(process.cpuUsage(cf0));

const x = sample();
const floatTimes = [];
const floatCpu = [];
for (let k = 0; k < 5; k++) {
  const s = performance.now();
  const c = process.cpuUsage();
  await runGraph(g, { input: x });
  floatTimes.push(performance.now() - s);
  const d = process.cpuUsage(c);
  floatCpu.push((d.user + d.system) / 1000);
}
const back = await readTflite(bytes);
const xq = { [back.inputs[0].name]: x };
// wall and CPU time (the machine may be shared: CPU time of this process is the steadier figure)
const timeInteger = async (options, runs) => {
  const wall = [];
  const cpu = [];
  for (let k = 0; k < runs; k++) {
    const s = performance.now();
    const c = process.cpuUsage();
    await runInteger(back, xq, options);
    wall.push(performance.now() - s);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall: median(wall.slice(1)), cpu: median(cpu.slice(1)) };
};
const intWasm = await timeInteger({}, 6);
const intWasmXnn = await timeInteger({ requantization: 'xnnpack' }, 6);
const intTs = await timeInteger({ kernels: 'typescript' }, 3);
const oracle = await startTfliteOracle();
const interp = await oracle.latency(bytes, [x.data], 10);
const interpFloat = await oracle.latency(serializeTflite(g), [x.data], 10);
await oracle.close();
const ms = (v) => `${v.toFixed(0)} ms`;
console.log(`| int8 conversion, ${N} samples | ${ms(tEnd - t0)} total | calibration ${ms(calibration)} (${((100 * calibration) / (tEnd - t0)).toFixed(0)} %) | ${N} float forward passes ${ms(forward)} (calibration / passes ${(calibration / forward).toFixed(2)}x) | CPU: calibration ${ms(cpuCal)}, passes ${ms(cpuForward)} (${(cpuCal / cpuForward).toFixed(2)}x) |`);
console.log(`| mobilenet_v2 latency | nnport float ${ms(median(floatTimes))} (CPU ${ms(median(floatCpu))}) | nnport int8, WASM kernels ${ms(intWasm.wall)} (CPU ${ms(intWasm.cpu)}) | nnport int8, WASM kernels, xnnpack requantization ${ms(intWasmXnn.wall)} (CPU ${ms(intWasmXnn.cpu)}) | nnport int8, TypeScript kernels ${ms(intTs.wall)} (CPU ${ms(intTs.cpu)}) | interpreter int8 ${ms(interp)} | interpreter float ${ms(interpFloat)} |`);
console.log(`load average ${(await import('node:os')).loadavg().map((v) => v.toFixed(2)).join(' ')}`);
