// Keras ConvLSTM2D models (built by TensorFlow.js 4.9, read from their model.json) written as
// .tflite and run by the real TFLite interpreter (tfjs-tflite in headless Chromium), and as .pb run
// by the NumPy GraphDef runner (and OpenCV 4.6 dnn where it can), every output against TF.js
// predicting with the source model; and the hand-written tf.keras 2.15 .h5 / Keras 3 .keras files
// (ConvLSTM1D / 2D / 3D, scripts/fixtures/keras_conv_lstm.py) as .tflite against NumPy.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/index.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, type GraphModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { oracleOutput, runOracles, writeInput, type RunCase } from '../../conformance/graphdef-writer-run.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { npyTensor } from '../tensorflow/helpers.js';
import { CONV_LSTM_MODELS } from './conv-lstm-models.js';
import { predict, randomInput, relError, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights } from './time-distributed-models.js';

const tflite = useTfliteOracle();
const fixtures = mkdtempSync(join(tmpdir(), 'nnport-keras-convlstm-tflite-'));
beforeAll(() => {
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_conv_lstm.py'), fixtures], { stdio: 'inherit' });
}, 120_000);
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));

/** nnport's .tflite of the model run by the TFLite interpreter on inputs given in the model's order; with its op names. */
async function tfliteRun(model: GraphModel, xs: Tensor[]): Promise<{ outs: Tensor[]; ops: string[] }> {
  const file = (await convert(model, 'convlstm.tflite')).bytes;
  const ops = tfliteOpNames(file, 'convlstm.tflite');
  expect(ops).not.toContain('WHILE');
  const declared = await tflite.inputs(file);
  const byName = new Map(model.graph.inputs.map((v, i) => [v.name, xs[i]!] as const));
  const outs = await tflite.run(file, declared.map((d) => byName.get(d.name)!.toFloat32()));
  return { outs: outs.map((o) => Tensor.float32(o.shape, Float32Array.from(o.data as Float32Array))), ops };
}

/** The model with its unknown batch fixed at `batch`. */
function pinned(model: GraphModel, batch: number): GraphModel {
  const g = model.graph;
  return { ...model, graph: { ...g, inputs: g.inputs.map((v) => ({ ...v, shape: v.shape!.map((d) => (typeof d === 'number' ? d : batch)) })) } };
}

function worst(got: Tensor[], want: Tensor[], what: string): number {
  expect(got.length, what).toBe(want.length);
  return Math.max(...got.map((t, k) => (expect(t.shape, `${what} output ${k}`).toEqual(want[k]!.shape), relError(t, want[k]!))));
}

describe('Keras ConvLSTM2D -> .tflite and .pb, against TF.js running the source model', () => {
  it.each(CONV_LSTM_MODELS)('%s', async (name, make) => {
    const m = make();
    seedWeights(m, 80);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });

    // TFLite at batch 1
    const one = pinned(model, 1);
    const xs1 = one.graph.inputs.map((v, i) => randomInput(v.shape as number[], 21 + i));
    const { outs, ops } = await tfliteRun(one, xs1);
    const eTflite = worst(outs, predict(m, xs1), 'TFLite');

    // GraphDef: the batch stays dynamic, run at batch 2
    const xs2 = model.graph.inputs.map((v, i) => randomInput(v.shape!.map((d) => (typeof d === 'number' ? d : 2)), 31 + i));
    const want2 = predict(m, xs2);
    const pb = (await convert(model, 'convlstm.pb')).bytes;
    const dir = mkdtempSync(join(tmpdir(), 'nnport-convlstm-pb-'));
    try {
      writeFileSync(join(dir, 'm.pb'), pb);
      mkdirSync(join(dir, 'out'));
      const names = model.graph.outputs.map((o) => o.name.replace(/:0$/, ''));
      const c: RunCase = { id: 'convlstm', pb: join(dir, 'm.pb'), out_dir: join(dir, 'out'), sets: [{ name: 'a', inputs: model.graph.inputs.map((v, i) => ({ name: v.name, npy: writeInput(join(dir, `x${i}.npy`), xs2[i]!) })) }], outputs: names };
      const status = runOracles(dir, [c]).get('convlstm')!;
      expect(status.numpy, 'the NumPy GraphDef runner').toBe('ok');
      const eNumpy = worst(names.map((_, k) => oracleOutput(c, 'a', 'numpy', k)!), want2, 'NumPy');
      const eOpencv = status.opencv === 'ok' ? worst(names.map((_, k) => oracleOutput(c, 'a', 'opencv', k)!), want2, 'OpenCV') : undefined;
      console.log(`${name}: TFLite interpreter vs TF.js ${eTflite.toExponential(2)} (${[...new Set(ops)].join(' ')}); .pb in NumPy ${eNumpy.toExponential(2)}, OpenCV ${eOpencv?.toExponential(2) ?? status.opencv}`);
      expect(eNumpy).toBeLessThan(1e-5);
      if (eOpencv !== undefined) expect(eOpencv).toBeLessThan(1e-5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(eTflite).toBeLessThan(1e-5);
  }, 120_000);
});

describe('Keras ConvLSTM1D / 2D / 3D files (tf.keras 2.15 .h5, Keras 3 .keras) -> .tflite, against NumPy', () => {
  it.each([
    ['convlstm2d.h5', 'convlstm2d', 1, 1],
    ['convlstm-states.h5', 'convlstm-states', 3, 3],
    ['convlstm1d.h5', 'convlstm1d', 1, 1],
    ['convlstm3d.keras', 'convlstm3d-keras', 1, 1],
    ['convlstm2d.keras', 'convlstm2d-keras', 3, 3],
    ['convlstm-bidi.keras', 'convlstm-bidi-keras', 1, 1],
  ] as const)('%s', async (file, base, inputs, outputs) => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, file)));
    const model = file.endsWith('.keras') ? await readKerasV3(bytes, { fileName: file }) : await readKerasH5(bytes, { fileName: file });
    // batch 1: the first sample of NumPy's batch of 2
    const first = (t: Tensor): Tensor => Tensor.float32([1, ...t.shape.slice(1)], t.toFloat32().slice(0, t.size / t.shape[0]!));
    const load = (kind: string, n: number) => Array.from({ length: n }, (_, i) => first(npyTensor(join(fixtures, `${base}-${kind}${i}.npy`))));
    const xs = load('input', inputs);
    const { outs, ops } = await tfliteRun(pinned(model, 1), xs);
    const err = worst(outs, load('output', outputs), 'TFLite');
    console.log(`${file}: TFLite interpreter vs NumPy ${err.toExponential(2)} (${[...new Set(ops)].join(' ')})`);
    expect(err).toBeLessThan(1e-5);
  }, 120_000);
});
