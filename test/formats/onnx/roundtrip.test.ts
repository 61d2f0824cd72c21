// read -> write round trips, judged by onnxruntime-node (both files run on the same input,
// outputs bit-identical) and by onnx's own parser (same graph, bit-identical tensors).
import { corpusPath } from '../../support/corpus.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { runtimeInputs, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readOnnx, readTensorProto } from '../../../src/formats/onnx/read.js';
import { irVersionForOpset, writeOnnx } from '../../../src/formats/onnx/write.js';
import { onnxEqual, randomInput, rng, runOrt, type OrtOutputs } from './ort-helpers.js';

const CORPUS = corpusPath('onnx');
const TESTDATA = '/usr/share/libonnx-testdata/data';
const work = mkdtempSync(join(tmpdir(), 'nnport-onnx-rt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const corpusModels = readdirSync(CORPUS).flatMap((d) => readdirSync(join(CORPUS, d)).filter((f) => f.endsWith('.onnx')).map((f) => join(CORPUS, d, f)));

function randomFeeds(g: Graph, seed: number): Record<string, Tensor> {
  const r = rng(seed);
  return Object.fromEntries(runtimeInputs(g).map((v) => [v.name, randomInput(v, r)]));
}

function expectSameOutputs(a: OrtOutputs, b: OrtOutputs): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    expect(b[k]!.type).toBe(a[k]!.type);
    expect(b[k]!.dims).toEqual(a[k]!.dims);
    expect(b[k]!.bytes).toEqual(a[k]!.bytes);
  }
}

/** corpus models onnxruntime cannot load, with the kernel it dropped */
const ORT_DROPPED: Record<string, string> = {
  'onnx-backend-avgpool2d-stride': 'AveragePool-1',
  'onnx-backend-batchnorm2d-eval': 'BatchNormalization-6',
  'onnx-backend-prelu-2d-multiparam': 'PRelu-6',
};

/** onnxruntime's words for a kernel or type it lacks: the only errors of the oracle a test may pass over. */
const ORT_LACKS = /Could not find an implementation|is not a registered function\/op|NOT_IMPLEMENTED|not implemented|are not supported|is not supported|Unsupported (data )?type|Failed to construct locale/i;

/** Whether onnxruntime loads the model; false only when it lacks a kernel or type (any other error throws). */
async function ortLoads(model: Uint8Array): Promise<boolean> {
  const ort = await import('onnxruntime-node');
  try {
    await (await ort.InferenceSession.create(model, { logSeverityLevel: 3 })).release();
    return true;
  } catch (e) {
    if (ORT_LACKS.test(String(e))) return false;
    throw e;
  }
}

describe('ONNX corpus models: read -> write', () => {
  it('the corpus has them', () => expect(corpusModels.length).toBeGreaterThan(3));
  const written = new Map<string, string>();

  it.each(corpusModels)('%s runs identically in onnxruntime', async (file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const graph = await readOnnx(bytes, { fileName: file });
    const ours = writeOnnx(graph, { fileName: 'ours.onnx' });
    const out = join(work, `${written.size}.onnx`);
    writeFileSync(out, ours);
    written.set(file, out);
    // The opset-6 PyTorch 0.3 test models use kernels onnxruntime dropped; onnx's parser judges those below.
    if (!(await ortLoads(bytes))) return expect(Object.keys(ORT_DROPPED)).toContain(basename(dirname(file)));
    const feeds = randomFeeds(graph, 7);
    expectSameOutputs(await runOrt(bytes, feeds), await runOrt(ours, feeds));
  });

  it('every one is the same graph with bit-identical tensors for onnx', () => {
    const pairs = [...written].map(([original, ours]) => ({ original, ours }));
    expect(pairs.length).toBe(corpusModels.length);
    const verdicts = onnxEqual(pairs);
    verdicts.forEach((v, i) => expect({ file: pairs[i]!.original, ...v }).toEqual({ file: pairs[i]!.original, checker: 'ok', diffs: [] }));
  });

  it('the comparison itself notices a changed weight', async () => {
    const file = join(CORPUS, 'utensor-mlp-torch13-opset9/model.onnx');
    const graph = await readOnnx(new Uint8Array(readFileSync(file)), { fileName: file });
    const [name, w] = [...graph.initializers][0]!;
    const changed = new Float32Array(w.data as Float32Array);
    changed[0] = changed[0]! + 1;
    graph.initializers.set(name, new Tensor('float32', w.shape, changed));
    const out = join(work, 'changed.onnx');
    writeFileSync(out, writeOnnx(graph, {}));
    expect(onnxEqual([{ original: file, ours: out }])[0]!.diffs).toContain('graph initializers differ');
  });
});

// The ONNX backend node tests shipped with libonnx: every op, many dtypes and attribute kinds.
const NODE_TESTS = join(TESTDATA, 'node');
const nodeTests = existsSync(NODE_TESTS) ? readdirSync(NODE_TESTS).filter((d) => existsSync(join(NODE_TESTS, d, 'model.onnx'))).sort() : [];

it('the ONNX backend test data (libonnx-testdata) is installed', () => expect(nodeTests.length, `no models under ${NODE_TESTS}: apt-get install libonnx-testdata`).toBeGreaterThan(100));

