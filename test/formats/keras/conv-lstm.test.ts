// Keras ConvLSTM2D read from TF.js layers models (model.json, built and saved by TensorFlow.js 4.9):
// nnport's runtime on the IR and onnxruntime-node on the written .onnx against TF.js predicting
// with the source model, every output (return_state's h and c too).
import { beforeAll, describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { ortRun } from '../../support/ort.js';
import { CONV_LSTM_MODELS } from './conv-lstm-models.js';
import { nnportRun, predict, randomInput, relError, tf, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights } from './time-distributed-models.js';

beforeAll(async () => {
  await initKernels();
});

/** Concrete input shapes: the unknown batch -> 2. */
const concrete = (g: Graph): number[][] => g.inputs.map((v) => v.shape!.map((d) => (typeof d === 'number' ? d : 2)));

describe('Keras ConvLSTM2D against TensorFlow.js', () => {
  it.each(CONV_LSTM_MODELS)('%s (TF.js model.json; and as .onnx in onnxruntime)', async (name, make) => {
    const m = make();
    seedWeights(m, 40);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const xs = concrete(model.graph).map((s, i) => randomInput(s, 3 + i));
    const want = predict(m, xs);
    const got = await nnportRun(model.graph, xs);
    const ort = [...(await ortRun((await convert(model, 'convlstm.onnx')).bytes, xs)).values()];
    expect(got.length).toBe(want.length);
    expect(ort.length).toBe(want.length);
    const errs = want.map((w, i) => {
      expect(got[i]!.shape).toEqual(w.shape);
      expect(ort[i]!.shape).toEqual(w.shape);
      return [relError(got[i]!, w), relError(ort[i]!, w)] as const;
    });
    console.log(`${name}: nnport vs TF.js ${errs.map((e) => e[0].toExponential(2)).join(' / ')}, .onnx in onnxruntime vs TF.js ${errs.map((e) => e[1].toExponential(2)).join(' / ')}`);
    for (const [a, b] of errs) {
      expect(a).toBeLessThan(1e-5);
      expect(b).toBeLessThan(1e-5);
    }
  });
});

describe('Keras ConvLSTM2D: what nnport does not compute is refused by name', () => {
  /** A TF.js ConvLSTM2D model.json (layer 'clstm' on [T, 6, 6, 2] frames) with its layer config edited by `edit`. */
  async function edited(edit: (cfg: Record<string, unknown>) => void, time: number | null = 3, options: { inputShapes?: Record<string, number[]> } = {}) {
    const m = tf.sequential({ layers: [tf.layers.convLstm2d({ filters: 3, kernelSize: 3, padding: 'same', inputShape: [time, 6, 6, 2], name: 'clstm' } as never)] });
    seedWeights(m, 60);
    const { json, shard } = await tfjsRoundTrip(m);
    const j = JSON.parse(new TextDecoder().decode(json));
    edit(j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'ConvLSTM2D').config);
    return { m, read: () => readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard, ...options }) };
  }

  it('a dynamic time length: refused with the --input-shape hint; fixed by it, equal to TF.js', async () => {
    await expect((await edited(() => {}, null)).read()).rejects.toThrow(/Keras ConvLSTM2D over a dynamic sequence length.*layer 'clstm'.*--input-shape/);
    const { m, read } = await edited(() => {}, null, { inputShapes: { '': [2, 4, 6, 6, 2] } });
    const model = await read();
    const x = randomInput([2, 4, 6, 6, 2], 7);
    const err = relError((await nnportRun(model.graph, [x]))[0]!, predict(m, [x])[0]!);
    console.log(`dynamic time fixed at 4 by --input-shape: nnport vs TF.js ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('stateful, a causal or unknown padding, an unknown data_format: UnsupportedError naming the layer', async () => {
    await expect((await edited((c) => (c.stateful = true))).read()).rejects.toThrow(/Keras ConvLSTM2D with stateful=True.*layer 'clstm'/);
    await expect((await edited((c) => (c.padding = 'causal'))).read()).rejects.toThrow(/ConvLSTM2D padding 'causal'.*layer 'clstm'/);
    await expect((await edited((c) => (c.data_format = 'channels_middle'))).read()).rejects.toThrow(/ConvLSTM2D with data_format 'channels_middle'.*layer 'clstm'/);
  });

  it('weights that do not fit the config, a bad filters: ShapeError naming the layer', async () => {
    await expect((await edited((c) => (c.filters = 4))).read()).rejects.toThrow(/layer 'clstm' \(ConvLSTM2D\): weight 'kernel' has shape \[3, 3, 2, 12\], the config implies \[3, 3, 2, 16\]/);
    await expect((await edited((c) => (c.kernel_size = [3, 1]))).read()).rejects.toThrow(/layer 'clstm' \(ConvLSTM2D\): weight 'kernel' has shape \[3, 3, 2, 12\], the config implies \[3, 1, 2, 12\]/);
    await expect((await edited((c) => (c.filters = 1.5))).read()).rejects.toThrow(/layer 'clstm' \(ConvLSTM2D\): filters 1.5 is not a positive integer/);
  });

  it('a mask (Masking before the layer): UnsupportedError naming the layer', async () => {
    const m = tf.sequential({ layers: [tf.layers.masking({ maskValue: 0, inputShape: [3, 4, 4, 2] }), tf.layers.convLstm2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'clstm' } as never)] });
    const { json, shard } = await tfjsRoundTrip(m);
    await expect(readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard })).rejects.toThrow(/Keras ConvLSTM2D with a mask.*layer 'clstm'/);
  });
});
