// Keras masking (Embedding mask_zero=True, Masking) through LSTM / GRU / SimpleRNN / Bidirectional,
// against TensorFlow.js 4.9 (CPU backend) building the same models, saved as TF.js writes a layers
// model.json and predicting on token rows padded before ('pre', pad_sequences' default), after
// ('post'), in the middle, fully padded and not at all: nnport's run of the file, and
// onnxruntime-node running nnport's .onnx of it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5 } from '../../../src/formats/keras/index.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, type GraphModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { chain, embed, ids, maskedSteps, model, seeded, T, TOKEN_ROWS, tokens, VOCAB } from './masked-inputs.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';

const tflite = useTfliteOracle();

const TOL = 1e-5;
/** TF.js models, each with the input they are run on. */
export const MASKED_MODELS: Array<[string, () => tf.LayersModel, () => Tensor]> = [
  ['Embedding(mask_zero) -> LSTM, last output', () => { const x = ids(); return model(x, chain(tf.layers.lstm({ units: 3 }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> LSTM return_sequences -> Dense', () => { const x = ids(); return model(x, chain(tf.layers.lstm({ units: 3, returnSequences: true }), tf.layers.dense({ units: 2 }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> LSTM return_state', () => { const x = ids(); return model(x, tf.layers.lstm({ units: 3, returnState: true, returnSequences: true }).apply(embed(x)) as tf.SymbolicTensor[]); }, tokens],
  ['Embedding(mask_zero) -> GRU return_sequences -> GRU', () => { const x = ids(); return model(x, chain(tf.layers.gru({ units: 3, returnSequences: true, resetAfter: false } as never), tf.layers.gru({ units: 2, resetAfter: false } as never))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> SimpleRNN go_backwards, return_sequences', () => { const x = ids(); return model(x, chain(tf.layers.simpleRNN({ units: 3, returnSequences: true, goBackwards: true }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> Bidirectional(LSTM) concat, return_sequences -> Dense', () => { const x = ids(); return model(x, chain(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true }) as never }), tf.layers.dense({ units: 2, activation: 'softmax' }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> Bidirectional(GRU) sum, last output', () => { const x = ids(); return model(x, chain(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, resetAfter: false } as never) as never, mergeMode: 'sum' }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> Dropout -> Dense -> LSTM (the mask passes Dense)', () => { const x = ids(); return model(x, chain(tf.layers.dropout({ rate: 0.3 }), tf.layers.dense({ units: 3, activation: 'tanh' }), tf.layers.lstm({ units: 2 }))(embed(x))); }, tokens],
  ['Masking(0) -> LSTM return_sequences', () => { const x = tf.input({ shape: [T, 3] }); return model(x, chain(tf.layers.masking({ maskValue: 0 }), tf.layers.lstm({ units: 3, returnSequences: true }))(x)); }, () => maskedSteps(0)],
  ['Masking(-1) -> Bidirectional(SimpleRNN) ave, return_sequences', () => { const x = tf.input({ shape: [T, 3] }); return model(x, chain(tf.layers.masking({ maskValue: -1 }), tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 3, returnSequences: true }) as never, mergeMode: 'ave' }))(x)); }, () => maskedSteps(-1)],
  ['Masking(0) alone: its output zeroes the masked steps', () => { const x = tf.input({ shape: [T, 3] }); return model(x, tf.layers.masking({ maskValue: 0 }).apply(x) as tf.SymbolicTensor); }, () => maskedSteps(0)],
];

/** onnxruntime-node's outputs of `onnx` on x, in the session's order. */
const ortOutputs = async (onnx: Uint8Array, x: Tensor): Promise<Tensor[]> => [...(await ortRun(onnx, [x])).values()];

export async function readBuilt(m: tf.LayersModel): Promise<GraphModel> {
  const { json, shard } = await tfjsRoundTrip(m);
  return readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
}

describe('Keras masking against TensorFlow.js', () => {
  it.each(MASKED_MODELS)('%s (TF.js model.json): nnport and onnxruntime', async (_name, make, input) => {
    const m = seeded(make(), 70);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    // (TF.js loads a model without weights from its topology alone: the model built here runs it)
    const oracle = m.getWeights().length ? await tfjsModelFromJson(json, () => shard) : m;
    const x = input();
    const want = predict(oracle, [x]);
    const g = model.graph;
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
    expect(g.outputs.length).toBe(want.length);
    const ours = Math.max(...g.outputs.map((o, k) => (expect(outputs.get(o.name)!.shape).toEqual(want[k]!.shape), relError(outputs.get(o.name)!, want[k]!))));
    const { bytes: onnx } = await convert(model, 'm.onnx');
    const theirs = await ortOutputs(onnx, x);
    const ort_ = Math.max(...theirs.map((t, k) => relError(t, want[k]!)));
    console.log(`${_name}: nnport ${ours.toExponential(2)}, onnxruntime ${ort_.toExponential(2)} vs TF.js`);
    expect(ours).toBeLessThan(TOL);
    expect(ort_).toBeLessThan(TOL);
  });

  it('the mask changes TF.js\' result (a reader that ignored it would compute over the padding)', async () => {
    const make = (maskZero: boolean) => tf.sequential({ layers: [tf.layers.embedding({ inputDim: VOCAB, outputDim: 3, maskZero, inputShape: [T] }), tf.layers.lstm({ units: 2 })] });
    const masked = seeded(make(true), 60);
    const plain = make(false);
    plain.setWeights(masked.getWeights());
    const x = tokens();
    const a = predict(masked, [x])[0]!;
    expect(relError(predict(plain, [x])[0]!, a)).toBeGreaterThan(1e-2);
    const g = (await readBuilt(masked)).graph;
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
    expect(relError(outputs.get(g.outputs[0]!.name)!, a)).toBeLessThan(TOL);
    // unrolled with a Where per step: no ONNX LSTM is left
    expect(g.nodes.some((n) => n.opType === 'LSTM')).toBe(false);
    expect(g.nodes.filter((n) => n.opType === 'Where').length).toBe(2 * T);
  });

  it('Embedding(mask_zero) -> Add(LSTM sequence, Dense) -> LSTM: the merge ANDs its inputs\' masks (Keras\' rule; TF.js\' own merge mask is broken, so TF.js\' layers run eagerly with that mask)', async () => {
    const x = ids();
    const emb = tf.layers.embedding({ inputDim: VOCAB, outputDim: 4, maskZero: true });
    const lstm1 = tf.layers.lstm({ units: 4, returnSequences: true });
    const dense = tf.layers.dense({ units: 4 });
    const lstm2 = tf.layers.lstm({ units: 2 });
    const e = emb.apply(x) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([lstm1.apply(e) as tf.SymbolicTensor, dense.apply(e) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const m = seeded(model(x, lstm2.apply(sum) as tf.SymbolicTensor), 90);
    const xs = tokens();
    const eager = (masked: boolean): Tensor => {
      const y = tf.tidy(() => {
        const ids_ = tf.tensor(xs.toFloat32(), [...xs.shape]);
        const kw = masked ? { mask: tf.notEqual(ids_, 0) } : {};
        const v = emb.apply(ids_) as tf.Tensor;
        const s = tf.add(lstm1.apply(v, kw) as tf.Tensor, dense.apply(v) as tf.Tensor);
        return lstm2.apply(s, kw) as tf.Tensor;
      });
      const out = Tensor.float32(y.shape, y.dataSync());
      y.dispose();
      return out;
    };
    const want = eager(true);
    // (the mask matters here)
    expect(relError(eager(false), want)).toBeGreaterThan(1e-2);
    const g = (await readBuilt(m)).graph;
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, xs]]));
    const err = relError(outputs.get(g.outputs[0]!.name)!, want);
    console.log(`Add of masked values -> LSTM: nnport ${err.toExponential(2)} vs TF.js' layers`);
    expect(err).toBeLessThan(TOL);
  });

  it('Embedding(mask_zero) -> [LSTM return_sequences ->] GlobalAveragePooling1D -> Dense: Keras\' masked mean (TF.js refuses the mask there: its layers run eagerly, the mean by Keras\' formula)', async () => {
    for (const withLstm of [false, true]) {
      // built unmasked (TF.js would refuse), mask_zero set in the saved config
      const x = ids();
      const emb = tf.layers.embedding({ inputDim: VOCAB, outputDim: 4 });
      const lstm = tf.layers.lstm({ units: 3, returnSequences: true });
      const dense = tf.layers.dense({ units: 2 });
      let v = emb.apply(x) as tf.SymbolicTensor;
      if (withLstm) v = lstm.apply(v) as tf.SymbolicTensor;
      const m = seeded(model(x, dense.apply(tf.layers.globalAveragePooling1d().apply(v)) as tf.SymbolicTensor), 100);
      const { json, shard } = await tfjsRoundTrip(m);
      const j = JSON.parse(new TextDecoder().decode(json));
      const layer = j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Embedding');
      layer.config.mask_zero = true;
      const g = (await readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard })).graph;
      const xs = tokens();
      const y = tf.tidy(() => {
        const t = tf.tensor(xs.toFloat32(), [...xs.shape]);
        const mask = tf.notEqual(t, 0);
        let h = emb.apply(t) as tf.Tensor;
        if (withLstm) h = lstm.apply(h, { mask }) as tf.Tensor;
        const w = tf.expandDims(tf.cast(mask, 'float32'), -1);
        return dense.apply(tf.div(tf.sum(tf.mul(h, w), 1), tf.sum(w, 1))) as tf.Tensor;
      });
      const want = Tensor.float32(y.shape, y.dataSync());
      y.dispose();
      const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, xs]]));
      const got = outputs.get(g.outputs[0]!.name)!;
      // the fully padded row (2) is 0 / 0 in Keras: NaN in both
      const padded = (t: Tensor) => Array.from(t.toFloat32().slice(4, 6));
      const others = (t: Tensor) => Tensor.float32([4, 2], t.toFloat32().filter((_, i) => Math.floor(i / 2) !== 2));
      expect(padded(got).every(Number.isNaN)).toBe(true);
      expect(padded(want).every(Number.isNaN)).toBe(true);
      const err = relError(others(got), others(want));
      console.log(`GlobalAveragePooling1D masked mean${withLstm ? ' after an LSTM' : ''}: nnport ${err.toExponential(2)} vs TF.js' layers`);
      expect(err).toBeLessThan(TOL);
    }
  });

  it('an open time axis: refused by name (the masked steps are unrolled when read), converted with --input-shape', async () => {
    const x = tf.input({ shape: [null] });
    const m = seeded(model(x, chain(tf.layers.lstm({ units: 3 }))(embed(x))), 110);
    const { json, shard } = await tfjsRoundTrip(m);
    const read = (inputShapes?: Record<string, number[]>) => readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard, ...(inputShapes && { inputShapes }) });
    await expect(read()).rejects.toThrow(/LSTM over a dynamic sequence length in a masked Keras LSTM.*--input-shape/);
    const g = (await read({ '': [TOKEN_ROWS.length, T] })).graph;
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, tokens()]]));
    expect(relError(outputs.get(g.outputs[0]!.name)!, predict(m, [tokens()])[0]!)).toBeLessThan(TOL);
  });

  it('a layer that would apply the mask and nnport does not compute masked is refused by name', async () => {
    const cases: Array<[string, (v: tf.SymbolicTensor) => tf.SymbolicTensor, RegExp]> = [
      ['Softmax', (v) => tf.layers.softmax().apply(v) as tf.SymbolicTensor, /Keras Softmax with a mask.*layer 'softmax/],
    ];
    for (const [what, head, error] of cases) {
      // built unmasked (TF.js refuses it with a mask), mask_zero set in the saved config
      // (a time-axis Concatenate of masked sequences is read: attention-mask.test.ts)
      const x = ids();
      const m = model(x, head(tf.layers.lstm({ units: 3, returnSequences: true }).apply(tf.layers.embedding({ inputDim: VOCAB, outputDim: 4 }).apply(x) as tf.SymbolicTensor) as tf.SymbolicTensor));
      const { json, shard } = await tfjsRoundTrip(m);
      const j = JSON.parse(new TextDecoder().decode(json));
      j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Embedding').config.mask_zero = true;
      await expect(readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard }), what).rejects.toThrow(error);
    }
  });

  it('Embedding(mask_zero) -> LSTM(initial_state) return_sequences (TF.js model.json): TF.js\' outputs before the first unmasked step are the initial h', async () => {
    const x = ids();
    const h0 = tf.input({ shape: [3] });
    const c0 = tf.input({ shape: [3] });
    const y = tf.layers.lstm({ units: 3, returnSequences: true }).apply(embed(x), { initialState: [h0, c0] }) as tf.SymbolicTensor;
    const m = seeded(tf.model({ inputs: [x, h0, c0], outputs: y }), 120);
    const xs = [tokens(), randomInput([TOKEN_ROWS.length, 3], 31), randomInput([TOKEN_ROWS.length, 3], 32)];
    const g = (await readBuilt(m)).graph;
    const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
    const err = relError(outputs.get(g.outputs[0]!.name)!, predict(m, xs)[0]!);
    console.log(`LSTM with initial_state and a mask (TF.js): nnport ${err.toExponential(2)} vs TF.js`);
    expect(err).toBeLessThan(TOL);
  });

  it('a mask no layer consumes changes nothing: Embedding(mask_zero) -> Dense emits no mask', async () => {
    const x = ids();
    const m = seeded(model(x, chain(tf.layers.dense({ units: 2 }))(embed(x))), 80);
    const g = (await readBuilt(m)).graph;
    expect(g.nodes.map((n) => n.opType).filter((o) => ['Equal', 'Not', 'Where'].includes(o))).toEqual([]);
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, tokens()]]));
    expect(relError(outputs.get(g.outputs[0]!.name)!, predict(m, [tokens()])[0]!)).toBeLessThan(TOL);
  });
});

