// The torchvision fixtures (PyTorch's ONNX exports of scripts/fixtures/export_torchvision.py):
// small ones committed under test/fixtures/models/, the rest exported once into
// .fixtures-cache/models/ by the vitest globalSetup before any test file runs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './corpus.js';

export const TORCHVISION_MODELS = ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0', 'mobilenet_v2', 'resnet18', 'efficientnet_b0', 'densenet121'] as const;
/** Exported too, but only the writer tests that name them use them (MobileNetV3's HardSwish / HardSigmoid). */
export const EXTRA_TORCHVISION_MODELS = ['mobilenet_v3_small'] as const;

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/export_torchvision.py');
const DIRS = [join(REPO_ROOT, 'test/fixtures/models'), join(REPO_ROOT, '.fixtures-cache/models')];

// meta.json is written last, so an export interrupted half-way counts as absent.
const complete = (dir: string): boolean => ['model.onnx', 'input.npy', 'output.npy', 'meta.json'].every((f) => existsSync(join(dir, f)));
const locate = (name: string): string | undefined => DIRS.map((d) => join(d, name)).find(complete);

/** The folder of a fixture (model.onnx, input.npy, PyTorch's output.npy, meta.json); throws when it is missing. */
export function torchvisionDir(name: string): string {
  const dir = locate(name);
  if (!dir) throw new Error(`torchvision fixture ${name} is missing (made by the vitest globalSetup: ${PYTHON} ${SCRIPT} --models ${name})`);
  return dir;
}

/** Export the fixtures that are neither committed nor cached; a fixture that cannot be made throws. */
export function exportMissingTorchvision(): void {
  const missing = [...TORCHVISION_MODELS, ...EXTRA_TORCHVISION_MODELS].filter((name) => !locate(name));
  if (!missing.length) return;
  if (!existsSync(PYTHON)) throw new Error(`torchvision fixtures ${missing.join(', ')} are missing and ${PYTHON} is not installed (apt-get install python3-torch python3-torchvision python3-onnx)`);
  console.log(`fixtures: exporting ${missing.join(', ')} into .fixtures-cache/models/ with PyTorch ...`);
  const run = spawnSync(PYTHON, [SCRIPT, '--out', DIRS[1]!, '--models', missing.join(',')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (exit ${run.status ?? run.signal}): ${(run.stderr || String(run.error)).slice(-4000)}`);
  const still = missing.filter((name) => !locate(name));
  if (still.length) throw new Error(`${SCRIPT} ran but did not produce ${still.join(', ')}`);
}
