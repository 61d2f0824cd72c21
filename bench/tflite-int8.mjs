// Full-int8 TFLite conversion of mobilenet_v2 (the torchvision fixture) with N calibration
// samples: wall time and the calibration share, next to N of nnport's own float forward passes;
// then int8 latency: nnport's integer runtime vs its float runtime vs the TFLite interpreter
// (tfjs-tflite WASM in headless Chromium, single-threaded) on the same input. The integer
// runtime is timed with its WASM SIMD kernels (both requantization modes) and with their
// TypeScript twins (the scalar reference, what it ran before the WASM kernels). The latency part
// alternates nnport and the interpreter in rounds (on a shared machine the load moves between
// blocks of runs) and gives the ratios per round; besides wall time it reports CPU time per
// inference of both: this process's, and that of the Chromium processes the interpreter runs in
// (from /proc, Linux).
// Run: node --import tsx bench/tflite-int8.mjs [--samples 100] [--reps 3] [--calibration-only]
//      [--latency-only] [--rounds 5] [--model resnet18] [--skip-typescript]
// --model: another torchvision fixture of .fixtures-cache/models (224x224 input) instead of
// mobilenet_v2; --skip-typescript: no timing of the scalar TypeScript kernels (seconds a run).
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../src/formats/tflite/write.js';
import { gaussianSamples } from './int8-models.mjs';
import { quantizeGraph } from '../src/passes/quantize.js';
import { runGraph } from '../src/runtime/executor.js';
import { runInteger } from '../src/runtime/integer/index.js';
import { initKernels } from '../src/wasm/loader.js';
import { startTfliteOracle } from '../test/support/tflite-oracle.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('samples', 100);
// repetitions of the timed calibration / plain-pass pair (their order alternates)
const REPS = arg('reps', 3);
// --calibration-only: stop after the calibration figures (no int8 latency, no interpreter)
const calibrationOnly = process.argv.includes('--calibration-only');
// --latency-only: no calibration timing (the int8 file from one conversion with --samples samples)
const latencyOnly = process.argv.includes('--latency-only');
// alternating rounds of the latency comparison
const ROUNDS = arg('rounds', 5);
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
await initKernels();
const MODEL = process.argv.includes('--model') ? process.argv[process.argv.indexOf('--model') + 1] : 'mobilenet_v2';
const skipTypescript = process.argv.includes('--skip-typescript');
const modelBytes = new Uint8Array(readFileSync(join(root, `.fixtures-cache/models/${MODEL}/model.onnx`)));
const readMobilenet = async () => (await readModel(modelBytes, { fileName: `${MODEL}.onnx` })).graph;
const sample = gaussianSamples(1);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
// a full collection before each timed window, so that neither starts with the other's garbage
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
// GC pauses by start time (the observer is called later, from the event loop)
const pauses = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push([e.startTime, e.duration]);
});
gcObserver.observe({ entryTypes: ['gc'] });
// CPU time too: on a shared machine wall time swings with the load, CPU time much less
const cpu = (d) => (d.user + d.system) / 1000;
/** wall ms, CPU ms and GC pause ms of `fn`, which may end the window early by calling its argument */
const timed = async (fn) => {
  gc();
  await new Promise((r) => setTimeout(r, 20));
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  let end;
  const stop = () => (end ??= { wall: performance.now() - w0, cpu: cpu(process.cpuUsage(c0)) });
  await fn(stop);
  stop();
  await new Promise((r) => setTimeout(r, 20));
  const gcPause = pauses.filter(([t]) => t >= w0 && t < w0 + end.wall).reduce((a, [, d]) => a + d, 0);
  return { ...end, gc: gcPause };
};

