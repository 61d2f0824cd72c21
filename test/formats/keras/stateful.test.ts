// Keras stateful RNNs (stateful=True): TF.js 4.9 builds the model, predicts on three consecutive chunks
// (its layer carrying the states from one predict to the next, starting at zeros) and saves it as a
// layers model.json; nnport reads it with the states as extra graph inputs / outputs, runs chunk by
// chunk feeding each call's states back (zeros first), and so does onnxruntime on nnport's .onnx.
import { describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, type GraphModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tf, tfjsRoundTrip } from './tfjs-oracle.js';

const oracle = useTfliteOracle();
const B = 2;
const T = 4;
const I = 3;
const U = 5;

function seeded(m: tf.LayersModel, seed: number): tf.LayersModel {
  m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', seed + i), 0.7)));
  return m;
}

async function read(m: tf.LayersModel): Promise<GraphModel> {
  const { json, shard } = await tfjsRoundTrip(m);
  return readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
}

type Runner = (feeds: Map<string, Tensor>) => Promise<Map<string, Tensor>>;

/** Runs the read graph over the chunks, feeding each call's states to the next: the model's first output per chunk. */
async function chunked(g: GraphModel['graph'], chunks: Tensor[], run: Runner): Promise<Tensor[]> {
  const [xIn, ...stateIns] = g.inputs;
  const stateOuts = g.outputs.slice(g.outputs.length - stateIns.length);
  let states: Tensor[] = stateIns.map(() => Tensor.float32([B, U], new Float32Array(B * U)));
  const ys: Tensor[] = [];
  for (const x of chunks) {
    const out = await run(new Map([[xIn!.name, x], ...stateIns.map((s, i) => [s.name, states[i]!] as const)]));
    ys.push(out.get(g.outputs[0]!.name)!);
    states = stateOuts.map((o) => out.get(o.name)!);
  }
  return ys;
}

const CASES: Array<[string, () => tf.layers.Layer]> = [
  ['LSTM return_sequences', () => tf.layers.lstm({ units: U, stateful: true, returnSequences: true, batchInputShape: [B, T, I] })],
  ['GRU (reset_after=False)', () => tf.layers.gru({ units: U, stateful: true, batchInputShape: [B, T, I] })],
  ['SimpleRNN go_backwards', () => tf.layers.simpleRNN({ units: U, stateful: true, goBackwards: true, returnSequences: true, batchInputShape: [B, T, I] })],
];

describe('Keras stateful RNNs (TF.js model.json): states as graph inputs / outputs, fed back chunk by chunk', () => {
  for (const [what, make] of CASES) {
    it(`${what}: nnport and onnxruntime over three chunks = TF.js' stateful predicts`, async () => {
      const m = seeded(tf.sequential({ layers: [make(), tf.layers.dense({ units: 2 })] }), 40);
      const chunks = [1, 2, 3].map((k) => randomInput([B, T, I], 70 + k));
      m.resetStates();
      const want = chunks.map((c) => predict(m, [c])[0]!);
      const model = await read(m);
      const g = model.graph;
      const names = g.inputs.map((v) => v.name);
      expect(names.slice(1)).toEqual(what.startsWith('LSTM') ? [`${m.layers[0]!.name}_h`, `${m.layers[0]!.name}_c`] : [`${m.layers[0]!.name}_h`]);
      const got = await chunked(g, chunks, async (feeds) => (await runGraph(g, feeds)).outputs);
      const onnx = (await convert(model, 'm.onnx')).bytes;
      const viaOrt = await chunked(g, chunks, (feeds) => ortRun(onnx, Object.fromEntries(feeds)));
      const tflite = (await convert(model, 'm.tflite')).bytes;
      const viaTflite = await chunked(g, chunks, async (feeds) => {
        const outs = await oracle.run(tflite, g.inputs.map((v) => feeds.get(v.name)!.toFloat32()));
        return new Map(g.outputs.map((o, i) => [o.name, Tensor.float32(outs[i]!.shape, outs[i]!.data as Float32Array)] as const));
      });
      const errs = want.map((w, i) => Math.max(relError(got[i]!, w), relError(viaOrt[i]!, w), relError(viaTflite[i]!, w)));
      console.log(`stateful ${what}: chunks 1-3, nnport / onnxruntime / TFLite interpreter vs TF.js ${errs.map((e) => e.toExponential(2)).join(', ')}`);
      for (const e of errs) expect(e).toBeLessThan(1e-5);
      // the later chunks start from the carried states: run from zeros, chunk 2 differs from TF.js'
      const fresh = await chunked(g, [chunks[1]!], async (feeds) => (await runGraph(g, feeds)).outputs);
      expect(relError(fresh[0]!, want[1]!)).toBeGreaterThan(1e-3);
    });
  }

  it('stateful with a mask or called twice: refused by name', async () => {
    const x = tf.input({ batchShape: [B, T] });
    const emb = tf.layers.embedding({ inputDim: 7, outputDim: 3 }).apply(x) as tf.SymbolicTensor;
    const m = tf.model({ inputs: x, outputs: tf.layers.lstm({ units: 2, stateful: true }).apply(emb) as tf.SymbolicTensor });
    const { json, shard } = await tfjsRoundTrip(m);
    const j = JSON.parse(new TextDecoder().decode(json));
    j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Embedding').config.mask_zero = true;
    await expect(readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard })).rejects.toThrow(/LSTM with stateful=True and a mask/);
    const a = tf.input({ batchShape: [B, T, I] });
    const b = tf.input({ batchShape: [B, T, I] });
    const shared = tf.layers.gru({ units: 2, stateful: true });
    const twice = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([shared.apply(a) as tf.SymbolicTensor, shared.apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor });
    await expect(read(twice)).rejects.toThrow(/stateful=True called more than once/);
  });
});
