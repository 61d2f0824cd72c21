// Keras LSTM / GRU / SimpleRNN / Bidirectional read as ONNX LSTM / GRU / RNN, against TensorFlow.js
// (CPU backend) running the same file's config and stored weights: the corpus files (frugally-deep's
// multi-input LSTM model: return_sequences / return_state, relu and hard_sigmoid gates, Bidirectional
// concat, initial states from inputs; a GRU with reset_after and an initial state) and models
// built here in TF.js (GRU reset_after false, SimpleRNN, go_backwards, Bidirectional sum / ave / mul).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/index.js';
import { parseModelConfig } from '../../../src/formats/keras/config.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, loadModel } from '../../../src/index.js';
import { writeZip, ZipReader } from '../../../src/io/zip.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { openH5, predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';
import { ortFirst, ortRun } from '../../support/ort.js';

const bytes = (rel: string) => new Uint8Array(readFileSync(corpusPath(rel)));

/** Concrete input shapes: unknown batch -> 2, unknown time -> 5. */
const concrete = (g: Graph): number[][] => g.inputs.map((v) => v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 2 : 5)));

async function compare(g: Graph, oracle: tf.LayersModel, seed: number, onnx?: Uint8Array): Promise<number> {
  const xs = concrete(g).map((s, i) => randomInput(s, seed + i));
  const want = predict(oracle, xs);
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
  expect(g.outputs.length).toBe(want.length);
  let worst = 0;
  g.outputs.forEach((o, k) => {
    const got = outputs.get(o.name)!;
    expect(got.shape, o.name).toEqual(want[k]!.shape);
    worst = Math.max(worst, relError(got, want[k]!));
  });
  if (onnx) {
    const res = await ortRun(onnx, xs.map((x) => Tensor.float32([...x.shape], x.toFloat32())));
    [...res.values()].forEach((t, k) => {
      worst = Math.max(worst, relError(t, want[k]!));
    });
  }
  return worst;
}

/** A .keras archive run by NumPy from its own config.json and model.weights.h5 (scripts/fixtures/keras_recurrent_numpy.py): every output. */
function keras3Numpy(archive: Uint8Array, xs: Tensor[]): Tensor[] {
  const file = join(mkdtempSync(join(tmpdir(), 'nnport-k3-')), 'model.keras');
  writeFileSync(file, archive);
  const out = execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_recurrent_numpy.py', file], {
    cwd: REPO_ROOT,
    input: JSON.stringify({ inputs: xs.map((x) => Array.from(x.toFloat32())), shapes: xs.map((x) => x.shape) }),
    maxBuffer: 64 << 20,
  });
  return (JSON.parse(out.toString()) as { outputs: { shape: number[]; data: number[] }[] }).outputs.map((o) => Tensor.float32(o.shape, o.data));
}

interface Keras3Layer { class_name: string; inbound_nodes: { args: unknown[]; kwargs: Record<string, unknown> }[]; build_config?: Record<string, unknown> }
const keras3Config = (archive: Uint8Array): { config: { layers: Keras3Layer[] } } => JSON.parse(new TextDecoder().decode(ZipReader.open(archive).read('config.json')));

