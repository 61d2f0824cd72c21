// Per-feature shifts and scales by constants written to Keras as its Normalization layer (mean and
// variance in the config; src/formats/keras/normalization-write.ts): the Keras reader's Normalization
// (tf.keras 2.x-layout .h5 files of scripts/fixtures/keras_preprocessing_h5.py: adapted, over two
// axes, invert=True) and ONNX input preprocessing ((x - mean) / std before a conv, x · r + b). TF.js
// 4.9 has no Normalization layer (its writer refuses it by name) and TensorFlow is not installable:
// the written .h5 / .keras are read back by nnport and run against the independent reference (NumPy's
// outputs of the fixture, onnxruntime on the ONNX source). Keras' MultiHeadAttention files (their
// query / key / value biases are such shifts) now convert to .h5 / .keras the same way.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run, type LoadedModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';

registerAllFormats();

const TOL = 1e-5;

/** The written file's layer classes (a .h5's model_config or a .keras' config.json). */
function layerClasses(file: string, bytes: Uint8Array): string[] {
  if (file.endsWith('.keras')) {
    const cfg = JSON.parse(new TextDecoder().decode(ZipReader.open(bytes).read('config.json'))) as { config: { layers: { class_name: string }[] } };
    return cfg.config.layers.map((l) => l.class_name);
  }
  const text = new TextDecoder('latin1').decode(bytes);
  return [...text.matchAll(/"class_name": ?"([A-Za-z0-9]+)"/g)].map((m) => m[1]!);
}

/** `model` written as `file`, read back by nnport and run on `feeds`: its first output and the written layer classes. */
async function writtenRun(model: LoadedModel, file: string, feeds: Record<string, Tensor> | Tensor[]): Promise<{ y: Tensor; classes: string[] }> {
  const { bytes } = await convert(model, file);
  const back = await loadModel(bytes, { fileName: file });
  if (back.kind !== 'graph') throw new Error('expected a graph');
  const named = Array.isArray(feeds) ? Object.fromEntries(back.graph.inputs.map((v, i) => [v.name, feeds[i]!])) : feeds;
  return { y: [...(await run(back, named)).outputs.values()][0]!, classes: layerClasses(file, bytes) };
}

describe('Keras Normalization written back (.h5 / .keras read back by nnport = NumPy)', () => {
  const dir = ensureScriptFixtures('keras_preprocessing_h5.py', 'keras-preprocessing', ['adapted', 'spatial', 'inverted']);
  for (const net of ['adapted', 'spatial', 'inverted']) {
    it(`${net}: a Normalization layer in .h5 and .keras; TF.js refused by name`, async () => {
      const model = await loadModel(readFileSync(join(dir, net, 'model.h5')), { fileName: `${net}.h5` });
      const x = readNpy(readFileSync(join(dir, net, 'x.npy')));
      const want = readNpy(readFileSync(join(dir, net, 'y.npy')));
      for (const file of ['m.h5', 'm.keras']) {
        const { y, classes } = await writtenRun(model, file, { x });
        const e = relErr(y.toFloat32(), want.toFloat32());
        console.log(`Normalization ${net} -> ${file}, read back: nnport vs NumPy ${e.toExponential(2)}`);
        expect(classes).toContain('Normalization');
        expect(y.shape).toEqual(want.shape);
        expect(e).toBeLessThanOrEqual(TOL);
      }
      await expect(convert(model, 'web/model.json')).rejects.toThrow(UnsupportedError);
      await expect(convert(model, 'web/model.json')).rejects.toThrow(/Normalization.*TF\.js 4\.9 has no Normalization layer/);
    });
  }

  const attention = ensureScriptFixtures('keras_attention_h5.py', 'keras-attention', ['self', 'cross', 'causal', 'keras3']);
  for (const net of ['self', 'causal']) {
    it(`MultiHeadAttention ${net} (.h5) -> .h5 / .keras as stock layers (its biases Normalization layers), read back = NumPy`, async () => {
      const model = await loadModel(readFileSync(join(attention, net, 'model.h5')), { fileName: `${net}.h5` });
      const x = readNpy(readFileSync(join(attention, net, 'x.npy')));
      const want = readNpy(readFileSync(join(attention, net, 'y.npy')));
      for (const file of ['m.h5', 'm.keras']) {
        const { y } = await writtenRun(model, file, { x });
        const e = relErr(y.toFloat32(), want.toFloat32());
        console.log(`MultiHeadAttention ${net} -> ${file}, read back: nnport vs NumPy ${e.toExponential(2)}`);
        expect(y.shape).toEqual(want.shape);
        expect(e).toBeLessThanOrEqual(TOL);
      }
    });
  }
});

const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const ints = (value: number[]) => ({ type: 'ints' as const, value });

