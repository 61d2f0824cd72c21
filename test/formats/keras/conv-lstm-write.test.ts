// Keras ConvLSTM1D / 2D / 3D written back to Keras (src/formats/keras/conv-recurrent-write.ts: the
// reader's unrolled steps recognised by regenerating them, one ConvLSTM layer written).
// Oracles: TF.js 4.9 building and running the written .h5 / model.json against TF.js predicting
// with the source model (models TF.js builds, conv-lstm-models.ts); for the hand-written tf.keras
// 2.15 .h5 / Keras 3 .keras files (scripts/fixtures/keras_conv_lstm.py), NumPy's recurrence; a
// written .keras (TF.js cannot read Keras 3's cell vars) and the layers TF.js lacks (ConvLSTM1D /
// 3D, initial states) are read back by nnport and run against those same references.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, loadModel, type GraphModel, type LoadedModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { npyTensor } from '../tensorflow/helpers.js';
import { CONV_LSTM_MODELS } from './conv-lstm-models.js';
import { nnportRun, predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights } from './time-distributed-models.js';

registerAllFormats();

const TOL = 1e-5;

/** The written file's layer classes. */
function classes(file: string, bytes: Uint8Array, sidecar?: Uint8Array): string[] {
  const text = file.endsWith('.keras') ? new TextDecoder().decode(ZipReader.open(bytes).read('config.json')) : new TextDecoder('latin1').decode(sidecar ?? bytes);
  return [...text.matchAll(/"class_name": ?"([A-Za-z0-9]+)"/g)].map((m) => m[1]!);
}

/** `model` written as `file`, read back by nnport and run on xs (by position). */
async function readBack(model: LoadedModel, file: string, xs: Tensor[]): Promise<{ outs: Tensor[]; layers: string[] }> {
  const { bytes } = await convert(model, file);
  const back = await loadModel(bytes, { fileName: file });
  if (back.kind !== 'graph') throw new Error('expected a graph');
  expect(back.graph.inputs.length).toBe(xs.length);
  return { outs: await nnportRun(back.graph, xs), layers: classes(file, bytes) };
}

function worst(got: Tensor[], want: Tensor[], what: string): number {
  expect(got.length, what).toBe(want.length);
  return Math.max(...got.map((t, k) => (expect(t.shape, `${what} output ${k}`).toEqual(want[k]!.shape), relError(t, want[k]!))));
}

const BIDIRECTIONAL = /^Bidirectional/;

describe('Keras ConvLSTM2D (TF.js-built) written back: TF.js runs the .h5 / model.json as the source', () => {
  it.each(CONV_LSTM_MODELS.filter(([name]) => !BIDIRECTIONAL.test(name)))('%s', async (name, make) => {
    const m = make();
    seedWeights(m, 80);
    const { json, shard } = await tfjsRoundTrip(m);
    const model: GraphModel = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const xs = model.graph.inputs.map((v, i) => randomInput(v.shape!.map((d) => (typeof d === 'number' ? d : 2)), 41 + i));
    const want = predict(m, xs);
    const h5 = await convert(model, 'm.h5');
    const web = await convert(model, 'web/model.json');
    expect(classes('m.h5', h5.bytes)).toContain('ConvLSTM2D');
    expect(classes('model.json', web.bytes)).toContain('ConvLSTM2D');
    const eH5 = worst(predict(await tfjsModelFromH5(h5.bytes), xs), want, '.h5 in TF.js');
    const eJson = worst(predict(await tfjsModelFromJson(web.bytes, (p) => web.sidecars.get(p)!), xs), want, 'model.json in TF.js');
    const keras = await readBack(model, 'm.keras', xs);
    expect(keras.layers).toContain('ConvLSTM2D');
    const eKeras = worst(keras.outs, want, '.keras read back');
    console.log(`${name}: .h5 in TF.js ${eH5.toExponential(2)}, model.json in TF.js ${eJson.toExponential(2)}, .keras read back by nnport ${eKeras.toExponential(2)} vs TF.js on the source`);
    expect(eH5).toBeLessThan(TOL);
    expect(eJson).toBeLessThan(TOL);
    expect(eKeras).toBeLessThan(TOL);
  });

  it.each(CONV_LSTM_MODELS.filter(([name]) => BIDIRECTIONAL.test(name)))('%s: refused by name (a Bidirectional ConvLSTM is not written back)', async (_name, make) => {
    const m = make();
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    for (const file of ['m.h5', 'web/model.json', 'm.keras']) {
      await expect(convert(model, file)).rejects.toThrow(UnsupportedError);
      await expect(convert(model, file)).rejects.toThrow(/a ConvLSTM unrolled over its steps .* not one ConvLSTM layer/);
    }
  });
});