describe('Keras recurrent layers against TensorFlow.js', () => {
  it('keras-h5/fdeep-lstm-multiinput-functional/lstm.h5: every output', async () => {
    const file = 'keras-h5/fdeep-lstm-multiinput-functional/lstm.h5';
    const model = await readKerasH5(bytes(file), { fileName: file });
    expect(model.graph.nodes.filter((n) => n.opType === 'LSTM').length).toBe(15);
    const { bytes: onnx } = await convert(model, 'm.onnx');
    const err = await compare(model.graph, await tfjsModelFromH5(bytes(file)), 7, onnx);
    console.log(`${file}: nnport and onnxruntime vs TF.js ${err.toExponential(2)} relative`);
    expect(err).toBeLessThan(1e-5);
  });

  it('keras-h5/fdeep-lstm-multiinput-functional/lstm.h5 written back (.h5, TF.js; hard_sigmoid, relu, initial_state): TF.js runs it as it runs the file', async () => {
    const file = 'keras-h5/fdeep-lstm-multiinput-functional/lstm.h5';
    const model = await readKerasH5(bytes(file), { fileName: file });
    const oracle = await tfjsModelFromH5(bytes(file));
    const xs = concrete(model.graph).map((s, i) => randomInput(s, 31 + i));
    const want = predict(oracle, xs);
    const h5 = (await convert(model, 'lstm.h5')).bytes;
    const json = await convert(model, 'web/model.json');
    for (const written of [await tfjsModelFromH5(h5), await tfjsModelFromJson(json.bytes, (n) => json.sidecars.get(n)!)]) {
      const got = predict(written, xs);
      expect(got.length).toBe(want.length);
      got.forEach((y, k) => expect(relError(y, want[k]!), `output ${k}`).toBeLessThan(1e-5));
    }
    // Keras 3 (no TF.js for it): the archive run by NumPy from its config.json and model.weights.h5, the
    // initial states as the `initial_state` keyword of each call (Keras 3's hard_sigmoid is another
    // function: the gates' weights are scaled for it, recurrent-hard-sigmoid.test.ts)
    const archive = (await convert(model, 'lstm.keras')).bytes;
    const k3 = keras3Numpy(archive, xs);
    expect(k3.length).toBe(want.length);
    k3.forEach((y, k) => expect(relError(y, want[k]!), `.keras output ${k}`).toBeLessThan(1e-5));
    const config = keras3Config(archive);
    const fed = config.config.layers.filter((l) => l.inbound_nodes.some((n) => n.kwargs.initial_state));
    expect(fed.map((l) => l.class_name)).toEqual(['LSTM']);
    for (const l of fed) expect(Object.keys(l.build_config!)).toEqual(['shapes_dict']);
  });

  const built: Array<[string, () => tf.LayersModel]> = [
    ['GRU reset_after=false, return_sequences', () => tf.sequential({ layers: [tf.layers.gru({ units: 4, returnSequences: true, resetAfter: false, inputShape: [6, 3] } as never)] })],
    ['GRU go_backwards, last output', () => tf.sequential({ layers: [tf.layers.gru({ units: 5, goBackwards: true, inputShape: [6, 3] })] })],
    ['SimpleRNN relu, return_sequences, go_backwards', () => tf.sequential({ layers: [tf.layers.simpleRNN({ units: 4, activation: 'relu', returnSequences: true, goBackwards: true, inputShape: [5, 2] })] })],
    ['LSTM without bias, return_state', () => {
      const x = tf.input({ shape: [4, 3] });
      const outs = tf.layers.lstm({ units: 3, useBias: false, returnState: true }).apply(x) as tf.SymbolicTensor[];
      return tf.model({ inputs: x, outputs: outs });
    }],
    ...(['sum', 'ave', 'mul', 'concat'] as const).map((mode): [string, () => tf.LayersModel] => [`Bidirectional(GRU) merge_mode ${mode}, return_sequences`, () => tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, returnSequences: true }) as never, mergeMode: mode, inputShape: [5, 2] })] })]),
    ['Bidirectional(SimpleRNN) concat, last output', () => tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 3 }) as never, inputShape: [5, 2] })] })],
  ];
  it.each(built)('%s (TF.js model.json)', async (_name, make) => {
    const m = make();
    // weights away from the initializers' orthogonal / zero values
    m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', 40 + i), 0.7)));
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const oracle = await tfjsModelFromJson(json, () => shard);
    const { bytes: onnx } = await convert(model, 'm.onnx');
    expect(await compare(model.graph, oracle, 11, onnx)).toBeLessThan(1e-5);
  });

  // (Embedding mask_zero=True and Masking before these layers: masking.test.ts)

  // TF.js's GRUCell refuses reset_after=True (TF2's default): NumPy computes Keras' formulas instead
  it('keras-h5/fdeep-gru-initial-state-tfkeras/temp_stateless.h5 (GRU reset_after, linear, initial state) against NumPy', async () => {
    const file = 'keras-h5/fdeep-gru-initial-state-tfkeras/temp_stateless.h5';
    const model = await readKerasH5(bytes(file), { fileName: file });
    const gru = model.graph.nodes.find((n) => n.opType === 'GRU')!;
    expect(gru.attrs.linear_before_reset).toEqual({ type: 'int', value: 1 });
    const g = model.graph;
    const xs = concrete(g).map((s, i) => randomInput(s, 21 + i));
    const out = execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_gru_numpy.py', corpusPath(file)], {
      cwd: REPO_ROOT,
      input: JSON.stringify({ inputs: xs.map((x) => Array.from(x.toFloat32())), shapes: xs.map((x) => x.shape) }),
    });
    const golden = JSON.parse(out.toString()) as { shape: number[]; data: number[] };
    const want = Tensor.float32(golden.shape, golden.data);
    const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
    const got = outputs.get(g.outputs[0]!.name)!;
    expect(got.shape).toEqual(golden.shape);
    expect(relError(got, want)).toBeLessThan(1e-5);
    // written back as .h5 (GRU with initial_state), run by the same NumPy implementation
    const h5 = (await convert(model, 'gru.h5')).bytes;
    const tmp = join(mkdtempSync(join(tmpdir(), 'nnport-gru-')), 'gru.h5');
    writeFileSync(tmp, h5);
    const again = JSON.parse(execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_gru_numpy.py', tmp], { cwd: REPO_ROOT, input: JSON.stringify({ inputs: xs.map((x) => Array.from(x.toFloat32())), shapes: xs.map((x) => x.shape) }) }).toString()) as { shape: number[]; data: number[] };
    expect(again.shape).toEqual(golden.shape);
    expect(relError(Tensor.float32(again.shape, again.data), want)).toBeLessThan(1e-5);
    const { bytes: onnx } = await convert(model, 'gru.onnx');
    const y = await ortFirst(onnx, xs.map((x) => Tensor.float32([...x.shape], x.toFloat32())));
    expect(relError(Tensor.float32(golden.shape, y.toFloat32()), want)).toBeLessThan(1e-5);
    // and as a Keras 3 archive: the initial state is the GRU call's `initial_state` keyword
    const archive = (await convert(model, 'gru.keras')).bytes;
    const [k3] = keras3Numpy(archive, xs);
    expect(k3!.shape).toEqual(golden.shape);
    expect(relError(k3!, want)).toBeLessThan(1e-5);
    const back = (await readKerasV3(archive, { fileName: 'gru.keras' })).graph;
    const ours = (await runGraph(back, new Map(back.inputs.map((v, i) => [v.name, xs[i]!] as const)))).outputs.get(back.outputs[0]!.name)!;
    expect(relError(ours, want)).toBeLessThan(1e-5);
  });
});

