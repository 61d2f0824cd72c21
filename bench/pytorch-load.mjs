// npm run bench:pytorch [-- --json] [-- --runs N] [-- FILE.pt ...]
// Reading PyTorch state dicts: nnport's loadModelFile (the product path: format detection, the
// guarded reader with its parallel reads of large files, readPytorch; no Python, no pickle
// execution) against torch.load (Debian PyTorch), on resnet50 (~100 MB) and vgg16 (~530 MB) by default. Each load
// runs in a fresh process; we report the median wall time and the peak RSS the load added over
// the process's RSS just before it (so interpreter / module start-up is not counted for either).
// Both touch every tensor's data once so that lazy or mapped reads cannot look faster than they are.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(REPO, '.fixtures-cache/pytorch');
const PY = '/usr/bin/python3';

if (process.argv[2] === '--child') {
  // One measured load, in this process: print {ms, peakDeltaBytes, tensors, bytes} as JSON.
  const file = process.argv[3];
  const { loadModelFile } = await import('../src/index.ts');
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadModelFile(file);
  if (model.kind !== 'weights') throw new Error(`${file}: read as a ${model.kind} model, not a state dict`);
  let sum = 0;
  let total = 0;
  for (const t of model.tensors.values()) {
    const b = t.bytes();
    total += b.byteLength;
    for (let i = 0; i < b.byteLength; i += 4096) sum += b[i];
  }
  const ms = performance.now() - t0;
  // the kernel's high-water mark (a sampling timer would compete with the reads for the main thread)
  const peak = Math.max(process.resourceUsage().maxRSS * 1024, process.memoryUsage().rss);
  console.log(JSON.stringify({ ms, peakDeltaBytes: peak - before, tensors: model.tensors.size, bytes: total, check: sum }));
  process.exit(0);
}

const TORCH_CODE = `
import resource, sys, time, json
import torch
f = sys.argv[1]
def rss():
    with open('/proc/self/statm') as s: return int(s.read().split()[1]) * resource.getpagesize()
before = rss()
t0 = time.perf_counter()
sd = torch.load(f, map_location='cpu')
s = 0; total = 0
for t in sd.values():
    if isinstance(t, torch.Tensor):
        b = t.contiguous().view(-1).view(torch.uint8) if t.numel() else t
        total += t.numel() * t.element_size()
        if t.numel(): s += int(b[::4096].sum())
ms = (time.perf_counter() - t0) * 1000
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss())
print(json.dumps({'ms': ms, 'peakDeltaBytes': peak - before, 'tensors': len(sd), 'bytes': total}))
`;

const args = process.argv.slice(2);
const json = args.includes('--json');
const runsIdx = args.indexOf('--runs');
const runs = runsIdx >= 0 ? Number(args[runsIdx + 1]) : 3;
let files = args.filter((a, i) => !a.startsWith('--') && (runsIdx < 0 || i !== runsIdx + 1));
if (!files.length) {
  files = ['resnet50', 'vgg16'].map((n) => join(CACHE, `${n}.zip.pt`));
  if (!files.every(existsSync)) {
    console.error('generating resnet50 / vgg16 state dicts into .fixtures-cache/pytorch (once)...');
    execFileSync(PY, [join(REPO, 'scripts/fixtures/pytorch_state_dicts.py'), '--out', CACHE, '--sets', 'bench'], { stdio: 'inherit' });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function measure(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const results = [];
for (const file of files) {
  const size = statSync(file).size;
  readFileSync(file); // warm the page cache so both readers see the same disk state
  const node = [];
  const torch = [];
  for (let i = 0; i < runs; i++) {
    node.push(measure(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', file]));
    torch.push(measure(PY, ['-c', TORCH_CODE, file]));
  }
  const row = {
    file: file.replace(`${REPO}/`, ''),
    sizeMB: +(size / 1e6).toFixed(1),
    tensors: node[0].tensors,
    nnportMs: +median(node.map((r) => r.ms)).toFixed(1),
    torchMs: +median(torch.map((r) => r.ms)).toFixed(1),
    nnportPeakMB: +(median(node.map((r) => r.peakDeltaBytes)) / 1e6).toFixed(1),
    torchPeakMB: +(median(torch.map((r) => r.peakDeltaBytes)) / 1e6).toFixed(1),
  };
  row.speedup = +(row.torchMs / row.nnportMs).toFixed(2);
  row.nnportPeakOverFile = +(row.nnportPeakMB / row.sizeMB).toFixed(2);
  row.torchPeakOverFile = +(row.torchPeakMB / row.sizeMB).toFixed(2);
  results.push(row);
}

if (json) console.log(JSON.stringify(results, null, 1));
else {
  console.log(`loadModelFile vs torch.load (median of ${runs} fresh processes; peak = RSS added by the load)`);
  console.log('file                                   size MB  nnport ms  torch ms  speedup  nnport peak MB (x file)  torch peak MB (x file)');
  for (const r of results) {
    console.log(
      `${r.file.padEnd(38)} ${String(r.sizeMB).padStart(7)}  ${String(r.nnportMs).padStart(9)}  ${String(r.torchMs).padStart(8)}  ${String(r.speedup).padStart(6)}x  ${`${r.nnportPeakMB} (${r.nnportPeakOverFile}x)`.padStart(23)}  ${`${r.torchPeakMB} (${r.torchPeakOverFile}x)`.padStart(22)}`,
    );
  }
}