const H5_CASES = ['emb-lstm', 'emb-bilstm-seq', 'masking-gru', 'emb-rnn-stack', 'emb-lstm-init', 'emb-gru-init'] as const;
const ALL_H5 = [...H5_CASES, 'masking-gru-ra', 'gru-ra'] as const;
const h5Path = (name: (typeof ALL_H5)[number]): string => join(ensureScriptFixtures('keras_masking_h5.py', 'keras-masking', ALL_H5), name, 'model.h5');
const h5 = (name: (typeof ALL_H5)[number]): Uint8Array => new Uint8Array(readFileSync(h5Path(name)));
const inputOf = (name: string): Tensor => (name === 'masking-gru' ? maskedSteps(0) : tokens());
/** the file's inputs: the ids (or steps), then the initial states (seeded, away from 0) */
const inputsOf = (name: string): Tensor[] => [inputOf(name), ...(name === 'emb-lstm-init' ? [1, 2] : name === 'emb-gru-init' ? [1] : []).map((k) => randomInput([TOKEN_ROWS.length, 3], 30 + k))];

/** Keras' zeros before a row's first unmasked step, in the order the layer runs (backwards: from the end) */
function zeroedStart(y: Tensor, backwards: boolean): Tensor {
  const B = TOKEN_ROWS.length;
  const d = y.toFloat32().slice();
  const per = y.size / B;
  TOKEN_ROWS.forEach((row, b) => {
    const order = backwards ? [...row].reverse() : row;
    if (y.rank === 2) {
      if (row.every((id) => id === 0)) d.fill(0, b * per, (b + 1) * per);
      return;
    }
    const U = per / T;
    const first = order.findIndex((id) => id !== 0);
    d.fill(0, b * per, b * per + (first < 0 ? T : first) * U);
  });
  return Tensor.float32([...y.shape], d);
}

