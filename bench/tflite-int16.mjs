// 16x8 TFLite (int16 activations, int8 weights) latency of mobilenet_v2 (the torchvision
// fixture): nnport's integer runtime with its WASM SIMD 16x8 kernels and with their TypeScript
// twins (what 16x8 ran on before), next to the int8 file, and the TFLite interpreter
// (tfjs-tflite WASM in headless Chromium, single-threaded) on both files, in the same run on the
// same input. Also checks that nnport's 16x8 output equals the interpreter's. Then the 16x8 ops
// whose kernels mobilenet_v2 barely uses (MUL, AVERAGE_POOL_2D, MEAN, QUANTIZE) one by one at
// mobilenet-like sizes: WASM kernel and TypeScript twin, same inputs, same outputs.
// Run: node --import tsx bench/tflite-int16.mjs [--samples 8] [--runs 6] [--ops-only]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { INTEGER_OPS, runInteger } from '../src/runtime/integer/index.js';
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

const opsOnly = process.argv.includes('--ops-only');

// ---- single ops: `nnport.int::<op>` (or QuantizeLinear) with kernels 'wasm' and 'typescript' ----
function opTiming(op, inputs, attrs, runs) {
  const kernel = INTEGER_OPS[op.includes('::') || op === 'QuantizeLinear' ? op : `nnport.int::${op}`];
  const time = (kernels) => {
    const node = { name: op, opType: op, domain: 'nnport.int', inputs: [], outputs: ['y'], attrs: { ...attrs, kernels: { type: 'string', value: kernels } } };
    const a = kernel.attrs(node, 21);
    let y;
    const ms = [];
    for (let k = 0; k < runs; k++) {
      const s = performance.now();
      y = kernel.run(inputs, a, {})[0];
      ms.push(performance.now() - s);
    }
    return { ms: median(ms.slice(1)), y };
  };
  const w = time('wasm');
  const t = time('typescript');
  const same = w.y.data.length === t.y.data.length && w.y.data.every((v, i) => v === t.y.data[i]);
  return { wasm: w.ms, ts: t.ms, same };
}
// their own random stream: the model's calibration samples stay those of earlier runs
let opSeed = 7;
const opRand = () => ((opSeed = (opSeed * 16807) % 2147483647) / 2147483647);
const i16 = (shape) => new Tensor('int16', shape, Int16Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(opRand() * 65536) - 32768));
const s16 = (v) => Tensor.float32([], [v]);
const z16 = () => new Tensor('int16', [], new Int16Array(1));
const pool = (k, st) => ({ kernel_shape: { type: 'ints', value: [k, k] }, strides: { type: 'ints', value: [st, st] }, auto_pad: { type: 'string', value: 'SAME_UPPER' } });
const opCases = [
  ['MUL [1,56,56,144] x [1,56,56,144]', 'Mul', [i16([1, 56, 56, 144]), s16(1e-4), z16(), i16([1, 56, 56, 144]), s16(2e-4), z16(), s16(1e-4), z16()], {}],
  ['MUL [1,28,28,192] x [1,1,1,192] (broadcast)', 'Mul', [i16([1, 28, 28, 192]), s16(1e-4), z16(), i16([1, 1, 1, 192]), s16(2e-4), z16(), s16(1e-4), z16()], {}],
  ['AVERAGE_POOL_2D 3x3/1 [1,28,28,192]', 'AveragePool', [i16([1, 28, 28, 192]), s16(1e-4), z16(), s16(1e-4), z16()], pool(3, 1)],
  ['AVERAGE_POOL_2D 2x2/2 [1,56,56,96]', 'AveragePool', [i16([1, 56, 56, 96]), s16(1e-4), z16(), s16(1e-4), z16()], pool(2, 2)],
  ['MEAN over H,W [1,7,7,1280]', 'ReduceMean', [i16([1, 7, 7, 1280]), s16(1e-4), z16(), s16(3e-4), z16()], { axes: { type: 'ints', value: [1, 2] }, keepdims: { type: 'int', value: 0 } }],
  ['MEAN over H,W [1,56,56,144]', 'ReduceMean', [i16([1, 56, 56, 144]), s16(1e-4), z16(), s16(3e-4), z16()], { axes: { type: 'ints', value: [1, 2] }, keepdims: { type: 'int', value: 0 } }],
  ['QUANTIZE float -> int16 [1,224,224,3]', 'QuantizeLinear', [Tensor.float32([1, 224, 224, 3], Float32Array.from({ length: 224 * 224 * 3 }, () => opRand() * 8 - 4)), s16(1e-4), z16()], {}],
];
console.log('| 16x8 op | WASM kernel | TypeScript twin | speed-up | same output |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, op, inputs, attrs] of opCases) {
  const r = opTiming(op, inputs, attrs, 12);
  console.log(`| ${name} | ${r.wasm.toFixed(2)} ms | ${r.ts.toFixed(2)} ms | ${(r.ts / r.wasm).toFixed(1)}x | ${r.same ? 'yes' : 'NO'} |`);
}
if (opsOnly) {
  console.log(`load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}, median of 11 runs after one warm-up`);
  process.exit(0);
}

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
