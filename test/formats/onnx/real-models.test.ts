/**
 * Real models: torchvision architectures, a LeNet and a dilated-conv segmentation head,
 * exported by PyTorch itself (scripts/fixtures/export_torchvision.py), run by nnport and
 * compared with PyTorch's own output for the same input. A second suite runs the same files
 * through onnxruntime-node, which checks the fixtures rather than nnport.
 *
 * Small fixtures are committed under test/fixtures/models/; the rest are made by the
 * script (Debian's /usr/bin/python3 with python3-torch, -torchvision, -onnx) into
 * .fixtures-cache/models/ the first time this runs. No Python means a failure that says
 * so, not a skip: CI installs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import { runtimeInputs } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'scripts/fixtures/export_torchvision.py');
const COMMITTED = join(ROOT, 'test/fixtures/models');
const CACHE = join(ROOT, '.fixtures-cache/models');
const TOLERANCE = 1e-4;

/** Every model the script makes, in its order (small first). */
const MODELS = [
  'lenet',
  'seg_head',
  'squeezenet1_1',
  'shufflenet_v2_x1_0',
  'mobilenet_v2',
  'resnet18',
  'efficientnet_b0',
  'densenet121',
] as const;
/** Those the script exports with a symbolic batch dim. */
const DYNAMIC_BATCH = ['seg_head', 'shufflenet_v2_x1_0', 'resnet18'];

interface Fixture {
  name: string;
  dir: string;
  expected: string;
}

interface Meta {
  opset: number;
  dynamic_batch: boolean;
}

function complete(dir: string, expected = 'output.npy'): boolean {
  // meta.json is written last, so a fixture interrupted half-way counts as absent.
  return ['model.onnx', 'input.npy', expected, 'meta.json'].every((f) => existsSync(join(dir, f)));
}

function locate(name: string): string | undefined {
  return [join(COMMITTED, name), join(CACHE, name)].find((dir) => complete(dir));
}

/** Make the fixtures that are neither committed nor cached, with PyTorch. */
function generateMissing(): void {
  const missing = MODELS.filter((name) => !locate(name));
  if (!missing.length) return;
  const need = `real-model fixtures ${missing.join(', ')} are not in test/fixtures/models/ or .fixtures-cache/models/`;
  const how = 'apt-get install python3-torch python3-torchvision python3-onnx (see scripts/fixtures/README.md)';
  if (!existsSync(PYTHON)) throw new Error(`${need}, and ${PYTHON} is missing to make them: ${how}`);
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const why = (probe.stderr || String(probe.error ?? '')).trim().split('\n').pop();
    throw new Error(`${need}, and ${PYTHON} cannot make them (${why}): ${how}`);
  }
  console.log(`real models: generating ${missing.join(', ')} into .fixtures-cache/models/ with PyTorch ...`);
  const run = spawnSync(PYTHON, [SCRIPT, '--out', CACHE, '--models', missing.join(',')], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) {
    throw new Error(`${SCRIPT} failed (exit ${run.status ?? run.signal}):\n${run.stderr.slice(-4000)}`);
  }
  process.stdout.write(run.stdout);
  const still = MODELS.filter((name) => !locate(name));
  if (still.length) throw new Error(`${SCRIPT} ran but did not produce ${still.join(', ')}`);
}

function fixtures(): Fixture[] {
  const list: Fixture[] = MODELS.map((name) => ({ name, dir: locate(name)!, expected: 'output.npy' }));
  // The model the README's "try it" command runs.
  list.push({ name: 'examples/lenet', dir: join(ROOT, 'examples/lenet'), expected: 'expected.npy' });
  return list;
}

const CASES = [...MODELS, 'examples/lenet'];
let resolved: Map<string, Fixture> | undefined;

function fixture(name: string): Fixture {
  const f = resolved?.get(name);
  if (!f) throw new Error(`fixture ${name} was not prepared (see the beforeAll error above)`);
  if (!complete(f.dir, f.expected)) throw new Error(`fixture ${name}: ${f.dir} lacks model.onnx, input.npy, ${f.expected} or meta.json`);
  return f;
}

function npy(path: string): Tensor {
  return readNpy(readFileSync(path), path);
}

