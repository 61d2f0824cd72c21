// Channels-last graphs on the reference runtime: the torchvision mobilenet_v2 and resnet18
// fixtures run as their NCHW ONNX graph, and as channels-last graphs (what TFLite conversion
// makes of them, prepareForTflite, and the same model written to .tflite and read back), each
// the way the runtime runs it by default (lowered to NCHW at plan time, runtime/lower-for-run.ts)
// and on the permuting channels-last kernels (optimize: false: what it ran before the lowering;
// Conv fusion did not apply to nnport ops, so this is the same work as then, bar the faster
// constant Pad). Then calibration's shape of run: an onValue observer taking min / max of every
// float value. All in one process, interleaved, median of the runs; CPU time too, since the
// machine is shared.
// Run: npm run bench:nhwc [-- --runs 9]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { runGraph } from '../src/runtime/executor.js';
import { lowerForRun } from '../src/runtime/lower-for-run.js';
import { minMax } from '../src/wasm/calibrate.js';
import { initKernels } from '../src/wasm/loader.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const RUNS = arg('runs', 7);
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();

let seed = 7;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ms = (v) => `${v.toFixed(1)} ms`;

const maxAbs = (a, b) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

console.log(`channels-last runtime bench, ${RUNS} runs each (median), load average at start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log('');
console.log('| model | graph | run as | wall | CPU | vs NCHW (wall) | vs NCHW (CPU) | transposes run | max abs diff vs NCHW |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const name of ['mobilenet_v2', 'resnet18']) {
  const m = await readModel(new Uint8Array(readFileSync(join(root, `.fixtures-cache/models/${name}/model.onnx`))), { fileName: `${name}.onnx` });
  const nchw = m.graph;
  const prepared = await prepareForTflite(m.graph);
  const fromTflite = await readTflite(serializeTflite(prepared));
  const x = Float32Array.from({ length: 224 * 224 * 3 }, () => rand() * 2 - 1);
  const xNhwc = new Tensor('float32', [1, 224, 224, 3], x);
  const xNchw = xNhwc.permute([0, 3, 1, 2]);
  xNchw.data; // materialized before timing
  const feed = (g, t) => new Map([[g.inputs.find((v) => !g.initializers.has(v.name)).name, t]]);
  const cases = [
    { graph: 'NCHW (ONNX)', as: 'default', g: nchw, feeds: feed(nchw, xNchw), options: {} },
    { graph: 'channels-last (prepareForTflite)', as: 'lowered (default)', g: prepared, feeds: feed(prepared, xNhwc), options: {} },
    { graph: 'channels-last (prepareForTflite)', as: 'permuting kernels', g: prepared, feeds: feed(prepared, xNhwc), options: { optimize: false } },
    { graph: 'channels-last (.tflite read back)', as: 'lowered (default)', g: fromTflite, feeds: feed(fromTflite, xNhwc), options: {} },
    { graph: 'channels-last (.tflite read back)', as: 'permuting kernels', g: fromTflite, feeds: feed(fromTflite, xNhwc), options: { optimize: false } },
  ];
  // calibration's shape of run: an observer reading the min / max of every float value (quantize.ts)
  const observe = { onValue: (_, t) => t.dtype === 'float32' && t.size && minMax(t) };
  cases.push(
    { graph: 'NCHW (ONNX)', as: 'onValue min/max of every value', g: nchw, feeds: feed(nchw, xNchw), options: observe },
    { graph: 'channels-last (.tflite read back)', as: 'onValue min/max, lowered (default)', g: fromTflite, feeds: feed(fromTflite, xNhwc), options: observe },
    { graph: 'channels-last (.tflite read back)', as: 'onValue min/max, permuting kernels', g: fromTflite, feeds: feed(fromTflite, xNhwc), options: { ...observe, optimize: false } },
  );
  const outOf = async (c) => [...(await runGraph(c.g, c.feeds, c.options)).outputs.values()][0].data;
  // warm-up (untimed): V8 tier-up, packed weights, the lowering itself (cached per graph)
  const results = [];
  for (const c of cases) results.push(await outOf(c));
  const wall = cases.map(() => []);
  const cpu = cases.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[k];
      const t = performance.now();
      const u = process.cpuUsage();
      await runGraph(c.g, c.feeds, c.options);
      wall[k].push(performance.now() - t);
      const d = process.cpuUsage(u);
      cpu[k].push((d.user + d.system) / 1000);
    }
  }
  cases.forEach((c, k) => {
    // observed runs against the observed NCHW run
    const b = c.options.onValue ? cases.findIndex((d) => d.options.onValue) : 0;
    const base = { wall: median(wall[b]), cpu: median(cpu[b]) };
    const w = median(wall[k]);
    const u = median(cpu[k]);
    const runGraphOf = c.options.optimize === false ? c.g : lowerForRun(c.g)?.graph ?? c.g;
    const transposes = runGraphOf.nodes.filter((n) => n.opType === 'Transpose').length;
    const diff = k === 0 || k === b ? '—' : maxAbs(results[k], results[0]).toExponential(1);
    console.log(`| ${name} | ${c.graph} | ${c.as} | ${ms(w)} | ${ms(u)} | ${(w / base.wall).toFixed(2)}x | ${(u / base.cpu).toFixed(2)}x | ${c.options.optimize === false ? '(around each op)' : transposes} | ${diff} |`);
  });
}
// the lowering's own cost (once per graph; cached across runs)
{
  const m = await readModel(new Uint8Array(readFileSync(join(root, '.fixtures-cache/models/mobilenet_v2/model.onnx'))), { fileName: 'mobilenet_v2.onnx' });
  const g = await prepareForTflite(m.graph);
  const walls = [];
  const cpus = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    const u = process.cpuUsage();
    lowerForRun({ ...g, nodes: [...g.nodes] });
    walls.push(performance.now() - t);
    const d = process.cpuUsage(u);
    cpus.push((d.user + d.system) / 1000);
  }
  console.log('');
  console.log(`lowering mobilenet_v2's channels-last graph (once per graph, then cached): ${ms(median(walls))} wall, ${ms(median(cpus))} CPU`);
}
console.log(`load average at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
