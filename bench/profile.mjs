// node --import tsx bench/profile.mjs [model]: per-op-kind time of one model on nnport's
// runtime (fused as runGraph runs it), median over runs. Convs split by kind.
import { readFileSync } from 'node:fs';
import { readOnnx } from '../src/formats/onnx/read.ts';
import { Tensor } from '../src/ir/tensor.ts';
import { runGraphSync } from '../src/runtime/executor.ts';
import { ONNX_OPS } from '../src/runtime/ops/index.ts';
import { initKernels } from '../src/wasm/loader.ts';
import { modelCases } from './ops.mjs';

const name = process.argv[2] ?? 'mobilenet_v2';
const rounds = Number(process.argv[3] ?? 15);
await initKernels();
const m = modelCases().find((c) => c.name === name);
const graph = await readOnnx(new Uint8Array(readFileSync(m.file)), { fileName: m.file });
const inputName = graph.inputs.find((v) => !graph.initializers.has(v.name)).name;
const data = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5);

let times = new Map();
const kindOf = (key, inputs, node) => {
  if (!key.endsWith('Conv')) return key;
  const w = inputs[1];
  const g = node.attrs.group?.value ?? 1;
  const k = w.shape.slice(2).join('x');
  const kind = g > 1 && g === inputs[0].shape[1] ? `depthwise ${k}` : `${k}${g > 1 ? ' grouped' : ''}`;
  return `${key} ${kind}`;
};
const ops = Object.fromEntries(Object.entries(ONNX_OPS).map(([key, op]) => [key, {
  attrs: op.attrs,
  run(inputs, attrs, ctx) {
    const t = performance.now();
    const out = op.run(inputs, attrs, ctx);
    const k = kindOf(key, inputs, ctx.node);
    times.set(k, (times.get(k) ?? 0) + performance.now() - t);
    return out;
  },
}]));
const per = new Map();
const totals = [];
for (let r = 0; r < rounds; r++) {
  times = new Map();
  const t = performance.now();
  runGraphSync(graph, new Map([[inputName, new Tensor('float32', [1, 3, 224, 224], data)]]), { ops });
  totals.push(performance.now() - t);
  if (r < 2) continue;
  for (const [k, v] of times) per.set(k, [...(per.get(k) ?? []), v]);
}
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
console.log(`${name}: total median ${med(totals.slice(2)).toFixed(1)} ms`);
for (const [k, v] of [...per].sort((a, b) => med(b[1]) - med(a[1]))) console.log(`  ${k.padEnd(32)} ${med(v).toFixed(2)} ms`);