const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-convlstm-write-'));
beforeAll(() => {
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_conv_lstm.py'), tmp], { stdio: 'inherit' });
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** file, its arrays' base name, inputs, outputs, the layer class, whether TF.js 4.9 builds it */
const FILES: Array<[file: string, base: string, inputs: number, outputs: number, cls: string, tfjs: boolean]> = [
  ['convlstm2d.h5', 'convlstm2d', 1, 1, 'ConvLSTM2D', true],
  ['convlstm-states.h5', 'convlstm-states', 3, 3, 'ConvLSTM2D', false],
  ['convlstm1d.h5', 'convlstm1d', 1, 1, 'ConvLSTM1D', false],
  ['convlstm3d.keras', 'convlstm3d-keras', 1, 1, 'ConvLSTM3D', false],
  ['convlstm2d.keras', 'convlstm2d-keras', 3, 3, 'ConvLSTM2D', false],
];

describe('Keras ConvLSTM1D / 2D / 3D files (tf.keras 2.15 .h5, Keras 3 .keras) written back, against NumPy', () => {
  it.each(FILES)('%s -> .h5 / .keras (and TF.js where it has the layer)', async (file, base, inputs, outputs, cls, tfjs) => {
    const model = await loadModel(readFileSync(join(tmp, file)), { fileName: file });
    const load = (kind: string, n: number) => Array.from({ length: n }, (_, i) => npyTensor(join(tmp, `${base}-${kind}${i}.npy`)));
    const xs = load('input', inputs);
    const want = load('output', outputs);
    const errs: string[] = [];
    for (const target of ['m.h5', 'm.keras']) {
      const { outs, layers } = await readBack(model, target, xs);
      expect(layers).toContain(cls);
      const e = worst(outs, want, `${target} read back`);
      errs.push(`${target} read back by nnport ${e.toExponential(2)}`);
      expect(e).toBeLessThan(TOL);
    }
    if (tfjs) {
      const h5 = await convert(model, 'm.h5');
      const web = await convert(model, 'web/model.json');
      const eH5 = worst(predict(await tfjsModelFromH5(h5.bytes), xs), want, '.h5 in TF.js');
      const eJson = worst(predict(await tfjsModelFromJson(web.bytes, (p) => web.sidecars.get(p)!), xs), want, 'model.json in TF.js');
      errs.push(`.h5 in TF.js ${eH5.toExponential(2)}, model.json in TF.js ${eJson.toExponential(2)}`);
      expect(eH5).toBeLessThan(TOL);
      expect(eJson).toBeLessThan(TOL);
    } else {
      await expect(convert(model, 'web/model.json')).rejects.toThrow(cls === 'ConvLSTM2D' ? /ConvLSTM2D with initial states in a TF\.js layers model/ : /TF\.js 4\.9 has ConvLSTM2D only/);
    }
    console.log(`${file}: ${errs.join(', ')} vs NumPy`);
  });

  it('convlstm-bidi.keras (Keras 3 Bidirectional): refused by name', async () => {
    const model = await loadModel(readFileSync(join(tmp, 'convlstm-bidi.keras')), { fileName: 'convlstm-bidi.keras' });
    await expect(convert(model, 'm.h5')).rejects.toThrow(/a ConvLSTM unrolled over its steps/);
  });
});
