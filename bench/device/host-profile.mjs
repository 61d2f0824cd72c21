// The host side of a webgpu run under a CPU profile (node --cpu-prof): loads a bundle and a model,
// warms up, then times RUNS runs, printing T0 / T1 (the profile's clock, µs) around them so that
// prof-top.mjs can cut the profile to the timed runs, the median and the Dawn calls per run.
//   node --cpu-prof --cpu-prof-dir=DIR host-profile.mjs BUNDLE KERNELS MODEL [RUNS]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [bundle, kernels, modelPath, runsArg] = process.argv.slice(2);
const nn = await import(pathToFileURL(bundle).href);
await nn.initKernels(readFileSync(kernels));
const a = await nn.webgpuAvailable();
if (!a.available) throw new Error(a.reason);
const calls = {};
const spy = (proto, name) => {
  const o = proto[name];
  proto[name] = function (...args) {
    calls[name] = (calls[name] ?? 0) + 1;
    return o.apply(this, args);
  };
};
for (const m of ['setPipeline', 'setBindGroup', 'dispatchWorkgroups']) spy(globalThis.GPUComputePassEncoder.prototype, m);
for (const m of ['writeBuffer', 'submit']) spy(globalThis.GPUQueue.prototype, m);
const runs = Number(runsArg ?? 300);
const model = await nn.loadModelFile(modelPath);
const input = model.graph.inputs.find((v) => !model.graph.initializers.has(v.name));
const shape = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
const x = new nn.Tensor('float32', shape, new Float32Array(shape.reduce((p, q) => p * q, 1)).fill(0.5));
const run = () => nn.runGraph(model.graph, { [input.name]: x }, { backends: ['webgpu', 'wasm'] });
for (let i = 0; i < 5; i++) await run();
for (const k in calls) calls[k] = 0;
const ms = [];
console.log('T0', String(process.hrtime.bigint() / 1000n));
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  await run();
  ms.push(performance.now() - t);
}
console.log('T1', String(process.hrtime.bigint() / 1000n));
ms.sort((p, q) => p - q);
for (const k in calls) calls[k] /= runs;
console.log(`${modelPath}: ${runs} runs, median ${ms[runs >> 1].toFixed(3)} ms, min ${ms[0].toFixed(3)} ms; per run ${JSON.stringify(calls)}; ${JSON.stringify(nn.webgpuTraffic())}`);
