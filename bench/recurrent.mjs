// node --import tsx bench/recurrent.mjs [--filter NAME] [--rounds N] [--json]
// ONNX LSTM / GRU models of realistic sizes: nnport's float runtime (runGraph) against
// onnxruntime-node (native, 1 intra-op thread) and onnxruntime-web (WASM, 1 thread, SIMD) on the
// same model bytes and inputs. Outputs are compared (max abs diff against ort-node) before timing;
// runs alternate round-robin between the three so that load from other processes on a shared
// machine falls on each alike; the median of each is reported.
import { cpus, loadavg } from 'node:os';
import * as ortWeb from 'onnxruntime-web';
import * as ortNode from 'onnxruntime-node';
import { writeOnnx } from '../src/formats/onnx/write.ts';
import { Tensor } from '../src/ir/tensor.ts';
import { runGraph } from '../src/runtime/executor.ts';
import { initKernels } from '../src/wasm/loader.ts';
import { rng } from '../test/support/rng.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const filter = opt('--filter');
const minRounds = Number(opt('--rounds') ?? 9);
const budgetMs = Number(opt('--budget-ms') ?? 6000);
// --profile N: run only nnport, N times per case (for node --cpu-prof), no peers, no table
const profileRuns = Number(opt('--profile') ?? 0);

ortWeb.env.wasm.numThreads = 1;
if ('simd' in ortWeb.env.wasm) ortWeb.env.wasm.simd = true;
ortWeb.env.logLevel = 'error';

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };

/** Realistic sizes: a small speech/keyword model, a mid-size text model, batched, bidirectional, stacked. */
const CASES = [
  { name: 'LSTM i64 h128 s50 b1', op: 'LSTM', input: 64, hidden: 128, seq: 50, batch: 1 },
  { name: 'GRU i64 h128 s50 b1', op: 'GRU', input: 64, hidden: 128, seq: 50, batch: 1 },
  { name: 'LSTM i256 h512 s100 b1', op: 'LSTM', input: 256, hidden: 512, seq: 100, batch: 1 },
  { name: 'GRU i256 h512 s100 b1', op: 'GRU', input: 256, hidden: 512, seq: 100, batch: 1 },
  { name: 'LSTM i64 h128 s50 b8', op: 'LSTM', input: 64, hidden: 128, seq: 50, batch: 8 },
  { name: 'GRU i256 h512 s100 b8', op: 'GRU', input: 256, hidden: 512, seq: 100, batch: 8 },
  { name: 'LSTM bidi i64 h128 s50 b1', op: 'LSTM', input: 64, hidden: 128, seq: 50, batch: 1, bidi: true },
  { name: 'GRU bidi i128 h256 s50 b4 lens', op: 'GRU', input: 128, hidden: 256, seq: 50, batch: 4, bidi: true, lens: [50, 37, 20, 44] },
  { name: 'LSTM 2-layer i64 h256 s100 b1', op: 'LSTM', input: 64, hidden: 256, seq: 100, batch: 1, layers: 2 },
  // linear_before_reset = 0: ONNX's default, Keras' reset_after=False
  { name: 'GRU lbr=0 i64 h128 s50 b1', op: 'GRU', input: 64, hidden: 128, seq: 50, batch: 1, resetBefore: true },
  { name: 'GRU lbr=0 i256 h512 s100 b1', op: 'GRU', input: 256, hidden: 512, seq: 100, batch: 1, resetBefore: true },
];

const random = (n, r, scale) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);

/** An IR graph of `layers` stacked recurrent nodes (Squeeze of the direction axis between them), as PyTorch exports a stack. */
function buildModel(c, seed) {
  const r = rng(seed);
  const nd = c.bidi ? 2 : 1;
  const G = GATES[c.op];
  const layers = c.layers ?? 1;
  if (layers > 1 && nd > 1) throw new Error('stacked cases are unidirectional here');
  const init = new Map();
  const nodes = [];
  const outputs = [];
  let x = 'X';
  let inSize = c.input;
  const a = (type, value) => ({ type, value });
  for (let l = 0; l < layers; l++) {
    const s = 1 / Math.sqrt(c.hidden); // PyTorch's init range
    init.set(`W${l}`, Tensor.float32([nd, G * c.hidden, inSize], random(nd * G * c.hidden * inSize, r, s)));
    init.set(`R${l}`, Tensor.float32([nd, G * c.hidden, c.hidden], random(nd * G * c.hidden * c.hidden, r, s)));
    init.set(`B${l}`, Tensor.float32([nd, 2 * G * c.hidden], random(nd * 2 * G * c.hidden, r, s)));
    const outs = [`Y${l}`, `Y_h${l}`];
    const ins = [x, `W${l}`, `R${l}`, `B${l}`];
    if (c.lens) ins.push('sequence_lens');
    const attrs = { hidden_size: a('int', c.hidden) };
    if (nd === 2) attrs.direction = a('string', 'bidirectional');
    if (c.op === 'GRU' && !c.resetBefore) attrs.linear_before_reset = a('int', 1); // PyTorch's GRU
    nodes.push({ name: `rnn${l}`, opType: c.op, domain: '', inputs: ins, outputs: outs, attrs });
    outputs.push(`Y_h${l}`);
    if (l + 1 < layers) {
      init.set('axis1', new Tensor('int64', [1], BigInt64Array.from([1n])));
      nodes.push({ name: `sq${l}`, opType: 'Squeeze', domain: '', inputs: [`Y${l}`, 'axis1'], outputs: [`Ys${l}`], attrs: {} });
      x = `Ys${l}`;
      inSize = c.hidden;
    } else outputs.unshift(`Y${l}`);
  }
  const feeds = { X: { shape: [c.seq, c.batch, c.input], data: random(c.seq * c.batch * c.input, r, 1) } };
  if (c.lens) feeds.sequence_lens = { shape: [c.batch], data: Int32Array.from(c.lens), dtype: 'int32' };
  const graph = {
    name: c.name,
    nodes,
    inputs: Object.entries(feeds).map(([name, f]) => ({ name, dtype: f.dtype ?? 'float32', shape: f.shape })),
    outputs: outputs.map((name) => ({ name, dtype: 'float32' })),
    initializers: init,
    opsets: { '': 14 },
  };
  return { graph, feeds };
}

