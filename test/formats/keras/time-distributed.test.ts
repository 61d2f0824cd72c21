// Keras TimeDistributed read from TF.js layers models (model.json), Keras 2 .h5 and Keras 3 .keras
// files. Oracles: TensorFlow.js (4.9, CPU backend) building the models itself or running the .h5's
// own config and weights; NumPy (scripts/fixtures/keras_time_distributed.py, h5py: the .h5 and the
// .keras archive, written by hand as tf.keras 2.15 and Keras 3 lay them out, read back and computed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/index.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ortFirst } from '../../support/ort.js';
import { npyTensor } from '../tensorflow/helpers.js';
import { nnportRun, predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights, td, TD_MODELS } from './time-distributed-models.js';

const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/keras_time_distributed.py');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-td-'));
const fix = (f: string): string => join(tmp, f);

beforeAll(async () => {
  execFileSync('/usr/bin/python3', [SCRIPT, 'write', tmp], { stdio: 'inherit' });
  await initKernels();
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** NumPy (h5py) computing a .h5 / .keras file from its own config and stored weights. */
export function numpyRun(file: Uint8Array, name: string, x: Tensor): Tensor {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-keras-td-run-'));
  try {
    writeFileSync(join(dir, name), file);
    const input = JSON.stringify({ inputs: [Array.from(x.toFloat32())], shapes: [x.shape] });
    const out = JSON.parse(execFileSync('/usr/bin/python3', [SCRIPT, 'run', join(dir, name)], { input, maxBuffer: 64 << 20 }).toString()) as { outputs: { shape: number[]; data: number[] }[] };
    return Tensor.float32(out.outputs[0]!.shape, out.outputs[0]!.data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Concrete input shapes: unknown batch -> 3, unknown time (and frame size) -> 4 (7). */
const concrete = (g: Graph): number[][] => g.inputs.map((v) => v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 3 : i === 1 ? 4 : 7)));

describe('Keras TimeDistributed against TensorFlow.js', () => {
  it.each(TD_MODELS)('%s (TF.js model.json; and as .onnx in onnxruntime)', async (_name, make) => {
    const m = make();
    seedWeights(m, 100);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const oracle = await tfjsModelFromJson(json, () => shard);
    const xs = concrete(model.graph).map((s, i) => randomInput(s, 5 + i));
    const want = predict(oracle, xs);
    const got = await nnportRun(model.graph, xs);
    expect(got[0]!.shape).toEqual(want[0]!.shape);
    const err = relError(got[0]!, want[0]!);
    // the .onnx (channels-first after the layout pass) run by onnxruntime-node
    const errOrt = relError(await ortFirst((await convert(model, 'td.onnx')).bytes, xs), want[0]!);
    console.log(`${_name}: nnport vs TF.js ${err.toExponential(2)}, its .onnx in onnxruntime vs TF.js ${errOrt.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    expect(errOrt).toBeLessThan(1e-5);
  });
});

describe('Keras TimeDistributed files written by hand (tf.keras 2.15 .h5, Keras 3 .keras)', () => {
  it('td-video.h5: nnport equals TF.js running the file and NumPy', async () => {
    const bytes = new Uint8Array(readFileSync(fix('td-video.h5')));
    const model = await readKerasH5(bytes, { fileName: 'td-video.h5' });
    const x = npyTensor(fix('td-input.npy'));
    const [got] = await nnportRun(model.graph, [x]);
    const tfjs = predict(await tfjsModelFromH5(bytes), [x])[0]!;
    const np = npyTensor(fix('td-numpy.npy'));
    const errTfjs = relError(got!, tfjs);
    const errNumpy = relError(got!, np);
    console.log(`td-video.h5: nnport vs TF.js ${errTfjs.toExponential(2)}, vs NumPy ${errNumpy.toExponential(2)}; TF.js vs NumPy ${relError(tfjs, np).toExponential(2)}`);
    expect(got!.shape).toEqual([2, 4]);
    expect(errTfjs).toBeLessThan(1e-5);
    expect(errNumpy).toBeLessThan(1e-5);
  });

  it('td-video.keras (vars at layers/time_distributed/layer/vars): nnport equals NumPy', async () => {
    const bytes = new Uint8Array(readFileSync(fix('td-video.keras')));
    const model = await readKerasV3(bytes, { fileName: 'td-video.keras' });
    const x = npyTensor(fix('td-input.npy'));
    const [got] = await nnportRun(model.graph, [x]);
    const np = npyTensor(fix('td-numpy.npy'));
    const err = relError(got!, np);
    console.log(`td-video.keras: nnport vs NumPy ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    expect(relError(numpyRun(bytes, 'td-video.keras', x), np)).toBeLessThan(1e-6);
  });
});

describe('Keras TimeDistributed: bad or unsupported configs are refused naming the layer', () => {
  /** A TF.js TD(Dense) model.json whose wrapper config is edited by `edit`. */
  async function edited(edit: (cfg: Record<string, unknown>) => void): Promise<unknown> {
    const m = tf.sequential({ layers: [td(tf.layers.dense({ units: 2 }), { inputShape: [3, 4], name: 'frames' })] });
    const { json, shard } = await tfjsRoundTrip(m);
    const j = JSON.parse(new TextDecoder().decode(json));
    const layer = j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'TimeDistributed');
    edit(layer.config);
    return readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard });
  }

  it('no wrapped layer: a FormatError', async () => {
    await expect(edited((c) => delete c.layer)).rejects.toThrow(/model\.json: layer 'frames' \(TimeDistributed\) has no wrapped layer/);
    await expect(edited((c) => (c.layer = { class_name: 'Dense' }))).rejects.toThrow(/model\.json: layer 'frames' \(TimeDistributed\): the wrapped layer has no class_name or config/);
  });

  it('an unknown (custom) wrapped class, a nested model, Bidirectional: UnsupportedError by name', async () => {
    await expect(edited((c) => ((c.layer as { class_name: string }).class_name = 'MyFrameLayer'))).rejects.toThrow(/TimeDistributed around layer class 'MyFrameLayer'.*layer 'frames'/);
    await expect(edited((c) => (c.layer = { class_name: 'Sequential', config: { name: 's', layers: [] } }))).rejects.toThrow(/TimeDistributed around a nested Sequential model.*layer 'frames'/);
    await expect(edited((c) => (c.layer = { class_name: 'Bidirectional', config: { name: 'b', layer: { class_name: 'LSTM', config: { units: 2 } } } }))).rejects.toThrow(/TimeDistributed around Bidirectional.*layer 'frames'/);
  });

  it('an input of rank 2: a FormatError', async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] }), tf.layers.reshape({ targetShape: [3, 1] }), td(tf.layers.dense({ units: 2 }), { name: 'frames' })] });
    const { json, shard } = await tfjsRoundTrip(m);
    const j = JSON.parse(new TextDecoder().decode(json));
    // the wrapper now reads the rank-2 Dense output directly
    const layers = j.modelTopology.config.layers;
    layers.splice(1, 1);
    await expect(readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'model.json', readSibling: async () => shard })).rejects.toThrow(/model\.json: layer 'frames' \(TimeDistributed\) needs an input of rank 3/);
  });
});

