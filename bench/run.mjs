// npm run bench [-- --json] [-- --filter NAME]
// Our WASM SIMD runtime vs onnxruntime-web (WASM backend, 1 thread, SIMD) on single ops and
// whole models, with onnxruntime-node (native, 1 intra-op thread) as a second reference.
// Single-threaded throughout: the machine may have few cores and other work on them. Ours runs
// through runGraph, the asynchronous entry point the public API uses.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as ortWeb from 'onnxruntime-web';
import * as ortNode from 'onnxruntime-node';
import { readOnnx } from '../src/formats/onnx/read.ts';
import { Tensor } from '../src/ir/tensor.ts';
import { runGraph } from '../src/runtime/executor.ts';
import { initKernels } from '../src/wasm/loader.ts';
import { singleNodeModel } from '../test/unit/kernels/onnx-single-node.ts';
import { OP_CASES, modelCases } from './ops.mjs';

const args = process.argv.slice(2);
const json = args.includes('--json');
const filter = args.includes('--filter') ? args[args.indexOf('--filter') + 1] : undefined;

ortWeb.env.wasm.numThreads = 1;
if ('simd' in ortWeb.env.wasm) ortWeb.env.wasm.simd = true;
ortWeb.env.logLevel = 'error';

/**
 * Median milliseconds of each contender. Runs are interleaved round-robin so that load from
 * other processes on a shared machine falls on every contender alike.
 */
async function timeAll(fns, { warmup = 2, minRounds = 7, budgetMs = 4000 } = {}) {
  for (let i = 0; i < warmup; i++) for (const f of fns) await f();
  const ts = fns.map(() => []);
  const start = performance.now();
  while (ts[0].length < minRounds || (performance.now() - start < budgetMs && ts[0].length < 200)) {
    for (let i = 0; i < fns.length; i++) {
      const t = performance.now();
      await fns[i]();
      ts[i].push(performance.now() - t);
    }
  }
  return ts.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
}

function graphOfSpec(spec) {
  const init = new Map((spec.initializers ?? []).map((t) => [t.name, Tensor.float32(t.shape, t.data)]));
  const inputs = [...spec.inputs.map((i) => i.name), ...init.keys()];
  const attrs = {};
  for (const [k, v] of Object.entries(spec.attrs ?? {})) attrs[k] = typeof v === 'number' ? { type: 'int', value: v } : { type: 'ints', value: v };
  return {
    name: spec.opType,
    nodes: [{ name: 'n0', opType: spec.opType, domain: '', inputs, outputs: spec.outputs, attrs }],
    inputs: spec.inputs.map((i) => ({ name: i.name, dtype: 'float32', shape: i.shape })),
    outputs: spec.outputs.map((o) => ({ name: o, dtype: 'float32' })),
    initializers: init,
    opsets: { '': 17 },
  };
}

async function peers(bytes, feeds) {
  const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor('float32', t.data, t.shape)]));
  const nodeFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortNode.Tensor('float32', t.data, t.shape)]));
  return {
    web: () => web.run(webFeeds),
    node: () => node.run(nodeFeeds),
    async release() {
      await web.release();
      await node.release();
    },
  };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rows = [];
function report(row) {
  rows.push(row);
  if (json) {
    const { bench, shape, ours, peer, peer_name, unit } = row;
    console.log(JSON.stringify({ bench: `${bench}:${row.name}`, shape, ours, peer, peer_name, unit }));
  }
}

await initKernels();

for (const c of OP_CASES) {
  if (filter && !c.name.includes(filter)) continue;
  const graph = graphOfSpec(c.spec);
  // Fresh input tensors on every run (same data): the runtime keeps packed copies of tensors it
  // sees again (weights), and a feed reused across runs would count as one.
  const feedsOurs = () => new Map(Object.entries(c.feeds).map(([k, t]) => [k, new Tensor('float32', t.shape, t.data)]));
  const p = await peers(singleNodeModel(c.spec), c.feeds);
  const ours = () => runGraph(graph, feedsOurs());
  const check = maxAbsDiff((await ours()).outputs.get('y').data, (await p.node()).y.data);
  const gf = (ms) => c.flops / ms / 1e6;
  const [tOurs, tWeb, tNode] = await timeAll([ours, p.web, p.node]);
  await p.release();
  report({ bench: c.bench, name: c.name, shape: c.shape, ours: +gf(tOurs).toFixed(2), peer: +gf(tWeb).toFixed(2), peer_name: 'onnxruntime-web wasm simd 1t', unit: 'GFLOP/s', native: +gf(tNode).toFixed(2), maxAbsDiff: check });
}

for (const m of modelCases()) {
  if (filter && !m.name.includes(filter)) continue;
  if (!m.file) {
    const note = `${m.name}: model not found (run scripts/fixtures/export_torchvision.py); skipped`;
    if (json) console.log(JSON.stringify({ bench: `e2e:${m.name}`, skipped: note }));
    else console.log(note);
    continue;
  }
  const bytes = readFileSync(m.file);
  let graph;
  try {
    graph = await readOnnx(new Uint8Array(bytes), { fileName: m.file });
    const x = { shape: [1, 3, 224, 224], data: Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5) };
    const inputName = graph.inputs.find((v) => !graph.initializers.has(v.name)).name;
    const p = await peers(bytes, { [inputName]: x });
    const ours = () => runGraph(graph, new Map([[inputName, new Tensor('float32', x.shape, x.data)]]));
    const outName = graph.outputs[0].name;
    const check = maxAbsDiff((await ours()).outputs.get(outName).data, (await p.node())[outName].data);
    const [tOurs, tWeb, tNode] = await timeAll([ours, p.web, p.node], { warmup: 1, minRounds: 5, budgetMs: 8000 });
    await p.release();
    report({ bench: 'e2e', name: m.name, shape: m.shape, ours: +tOurs.toFixed(1), peer: +tWeb.toFixed(1), peer_name: 'onnxruntime-web wasm simd 1t', unit: 'ms', native: +tNode.toFixed(1), maxAbsDiff: check });
  } catch (e) {
    const note = `${m.name}: not runnable yet (${e.message.split('\n')[0]}); skipped`;
    if (json) console.log(JSON.stringify({ bench: `e2e:${m.name}`, skipped: note }));
    else console.log(note);
  }
}

if (!json) {
  console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}; 1 thread everywhere\n`);
  console.log('| bench | shape | nnport | ort-web wasm | nnport / ort-web | ort-node native | nnport / native | max |diff| vs native |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    // GFLOP/s: higher is better; ms: lower is better. Ratios are "how many times ort's speed".
    const better = r.unit === 'ms' ? (a, b) => b / a : (a, b) => a / b;
    console.log(`| ${r.bench}:${r.name} | ${r.shape} | ${r.ours} ${r.unit} | ${r.peer} ${r.unit} | ${better(r.ours, r.peer).toFixed(2)}x | ${r.native} ${r.unit} | ${better(r.ours, r.native).toFixed(2)}x | ${r.maxAbsDiff.toExponential(1)} |`);
  }
}
