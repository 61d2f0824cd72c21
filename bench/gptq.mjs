// Full-int8 conversion time with --weight-rounding gptq against nearest rounding: torchvision's
// mobilenet_v2 and resnet18 (the ONNX fixtures), N calibration samples (Gaussian noise: the time
// does not depend on the data), quantizeGraph only (the prepared graph is made before the clock
// starts). Wall and CPU time of this process (CPU is the steadier figure on a shared machine).
// Run: node --import tsx bench/gptq.mjs [--samples 100] [--reps 1] [--models mobilenet_v2,resnet18]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { prepareForTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph } from '../src/passes/quantize.js';
import { initKernels } from '../src/wasm/loader.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const N = Number(arg('samples', 100));
const REPS = Number(arg('reps', 1));
const models = arg('models', 'mobilenet_v2,resnet18').split(',');
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();
let seed = 1;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const cpu = (d) => (d.user + d.system) / 1000;
const s = (v) => `${(v / 1000).toFixed(1)} s`;
console.log(`load average at the start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
for (const name of models) {
  const bytes = new Uint8Array(readFileSync(join(root, `.fixtures-cache/models/${name}/model.onnx`)));
  const g = await prepareForTflite((await readModel(bytes, { fileName: `${name}.onnx` })).graph);
  const shape = g.inputs[0].shape.map((d) => (typeof d === 'number' ? d : 1));
  const size = shape.reduce((a, b) => a * b, 1);
  const samples = Array.from({ length: N }, () => {
    const a = new Float32Array(size);
    for (let i = 0; i < a.length; i++) a[i] = gauss();
    return [Tensor.float32(shape, a)];
  });
  // warm up (untimed): JIT and WASM tier-up
  await quantizeGraph(g, { mode: 'int8', calibration: samples.slice(0, 2) });
  for (let r = 0; r < REPS; r++) {
    const row = {};
    for (const weightRounding of ['nearest', 'gptq']) {
      const w0 = performance.now();
      const c0 = process.cpuUsage();
      await quantizeGraph(g, { mode: 'int8', calibration: samples, weightRounding });
      row[weightRounding] = { wall: performance.now() - w0, cpu: cpu(process.cpuUsage(c0)) };
    }
    const { nearest: a, gptq: b } = row;
    console.log(`| ${name} | ${N} | ${s(a.wall)} (CPU ${s(a.cpu)}) | ${s(b.wall)} (CPU ${s(b.cpu)}) | ${(b.wall / a.wall).toFixed(2)}x (CPU ${(b.cpu / a.cpu).toFixed(2)}x) | load ${loadavg()[0].toFixed(2)} |`);
  }
}