function seeded(seed: number): (n: number, lo: number, hi: number) => number[] {
  const r = rng(seed);
  return (n, lo, hi) => Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** x [N, 3, 8, 8] -> (x - mean) / std per channel -> Conv 3x3 -> Relu -> GlobalAveragePool -> Flatten (torchvision's preprocessing in the graph). */
function imageModel(): Graph {
  const rand = seeded(11);
  return {
    name: 'preprocessed',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }],
    initializers: new Map<string, Tensor>([
      ['mean', Tensor.float32([1, 3, 1, 1], [0.485, 0.456, 0.406])],
      ['std', Tensor.float32([1, 3, 1, 1], [0.229, 0.224, 0.225])],
      ['conv.weight', Tensor.float32([4, 3, 3, 3], rand(108, -0.5, 0.5))],
      ['conv.bias', Tensor.float32([4], rand(4, -0.1, 0.1))],
    ]),
    opsets: { '': 17 },
    nodes: [
      node('Sub', ['x', 'mean'], ['centered']),
      node('Div', ['centered', 'std'], ['normalized']),
      node('Conv', ['normalized', 'conv.weight', 'conv.bias'], ['conv'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
      node('Relu', ['conv'], ['relu']),
      node('GlobalAveragePool', ['relu'], ['pooled']),
      node('Flatten', ['pooled'], ['y']),
    ],
  };
}

/** x [N, 5, 6] -> x · r + b per feature (an affine on the last axis: Normalization with invert) -> MatMul -> + c per step -> · g per feature. */
function sequenceModel(): Graph {
  const rand = seeded(12);
  return {
    name: 'affine',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 5, 6] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 5, 3] }],
    initializers: new Map<string, Tensor>([
      ['r', Tensor.float32([6], rand(6, 0.5, 2))],
      ['b', Tensor.float32([6], rand(6, -1, 1))],
      ['w', Tensor.float32([6, 3], rand(18, -1, 1))],
      ['shift', Tensor.float32([5, 1], rand(5, -1, 1))],
      ['gain', Tensor.float32([1, 3], rand(3, 0.5, 2))],
    ]),
    opsets: { '': 17 },
    nodes: [
      node('Mul', ['x', 'r'], ['scaled']),
      node('Add', ['scaled', 'b'], ['affine']),
      node('MatMul', ['affine', 'w'], ['h']),
      node('Add', ['shift', 'h'], ['shifted']),
      node('Mul', ['shifted', 'gain'], ['y']),
    ],
  };
}

describe('ONNX per-feature shifts and scales -> Keras Normalization (.h5 / .keras read back by nnport = onnxruntime)', () => {
  it('(x - mean) / std per channel before a Conv: one Normalization', async () => {
    const g = imageModel();
    const x = Tensor.float32([2, 3, 8, 8], seeded(21)(384, 0, 1));
    const want = await ortFirst(g, [x]);
    // the Keras model is channels-last: its input is x as NHWC
    const nhwc = Tensor.float32([2, 8, 8, 3], Float32Array.from({ length: 384 }, (_, k) => {
      const c = k % 3;
      const p = (k - c) / 3;
      return x.toFloat32()[Math.floor(p / 64) * 192 + c * 64 + (p % 64)]!;
    }));
    const model: LoadedModel = { kind: 'graph', format: 'onnx', graph: g };
    for (const file of ['m.h5', 'm.keras']) {
      const { y, classes } = await writtenRun(model, file, [nhwc]);
      const e = relErr(y.toFloat32(), want.toFloat32());
      console.log(`ONNX (x - mean) / std -> ${file}, read back: nnport vs onnxruntime ${e.toExponential(2)}`);
      expect(classes.filter((c) => c === 'Normalization')).toHaveLength(1);
      expect(e).toBeLessThanOrEqual(TOL);
    }
    await expect(convert(model, 'web/model.json')).rejects.toThrow(/Normalization/);
  });

  it('x · r + b (invert); c + h then · g (a shift over the time axis and a scale per feature): two Normalization layers', async () => {
    const g = sequenceModel();
    const x = Tensor.float32([3, 5, 6], seeded(22)(90, -2, 2));
    const want = await ortFirst(g, [x]);
    const model: LoadedModel = { kind: 'graph', format: 'onnx', graph: g };
    for (const file of ['m.h5', 'm.keras']) {
      const { y, classes } = await writtenRun(model, file, [x]);
      const e = relErr(y.toFloat32(), want.toFloat32());
      console.log(`ONNX x · r + b, (c + h) · g -> ${file}, read back: nnport vs onnxruntime ${e.toExponential(2)}`);
      expect(classes.filter((c) => c === 'Normalization')).toHaveLength(2);
      expect(e).toBeLessThanOrEqual(TOL);
    }
  });

  it('a scale Keras cannot hold (negative) stays refused by name (the shift before it alone is a Normalization)', async () => {
    const g = sequenceModel();
    g.initializers.set('gain', Tensor.float32([1, 3], [1, -2, 0.5]));
    const model: LoadedModel = { kind: 'graph', format: 'onnx', graph: g };
    await expect(convert(model, 'm.h5')).rejects.toThrow(/Mul with a non-scalar constant operand has no Keras layer/);
  });
});
