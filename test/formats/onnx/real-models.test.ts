/**
 * Real models: torchvision architectures, a LeNet and a dilated-conv segmentation head,
 * exported by PyTorch itself (scripts/fixtures/export_torchvision.py), run by nnport and
 * compared with PyTorch's own output for the same input. A second suite runs the same files
 * through onnxruntime-node, which checks the fixtures rather than nnport.
 *
 * Small fixtures are committed under test/fixtures/models/; the vitest globalSetup
 * (test/support/global-setup.ts) exports the rest into .fixtures-cache/models/ before any
 * test file runs (test/support/torchvision-fixtures.ts finds them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import { runtimeInputs } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { TORCHVISION_MODELS, torchvisionDir } from '../../support/torchvision-fixtures.js';

const TOLERANCE = 1e-4;
/** Every model the export script makes, in its order (small first). */
const MODELS = TORCHVISION_MODELS;
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

/** A torchvision fixture, or the model the README's "try it" command runs (examples/lenet). */
function fixture(name: string): Fixture {
  if (name !== 'examples/lenet') return { name, dir: torchvisionDir(name), expected: 'output.npy' };
  const f = { name, dir: join(REPO_ROOT, 'examples/lenet'), expected: 'expected.npy' };
  const missing = ['model.onnx', 'input.npy', f.expected, 'meta.json'].filter((file) => !existsSync(join(f.dir, file)));
  if (missing.length) throw new Error(`${f.dir} lacks ${missing.join(', ')}`);
  return f;
}

const CASES = [...MODELS, 'examples/lenet'];

function npy(path: string): Tensor {
  return readNpy(readFileSync(path), path);
}

function meta(f: Fixture): Meta {
  return JSON.parse(readFileSync(join(f.dir, 'meta.json'), 'utf8')) as Meta;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
}

function report(title: string, results: Map<string, string>): void {
  const width = Math.max(...[...results.keys()].map((k) => k.length));
  const lines = [...results].map(([name, r]) => `  ${name.padEnd(width)}  ${r}`);
  console.log(`${title} (max abs error vs PyTorch, tolerance ${TOLERANCE}):\n${lines.join('\n')}`);
}

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