/**
 * What Keras computes for the file: TF.js running it, except that Keras zeros a Bidirectional's
 * sequence at masked steps (its zero_output_for_mask = return_sequences), which TF.js does not:
 * there TF.js' own layers run eagerly with the mask and the Bidirectional's output is zeroed.
 */
function kerasOutput(oracle: tf.LayersModel, name: string, xs: Tensor[]): Tensor {
  const x = xs[0]!;
  if (name === 'emb-lstm-init' || name === 'emb-gru-init') return zeroedStart(predict(oracle, xs)[0]!, name === 'emb-lstm-init');
  if (name !== 'emb-bilstm-seq') return predict(oracle, xs)[0]!;
  const y = tf.tidy(() => {
    const ids_ = tf.tensor(x.toFloat32(), [...x.shape]);
    const mask = tf.notEqual(ids_, 0);
    const bi = oracle.getLayer('bidirectional').apply(oracle.getLayer('embedding').apply(ids_), { mask }) as tf.Tensor;
    return oracle.getLayer('dense').apply(tf.mul(bi, tf.expandDims(tf.cast(mask, 'float32'), -1))) as tf.Tensor;
  });
  const out = Tensor.float32(y.shape, y.dataSync());
  y.dispose();
  return out;
}

describe('Keras 2 .h5 with masking (scripts/fixtures/keras_masking_h5.py) against TensorFlow.js running the same file', () => {
  it.each(H5_CASES)('%s: nnport, and its .onnx in onnxruntime', async (name) => {
    const bytes = h5(name);
    const model = await readKerasH5(bytes, { fileName: `${name}.h5` });
    const oracle = await tfjsModelFromH5(bytes);
    const xs = inputsOf(name);
    const want = kerasOutput(oracle, name, xs);
    if (['emb-bilstm-seq', 'emb-lstm-init', 'emb-gru-init'].includes(name)) expect(relError(predict(oracle, xs)[0]!, want), 'Keras\' zeros at masked steps differ from TF.js\' outputs').toBeGreaterThan(1e-3);
    const g = model.graph;
    expect(g.inputs.length).toBe(xs.length);
    const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
    const got = outputs.get(g.outputs[0]!.name)!;
    expect(got.shape).toEqual(want.shape);
    const ours = relError(got, want);
    const onnx = relError([...(await ortRun((await convert(model, 'm.onnx')).bytes, xs)).values()][0]!, want);
    console.log(`${name}.h5: nnport ${ours.toExponential(2)}, onnxruntime ${onnx.toExponential(2)} vs TF.js`);
    expect(ours).toBeLessThan(TOL);
    expect(onnx).toBeLessThan(TOL);
  });

  it.each(['emb-lstm', 'emb-bilstm-seq', 'masking-gru'] as const)('%s written as .tflite: the TFLite interpreter against TF.js', async (name) => {
    const bytes = h5(name);
    const model = await readKerasH5(bytes, { fileName: `${name}.h5` });
    const file = (await convert(model, 'm.tflite')).bytes;
    const x = inputOf(name);
    const want = kerasOutput(await tfjsModelFromH5(bytes), name, [x]);
    // row by row: (the interpreter's input is declared with batch 1 where the writer fixes it)
    const declared = (await tflite.inputs(file))[0]!;
    const B = x.shape[0]!;
    const per = x.size / B;
    const rows: Float32Array[] = [];
    const batched = declared.shape[0] !== 1;
    const runs = batched ? [x.toFloat32()] : Array.from({ length: B }, (_, b) => x.toFloat32().slice(b * per, (b + 1) * per));
    for (const input of runs) rows.push(Float32Array.from((await tflite.run(file, [input]))[0]!.data as Float32Array));
    const got = Tensor.float32([...want.shape], Float32Array.from(rows.flatMap((r) => Array.from(r))));
    const err = relError(got, want);
    console.log(`${name}.h5 -> .tflite: TFLite interpreter ${err.toExponential(2)} vs TF.js`);
    expect(err).toBeLessThan(TOL);
  });
});

