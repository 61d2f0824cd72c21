/**
 * Every Keras / TF.js layers file of the corpus is read by nnport; what nnport writes back
 * (.h5, TF.js model.json + shards) is loaded by TensorFlow.js itself and must compute what
 * TF.js computes from the corpus file's own config and stored weights. The sepconv model is
 * also checked against its golden ys (written by tfjs-layers 1.1.0).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3, writeKerasH5, writeKerasV3 } from '../../../src/formats/keras/index.js';
import { readTfjsLayers, writeTfjsLayers } from '../../../src/formats/tfjs/index.js';
import type { GraphModel } from '../../../src/formats/model.js';
import { convert } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { corpusPath } from '../../support/corpus.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3, type tf } from './tfjs-oracle.js';

interface Case {
  file: string;
  read: () => Promise<GraphModel>;
  oracle: () => Promise<tf.LayersModel>;
}

const bytes = (rel: string) => new Uint8Array(readFileSync(corpusPath(rel)));
const sibling = (rel: string) => (name: string) => new Uint8Array(readFileSync(join(dirname(corpusPath(rel)), name)));

function h5Case(file: string): Case {
  return { file, read: () => readKerasH5(bytes(file), { fileName: file }), oracle: () => tfjsModelFromH5(bytes(file)) };
}
function keras3Case(file: string): Case {
  return {
    file,
    read: () => readKerasV3(bytes(file), { fileName: file }),
    oracle: () => {
      const z = ZipReader.open(bytes(file));
      return tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'));
    },
  };
}
function tfjsCase(file: string): Case {
  const read = sibling(file);
  return {
    file,
    read: () => readTfjsLayers(bytes(file), { fileName: file, readSibling: async (n) => read(n) }),
    oracle: () => tfjsModelFromJson(bytes(file), read),
  };
}

const CASES: Case[] = [
  h5Case('keras-h5/tensorspace-mnist-seq-keras216/keras_model.h5'),
  h5Case('keras-h5/tensorspace-mnist-seq-tfkeras/tf_keras_model.h5'),
  keras3Case('keras-v3/ecg-conv1d-bn-tfkeras215/cnn_model.keras'),
  keras3Case('keras-v3/mnist-cnn-k310-tfjs-source/Subhadip_Hensh_MNIST_CNN.keras'),
  keras3Case('keras-v3/mnist-mlp-l2-k38/Digit_Recognition_MLP.keras'),
  keras3Case('keras-v3/resnet1d-add-bn-k37/resnet_model.keras'),
  tfjsCase('tfjs-layers/hyai-mnist-cnn-conv422/model.json'),
  tfjsCase('tfjs-layers/tfjs-layers-cnn-sepconv-golden/model.json'),
];

// (OpenCV 4.6 cannot run a Reshape of a 3-D value to NHWC before a Conv2D — the tensorspace models'
// input, the 1-D models' convs — its importer's layout guess is wrong; NumPy runs them)
const OPENCV_RUNS = new Set(['keras-v3/mnist-cnn-k310-tfjs-source/Subhadip_Hensh_MNIST_CNN.keras', 'keras-v3/mnist-mlp-l2-k38/Digit_Recognition_MLP.keras', 'tfjs-layers/hyai-mnist-cnn-conv422/model.json', 'tfjs-layers/tfjs-layers-cnn-sepconv-golden/model.json']);

function spread(t: Tensor): number {
  const v = t.toFloat32();
  return Math.max(...v) - Math.min(...v);
}

describe('Keras corpus: read by nnport, written back, run by TensorFlow.js', () => {
  it.each(CASES.map((c) => [c.file, c] as const))('%s', async (_, c) => {
    const model = await c.read();
    const g = model.graph;
    // channels-last ops straight from the file: no transposes
    expect(g.nodes.filter((n) => n.opType === 'Transpose')).toEqual([]);
    const shape = g.inputs[0]!.shape!.map((d) => (typeof d === 'number' ? d : 2));
    const x = randomInput(shape, 7);
    const ref = predict(await c.oracle(), [x])[0]!;
    expect(spread(ref)).toBeGreaterThan(0);

    // through convert(), the path the CLI takes (it decides whether the layout pass runs)
    const h5 = (await convert(model, 'model.h5')).bytes;
    const fromH5 = predict(await tfjsModelFromH5(h5), [x])[0]!;
    expect(fromH5.shape).toEqual(ref.shape);
    expect(relError(fromH5, ref)).toBeLessThan(1e-5);

    const { bytes: json, sidecars: shards } = await convert(model, 'web/model.json', { shardSize: 64 * 1024 });
    const fromJson = predict(await tfjsModelFromJson(json, (n) => shards.get(n)!), [x])[0]!;
    expect(relError(fromJson, ref)).toBeLessThan(1e-5);

    // a frozen GraphDef of it, run by the NumPy GraphDef interpreter and, where its importer has
    // every op, OpenCV dnn (a Keras Reshape's batch 0 must become TF's -1: TF's 0 is a zero-size dim)
    const pb = (await convert(model, 'model.pb')).bytes;
    const out = g.outputs[0]!.name.replace(/:0$/, '');
    const tag = `keras-corpus-${c.file.replace(/[^A-Za-z0-9]+/g, '_')}`;
    for (const kind of OPENCV_RUNS.has(c.file) ? (['numpy', 'opencv'] as const) : (['numpy'] as const)) {
      const y = pythonRun(kind, tag, pb, x, [out]).get(out)!;
      expect(relError(Tensor.float32(ref.shape, y.toFloat32()), ref), kind).toBeLessThan(1e-5);
    }

    // the .keras archive reads back into the same ops (Dropout's Identity is not written)
    const again = await readKerasV3(await writeKerasV3(model));
    const ops = (m: GraphModel) => m.graph.nodes.map((n) => n.opType).filter((o) => o !== 'Identity');
    expect(ops(again)).toEqual(ops(model));
  });

  it('the sepconv TF.js model, as nnport writes it, reproduces its golden ys', async () => {
    const dir = 'tfjs-layers/tfjs-layers-cnn-sepconv-golden/';
    const xs = JSON.parse(new TextDecoder().decode(bytes(`${dir}cnn.xs-data.json`))) as number[];
    const ys = JSON.parse(new TextDecoder().decode(bytes(`${dir}cnn.ys-data.json`))) as number[];
    const xShape = JSON.parse(new TextDecoder().decode(bytes(`${dir}cnn.xs-shapes.json`)))[0] as number[];
    const model = await tfjsCase(`${dir}model.json`).read();
    const shards = new Map<string, Uint8Array>();
    const json = await writeTfjsLayers(model, { sidecars: shards });
    expect([...shards.keys()]).toEqual(['group1-shard1of1.bin']);
    const y = predict(await tfjsModelFromJson(json, (n) => shards.get(n)!), [Tensor.float32(xShape, xs.flat(4))])[0]!;
    expect(relError(y, Tensor.float32(y.shape, ys.flat(4)))).toBeLessThan(1e-4);
  });

  // the recurrent corpus files (fdeep-lstm-multiinput-functional, fdeep-gru-initial-state-tfkeras) are read,
  // written back and checked against TF.js / NumPy in recurrent.test.ts
});
