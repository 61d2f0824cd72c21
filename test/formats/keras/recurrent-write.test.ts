// PyTorch nn.LSTM / nn.GRU / nn.RNN exported to ONNX (scripts/fixtures/recurrent_torch.py), written
// as Keras .h5 and TF.js layers models (LSTM / GRU / SimpleRNN / Bidirectional) and run by
// TensorFlow.js (CPU) against PyTorch's own outputs. TF.js cannot build a GRU with reset_after=True
// (every PyTorch GRU): those .h5 files are checked with NumPy (scripts/fixtures/keras_gru_numpy.py)
// computing the stored GRU from the file's config and weights, and the TF.js writer refuses them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { predict, relError, tfjsModelFromH5, tfjsModelFromJson } from './tfjs-oracle.js';
import { exportTorchRecurrent, swap01, TORCH_RECURRENT_CASES, torchRecurrentFixture, type TorchRecurrentFixture } from './torch-recurrent-fixtures.js';

const DIR = '.fixtures-cache/keras-recurrent';

beforeAll(async () => {
  await initKernels();
  exportTorchRecurrent(DIR, USED);
}, 120_000);

const fixture = (name: string): TorchRecurrentFixture => torchRecurrentFixture(DIR, name);

async function layersOf(h5: Uint8Array): Promise<{ class_name: string; config: Record<string, unknown> }[]> {
  const { openH5 } = await import('./tfjs-oracle.js');
  const { file, close } = await openH5(h5);
  try {
    return JSON.parse(String(file.attrs.model_config!.value)).config.layers;
  } finally {
    close();
  }
}

// TF.js cannot build PyTorch's GRUs (reset_after=True): NumPy checks those below
const TF_JS_CASES = TORCH_RECURRENT_CASES.filter(([name]) => !name.startsWith('gru'));

const classesOf = new Map(TORCH_RECURRENT_CASES.map(([name, , classes]) => [name, classes]));
// the GRUs, and the NumPy oracle itself against PyTorch on an LSTM / SimpleRNN TF.js also runs
const NUMPY_CASES: Array<[string, string[]]> = ['gru_bf_seq', 'gru_bf_last', 'gru_bidi_seq', 'gru2_bidi_hn', 'lstm_bidi_last', 'rnn_bidi_seq'].map((name) => [name, classesOf.get(name)!]);

const USED = [...TF_JS_CASES.map((c) => c[0]), ...NUMPY_CASES.map((c) => c[0]), 'crnn'];

describe('PyTorch recurrent models -> Keras .h5 / TF.js layers, run by TensorFlow.js against PyTorch', () => {
  it.each(TF_JS_CASES)('%s', async (name, timeMajor, classes) => {
    const f = fixture(name);
    const model = await loadModel(f.onnx, { fileName: `${name}.onnx` });
    const h5 = await convert(model, `${name}.h5`);
    const layers = await layersOf(h5.bytes);
    expect(layers.map((l) => l.class_name).filter((c) => c !== 'InputLayer')).toEqual(classes);
    const x = timeMajor ? swap01(f.input) : f.input;
    const want = timeMajor && f.output.rank === 3 ? swap01(f.output) : f.output;
    if (timeMajor) expect(h5.notes.join('\n')).toMatch(/time-major/);
    const fromH5 = predict(await tfjsModelFromH5(h5.bytes), [x])[0]!;
    expect(fromH5.shape).toEqual(want.shape);
    const errH5 = relError(fromH5, want);
    const js = await convert(model, 'model.json');
    const fromJson = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!;
    const errJson = relError(fromJson, want);
    console.log(`${name}: TF.js on the .h5 ${errH5.toExponential(2)}, on model.json ${errJson.toExponential(2)} relative to PyTorch`);
    expect(errH5).toBeLessThan(1e-4);
    expect(errJson).toBeLessThan(1e-4);
  });
});

