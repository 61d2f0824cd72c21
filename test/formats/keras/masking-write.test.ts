// Keras masking written back (src/formats/keras/masking-write.ts): Embedding(mask_zero=True) and
// Masking with the LSTM / GRU / SimpleRNN layers their mask reaches, which the reader unrolls with
// a Where per step, given back as Keras layers. Oracles: TF.js 4.9 building and running the written
// .h5 / model.json against TF.js predicting with the source (models TF.js builds here; the tf.keras
// 2.x-layout .h5 files of scripts/fixtures/keras_masking_h5.py run by TF.js from their own bytes),
// on token rows padded before, after, in the middle, fully and not at all; a written .keras (TF.js
// reads no Keras 3 cells) read back by nnport against the same reference; a masked GRU with
// reset_after=True (TF.js cannot run it) against NumPy's GRU on each row's unmasked steps.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, loadModel, type GraphModel, type LoadedModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { chain, embed, ids, maskedSteps, model, seeded, T, TOKEN_ROWS, tokens } from './masked-inputs.js';
import { nnportRun, predict, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';

registerAllFormats();

const TOL = 1e-5;
const MODELS: Array<[string, () => tf.LayersModel, () => Tensor]> = [
  ['Embedding(mask_zero) -> LSTM, last output', () => { const x = ids(); return model(x, chain(tf.layers.lstm({ units: 3 }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> LSTM return_sequences -> Dense', () => { const x = ids(); return model(x, chain(tf.layers.lstm({ units: 3, returnSequences: true }), tf.layers.dense({ units: 2 }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> LSTM return_state', () => { const x = ids(); return model(x, tf.layers.lstm({ units: 3, returnState: true, returnSequences: true }).apply(embed(x)) as tf.SymbolicTensor[]); }, tokens],
  ['Embedding(mask_zero) -> GRU return_sequences -> GRU', () => { const x = ids(); return model(x, chain(tf.layers.gru({ units: 3, returnSequences: true, resetAfter: false } as never), tf.layers.gru({ units: 2, resetAfter: false } as never))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> SimpleRNN go_backwards, return_sequences', () => { const x = ids(); return model(x, chain(tf.layers.simpleRNN({ units: 3, returnSequences: true, goBackwards: true }))(embed(x))); }, tokens],
  ['Embedding(mask_zero) -> Dropout -> Dense -> LSTM sigmoid gates, relu', () => { const x = ids(); return model(x, chain(tf.layers.dropout({ rate: 0.3 }), tf.layers.dense({ units: 3, activation: 'tanh' }), tf.layers.lstm({ units: 2, recurrentActivation: 'sigmoid', activation: 'relu' }))(embed(x))); }, tokens],
  ['Masking(0) -> LSTM return_sequences', () => { const x = tf.input({ shape: [T, 3] }); return model(x, chain(tf.layers.masking({ maskValue: 0 }), tf.layers.lstm({ units: 3, returnSequences: true }))(x)); }, () => maskedSteps(0)],
  ['Masking(-1) -> GRU -> Dense', () => { const x = tf.input({ shape: [T, 3] }); return model(x, chain(tf.layers.masking({ maskValue: -1 }), tf.layers.gru({ units: 3, resetAfter: false } as never), tf.layers.dense({ units: 2 }))(x)); }, () => maskedSteps(-1)],
  ['Masking(0) alone', () => { const x = tf.input({ shape: [T, 3] }); return model(x, tf.layers.masking({ maskValue: 0 }).apply(x) as tf.SymbolicTensor); }, () => maskedSteps(0)],
];

const REFUSED: Array<[string, () => tf.LayersModel]> = [
  ['Embedding(mask_zero) -> Bidirectional(LSTM)', () => { const x = ids(); return model(x, chain(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }) as never }))(embed(x))); }],
  ['Masking(-1) -> Bidirectional(SimpleRNN) ave', () => { const x = tf.input({ shape: [T, 3] }); return model(x, chain(tf.layers.masking({ maskValue: -1 }), tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 3, returnSequences: true }) as never, mergeMode: 'ave' }))(x)); }],
];

async function readBuilt(m: tf.LayersModel): Promise<GraphModel> {
  const { json, shard } = await tfjsRoundTrip(m);
  return readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
}

function classes(file: string, bytes: Uint8Array): string[] {
  const text = file.endsWith('.keras') ? new TextDecoder().decode(ZipReader.open(bytes).read('config.json')) : new TextDecoder('latin1').decode(bytes);
  return [...text.matchAll(/"class_name": ?"([A-Za-z0-9]+)"/g)].map((m) => m[1]!);
}

function worst(got: Tensor[], want: Tensor[], what: string): number {
  expect(got.length, what).toBe(want.length);
  return Math.max(...got.map((t, k) => (expect(t.shape, `${what} output ${k}`).toEqual(want[k]!.shape), relError(t, want[k]!))));
}

/** The written .h5 / model.json run by TF.js and the written .keras read back by nnport, each against `want`. */
async function writtenErrors(model: LoadedModel, xs: Tensor[], want: Tensor[]): Promise<{ h5: number; json: number; keras: number; layers: string[] }> {
  const h5 = await convert(model, 'm.h5');
  const web = await convert(model, 'web/model.json');
  const keras = await convert(model, 'm.keras');
  const back = await loadModel(keras.bytes, { fileName: 'm.keras' });
  if (back.kind !== 'graph') throw new Error('expected a graph');
  return {
    h5: worst(predict(await tfjsModelFromH5(h5.bytes), xs), want, '.h5 in TF.js'),
    json: worst(predict(await tfjsModelFromJson(web.bytes, (p) => web.sidecars.get(p)!), xs), want, 'model.json in TF.js'),
    keras: worst(await nnportRun(back.graph, xs), want, '.keras read back'),
    layers: [...classes('m.h5', h5.bytes), ...classes('m.keras', keras.bytes)],
  };
}

