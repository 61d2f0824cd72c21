/**
 * inferShapes on real models, value by value, against two independent oracles:
 * - onnxruntime-node's actual shapes and dtypes of every intermediate value (the model with
 *   every node output declared a graph output, run on the fixture's input), and
 * - ONNX's own onnx.shape_inference (Debian python3-onnx, data_prop=True), written as JSON by
 *   scripts/fixtures/onnx_shapes.py into .fixtures-cache/onnx-shapes/.
 * Models: the torchvision exports (scripts/fixtures/export_torchvision.py, made by the vitest
 * globalSetup when not committed) and the corpus ONNX files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import { readTensorProto } from '../../../src/formats/onnx/read.js';
import type { Dim, Graph } from '../../../src/ir/graph.js';
import { runtimeInputs } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';
import { TORCHVISION_MODELS, torchvisionDir } from '../../support/torchvision-fixtures.js';

const PYTHON = '/usr/bin/python3';
const SHAPES = join(REPO_ROOT, 'scripts/fixtures/onnx_shapes.py');
const CACHE = join(REPO_ROOT, '.fixtures-cache');

const CORPUS_ORT = ['onnx/burn-mnist-torch2-opset16/mnist.onnx', 'onnx/onnx-light-squeezenet/light_squeezenet.onnx', 'onnx/utensor-mlp-torch13-opset9/model.onnx'];
/** Single-node ONNX backend cases (some of opsets onnxruntime no longer implements): their stored outputs are the oracle. */
const CORPUS_BACKEND = [
  'onnx/onnx-backend-avgpool2d-stride/model.onnx',
  'onnx/onnx-backend-batchnorm2d-eval/model.onnx',
  'onnx/onnx-backend-conv2d-depthwise-padded/model.onnx',
  'onnx/onnx-backend-conv2d-dilated/model.onnx',
  'onnx/onnx-backend-conv2d-groups/model.onnx',
  'onnx/onnx-backend-convtranspose2d/model.onnx',
  'onnx/onnx-backend-maxpool2d/model.onnx',
  'onnx/onnx-backend-prelu-2d-multiparam/model.onnx',
];
const CORPUS = [...CORPUS_ORT, ...CORPUS_BACKEND];
const corpusName = (rel: string) => rel.replace(/^onnx\//, '').replace(/\/[^/]+$/, '');

interface Model {
  name: string;
  file: string;
  /** the torchvision fixture's input.npy; corpus models get random data of the declared shape */
  inputNpy?: string;
}

function python(args: string[], what: string): void {
  if (!existsSync(PYTHON)) throw new Error(`${what} needs ${PYTHON} with python3-onnx`);
  const run = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${args[0]} failed (exit ${run.status ?? run.signal}):\n${(run.stderr || String(run.error)).slice(-4000)}`);
}

const models: Model[] = [];

beforeAll(() => {
  for (const name of TORCHVISION_MODELS) {
    const dir = torchvisionDir(name);
    models.push({ name, file: join(dir, 'model.onnx'), inputNpy: join(dir, 'input.npy') });
  }
  for (const rel of CORPUS) models.push({ name: corpusName(rel), file: corpusPath(rel) });
  // ONNX's inference (cached; redone when the model is newer than its JSON)
  const stale = models.filter((m) => {
    const json = join(CACHE, 'onnx-shapes', m.name, 'shapes.json');
    return !existsSync(json) || statSync(json).mtimeMs < statSync(m.file).mtimeMs;
  });
  if (stale.length) python([SHAPES, '--out', join(CACHE, 'onnx-shapes'), ...stale.map((m) => `${m.name}=${m.file}`)], 'ONNX shape inference');
}, 30 * 60_000);

const fmt = (s: readonly Dim[] | null | undefined) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : 'unknown');

async function load(m: Model): Promise<Graph> {
  return readOnnx(readFileSync(m.file), { fileName: m.file });
}

/** The feeds: the fixture's input, or seeded random values of the declared shape (symbolic dims 1). */
function feedsOf(m: Model, graph: Graph): Map<string, { dims: number[]; data: Float32Array }> {
  const feeds = new Map<string, { dims: number[]; data: Float32Array }>();
  const rand = rng(7);
  for (const v of runtimeInputs(graph)) {
    if (v.dtype !== 'float32') throw new Error(`${m.name}: input '${v.name}' is ${v.dtype}; this test feeds float32`);
    if (m.inputNpy) {
      const t = readNpy(readFileSync(m.inputNpy), m.inputNpy);
      feeds.set(v.name, { dims: [...t.shape], data: t.toFloat32() });
    } else {
      const dims = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
      feeds.set(v.name, { dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1) });
    }
  }
  return feeds;
}

describe('inferShapes vs onnxruntime (every intermediate value)', () => {
  for (const name of [...TORCHVISION_MODELS, ...CORPUS_ORT.map(corpusName)]) {
    it(name, async () => {
      const m = models.find((x) => x.name === name)!;
      const graph = await load(m);
      const feeds = feedsOf(m, graph);
      // symbols of the declared inputs, bound by the feed
      const symbols = new Map<string, number>();
      for (const v of runtimeInputs(graph)) v.shape?.forEach((d, i) => typeof d === 'string' && symbols.set(d, feeds.get(v.name)!.dims[i]!));
      const { values, unknownOps } = inferShapes(graph);
      expect(unknownOps).toEqual([]);

      const session = await ort.InferenceSession.create(join(CACHE, 'onnx-shapes', name, 'all-outputs.onnx'));
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, f] of feeds) ortFeeds[k] = new ort.Tensor('float32', f.data, f.dims);
      const actual = await session.run(ortFeeds);
      const problems: string[] = [];
      let checked = 0;
      for (const node of graph.nodes) {
        for (const out of node.outputs) {
          if (!out) continue;
          const a = actual[out];
          if (!a) throw new Error(`${name}: onnxruntime did not return '${out}'`);
          const v = values.get(out);
          const dims = v?.shape?.map((d) => (typeof d === 'string' ? symbols.get(d) ?? d : d));
          if (v?.dtype !== a.type) problems.push(`${out}: dtype ${v?.dtype}, onnxruntime ${a.type}`);
          if (!dims || dims.length !== a.dims.length || dims.some((d, i) => d !== a.dims[i])) problems.push(`${out}: inferred ${fmt(v?.shape)}, onnxruntime [${a.dims.join(', ')}]`);
          checked++;
        }
      }
      await session.release();
      expect(problems.slice(0, 20)).toEqual([]);
      expect(checked).toBe(graph.nodes.reduce((n, x) => n + x.outputs.filter(Boolean).length, 0));
    });
  }
});

describe('inferShapes vs the stored outputs of the corpus backend cases', () => {
  for (const rel of CORPUS_BACKEND) {
    it(corpusName(rel), async () => {
      const m = models.find((x) => x.name === corpusName(rel))!;
      const graph = await load(m);
      const dir = join(m.file, '..', 'test_data_set_0');
      const { values } = inferShapes(graph);
      const outs = graph.outputs.map((o, i) => {
        const f = join(dir, `output_${i}.pb`);
        const t = readTensorProto(readFileSync(f), f);
        const v = values.get(o.name);
        return { name: o.name, inferred: [v?.dtype, fmt(v?.shape)], stored: [t.dtype, fmt(t.shape)] };
      });
      expect(outs.length).toBeGreaterThan(0);
      for (const o of outs) expect(o.inferred, o.name).toEqual(o.stored);
    });
  }
});

interface OnnxShapes {
  values: Record<string, { dtype: string | null; shape: Array<number | string | null> | null }>;
}

describe("inferShapes vs ONNX's onnx.shape_inference (value by value)", () => {
  for (const name of [...TORCHVISION_MODELS, ...CORPUS.map(corpusName)]) {
    it(name, async () => {
      const m = models.find((x) => x.name === name)!;
      const graph = await load(m);
      const inputSymbols = new Set(runtimeInputs(graph).flatMap((v) => (v.shape ?? []).filter((d): d is string => typeof d === 'string')));
      const onnx = JSON.parse(readFileSync(join(CACHE, 'onnx-shapes', name, 'shapes.json'), 'utf8')) as OnnxShapes;
      const { values } = inferShapes(graph);
      const problems: string[] = [];
      const entries = Object.entries(onnx.values);
      for (const [value, want] of entries) {
        const got = values.get(value);
        if (!got) {
          problems.push(`${value}: not inferred`);
          continue;
        }
        if (want.dtype && got.dtype !== want.dtype) problems.push(`${value}: dtype ${got.dtype}, ONNX ${want.dtype}`);
        if (!want.shape) continue;
        const ok =
          got.shape?.length === want.shape.length &&
          want.shape.every((d, i) => {
            const g = got.shape![i];
            // ONNX's numbers and the input's symbols must match; its own fresh symbols (unk__N) are checked against onnxruntime above
            if (typeof d === 'number' || (typeof d === 'string' && inputSymbols.has(d))) return g === d;
            return true;
          });
        if (!ok) problems.push(`${value}: inferred ${fmt(got.shape)}, ONNX ${fmt(want.shape)}`);
      }
      expect(problems.slice(0, 20)).toEqual([]);
      expect(entries.length).toBeGreaterThanOrEqual(graph.nodes.length);
    });
  }
});
