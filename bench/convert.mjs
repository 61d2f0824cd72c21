// npm run bench:convert [-- --runs N] [--model DIR/model.onnx]
//
// vgg16 (torchvision, ~553 MB ONNX) -> Keras .h5, side by side with the way people do it today:
// scripts/bench/onnx_to_keras_h5.py (Debian /usr/bin/python3 with onnx + NumPy + h5py doing the
// same weight conversion). Each converter runs as a child process under /usr/bin/time (wall
// time, user+sys CPU, peak RSS of the whole process), alternately, N times (default 3); the
// medians are printed as a markdown table. Afterwards both outputs are checked to hold the same
// datasets, every value equal (h5py: scripts/bench/h5_same.py).
//
// The model is exported on first use into bench/.cache/vgg16/ (gitignored) by
// scripts/fixtures/export_torchvision.py (torchvision's vgg16, random weights from a fixed seed).
// Needs `npm run build` first (the CLI in dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const TIME = '/usr/bin/time';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const runs = Number(option('runs', '3'));
const cache = join(REPO, 'bench/.cache');
const model = resolve(option('model', join(cache, 'vgg16/model.onnx')));
const outDir = join(cache, 'convert-out');

if (!existsSync(join(REPO, 'dist/cli/main.js'))) throw new Error('bench:convert runs the built CLI: npm run build first');
for (const tool of [PYTHON, TIME]) if (!existsSync(tool)) throw new Error(`bench:convert needs ${tool}`);

if (!existsSync(model)) {
  console.error(`exporting vgg16 to ${model} (once; about a minute)...`);
  execFileSync(PYTHON, [join(REPO, 'scripts/fixtures/export_torchvision.py'), '--out', cache, '--models', 'vgg16'], { stdio: 'inherit' });
}
mkdirSync(outDir, { recursive: true });
const modelBytes = statSync(model).size;

const converters = [
  { name: 'nnport (node bin/nnport.js convert)', out: join(outDir, 'nnport.h5'), argv: (out) => [process.execPath, join(REPO, 'bin/nnport.js'), 'convert', model, '-o', out] },
  { name: 'Python: onnx + NumPy + h5py', out: join(outDir, 'python.h5'), argv: (out) => [PYTHON, join(REPO, 'scripts/bench/onnx_to_keras_h5.py'), model, out] },
];

/** One run under /usr/bin/time: wall s, CPU s (user+sys), peak RSS bytes. */
function measure(argv, out) {
  rmSync(out, { force: true });
  const report = join(outDir, 'time.txt');
  const r = spawnSync(TIME, ['-o', report, '-f', '%e %U %S %M', ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  const [wall, user, sys, rssKiB] = readFileSync(report, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  if (!existsSync(out)) throw new Error(`${argv.join(' ')} wrote no ${out}`);
  return { wall, cpu: user + sys, rss: rssKiB * 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadBefore = os.loadavg();
const results = converters.map(() => []);
for (let i = 0; i < runs; i++) {
  // alternate, so that a change in the machine's load falls on both
  for (const [k, c] of converters.entries()) {
    const m = measure(c.argv(c.out), c.out);
    results[k].push(m);
    console.error(`run ${i + 1}/${runs} ${c.name}: ${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU, ${(m.rss / 1e6).toFixed(0)} MB peak RSS`);
  }
}
const loadAfter = os.loadavg();

const same = spawnSync(PYTHON, [join(REPO, 'scripts/bench/h5_same.py'), converters[0].out, converters[1].out], { encoding: 'utf8' });
const verdict = same.status === 0 ? same.stdout.trim() : `DIFFERENT: ${(same.stdout + same.stderr).trim()}`;

const MB = 1e6;
const rows = converters.map((c, k) => {
  const r = results[k];
  return { name: c.name, wall: median(r.map((x) => x.wall)), cpu: median(r.map((x) => x.cpu)), rss: median(r.map((x) => x.rss)), walls: r.map((x) => x.wall.toFixed(2)).join(', ') };
});
const [ours, peer] = rows;
const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
const pyVersions = spawnSync(PYTHON, ['-c', 'import onnx, numpy, h5py; print(f"onnx {onnx.__version__}, numpy {numpy.__version__}, h5py {h5py.__version__}")'], { encoding: 'utf8' }).stdout.trim();

console.log(`### vgg16 ONNX (${(modelBytes / MB).toFixed(1)} MB) -> Keras .h5, median of ${runs} runs\n`);
console.log('| converter | wall (s) | CPU user+sys (s) | peak RSS (MB) | RSS / model size | wall of each run (s) |');
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) console.log(`| ${r.name} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${(r.rss / MB).toFixed(0)} | ${(r.rss / modelBytes).toFixed(2)}x | ${r.walls} |`);
console.log('');
console.log(`- nnport vs Python: **${(peer.wall / ours.wall).toFixed(2)}x** faster in wall time (target >= 2x), ${(peer.cpu / ours.cpu).toFixed(2)}x less CPU; peak RSS **${(ours.rss / modelBytes).toFixed(2)}x** the model (target <= 1.5x; Python ${(peer.rss / modelBytes).toFixed(2)}x)`);
console.log(`- outputs: ${verdict}`);
console.log(`- machine: ${os.cpus().length} x ${cpuModel}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`);
console.log(`- node ${process.version}; ${PYTHON} ${spawnSync(PYTHON, ['--version'], { encoding: 'utf8' }).stdout.trim().replace('Python ', '')}, ${pyVersions}`);
if (same.status !== 0) process.exitCode = 1;