describe('a masked GRU with reset_after=True (tf.keras 2\'s default; TF.js cannot run it) against keras_recurrent_numpy.py', () => {
  it('masking-gru-ra: each row\'s last output is the unmasked GRU (gru-ra, same weights) run by NumPy on that row\'s unmasked steps alone', async () => {
    const model = await readKerasH5(h5('masking-gru-ra'), { fileName: 'masking-gru-ra.h5' });
    const g = model.graph;
    const x = maskedSteps(0);
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
    const got = outputs.get(g.outputs[0]!.name)!;
    const onnx = [...(await ortRun((await convert(model, 'm.onnx')).bytes, [x])).values()][0]!;
    const U = 4;
    const want = new Float32Array(TOKEN_ROWS.length * U);
    const v = x.toFloat32();
    for (const [b, row] of TOKEN_ROWS.entries()) {
      const steps = row.flatMap((id, t) => (id === 0 ? [] : Array.from(v.slice((b * T + t) * 3, (b * T + t + 1) * 3))));
      // a fully masked row: Keras' last output is zeros
      if (!steps.length) continue;
      const out = execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_recurrent_numpy.py', h5Path('gru-ra')], { cwd: REPO_ROOT, input: JSON.stringify({ inputs: [steps], shapes: [[1, steps.length / 3, 3]] }) });
      want.set((JSON.parse(out.toString()) as { outputs: { data: number[] }[] }).outputs[0]!.data, b * U);
    }
    const wantT = Tensor.float32([TOKEN_ROWS.length, U], want);
    const ours = relError(got, wantT);
    const ort_ = relError(onnx, wantT);
    console.log(`masking-gru-ra.h5: nnport ${ours.toExponential(2)}, onnxruntime ${ort_.toExponential(2)} vs NumPy on the unmasked steps`);
    expect(ours).toBeLessThan(TOL);
    expect(ort_).toBeLessThan(TOL);
  });
});
