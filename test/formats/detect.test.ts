// Format detection on the real files of the corpus (written by the real frameworks; see
// /work/shared/corpus/MANIFEST.md): every model file is detected as what it is, and the
// protobuf/flatbuffer detectors never claim each other's files or the data files beside them.
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../src/formats/all.js';
import { caffemodelFormat, caffePrototxtFormat } from '../../src/formats/caffe/index.js';
import { kerasH5Format, kerasV3Format } from '../../src/formats/keras/index.js';
import type { FormatId } from '../../src/formats/model.js';
import { onnxFormat } from '../../src/formats/onnx/index.js';
import { detectFormat, formatById, readModel } from '../../src/formats/registry.js';
import { tfCheckpointIndexFormat, tfCheckpointMetaFormat, tfGraphDefFormat, tfSavedModelFormat } from '../../src/formats/tensorflow/index.js';
import { tfjsFormat } from '../../src/formats/tfjs/index.js';
import { tfliteFormat } from '../../src/formats/tflite/index.js';
import { FormatError, UnsupportedError } from '../../src/ir/errors.js';
import { rng } from './onnx/ort-helpers.js';
import { CORPUS_ROOT, corpusFiles } from '../support/corpus.js';

const CORPUS = CORPUS_ROOT;
const OURS = [onnxFormat, tfliteFormat, kerasH5Format, kerasV3Format, tfSavedModelFormat, tfCheckpointMetaFormat, tfGraphDefFormat, tfCheckpointIndexFormat, caffemodelFormat, caffePrototxtFormat, tfjsFormat];

/** What each corpus file really is (per MANIFEST.md), or null for data that is not a model file. */
function truth(path: string): FormatId | null {
  const rel = relative(CORPUS, path);
  const name = basename(path);
  if (/^LICENSE|\.md$|^SHA256SUMS$/.test(name)) return null;
  if (rel.startsWith('caffe/')) return name.endsWith('.prototxt') ? 'caffe-prototxt' : name.endsWith('.caffemodel') ? 'caffemodel' : null;
  if (rel.startsWith('keras-h5/') && name.endsWith('.h5')) return 'keras-h5';
  if (rel.startsWith('keras-v3/') && name.endsWith('.keras')) return 'keras-v3';
  if (rel.startsWith('onnx/') && name.endsWith('.onnx')) return 'onnx';
  if (rel.startsWith('tflite/') && name.endsWith('.tflite')) return 'tflite';
  if (rel.startsWith('tf-graphdef/') && name.endsWith('.pb')) return 'tf-graphdef';
  if (rel.startsWith('tf-checkpoint/')) {
    if (name === 'saved_model.pb') return 'tf-saved-model';
    if (name.endsWith('.meta')) return 'tf-checkpoint-meta';
    if (name.endsWith('.index')) return 'tf-checkpoint-index';
    // a legacy V1 checkpoint shard: read by the checkpoint handler (weights a, b)
    if (/-\d{5}-of-\d{5}$/.test(name) && rel.includes('v1ckpt')) return 'tf-checkpoint-index';
    return null;
  }
  if (rel.startsWith('tfjs-layers/') && name === 'model.json') return 'tfjs';
  if (rel.startsWith('tfjs-graph/') && name === 'model.json') return 'tfjs-graph';
  if (rel.startsWith('pytorch/') && name.endsWith('.pt')) {
    return readFileSync(path).subarray(0, 2).toString('latin1') === 'PK' ? 'pytorch-zip' : 'pytorch-legacy';
  }
  return null;
}

const all = corpusFiles();
const models = all.filter((f) => truth(f) !== null);
const head = (f: string) => new Uint8Array(readFileSync(f)).subarray(0, 4096);

beforeAll(() => registerAllFormats());