describe('ONNX backend node test models (libonnx-testdata): read -> write', () => {
  it('run identically in onnxruntime on their own test inputs, or are the same graph for onnx', async () => {
    const results = { ort: 0, structural: 0, unsupported: [] as string[] };
    // errors of onnxruntime other than a kernel or type it lacks fail the test (listed at the end)
    const oracleErrors: string[] = [];
    const forOnnx: { original: string; ours: string }[] = [];
    for (const name of nodeTests) {
      const file = join(NODE_TESTS, name, 'model.onnx');
      const bytes = new Uint8Array(readFileSync(file));
      let graph: Graph;
      try {
        graph = await readOnnx(bytes, { fileName: file });
      } catch (e) {
        // maps, sparse tensors and the like: named, never a crash
        expect(e, name).toBeInstanceOf(UnsupportedError);
        results.unsupported.push(name);
        continue;
      }
      const ours = writeOnnx(graph, {});
      const out = join(work, `node-${name}.onnx`);
      writeFileSync(out, ours);
      forOnnx.push({ original: file, ours: out });
      const dataDir = join(NODE_TESTS, name, 'test_data_set_0');
      const inputs = runtimeInputs(graph);
      const files = existsSync(dataDir) ? readdirSync(dataDir).filter((f) => f.startsWith('input_')) : [];
      let loads: boolean;
      try {
        loads = await ortLoads(bytes);
      } catch (e) {
        oracleErrors.push(`${name}: ${String(e).slice(0, 200)}`);
        continue;
      }
      // onnxruntime-node feeds and returns tensors only: a model with sequence / optional inputs or outputs is judged by onnx below
      if (files.length !== inputs.length || !loads || [...inputs, ...graph.outputs].some((v) => v.kind)) continue;
      const feeds = Object.fromEntries(inputs.map((v, i) => [v.name, readTensorProto(new Uint8Array(readFileSync(join(dataDir, `input_${i}.pb`))), name)]));
      let a: OrtOutputs;
      try {
        a = await runOrt(bytes, feeds);
      } catch (e) {
        if (!ORT_LACKS.test(String(e))) oracleErrors.push(`${name}: ${String(e).slice(0, 200)}`);
        continue; // onnxruntime lacks a kernel or dtype for the original; judged by onnx below
      }
      expectSameOutputs(a, await runOrt(ours, feeds));
      results.ort++;
    }
    expect(oracleErrors).toEqual([]);
    const verdicts = onnxEqual(forOnnx);
    verdicts.forEach((v, i) => expect({ file: forOnnx[i]!.original, diffs: v.diffs }).toEqual({ file: forOnnx[i]!.original, diffs: [] }));
    results.structural = verdicts.length;
    // Most of the suite must go through both checks; the rest are named value kinds the IR lacks.
    expect(results.ort).toBeGreaterThan(nodeTests.length * 0.7);
    expect(results.unsupported.length).toBeLessThan(nodeTests.length * 0.1);
  }, 300_000);
});

describe('ONNX external data', () => {
  it('a model written with external data runs in onnxruntime like the original', async () => {
    const file = corpusPath('onnx/burn-mnist-torch2-opset16/mnist.onnx');
    const bytes = new Uint8Array(readFileSync(file));
    const graph = await readOnnx(bytes, { fileName: file });
    const sidecars = new Map<string, Uint8Array>();
    const dir = mkdtempSync(join(work, 'ext-'));
    const model = writeOnnx(graph, { fileName: join(dir, 'mnist.onnx'), externalDataThreshold: 1024, sidecars });
    expect([...sidecars.keys()]).toEqual(['mnist.onnx.data']);
    expect(model.byteLength).toBeLessThan(40_000); // the small BatchNorm vectors stay inline
    expect(sidecars.get('mnist.onnx.data')!.byteLength).toBeGreaterThan(1_400_000);
    writeFileSync(join(dir, 'mnist.onnx'), model);
    writeFileSync(join(dir, 'mnist.onnx.data'), sidecars.get('mnist.onnx.data')!);

    const feeds = randomFeeds(graph, 3);
    expectSameOutputs(await runOrt(bytes, feeds), await runOrt(join(dir, 'mnist.onnx'), feeds));
    expect(onnxEqual([{ original: file, ours: join(dir, 'mnist.onnx'), dir }])[0]!.diffs).toEqual([]);

    // and nnport reads it back through readSibling, weights equal to the original's
    const again = await readOnnx(model, {
      fileName: join(dir, 'mnist.onnx'),
      readSibling: async (rel) => new Uint8Array(readFileSync(join(dir, rel))),
    });
    for (const [name, t] of graph.initializers) expect(again.initializers.get(name)!.data, name).toEqual(t.data);
  });

  it('refuses to write external data without somewhere to put it', async () => {
    const file = corpusPath('onnx/utensor-mlp-torch13-opset9/model.onnx');
    const graph = await readOnnx(new Uint8Array(readFileSync(file)), { fileName: file });
    expect(() => writeOnnx(graph, { externalDataThreshold: 16 })).toThrow(/sidecars/);
  });
});

describe('IR version for an opset', () => {
  it('matches onnx.helper.find_min_ir_version_for', async () => {
    const { execFileSync } = await import('node:child_process');
    const opsets = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
    const py = `import onnx.helper as h; print(' '.join(str(h.find_min_ir_version_for([h.make_opsetid('', v)])) for v in ${JSON.stringify(opsets)}))`;
    const fromOnnx = execFileSync('/usr/bin/python3', ['-c', py]).toString().trim().split(' ').map(Number);
    expect(opsets.map(irVersionForOpset)).toEqual(fromOnnx);
  });
});