describe('Keras masking written back: TF.js runs the written .h5 / model.json as the source (TF.js-built models)', () => {
  it.each(MODELS)('%s', async (name, make, input) => {
    const m = seeded(make(), 70);
    const source = await readBuilt(m);
    const xs = [input()];
    const want = predict(m, xs);
    const e = await writtenErrors(source, xs, want);
    console.log(`${name}: .h5 in TF.js ${e.h5.toExponential(2)}, model.json in TF.js ${e.json.toExponential(2)}, .keras read back by nnport ${e.keras.toExponential(2)} vs TF.js on the source`);
    expect(e.layers).toContain(name.startsWith('Masking') ? 'Masking' : 'Embedding');
    expect(e.layers.some((c) => c === 'Where')).toBe(false);
    expect(e.h5).toBeLessThan(TOL);
    expect(e.json).toBeLessThan(TOL);
    expect(e.keras).toBeLessThan(TOL);
  });

  it('the written Embedding has mask_zero=True (without it TF.js computes over the padding)', async () => {
    const m = seeded(MODELS[0]![1](), 70);
    const h5 = await convert(await readBuilt(m), 'm.h5');
    const cfg = new TextDecoder('latin1').decode(h5.bytes);
    expect(cfg).toMatch(/"mask_zero": ?true/);
  });

  it.each(REFUSED)('%s: refused by name (a masked Bidirectional is not written back)', async (_name, make) => {
    const source = await readBuilt(make());
    for (const file of ['m.h5', 'web/model.json', 'm.keras']) {
      await expect(convert(source, file)).rejects.toThrow(UnsupportedError);
      await expect(convert(source, file)).rejects.toThrow(/a Keras mask \((Embedding mask_zero=True|Masking)\) read by/);
    }
  });
});

describe('tf.keras 2.x-layout .h5 files with masking written back, against TF.js running the source file', () => {
  const dir = ensureScriptFixtures('keras_masking_h5.py', 'keras-masking', ['emb-lstm', 'emb-bilstm-seq', 'masking-gru', 'emb-rnn-stack', 'emb-lstm-init', 'emb-gru-init', 'masking-gru-ra', 'gru-ra']);
  it.each(['emb-lstm', 'masking-gru', 'emb-rnn-stack'])('%s', async (name) => {
    const bytes = new Uint8Array(readFileSync(join(dir, name, 'model.h5')));
    const source = await loadModel(bytes, { fileName: `${name}.h5` });
    const xs = [name === 'masking-gru' ? maskedSteps(0) : tokens()];
    const want = predict(await tfjsModelFromH5(bytes), xs);
    const e = await writtenErrors(source, xs, want);
    console.log(`${name}.h5: .h5 in TF.js ${e.h5.toExponential(2)}, model.json in TF.js ${e.json.toExponential(2)}, .keras read back by nnport ${e.keras.toExponential(2)} vs TF.js on the source file`);
    expect(e.h5).toBeLessThan(TOL);
    expect(e.json).toBeLessThan(TOL);
    expect(e.keras).toBeLessThan(TOL);
  });

  it('masking-gru-ra (GRU reset_after=True, which TF.js cannot run): written .h5 / .keras read back = NumPy\'s unmasked GRU (gru-ra, same weights) on each row\'s unmasked steps', async () => {
    const source = await loadModel(readFileSync(join(dir, 'masking-gru-ra', 'model.h5')), { fileName: 'masking-gru-ra.h5' });
    const x = maskedSteps(0);
    const U = 4;
    const want = new Float32Array(TOKEN_ROWS.length * U);
    const v = x.toFloat32();
    for (const [b, row] of TOKEN_ROWS.entries()) {
      const unmasked = row.flatMap((id, t) => (id === 0 ? [] : Array.from(v.slice((b * T + t) * 3, (b * T + t + 1) * 3))));
      // a fully masked row: Keras' last output is zeros
      if (!unmasked.length) continue;
      const out = execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_recurrent_numpy.py', join(dir, 'gru-ra', 'model.h5')], { cwd: REPO_ROOT, input: JSON.stringify({ inputs: [unmasked], shapes: [[1, unmasked.length / 3, 3]] }) });
      want.set((JSON.parse(out.toString()) as { outputs: { data: number[] }[] }).outputs[0]!.data, b * U);
    }
    const wantT = Tensor.float32([TOKEN_ROWS.length, U], want);
    for (const file of ['m.h5', 'm.keras']) {
      const back = await loadModel((await convert(source, file)).bytes, { fileName: file });
      if (back.kind !== 'graph') throw new Error('expected a graph');
      const e = relError((await nnportRun(back.graph, [x]))[0]!, wantT);
      console.log(`masking-gru-ra.h5 -> ${file}, read back by nnport: ${e.toExponential(2)} vs NumPy on the unmasked steps`);
      expect(e).toBeLessThan(TOL);
    }
    await expect(convert(source, 'web/model.json')).rejects.toThrow(/reset_after=True/);
  });

  it.each(['emb-bilstm-seq', 'emb-lstm-init', 'emb-gru-init'])('%s (Bidirectional, initial states): refused by name', async (name) => {
    const source = await loadModel(readFileSync(join(dir, name, 'model.h5')), { fileName: `${name}.h5` });
    await expect(convert(source, 'm.h5')).rejects.toThrow(UnsupportedError);
  });
});