describe('format detection on the corpus', () => {
  it('covers every kind of model file', () => {
    expect(new Set(models.map(truth))).toEqual(
      new Set(['caffe-prototxt', 'caffemodel', 'keras-h5', 'keras-v3', 'onnx', 'tflite', 'tf-graphdef', 'tf-saved-model', 'tf-checkpoint-meta', 'tf-checkpoint-index', 'pytorch-zip', 'pytorch-legacy', 'tfjs', 'tfjs-graph']),
    );
  });

  it.each(models.map((f) => [relative(CORPUS, f), f]))('%s', (_, file) => {
    const want = truth(file)!;
    const bytes = new Uint8Array(readFileSync(file));
    if (formatById(want)) expect(detectFormat(bytes, file).id).toBe(want);
    // Under a name that gives nothing away, no other detector of ours claims it, and its own
    // does (a Snappy-compressed .index is the one case that needs its extension).
    const claimed = OURS.filter((h) => h.detect(head(file), 'renamed.bin')).map((h) => h.id);
    expect(claimed.filter((id) => id !== want)).toEqual([]);
    if (OURS.some((h) => h.id === want) && want !== 'tf-checkpoint-index') expect(claimed).toEqual([want]);
  });

  it('names alone decide nothing: a model under the wrong extension is still found', () => {
    const onnx = join(CORPUS, 'onnx/burn-mnist-torch2-opset16/mnist.onnx');
    const tflite = join(CORPUS, 'tflite/tflm-hello-world-float/hello_world_float.tflite');
    expect(detectFormat(new Uint8Array(readFileSync(onnx)), 'weights.pb').id).toBe('onnx');
    expect(detectFormat(new Uint8Array(readFileSync(tflite)), 'model.onnx').id).toBe('tflite');
  });

  it('data files beside the models are claimed by none of these detectors', () => {
    const data = all.filter((f) => truth(f) === null && !/^LICENSE|\.md$|SHA256SUMS$/.test(basename(f)));
    expect(data.length).toBeGreaterThan(20);
    for (const f of data) expect({ f, hits: OURS.filter((h) => h.detect(head(f), f)).map((h) => h.id) }).toEqual({ f, hits: [] });
  });

  it('reading a TFLite model through the registry gives its graph', async () => {
    const file = join(CORPUS, 'tflite/tflm-hello-world-float/hello_world_float.tflite');
    const m = await readModel(new Uint8Array(readFileSync(file)), { fileName: 'hello.tflite' });
    expect(m.kind).toBe('graph');
    expect(m.format).toBe('tflite');
  });

  it('reading an ONNX model through the registry gives its graph', async () => {
    const file = join(CORPUS, 'onnx/utensor-mlp-torch13-opset9/model.onnx');
    const m = await readModel(new Uint8Array(readFileSync(file)), { fileName: file });
    expect(m.kind).toBe('graph');
    expect(m.format).toBe('onnx');
  });
});

describe('format detection on bytes that are no model', () => {
  it('random bytes are refused with a clear error', () => {
    const r = rng(9);
    for (let k = 0; k < 200; k++) {
      const b = new Uint8Array(16 + k * 13).map(() => Math.floor(r() * 256));
      const hits = OURS.filter((h) => h.detect(b, 'x.bin'));
      expect(hits.map((h) => h.id), `random #${k}`).toEqual([]);
    }
    const b = new Uint8Array(100).map(() => Math.floor(r() * 256));
    expect(() => detectFormat(b, 'noise.bin')).toThrow(FormatError);
    expect(() => detectFormat(b, 'noise.bin')).toThrow(/noise\.bin: not a model file nnport recognises/);
  });

  it('text that is not a Caffe net, and JSON that is not a tfjs model', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(caffePrototxtFormat.detect(enc('net: "train.prototxt"\nbase_lr: 0.01\n'))).toBe(false);
    expect(caffePrototxtFormat.detect(enc('node {\n  name: "x"\n  op: "Placeholder"\n}\n'))).toBe(false);
    expect(tfjsFormat.detect(enc('{"name": "package", "version": "1.0.0"}'))).toBe(false);
  });
});

describe('detectors on hand-made files the corpus lacks', () => {
  it('a tfjs layers model.json, cut off by the 4 KiB head', () => {
    const json = JSON.stringify({ format: 'layers-model', generatedBy: 'keras v2.4.0', convertedBy: 'TensorFlow.js Converter v3', modelTopology: { class_name: 'Sequential', config: { layers: new Array(200).fill({ class_name: 'Dense' }) } }, weightsManifest: [] });
    const bytes = new TextEncoder().encode(json).subarray(0, 4096);
    expect(tfjsFormat.detect(bytes)).toBe(true);
    expect(onnxFormat.detect(bytes)).toBe(false);
  });

  it('an HDF5 file with a 512-byte user block', () => {
    const b = new Uint8Array(1024);
    b.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 512);
    expect(kerasH5Format.detect(b)).toBe(true);
  });
});
