// node --import tsx bench/ab.mjs --base DIR [--new DIR] [--rounds N] [--models a,b]
// A/B of the runtime end to end: this checkout against another one (e.g. a pre-change commit
// built into a temporary worktree), in one process, on the same models and input. Runs alternate
// A, B, A, B ... so that load from other processes on a shared machine falls on both alike; we
// report each side's median wall time and median CPU time of this thread's process (user + system:
// less disturbed by other processes taking the cores), the new/base ratios and the spread
// (interquartile range / median) as the noise figure, and the 10th percentile of CPU time (load
// from other processes only ever adds time, so the low quantile is the steadiest estimate). Both sides run the public path
// (`runGraph`, fusion on), weights packed after warmup.
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const baseDir = opt('--base');
if (!baseDir) throw new Error('usage: bench/ab.mjs --base DIR [--rounds N] [--models resnet18,mobilenet_v2]');
const rounds = Number(opt('--rounds', 15));
const models = opt('--models', 'resnet18,mobilenet_v2').split(',');
const json = args.includes('--json');
const here = resolve(new URL('..', import.meta.url).pathname);

async function side(dir) {
  const at = (p) => import(pathToFileURL(resolve(dir, p)).href);
  const [{ readOnnx }, { Tensor }, { runGraph }, { initKernels }] = await Promise.all([
    at('src/formats/onnx/read.ts'),
    at('src/ir/tensor.ts'),
    at('src/runtime/executor.ts'),
    at('src/wasm/loader.ts'),
  ]);
  await initKernels();
  return { dir, readOnnx, Tensor, runGraph };
}

function modelFile(name) {
  const tries = [`${here}/test/fixtures/models/${name}/model.onnx`, `${here}/.fixtures-cache/models/${name}/model.onnx`, `${here}/../main/.fixtures-cache/models/${name}/model.onnx`];
  const f = tries.find((p) => existsSync(p));
  if (!f) throw new Error(`${name}: no model.onnx (run scripts/fixtures/export_torchvision.py)`);
  return f;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const A = await side(resolve(baseDir));
const B = await side(resolve(opt('--new', here)));
const out = [];
for (const name of models) {
  const bytes = new Uint8Array(readFileSync(modelFile(name)));
  const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5);
  const prep = async (s) => {
    const graph = await s.readOnnx(bytes.slice(), { fileName: name });
    const input = graph.inputs.find((v) => !graph.initializers.has(v.name)).name;
    return () => s.runGraph(graph, new Map([[input, new s.Tensor('float32', [1, 3, 224, 224], x)]]));
  };
  const runA = await prep(A);
  const runB = await prep(B);
  const ya = (await runA()).outputs.values().next().value.data;
  const yb = (await runB()).outputs.values().next().value.data;
  let diff = 0;
  for (let i = 0; i < ya.length; i++) diff = Math.max(diff, Math.abs(ya[i] - yb[i]));
  for (let i = 0; i < 2; i++) {
    await runA();
    await runB();
  }
  const ta = [];
  const tb = [];
  const ca = [];
  const cb = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which side goes first so neither always follows the other's cache state
    const order = r % 2 ? [[runB, tb, cb], [runA, ta, ca]] : [[runA, ta, ca], [runB, tb, cb]];
    for (const [f, t, c] of order) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      t.push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      c.push((dc.user + dc.system) / 1000);
    }
  }
  const med = (t) => quantile(t, 0.5);
  const iqr = (t) => (quantile(t, 0.75) - quantile(t, 0.25)) / med(t);
  const row = {
    model: name,
    rounds,
    baseMs: +med(ta).toFixed(1),
    newMs: +med(tb).toFixed(1),
    ratio: +(med(tb) / med(ta)).toFixed(3),
    baseIqr: +iqr(ta).toFixed(3),
    newIqr: +iqr(tb).toFixed(3),
    baseCpuMs: +med(ca).toFixed(1),
    newCpuMs: +med(cb).toFixed(1),
    cpuRatio: +(med(cb) / med(ca)).toFixed(3),
    baseCpuP10: +quantile(ca, 0.1).toFixed(1),
    newCpuP10: +quantile(cb, 0.1).toFixed(1),
    cpuP10Ratio: +(quantile(cb, 0.1) / quantile(ca, 0.1)).toFixed(3),
    baseCpuIqr: +iqr(ca).toFixed(3),
    newCpuIqr: +iqr(cb).toFixed(3),
    maxAbsDiff: diff,
  };
  out.push(row);
  if (json) console.log(JSON.stringify(row));
}
if (!json) {
  console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}; base ${A.dir}, new ${B.dir}`);
  const pct = (a, b) => `${(a * 100).toFixed(1)} %, ${(b * 100).toFixed(1)} %`;
  console.log('| model | rounds | wall ms base / new (median) | new / base | wall IQR/median base, new | CPU ms base / new (median) | new / base | CPU IQR/median base, new | CPU ms base / new (10th pct) | new / base | max abs diff |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of out) {
    console.log(
      `| ${r.model} | ${r.rounds} | ${r.baseMs} / ${r.newMs} | ${r.ratio} | ${pct(r.baseIqr, r.newIqr)} | ${r.baseCpuMs} / ${r.newCpuMs} | ${r.cpuRatio} | ${pct(r.baseCpuIqr, r.newCpuIqr)} | ${r.baseCpuP10} / ${r.newCpuP10} | ${r.cpuP10Ratio} | ${r.maxAbsDiff.toExponential(1)} |`,
    );
  }
}