/** Write the .h5 to a temporary file and run a committed Python script on it. */
function python(script: string, h5: Uint8Array, stdin?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kerasw-'));
  try {
    const file = join(dir, 'model.h5');
    writeFileSync(file, h5);
    return execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures', script), file], { input: stdin ?? '', maxBuffer: 64 << 20 }).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** NumPy running the .h5's own config and weights (keras_recurrent_numpy.py): its first output. */
function numpyRun(h5: Uint8Array, x: Tensor): Tensor {
  const out = JSON.parse(python('keras_recurrent_numpy.py', h5, JSON.stringify({ inputs: [Array.from(x.toFloat32())], shapes: [x.shape] }))) as { outputs: { shape: number[]; data: number[] }[] };
  return Tensor.float32(out.outputs[0]!.shape, out.outputs[0]!.data);
}


describe('a CRNN (Conv2d -> view / permute to time-major -> bidirectional LSTM -> Linear) through the layout pass', () => {
  it('crnn: TF.js on the .h5 and model.json against PyTorch', async () => {
    const f = fixture('crnn');
    const model = await loadModel(f.onnx, { fileName: 'crnn.onnx' });
    const h5 = await convert(model, 'crnn.h5');
    const layers = (await layersOf(h5.bytes)).map((l) => l.class_name);
    expect(layers).toContain('Conv2D');
    expect(layers).toContain('Bidirectional');
    // NCHW [2, 1, 4, 7] -> the Keras input NHWC; the time-major [7, 2, 5] output -> batch-major
    const x = permute(f.input, [0, 2, 3, 1]);
    const want = swap01(f.output);
    const fromH5 = predict(await tfjsModelFromH5(h5.bytes), [x])[0]!;
    const js = await convert(model, 'model.json');
    const fromJson = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!;
    expect(fromH5.shape).toEqual(want.shape);
    const [errH5, errJson] = [relError(fromH5, want), relError(fromJson, want)];
    console.log(`crnn: TF.js on the .h5 ${errH5.toExponential(2)}, on model.json ${errJson.toExponential(2)} relative to PyTorch`);
    expect(errH5).toBeLessThan(1e-4);
    expect(errJson).toBeLessThan(1e-4);
  });
});

describe('PyTorch GRUs (reset_after=True) -> Keras .h5, run by NumPy from the file against PyTorch', () => {
  it.each(NUMPY_CASES)('%s', async (name, classes) => {
    const f = fixture(name);
    const model = await loadModel(f.onnx, { fileName: `${name}.onnx` });
    const { bytes } = await convert(model, `${name}.h5`);
    // what h5py sees: the config as JSON, weight names as tf.keras 2.15 writes them
    const layout = JSON.parse(python('h5_layout.py', bytes)) as { model_config: { config: { layers: { class_name: string; name: string; config: Record<string, unknown> }[] } }; weight_names: Record<string, string[]>; datasets: Record<string, number[]> };
    const layers = layout.model_config.config.layers.filter((l) => l.class_name !== 'InputLayer');
    expect(layers.map((l) => l.class_name)).toEqual(classes);
    const rnn = layers[0]!;
    const inner = rnn.class_name === 'Bidirectional' ? ((rnn.config.layer as { config: Record<string, unknown> }).config) : rnn.config;
    const cell = name.startsWith('gru') ? 'gru' : name.startsWith('lstm') ? 'lstm' : 'simple_rnn';
    const names = layout.weight_names[rnn.name]!;
    if (rnn.class_name === 'Bidirectional') {
      expect(names).toEqual(['forward', 'backward'].flatMap((d) => ['kernel', 'recurrent_kernel', 'bias'].map((r) => `${rnn.name}/${d}_${cell}/${cell}_cell/${r}:0`)));
    } else {
      expect(names).toEqual(['kernel', 'recurrent_kernel', 'bias'].map((r) => `${rnn.name}/${cell}_cell/${r}:0`));
    }
    if (cell === 'gru') {
      expect(inner.reset_after).toBe(true);
      const units = inner.units as number;
      expect(layout.datasets[names[2]!.replace(/^/, `${rnn.name}/`)]).toEqual([2, 3 * units]);
    }
    // and nnport reads its own file back (tf.keras 2.x weight names with the cell's group)
    const back = await loadModel(bytes, { fileName: `${name}.h5` });
    expect(back.kind).toBe('graph');
    const g = (back as Extract<typeof back, { kind: 'graph' }>).graph;
    const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, f.input]]));
    expect(relError(outputs.get(g.outputs[0]!.name)!, f.output)).toBeLessThan(1e-4);
    const got = numpyRun(bytes, f.input);
    expect(got.shape).toEqual(f.output.shape);
    const err = relError(got, f.output);
    console.log(`${name}: NumPy on the .h5 ${err.toExponential(2)} relative to PyTorch`);
    expect(err).toBeLessThan(1e-4);
  });
});