function meta(f: Fixture): Meta {
  return JSON.parse(readFileSync(join(f.dir, 'meta.json'), 'utf8')) as Meta;
}

/** Max |a-b|; NaN anywhere counts as infinitely wrong. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
}

function report(title: string, results: Map<string, string>): void {
  const width = Math.max(...[...results.keys()].map((k) => k.length));
  const lines = [...results].map(([name, r]) => `  ${name.padEnd(width)}  ${r}`);
  console.log(`${title} (max abs error vs PyTorch, tolerance ${TOLERANCE}):\n${lines.join('\n')}`);
}

beforeAll(() => {
  generateMissing();
  resolved = new Map(fixtures().map((f) => [f.name, f]));
}, 30 * 60_000);

describe('real models: nnport runtime vs PyTorch', () => {
  const results = new Map<string, string>();
  afterAll(() => report('nnport vs PyTorch', results));

  async function runNnport(f: Fixture, x: Tensor): Promise<Tensor> {
    const path = join(f.dir, 'model.onnx');
    const graph = await readOnnx(readFileSync(path), { fileName: path });
    const inputs = runtimeInputs(graph);
    expect(inputs.length, 'graph inputs').toBe(1);
    expect(graph.outputs.length, 'graph outputs').toBe(1);
    const { outputs } = await runGraph(graph, { [inputs[0]!.name]: x });
    return outputs.get(graph.outputs[0]!.name)!;
  }

  it.each(CASES)('%s matches PyTorch', async (name) => {
    const f = fixture(name);
    const x = npy(join(f.dir, 'input.npy'));
    const want = npy(join(f.dir, f.expected));
    let got: Tensor;
    try {
      got = await runNnport(f, x);
    } catch (e) {
      results.set(name, `error: ${describeError(e)}`);
      throw e;
    }
    expect(got.dtype).toBe('float32');
    expect(got.shape).toEqual(want.shape);
    const err = maxAbsDiff(got.data as Float32Array, want.data as Float32Array);
    results.set(name, `${err.toExponential(2)}${err <= TOLERANCE ? '' : '  FAIL'}`);
    console.log(`${name}: max abs error ${err.toExponential(3)} (opset ${meta(f).opset})`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });

  // Models exported with a symbolic batch dim must run at another batch size: the input
  // twice gives PyTorch's output twice.
  it.each(DYNAMIC_BATCH)('%s: batch 2 through the symbolic batch dim', async (name) => {
    const f = fixture(name);
    expect(meta(f).dynamic_batch, 'meta.json dynamic_batch').toBe(true);
    const x = npy(join(f.dir, 'input.npy'));
    const want = npy(join(f.dir, f.expected));
    const x2 = new Float32Array(x.size * 2);
    x2.set(x.data as Float32Array);
    x2.set(x.data as Float32Array, x.size);
    let got: Tensor;
    try {
      got = await runNnport(f, new Tensor('float32', [2, ...x.shape.slice(1)], x2));
    } catch (e) {
      results.set(`${name} (batch 2)`, `error: ${describeError(e)}`);
      throw e;
    }
    expect(got.shape).toEqual([2, ...want.shape.slice(1)]);
    const data = got.data as Float32Array;
    const err = Math.max(
      maxAbsDiff(data.subarray(0, want.size), want.data as Float32Array),
      maxAbsDiff(data.subarray(want.size), want.data as Float32Array),
    );
    results.set(`${name} (batch 2)`, `${err.toExponential(2)}${err <= TOLERANCE ? '' : '  FAIL'}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('real models: onnxruntime-node vs PyTorch (checks the fixtures themselves)', () => {
  const results = new Map<string, string>();
  afterAll(() => report('onnxruntime-node vs PyTorch', results));

  it.each(CASES)('%s', async (name) => {
    const f = fixture(name);
    const x = npy(join(f.dir, 'input.npy'));
    const want = npy(join(f.dir, f.expected));
    const session = await ort.InferenceSession.create(join(f.dir, 'model.onnx'), {
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'disabled',
    });
    try {
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
      const got = out[session.outputNames[0]!]!;
      expect([...got.dims]).toEqual([...want.shape]);
      const err = maxAbsDiff(got.data as Float32Array, want.data as Float32Array);
      results.set(name, err.toExponential(2));
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
    }
  });
});
