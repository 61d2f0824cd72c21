// Keras ConvLSTM2D read from TF.js layers models (model.json, built and saved by TensorFlow.js 4.9):
// nnport's runtime on the IR and onnxruntime-node on the written .onnx against TF.js predicting
// with the source model, every output (return_state's h and c too).
import { beforeAll, describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { ortRun } from '../../support/ort.js';
import { CONV_LSTM_MODELS } from './conv-lstm-models.js';
import { predict, randomInput, relError, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights } from './time-distributed-models.js';

beforeAll(async () => {
  await initKernels();
});

/** Concrete input shapes: the unknown batch -> 2. */
const concrete = (g: Graph): number[][] => g.inputs.map((v) => v.shape!.map((d) => (typeof d === 'number' ? d : 2)));

async function nnportRun(g: Graph, xs: Tensor[]): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

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
