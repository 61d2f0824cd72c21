// WebGPU backend vs the wasm backend, in the same process: resnet18 and mobilenet_v2 (batch 1,
// 224x224), one 1024x1024x1024 MatMul, one 3x3 256->256 conv at 56x56, one 3x3 512->512 conv at
// 7x7 (resnet18's last: few output tiles over a deep k, split-K) and one depthwise 3x3
// conv of 144 channels at 56x56 (mobilenet_v2's largest). Each number is the
// median of --runs runs after --warmup runs, from the inputs on the host to the output on the
// host (the GPU time includes the upload of the input and the download of the output; weights
// are uploaded once, in the warm-up). Prints the adapter and a markdown table; for webgpu also
// the JS time before the first download and the time waiting for downloads (medians).
//
//   node bench/webgpu.mjs [--resnet18 model.onnx] [--mobilenet-v2 model.onnx] [--runs 20]
//        [--warmup 3] [--backend-only webgpu|wasm] [--only resnet18,mobilenet_v2,matmul,conv,conv7,depthwise]
//        [--matmul-size 1024] [--kernels build/kernels.wasm] [--dist ../dist/index.js] [--gpu-times]
//
// Needs the built package (npm run build: dist/ and build/kernels.wasm), nnport's dependencies
// (node_modules) and, for webgpu, the npm package `webgpu` (Dawn: node_modules/webgpu with
// dist/linux-x64/dawn.node) and the Vulkan loader libvulkan.so.1 (Debian: libvulkan1). No tsx.
// Dawn uses Vulkan and finds the driver through its ICD manifest
// (/usr/share/vulkan/icd.d/nvidia_icd.json). In a headless NVIDIA container that manifest names
// libGLX_nvidia.so.0, which fails there ("Could not get 'vkCreateInstance'"); the EGL library
// works: VK_ICD_FILENAMES=bench/nvidia-egl-icd.json. Without a GPU,
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json runs it on the CPU (SwiftShader:
// the numbers then say nothing about a GPU). NNPORT_DAWN_FLAGS passes options to Dawn, e.g.
// 'adapter=NAME' or 'backend=vulkan' (space-separated; a wrong adapter name lists the adapters).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
// the last occurrence wins (a wrapper script's defaults can be overridden after them)
const opt = (name, dflt) => {
  const i = args.lastIndexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const runs = Number(opt('runs', 20));
const warmup = Number(opt('warmup', 3));
const only = opt('backend-only');
if (only && only !== 'webgpu' && only !== 'wasm') throw new Error('--backend-only must be webgpu or wasm');
// per-dispatch GPU times (needs NNPORT_WEBGPU_PROFILE=1; with it the timings are not comparable)
const gpuTimes = args.includes('--gpu-times');
const which = (opt('only') ?? 'resnet18,mobilenet_v2,matmul,conv,conv7,depthwise').split(',');
const models = {
  resnet18: opt('resnet18', here('../.fixtures-cache/models/resnet18/model.onnx')),
  mobilenet_v2: opt('mobilenet-v2', here('../.fixtures-cache/models/mobilenet_v2/model.onnx')),
};

const nn = await import(opt('dist') ? pathToFileURL(opt('dist')).href : '../dist/index.js');
await nn.initKernels(readFileSync(opt('kernels', here('../build/kernels.wasm'))));

const backends = { wasm: ['wasm'], webgpu: ['webgpu', 'wasm'] };
const use = only ? [only] : ['wasm', 'webgpu'];
if (use.includes('webgpu')) {
  const a = await nn.webgpuAvailable();
  if (!a.available) {
    console.error(`webgpu: ${a.reason}`);
    if (process.platform === 'linux' && !process.env.VK_ICD_FILENAMES) console.error(`on a headless NVIDIA machine try VK_ICD_FILENAMES=${here('nvidia-egl-icd.json')}`);
    process.exit(1);
  }
  console.log(`adapter: ${a.adapter}`);
}
// Where a webgpu run's time goes: the JS time before its first download (planning, kernels'
// host work, encoding: the host overhead) and the time spent waiting for downloads (the GPU's
// work, the submit and the copy back). Read off Dawn's GPUBuffer.mapAsync, which nnport calls
// once per download.
const probe = { first: 0, wait: 0 };
const mapProto = globalThis.GPUBuffer?.prototype;
if (mapProto?.mapAsync) {
  const orig = mapProto.mapAsync;
  mapProto.mapAsync = function (...a) {
    const t = performance.now();
    if (!probe.first) probe.first = t;
    return orig.apply(this, a).then((v) => {
      probe.wait += performance.now() - t;
      return v;
    });
  };
}
console.log(`node ${process.version}, ${runs} runs after ${warmup} warm-up runs, median; VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}\n`);

/** A seeded uniform tensor in [-1, 1) (scaled). */
function random(shape, seed, scale = 1) {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[i] = ((s >>> 0) / 2 ** 31 - 1) * scale;
  }
  return new nn.Tensor('float32', shape, v);
}

const single = (name, opType, inputs, attrs, initializers, inShapes) => ({
  name,
  nodes: [{ name, opType, domain: '', inputs, outputs: ['y'], attrs }],
  inputs: inShapes.map(([n, shape]) => ({ name: n, dtype: 'float32', shape })),
  outputs: [{ name: 'y', dtype: 'float32' }],
  initializers: new Map(Object.entries(initializers)),
  opsets: { '': 17 },
});

const cases = [];
for (const name of ['resnet18', 'mobilenet_v2']) {
  if (!which.includes(name)) continue;
  if (!existsSync(models[name])) throw new Error(`${name}: ${models[name]} not found (give --${name.replace('_', '-')} PATH)`);
  const model = await nn.loadModelFile(models[name]);
  const input = model.graph.inputs.find((v) => !model.graph.initializers.has(v.name));
  cases.push({ name: `${name}, 1x3x224x224`, graph: model.graph, feeds: { [input.name]: random([1, 3, 224, 224], 1) }, flop: undefined });
}
if (which.includes('matmul')) {
  const n = Number(opt('matmul-size', 1024));
  cases.push({ name: `MatMul ${n}x${n}x${n}`, graph: single('mm', 'MatMul', ['a', 'b'], {}, { b: random([n, n], 2, 0.05) }, [['a', [n, n]]]), feeds: { a: random([n, n], 3) }, flop: 2 * n ** 3 });
}
if (which.includes('conv')) {
  const [C, M, H] = [256, 256, 56];
  const attrs = { pads: { type: 'ints', value: [1, 1, 1, 1] } };
  cases.push({ name: `Conv 3x3 ${C}->${M} @${H}x${H}`, graph: single('conv', 'Conv', ['x', 'w', 'b'], attrs, { w: random([M, C, 3, 3], 4, 0.05), b: random([M], 5) }, [['x', [1, C, H, H]]]), feeds: { x: random([1, C, H, H], 6) }, flop: 2 * M * C * 9 * H * H });
}
if (which.includes('conv7')) {
  const [C, M, H] = [512, 512, 7];
  const attrs = { pads: { type: 'ints', value: [1, 1, 1, 1] } };
  cases.push({ name: `Conv 3x3 ${C}->${M} @${H}x${H}`, graph: single('conv7', 'Conv', ['x', 'w', 'b'], attrs, { w: random([M, C, 3, 3], 10, 0.02), b: random([M], 11) }, [['x', [1, C, H, H]]]), feeds: { x: random([1, C, H, H], 12) }, flop: 2 * M * C * 9 * H * H });
}
if (which.includes('depthwise')) {
  const [C, H] = [144, 56];
  const attrs = { pads: { type: 'ints', value: [1, 1, 1, 1] }, group: { type: 'int', value: C } };
  cases.push({ name: `depthwise Conv 3x3, ${C} ch @${H}x${H}`, graph: single('dw', 'Conv', ['x', 'w', 'b'], attrs, { w: random([C, 1, 3, 3], 7, 0.3), b: random([C], 8) }, [['x', [1, C, H, H]]]), feeds: { x: random([1, C, H, H], 9) }, flop: 2 * C * 9 * H * H });
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function time(c, backend) {
  const run = () => nn.runGraph(c.graph, c.feeds, { backends: backends[backend] });
  let out;
  for (let i = 0; i < warmup; i++) out = await run();
  if (gpuTimes && backend === 'webgpu') await nn.webgpuGpuTimes(true);
  const ms = [];
  const host = [];
  const wait = [];
  for (let i = 0; i < runs; i++) {
    probe.first = 0;
    probe.wait = 0;
    const t0 = performance.now();
    out = await run();
    ms.push(performance.now() - t0);
    if (probe.first) host.push(probe.first - t0);
    wait.push(probe.wait);
  }
  if (gpuTimes && backend === 'webgpu') printGpuTimes(c.name, await nn.webgpuGpuTimes(true));
  return { ms: median(ms), host: host.length === runs ? median(host) : undefined, wait: median(wait), y: [...out.outputs.values()][0].data };
}

/** GPU time per run by op and by the slowest sites (--gpu-times with NNPORT_WEBGPU_PROFILE=1). */
function printGpuTimes(name, times) {
  if (!times.size) {
    console.log(`${name}: no GPU times (set NNPORT_WEBGPU_PROFILE=1; the device needs 'timestamp-query')`);
    return;
  }
  const per = (v) => ((v.ms / runs) * 1000).toFixed(1);
  const byOp = new Map();
  let total = 0;
  let count = 0;
  for (const [label, v] of times) {
    const op = label.split(' ')[0];
    const e = byOp.get(op) ?? { ms: 0, n: 0 };
    e.ms += v.ms;
    e.n += v.n;
    byOp.set(op, e);
    total += v.ms;
    count += v.n;
  }
  console.log(`${name}: GPU time per run ${per({ ms: total })} us in ${(count / runs).toFixed(0)} dispatches (one pass each); by op: ${[...byOp].sort((a, b) => b[1].ms - a[1].ms).map(([op, v]) => `${op} ${per(v)} us / ${(v.n / runs).toFixed(0)}`).join(', ')}`);
  console.log(`  slowest: ${[...times].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12).map(([l, v]) => `${l} ${per(v)} us`).join('; ')}`);
}

const rows = [];
for (const c of cases) {
  const r = {};
  for (const b of use) {
    process.stderr.write(`${c.name} on ${b} ...\n`);
    r[b] = await time(c, b);
  }
  let diff = '';
  if (r.wasm && r.webgpu) {
    let m = 0;
    let s = 0;
    for (let i = 0; i < r.wasm.y.length; i++) {
      m = Math.max(m, Math.abs(r.wasm.y[i] - r.webgpu.y[i]));
      s = Math.max(s, Math.abs(r.wasm.y[i]));
    }
    diff = `${m.toExponential(1)} (of ${s.toPrecision(2)})`;
  }
  const cell = (b) => (r[b] ? `${r[b].ms.toFixed(2)} ms${c.flop ? ` (${(c.flop / r[b].ms / 1e6).toFixed(1)} GFLOP/s)` : ''}` : '—');
  const split = r.webgpu?.host !== undefined ? `${r.webgpu.host.toFixed(2)} / ${r.webgpu.wait.toFixed(2)} ms` : '—';
  rows.push(`| ${c.name} | ${cell('wasm')} | ${cell('webgpu')} | ${r.wasm && r.webgpu ? `${(r.wasm.ms / r.webgpu.ms).toFixed(2)}x` : '—'} | ${diff || '—'} | ${split} |`);
}
console.log('| bench | nnport wasm (1 thread) | nnport webgpu | wasm / webgpu | max abs diff | webgpu: JS before 1st download / waiting for downloads |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