describe('Keras TimeDistributed models written back (.h5, TF.js model.json, .keras)', () => {
  it.each(TD_MODELS)('%s: TF.js runs the written .h5 and model.json as it runs the source', async (_name, make) => {
    const m = make();
    seedWeights(m, 300);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const xs = concrete(model.graph).map((s, i) => randomInput(s, 9 + i));
    const want = predict(m, xs)[0]!;
    const h5 = (await convert(model, 'td.h5')).bytes;
    const web = await convert(model, 'web/model.json');
    const written = [['.h5', await tfjsModelFromH5(h5)], ['model.json', await tfjsModelFromJson(web.bytes, (p) => web.sidecars.get(p)!)]] as const;
    for (const [what, w] of written) {
      const got = predict(w, xs)[0]!;
      const err = relError(got, want);
      console.log(`${_name} -> ${what}: TF.js on the written file vs TF.js on the source ${err.toExponential(2)}`);
      expect(got.shape).toEqual(want.shape);
      expect(err).toBeLessThan(1e-5);
    }
  });
});

describe('Keras TimeDistributed models written as Keras 3 .keras: NumPy computes the archive (vars at layers/<group>/layer/vars)', () => {
  it('td-video.h5 -> .keras: NumPy on the archive equals NumPy on the source arrays', async () => {
    const model = await readKerasH5(new Uint8Array(readFileSync(fix('td-video.h5'))), { fileName: 'td-video.h5' });
    const { bytes } = await convert(model, 'td-video.keras');
    const x = npyTensor(fix('td-input.npy'));
    const err = relError(numpyRun(bytes, 'written.keras', x), npyTensor(fix('td-numpy.npy')));
    console.log(`td-video.h5 -> .keras: NumPy on the written archive vs NumPy on the source ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    const config = JSON.parse(new TextDecoder().decode(zipEntry(bytes, 'config.json'))) as { config: { layers: { class_name: string; config: { layer?: { module: string; class_name: string; registered_name: null } } }[] } };
    const wrapped = config.config.layers.filter((l) => l.class_name === 'TimeDistributed').map((l) => l.config.layer!);
    expect(wrapped.map((l) => l.class_name)).toEqual(expect.arrayContaining(['Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Flatten']));
    for (const l of wrapped) expect([l.module, l.registered_name]).toEqual(['keras.layers', null]);
  });

  it('the TF.js video classifier -> .keras: NumPy on the archive equals TF.js on the source', async () => {
    const m = TD_MODELS[0]![1]();
    seedWeights(m, 500);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const { bytes } = await convert(model, 'video.keras');
    const x = randomInput([2, 5, 8, 8, 2], 17);
    const err = relError(numpyRun(bytes, 'video.keras', x), predict(m, [x])[0]!);
    console.log(`TF.js video classifier -> .keras: NumPy on the archive vs TF.js ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('unknown time and frame size -> .keras: NumPy on the archive equals TF.js on the source', async () => {
    const m = TD_MODELS.find(([n]) => n.startsWith('unknown time and frame size'))![1]();
    seedWeights(m, 600);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const { bytes } = await convert(model, 'frames.keras');
    const config = JSON.parse(new TextDecoder().decode(zipEntry(bytes, 'config.json'))) as { config: { layers: { class_name: string; config: { batch_shape?: unknown } }[] } };
    expect(config.config.layers[0]!.config.batch_shape).toEqual([null, null, null, null, 2]);
    const x = randomInput([2, 3, 7, 6, 2], 19);
    const err = relError(numpyRun(bytes, 'frames.keras', x), predict(m, [x])[0]!);
    console.log(`unknown time and frame size -> .keras: NumPy on the archive vs TF.js ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});

describe('channels-last features read by a recurrent layer, lowered to ONNX', () => {
  it('a Keras CRNN without TimeDistributed (Conv2D -> Reshape -> LSTM) as .onnx: onnxruntime loads it (LSTM layout 0) and equals TF.js', async () => {
    const m = tf.sequential({ layers: [tf.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [8, 6, 1] }), tf.layers.reshape({ targetShape: [6, 12] }), tf.layers.lstm({ units: 3 })] });
    seedWeights(m, 800);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const x = randomInput([2, 8, 6, 1], 23);
    // the layout pass used to absorb the Transpose before the LSTM into layout=1, which onnxruntime has no kernel for
    const err = relError(await ortFirst((await convert(model, 'crnn.onnx')).bytes, [x]), predict(m, [x])[0]!);
    console.log(`Keras CRNN -> .onnx: onnxruntime vs TF.js ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});

/** One stored entry of a zip (what writeZip makes): its bytes. */
function zipEntry(zip: Uint8Array, name: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-keras-td-zip-'));
  try {
    writeFileSync(join(dir, 'a.zip'), zip);
    return new Uint8Array(execFileSync('/usr/bin/python3', ['-c', 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', join(dir, 'a.zip'), name]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