// the samples exist before the clock starts: making random data is not part of the conversion
const samples = Array.from({ length: N }, () => new Map([['input', sample()]]));
// warm up first (untimed): forward passes and a short calibration of a prepared graph, so that
// V8's tier-up compiling of the WASM kernels and the JS lands in neither calibration nor the
// plain passes (calibration ran first and cold, and its ratio swung between 1.02x and 1.27x)
{
  const cold = await prepareForTflite(await readMobilenet());
  await runGraph(cold, samples[0]);
  await quantizeGraph(cold, { mode: 'int8', calibration: samples.slice(0, 3) });
  for (const feeds of samples.slice(0, 3)) await runGraph(cold, feeds);
}
// REPS rounds, each on a freshly read and prepared graph (as a conversion has): the int8
// conversion of it, with N plain forward passes of the same prepared graph interleaved sample by
// sample with its calibration (the plain pass of a sample after its calibration step for even
// samples, before it for odd ones), so both see the same machine load and GC state; calibration
// is the time from quantizeGraph's call to its last sample less the plain passes run inside.
// (Timing the two as separate blocks on this shared machine gave ratios swinging 1.1x-2.3x with
// the load and with whichever block met the costlier collections.)
const rounds = [];
const loadAverage = () => loadavg().map((v) => v.toFixed(2)).join(' ');
console.log(`load average at the start ${loadAverage()}`);
let g;
let bytes;
for (let r = 0; r < (latencyOnly ? 0 : REPS); r++) {
  const source = await readMobilenet();
  const t0 = performance.now();
  g = await prepareForTflite(source);
  const prepare = performance.now() - t0;
  const plain = { wall: 0, cpu: 0 };
  const plainPass = async (feeds) => {
    const w = performance.now();
    const c = process.cpuUsage();
    await runGraph(g, feeds);
    plain.wall += performance.now() - w;
    plain.cpu += cpu(process.cpuUsage(c));
  };
  let rest = 0;
  const both = await timed(async (stop) => {
    async function* interleaved() {
      for (let i = 0; i < N; i++) {
        if (i % 2) await plainPass(samples[i]);
        yield samples[i];
        if (!(i % 2)) await plainPass(samples[i]);
      }
      stop();
    }
    const q = await quantizeGraph(g, { mode: 'int8', calibration: interleaved() });
    const t1 = performance.now();
    bytes = serializeTflite(q.graph);
    rest = performance.now() - t1;
  });
  const round = { cal: { wall: both.wall - plain.wall, cpu: both.cpu - plain.cpu }, plain, gc: both.gc };
  // after the last sample: the rest of quantizeGraph (weights, Q/DQ) and its serialization
  round.total = prepare + round.cal.wall + rest;
  rounds.push(round);
  console.error(`round ${r + 1} (load ${loadavg()[0].toFixed(2)}): calibration ${round.cal.wall.toFixed(0)} ms (CPU ${round.cal.cpu.toFixed(0)}), ${N} passes ${round.plain.wall.toFixed(0)} ms (CPU ${round.plain.cpu.toFixed(0)}), GC pauses in both ${round.gc.toFixed(0)} ms: ${(round.cal.wall / round.plain.wall).toFixed(2)}x wall, ${(round.cal.cpu / round.plain.cpu).toFixed(2)}x CPU`);
}
const ms = (v) => `${v.toFixed(1)} ms`;
if (latencyOnly) {
  g = await prepareForTflite(await readMobilenet());
  bytes = serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration: samples })).graph);
} else {
  const med = (f) => median(rounds.map(f));
  const each = (f) => rounds.map((r) => f(r).toFixed(2)).join(', ');
  console.log(
    `| int8 conversion, ${N} samples, median of ${REPS} rounds | ${ms(med((r) => r.total))} total | calibration ${ms(med((r) => r.cal.wall))} (${((100 * med((r) => r.cal.wall / r.total))).toFixed(0)} %) | ${N} float forward passes ${ms(med((r) => r.plain.wall))} | calibration / passes, wall ${med((r) => r.cal.wall / r.plain.wall).toFixed(2)}x (${each((r) => r.cal.wall / r.plain.wall)}) | CPU: calibration ${ms(med((r) => r.cal.cpu))}, passes ${ms(med((r) => r.plain.cpu))}, ${med((r) => r.cal.cpu / r.plain.cpu).toFixed(2)}x (${each((r) => r.cal.cpu / r.plain.cpu)}) | GC pauses in both ${ms(med((r) => r.gc))} |`,
  );
  if (calibrationOnly) {
    console.log(`load average ${loadAverage()}`);
    process.exit(0);
  }
}

