// node --import tsx bench/int8-profile.mjs [mobilenet_v2|resnet18] [runs]: per-op time of the
// integer runtime on the full-int8 torchvision model (8 calibration samples, written to .tflite
// and read back; the file is cached under .fixtures-cache/int8-profile/), median over runs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { gaussianSamples } from './int8-models.mjs';
import { quantizeGraph } from '../src/passes/quantize.js';
import { fuseQdqIslands, INTEGER_OPS, runInteger } from '../src/runtime/integer/index.js';
import { runGraph } from '../src/runtime/executor.js';
import { ONNX_OPS } from '../src/runtime/ops/index.js';
import { initKernels } from '../src/wasm/loader.js';

const name = process.argv[2] ?? 'mobilenet_v2';
const runs = Number(process.argv[3] ?? 30);
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();
const sample = gaussianSamples(1);
const dir = join(root, '.fixtures-cache/int8-profile');
const file = join(dir, `${name}-int8.tflite`);
if (!existsSync(file)) {
  mkdirSync(dir, { recursive: true });
  const src = (await readModel(new Uint8Array(readFileSync(join(root, `.fixtures-cache/models/${name}/model.onnx`))), { fileName: `${name}.onnx` })).graph;
  const g = await prepareForTflite(src);
  const cal = Array.from({ length: 8 }, () => new Map([[g.inputs[0].name, sample()]]));
  writeFileSync(file, serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration: cal })).graph));
}
const graph = await readTflite(new Uint8Array(readFileSync(file)));
const feeds = { [graph.inputs[0].name]: sample() };
const mode = process.argv.includes('--xnnpack') ? { requantization: 'xnnpack' } : {};
let times = new Map();
const detail = process.argv.includes('--nodes');
const nodeTimes = new Map();
const node = (ctx) => ctx.node;
const kindOf = (key, inputs, node) => {
  if (!key.endsWith('::Conv')) return key;
  const x = inputs[0];
  const w = inputs[3];
  const g = node.attrs.group?.value ?? 1;
  const k = node.attrs.kernel_layout?.value === 'OHWI' ? `${w.shape[1]}x${w.shape[2]}` : `${w.shape[0]}x${w.shape[1]}`;
  return `${key} ${g > 1 ? 'depthwise ' : ''}${k}`;
};
const all = { ...ONNX_OPS, ...INTEGER_OPS };
const ops = Object.fromEntries(Object.entries(all).map(([key, op]) => [key, {
  attrs: op.attrs,
  run(inputs, attrs, ctx) {
    const t = performance.now();
    const out = op.run(inputs, attrs, ctx);
    const dt = performance.now() - t;
    const k = kindOf(key, inputs, ctx.node);
    times.set(k, (times.get(k) ?? 0) + dt);
    if (detail) {
      const o = out[0];
      const w = inputs[3];
      const label = `${k} [${inputs[0].shape}] -> [${o.shape}]`;
      const macs = key.endsWith('::Conv') ? o.size * (w.size / (node(ctx).attrs.group?.value > 1 ? inputs[0].shape[3] : o.shape[3])) : 0;
      const d = nodeTimes.get(ctx.node) ?? { label, macs, outs: o.size, t: [] };
      d.t.push(dt);
      nodeTimes.set(ctx.node, d);
    }
    return out;
  },
}]));
const plain = process.argv.includes('--plain');
const fused = fuseQdqIslands(graph, mode);
const once = () => (plain ? runInteger(graph, feeds, mode) : runGraph(fused, feeds, { ops, optimize: false }));
const per = new Map();
const totals = [];
for (let r = 0; r < runs + 5; r++) {
  times = new Map();
  const t = performance.now();
  await once();
  totals.push(performance.now() - t);
  if (r < 5) continue;
  for (const [k, v] of times) per.set(k, [...(per.get(k) ?? []), v]);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const sumKernels = [...per.values()].reduce((s, v) => s + med(v), 0);
console.log(`${name} int8: total median ${med(totals.slice(5)).toFixed(2)} ms, min ${Math.min(...totals.slice(5)).toFixed(2)}; ops ${sumKernels.toFixed(2)} ms`);
for (const [k, v] of [...per].sort((a, b) => med(b[1]) - med(a[1]))) console.log(`  ${k.padEnd(40)} ${med(v).toFixed(2)} ms`);
if (detail) {
  const rows = [...nodeTimes.values()].map((d) => ({ ...d, min: Math.min(...d.t) }));
  for (const d of rows.sort((a, b) => b.min - a.min)) console.log(`${d.min.toFixed(3).padStart(7)} ms  ${(d.macs / d.min / 1e6).toFixed(1).padStart(6)} GMAC/s  ${((d.min * 1e6) / d.outs).toFixed(2).padStart(6)} ns/out  ${d.label}`);
  console.log(`sum of per-node minima ${rows.reduce((s, d) => s + d.min, 0).toFixed(2)} ms`);
}