describe('call keywords that hold tensors', () => {
  const file = 'keras-h5/fdeep-gru-initial-state-tfkeras/temp_stateless.h5';
  /** The GRU archive with its call's keyword arguments replaced by `kwargs`. */
  async function withKwargs(kwargs: (state: unknown) => Record<string, unknown>): Promise<Uint8Array> {
    const archive = (await convert(await readKerasH5(bytes(file), { fileName: file }), 'gru.keras')).bytes;
    const zip = ZipReader.open(archive);
    const config = keras3Config(archive);
    const gru = config.config.layers.find((l) => l.class_name === 'GRU')!;
    const node = gru.inbound_nodes[0]!;
    node.kwargs = kwargs((node.kwargs.initial_state as unknown[])[0]);
    return writeZip([...zip.entries.keys()].map((n) => ({ name: n, data: n === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : zip.read(n) })));
  }

  it("Keras 3: the state as a positional argument reads as the keyword does; a 'mask' tensor is refused, not dropped", async () => {
    const g = (await readKerasV3(await withKwargs(() => ({})), { fileName: 'none.keras' })).graph;
    // no keyword: the GRU starts from zeros (Unsqueeze of the state input is not made)
    expect(g.nodes.find((n) => n.opType === 'GRU')!.inputs.slice(5).filter(Boolean)).toEqual([]);
    const fed = (await readKerasV3(await withKwargs((s) => ({ initial_state: [s], training: false })), { fileName: 'fed.keras' })).graph;
    expect(fed.nodes.find((n) => n.opType === 'GRU')!.inputs[5]).toBeTruthy();
    await expect(loadModel(await withKwargs((s) => ({ mask: s })), { fileName: 'mask.keras' })).rejects.toThrow(/unsupported: Keras call argument 'mask' given a tensor: layer 'gru_gru' \(GRU\) in mask\.keras/);
  });

  it("Keras 2: a tensor among an input's keyword arguments is refused by name", async () => {
    const { file: h5, close } = await openH5(bytes(file));
    let config: { config: { layers: { class_name: string; inbound_nodes: unknown[][][] }[] } };
    try {
      config = JSON.parse(String(h5.attrs.model_config!.value));
    } finally {
      close();
    }
    expect(() => parseModelConfig(config as never, 'gru.h5')).not.toThrow();
    const gru = config.config.layers.find((l) => l.class_name === 'GRU')!;
    const first = gru.inbound_nodes[0]![0]!;
    gru.inbound_nodes[0]![0] = [first[0], first[1], first[2], { mask: ['input_2', 0, 0] }];
    expect(() => parseModelConfig(config as never, 'gru.h5')).toThrow(/unsupported: Keras call argument 'mask' given a tensor: layer 'gru' \(GRU\) in gru\.h5/);
  });
});