// the latency part needs no GC entries (and the samples no more)
gcObserver.disconnect();
samples.length = 0;
gc();
const x = sample();
const floatTimes = [];
const floatCpu = [];
for (let k = 0; k < 5; k++) {
  const s = performance.now();
  const c = process.cpuUsage();
  await runGraph(g, { input: x });
  floatTimes.push(performance.now() - s);
  const d = process.cpuUsage(c);
  floatCpu.push((d.user + d.system) / 1000);
}
const back = await readTflite(bytes);
const xq = { [back.inputs[0].name]: x };
// median wall and mean CPU time (the machine may be shared: CPU time of this process is the steadier figure)
const timeInteger = async (options, runs) => {
  const wall = [];
  const cpu = [];
  for (let k = 0; k < runs; k++) {
    const s = performance.now();
    const c = process.cpuUsage();
    await runInteger(back, xq, options);
    wall.push(performance.now() - s);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  // CPU: the mean over the runs (the interpreter's can only be had as a sum), GC threads included
  return { wall: median(wall.slice(1)), cpu: cpu.slice(1).reduce((a, b) => a + b, 0) / (runs - 1) };
};
// The interpreter's CPU time: the processes of the Chromium this process launches for the oracle
// (its descendants, from /proc: Linux; NaN elsewhere), not other Chromiums on a shared machine.
const statFields = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
const descendants = () => {
  try {
    const parent = new Map();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        parent.set(d, statFields(d)[1]);
      } catch {
        // gone meanwhile
      }
    }
    const ours = (d) => {
      for (let p = parent.get(d), hops = 0; p && hops < 32; p = parent.get(p), hops++) if (p === String(process.pid)) return true;
      return false;
    };
    return [...parent.keys()].filter(ours);
  } catch {
    return [];
  }
};
const oracle = await startTfliteOracle();
const chromium = descendants();
// utime + stime of those processes in ms (USER_HZ is 100 on Linux)
const chromiumCpu = () => chromium.reduce((sum, d) => {
  try {
    const f = statFields(d);
    return sum + (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return sum;
  }
}, 0);
const RUNS = 20;
/** the interpreter over RUNS inferences: median wall of its timed loop, CPU per inference (its model load and first inference measured apart and taken off) */
const timeInterpreter = async (model) => {
  let c = chromiumCpu();
  await oracle.latency(model, [x.data], 1);
  const setup = chromiumCpu() - c;
  c = chromiumCpu();
  const wall = await oracle.latency(model, [x.data], RUNS + 1);
  return { wall, cpu: chromium.length ? (chromiumCpu() - c - setup) / RUNS : NaN };
};
// warm-up: V8 compiles the hot WASM and JS functions again, optimized, on background threads
// whose CPU time counts for this process (the first 40 runs took ~30 % more CPU than later ones)
await timeInteger({}, 30);
await timeInteger({ requantization: 'xnnpack' }, 30);
await timeInterpreter(bytes);
const rows = [];
for (let r = 0; r < ROUNDS; r++) {
  const load = loadavg()[0];
  const ref = await timeInteger({}, RUNS + 1);
  const interp = await timeInterpreter(bytes);
  const xnn = await timeInteger({ requantization: 'xnnpack' }, RUNS + 1);
  // activations copied out of and into WASM memory around every kernel (resident: false), as before 2026-11-26 13:40
  const copy = await timeInteger({ resident: false }, RUNS + 1);
  rows.push({ load, ref, xnn, copy, interp });
  console.error(`round ${r + 1} (load ${load.toFixed(2)}): nnport int8 ${ref.wall.toFixed(1)} ms (CPU ${ref.cpu.toFixed(1)}), xnnpack requantization ${xnn.wall.toFixed(1)} ms (CPU ${xnn.cpu.toFixed(1)}), copying activations ${copy.wall.toFixed(1)} ms (CPU ${copy.cpu.toFixed(1)}), interpreter ${interp.wall.toFixed(1)} ms (CPU ${interp.cpu.toFixed(1)}): wall ${(ref.wall / interp.wall).toFixed(2)}x / ${(xnn.wall / interp.wall).toFixed(2)}x, CPU ${(ref.cpu / interp.cpu).toFixed(2)}x / ${(xnn.cpu / interp.cpu).toFixed(2)}x`);
}
const intTs = skipTypescript ? { wall: NaN } : await timeInteger({ kernels: 'typescript' }, 3);
const interpFloat = await timeInterpreter(serializeTflite(g));
await oracle.close();
const mid = (f) => median(rows.map(f));
const per = (f) => rows.map((r) => f(r).toFixed(2)).join(', ');
console.log(`| ${MODEL} latency, median of ${ROUNDS} alternating rounds (${RUNS} runs each) | nnport float ${ms(median(floatTimes))} (CPU ${ms(median(floatCpu))}) | nnport int8, WASM kernels ${ms(mid((r) => r.ref.wall))} (CPU ${mid((r) => r.ref.cpu).toFixed(1)} ms) | nnport int8, xnnpack requantization ${ms(mid((r) => r.xnn.wall))} (CPU ${mid((r) => r.xnn.cpu).toFixed(1)} ms) | nnport int8, activations copied per kernel ${ms(mid((r) => r.copy.wall))} (CPU ${mid((r) => r.copy.cpu).toFixed(1)} ms) | nnport int8, TypeScript kernels ${ms(intTs.wall)} | interpreter int8 ${ms(mid((r) => r.interp.wall))} (CPU ${mid((r) => r.interp.cpu).toFixed(1)} ms) | interpreter float ${ms(interpFloat.wall)} |`);
console.log(`| nnport int8 / interpreter int8 | wall ${mid((r) => r.ref.wall / r.interp.wall).toFixed(2)}x (${per((r) => r.ref.wall / r.interp.wall)}) | CPU ${mid((r) => r.ref.cpu / r.interp.cpu).toFixed(2)}x (${per((r) => r.ref.cpu / r.interp.cpu)}) | xnnpack requantization: wall ${mid((r) => r.xnn.wall / r.interp.wall).toFixed(2)}x (${per((r) => r.xnn.wall / r.interp.wall)}), CPU ${mid((r) => r.xnn.cpu / r.interp.cpu).toFixed(2)}x (${per((r) => r.xnn.cpu / r.interp.cpu)}) | activations copied per kernel: wall ${mid((r) => r.copy.wall / r.interp.wall).toFixed(2)}x, CPU ${mid((r) => r.copy.cpu / r.interp.cpu).toFixed(2)}x | load ${per((r) => r.load)} |`);
console.log(`load average ${loadAverage()}`);