/**
 * Median ms of each contender, runs interleaved round-robin (see bench/run.mjs): wall time, and
 * the process's CPU time over the same run (user + system, all threads), which a machine loaded
 * by other processes inflates less than wall time.
 */
async function timeAll(fns) {
  for (const f of fns) await f();
  const wall = fns.map(() => []);
  const cpu = fns.map(() => []);
  const start = performance.now();
  while (wall[0].length < minRounds || (performance.now() - start < budgetMs && wall[0].length < 100)) {
    for (let i = 0; i < fns.length; i++) {
      const c = process.cpuUsage();
      const t = performance.now();
      await fns[i]();
      wall[i].push(performance.now() - t);
      const u = process.cpuUsage(c);
      cpu[i].push((u.user + u.system) / 1000);
    }
  }
  const median = (t) => t.sort((a, b) => a - b)[t.length >> 1];
  return { wall: wall.map(median), cpu: cpu.map(median) };
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

await initKernels();
const rows = [];
const load0 = loadavg()[0];
for (const [i, c] of CASES.entries()) {
  if (filter && !c.name.includes(filter)) continue;
  const { graph, feeds } = buildModel(c, 100 + i);
  if (profileRuns) {
    const t = performance.now();
    for (let k = 0; k < profileRuns; k++) await runGraph(graph, new Map(Object.entries(feeds).map(([k, f]) => [k, new Tensor(f.dtype ?? 'float32', f.shape, f.data)])));
    console.error(`${c.name}: nnport ${((performance.now() - t) / profileRuns).toFixed(2)} ms mean of ${profileRuns}`);
    continue;
  }
  const bytes = writeOnnx(graph);
  const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3 });
  const feedsOf = (T) => Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new T.Tensor(f.dtype ?? 'float32', f.data, f.shape)]));
  const webFeeds = feedsOf(ortWeb);
  const nodeFeeds = feedsOf(ortNode);
  // fresh feed tensors every run: the runtime keeps packed copies of tensors it sees again (weights)
  const ours = () => runGraph(graph, new Map(Object.entries(feeds).map(([k, f]) => [k, new Tensor(f.dtype ?? 'float32', f.shape, f.data)])));
  const want = await node.run(nodeFeeds);
  const got = (await ours()).outputs;
  const gotWeb = await web.run(webFeeds);
  let diff = 0;
  let diffWeb = 0;
  for (const o of graph.outputs) {
    diff = Math.max(diff, maxAbsDiff(got.get(o.name).data, want[o.name].data));
    diffWeb = Math.max(diffWeb, maxAbsDiff(gotWeb[o.name].data, want[o.name].data));
  }
  const { wall, cpu } = await timeAll([ours, () => node.run(nodeFeeds), () => web.run(webFeeds)]);
  const [tOurs, tNode, tWeb] = wall;
  await web.release();
  await node.release();
  const row = { name: c.name, ours: tOurs, node: tNode, web: tWeb, cpuOurs: cpu[0], cpuNode: cpu[1], cpuWeb: cpu[2], diff, diffWeb };
  rows.push(row);
  if (json) console.log(JSON.stringify(row));
  else console.error(`${c.name}: nnport ${tOurs.toFixed(2)} ms, ort-node ${tNode.toFixed(2)} ms, ort-web ${tWeb.toFixed(2)} ms (wall); CPU ${cpu.map((t) => t.toFixed(2)).join(', ')} ms; max|diff| ${diff.toExponential(1)}`);
}

if (!json && !profileRuns) {
  console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}; 1 thread everywhere; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}; median of ≥${minRounds} alternating runs\n`);
  console.log('wall ms (CPU ms), medians; ratio = nnport time / peer time (below 1: nnport faster)\n');
  console.log('| model | nnport | ort-node | nnport / ort-node | ort-web wasm | nnport / ort-web | max abs diff vs ort-node (nnport; ort-web) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  const f = (w, c) => `${w.toFixed(2)} (${c.toFixed(2)})`;
  const x = (a, b) => `${(a / b).toFixed(2)}x`;
  for (const r of rows) {
    console.log(`| ${r.name} | ${f(r.ours, r.cpuOurs)} | ${f(r.node, r.cpuNode)} | ${x(r.ours, r.node)} (${x(r.cpuOurs, r.cpuNode)}) | ${f(r.web, r.cpuWeb)} | ${x(r.ours, r.web)} (${x(r.cpuOurs, r.cpuWeb)}) | ${r.diff.toExponential(1)}; ${r.diffWeb.toExponential(1)} |`);
  }
}
