// Runs once before any test file: makes the torchvision fixtures (PyTorch's ONNX exports,
// scripts/fixtures/export_torchvision.py) that are neither committed nor cached, so that every
// test file using them finds them whatever order the files run in, and no two files export the
// same model into .fixtures-cache/ at the same time. A fixture that cannot be made fails here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'scripts/fixtures/export_torchvision.py');
const DIRS = [join(ROOT, 'test/fixtures/models'), join(ROOT, '.fixtures-cache/models')];
const MODELS = ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0', 'mobilenet_v2', 'resnet18', 'efficientnet_b0', 'densenet121'];

// meta.json is written last, so an export interrupted half-way counts as absent.
const complete = (dir: string): boolean => ['model.onnx', 'input.npy', 'output.npy', 'meta.json'].every((f) => existsSync(join(dir, f)));

export default function setup(): void {
  const missing = MODELS.filter((name) => !DIRS.some((d) => complete(join(d, name))));
  if (!missing.length) return;
  if (!existsSync(PYTHON)) throw new Error(`torchvision fixtures ${missing.join(', ')} are missing and ${PYTHON} is not installed (apt-get install python3-torch python3-torchvision python3-onnx)`);
  console.log(`fixtures: exporting ${missing.join(', ')} into .fixtures-cache/models/ with PyTorch ...`);
  const run = spawnSync(PYTHON, [SCRIPT, '--out', DIRS[1]!, '--models', missing.join(',')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (exit ${run.status ?? run.signal}): ${(run.stderr || String(run.error)).slice(-4000)}`);
  const still = missing.filter((name) => !DIRS.some((d) => complete(join(d, name))));
  if (still.length) throw new Error(`${SCRIPT} ran but did not produce ${still.join(', ')}`);
}
