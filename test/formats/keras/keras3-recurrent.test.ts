// PyTorch nn.LSTM / nn.GRU / nn.RNN exported to ONNX (scripts/fixtures/recurrent_torch.py) and
// ONNX recurrent forms PyTorch does not export (GRU linear_before_reset=0, direction reverse),
// written as Keras 3 `.keras` archives. No TensorFlow / Keras here: the oracles are Python's
// zipfile (testzip) and json, h5py reading model.weights.h5 where Keras 3's saving_lib puts a
// recurrent layer's weights (layers/<group>/cell/vars, Bidirectional's forward_layer /
// backward_layer), and NumPy computing the model from the archive's own config.json and weights
// (scripts/fixtures/keras_recurrent_numpy.py) against PyTorch; nnport reads its archive back and
// runs it against onnxruntime-node on the source ONNX.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { exportMissingRecurrentFixtures, recurrentFixture } from '../tflite/recurrent-fixtures.js';
import { randomInput, relError } from './tfjs-oracle.js';
import { exportTorchRecurrent, swap01, TORCH_RECURRENT_CASES, torchRecurrentFixture, type TorchRecurrentFixture } from './torch-recurrent-fixtures.js';
import { ortFirst } from '../../support/ort.js';

// a cache of its own: recurrent-write.test.ts may be exporting into .fixtures-cache/keras-recurrent at the same time
const DIR = '.fixtures-cache/keras3-recurrent';

type JsonObject = Record<string, unknown>;
interface LayerJson {
  module: string;
  class_name: string;
  name: string;
  config: JsonObject;
  registered_name: unknown;
  build_config?: { input_shape: unknown };
}
interface Layout {
  entries: string[];
  metadata: { keras_version: string };
  config: { class_name: string; config: { layers: LayerJson[] } };
  datasets: Record<string, number[]>;
  names: Record<string, string>;
}

const CASES = TORCH_RECURRENT_CASES;
const USED = [...CASES.map((c) => c[0]), 'crnn'];

beforeAll(async () => {
  await initKernels();
  exportTorchRecurrent(DIR, USED);
}, 120_000);

const fixture = (name: string): TorchRecurrentFixture => torchRecurrentFixture(DIR, name);

/** NumPy (h5py) on the archive: the model's first output (all in `ys`) and what the archive holds. */
function numpyRun(archive: Uint8Array, x: Tensor): { y: Tensor; ys: Tensor[]; layout: Layout } {
  const dir = mkdtempSync(join(tmpdir(), 'keras3-'));
  try {
    const file = join(dir, 'model.keras');
    writeFileSync(file, archive);
    const input = JSON.stringify({ inputs: [Array.from(x.toFloat32())], shapes: [x.shape] });
    const out = JSON.parse(execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_recurrent_numpy.py'), '--layout', file], { input, maxBuffer: 64 << 20 }).toString()) as { outputs: { shape: number[]; data: number[] }[]; layout: Layout };
    const ys = out.outputs.map((o) => Tensor.float32(o.shape, o.data));
    return { y: ys[0]!, ys, layout: out.layout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ortRun = (onnx: Uint8Array, x: Tensor): Promise<Tensor> => ortFirst(onnx, [Tensor.float32([...x.shape], x.toFloat32())]);

/** nnport reads the archive back and runs it on the Keras (batch-major) input: its first output. */
async function nnportRun(archive: Uint8Array, x: Tensor): Promise<Tensor> {
  return (await nnportRunAll(archive, x))[0]!;
}

async function nnportRunAll(archive: Uint8Array, x: Tensor): Promise<Tensor[]> {
  const back = await loadModel(archive, { fileName: 'model.keras' });
  if (back.kind !== 'graph') throw new Error('not a graph');
  expect(back.format).toBe('keras-v3');
  const { outputs } = await runGraph(back.graph, new Map([[back.graph.inputs[0]!.name, x]]));
  return back.graph.outputs.map((o) => outputs.get(o.name)!);
}

const CELL: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };
const GATES: Record<string, number> = { LSTM: 4, GRU: 3, SimpleRNN: 1 };
const SNAKE: Record<string, string> = { LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'simple_rnn', Bidirectional: 'bidirectional' };

/** Keras 3's keys of an LSTM / GRU / SimpleRNN config (keras/src/layers/rnn: Layer + RNN + the cell's get_config). */
function expectKeras3RnnConfig(cls: string, c: JsonObject): void {
  for (const k of ['name', 'trainable', 'dtype', 'return_sequences', 'return_state', 'go_backwards', 'stateful', 'unroll', 'zero_output_for_mask', 'units', 'activation', 'use_bias', 'dropout', 'recurrent_dropout']) expect(c, k).toHaveProperty(k);
  // not arguments of Keras 3's layers: a ValueError (unrecognized keyword) on load
  expect(c).not.toHaveProperty('time_major');
  if (cls === 'SimpleRNN') expect(c).not.toHaveProperty('implementation');
  if (cls !== 'SimpleRNN') expect(c).toHaveProperty('recurrent_activation');
  if (cls === 'GRU') expect(c.reset_after).toBe(true);
  if (cls === 'LSTM') expect(c.unit_forget_bias).toBe(false);
}

/** Where Keras 3 puts the layer's weights, with Keras' shapes (kernel [I, G·U], recurrent [U, G·U], bias [G·U] or GRU [2, 3U]). */
function expectKeras3Weights(layout: Layout, group: string, l: LayerJson, inputFeatures: number): void {
  const bidi = l.class_name === 'Bidirectional';
  const inner = bidi ? (l.config.layer as LayerJson) : l;
  const cls = inner.class_name;
  const units = inner.config.units as number;
  const G = GATES[cls]!;
  const bias = cls === 'GRU' ? [2, G * units] : [G * units];
  const cells = bidi ? ['forward_layer/cell', 'backward_layer/cell'] : ['cell'];
  const want: Record<string, number[]> = {};
  for (const c of cells) Object.assign(want, { [`${group}/${c}/vars/0`]: [inputFeatures, G * units], [`${group}/${c}/vars/1`]: [units, G * units], [`${group}/${c}/vars/2`]: bias });
  const got = Object.fromEntries(Object.entries(layout.datasets).filter(([p]) => p.startsWith(`${group}/`)));
  expect(got).toEqual(want);
  expect(layout.names[`${group}/vars`]).toBe(l.name);
  for (const c of cells) expect(layout.names[`${group}/${c}/vars`]).toBe(CELL[cls]);
  if (bidi) {
    const base = (l.config.layer as LayerJson).config.name as string;
    expect(base).toMatch(/^forward_/);
    expect(layout.names[`${group}/forward_layer/vars`]).toBe(base);
    expect(layout.names[`${group}/backward_layer/vars`]).toBe(base.replace(/^forward_/, 'backward_'));
  }
}

describe('PyTorch recurrent models -> Keras 3 .keras: h5py + NumPy on the archive against PyTorch; nnport reads it back against onnxruntime', () => {
  it.each(CASES)('%s', async (name, timeMajor, classes) => {
    const f = fixture(name);
    const model = await loadModel(f.onnx, { fileName: `${name}.onnx` });
    const { bytes } = await convert(model, `${name}.keras`);
    const x = timeMajor ? swap01(f.input) : f.input;
    const want = timeMajor && f.output.rank === 3 ? swap01(f.output) : f.output;
    const { y, layout } = numpyRun(bytes, x);

    expect(layout.entries).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
    expect(layout.metadata.keras_version).toMatch(/^3\./);
    const layers = layout.config.config.layers.filter((l) => l.class_name !== 'InputLayer');
    expect(layers.map((l) => l.class_name)).toEqual(classes);
    const seen = new Map<string, number>();
    for (const l of layout.config.config.layers) {
      const base = l.class_name === 'InputLayer' ? 'input_layer' : SNAKE[l.class_name];
      const n = base ? seen.get(base) : undefined;
      if (base) seen.set(base, (n ?? -1) + 1);
      if (!base || !['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional'].includes(l.class_name)) continue;
      expect(l.module).toBe('keras.layers');
      expect(l.registered_name).toBeNull();
      const inputShape = l.build_config!.input_shape as (number | null)[];
      expect(inputShape).toHaveLength(3);
      if (l.class_name === 'Bidirectional') {
        const fwd = l.config.layer as LayerJson;
        const bwd = l.config.backward_layer as LayerJson;
        expect(l.config.merge_mode).toBe('concat');
        expect([fwd.module, bwd.module, fwd.class_name]).toEqual(['keras.layers', 'keras.layers', bwd.class_name]);
        expectKeras3RnnConfig(fwd.class_name, fwd.config);
        expectKeras3RnnConfig(bwd.class_name, bwd.config);
        expect([fwd.config.go_backwards, bwd.config.go_backwards]).toEqual([false, true]);
        expect(bwd.config.name).toBe(String(fwd.config.name).replace(/^forward_/, 'backward_'));
        // Bidirectional forces zero_output_for_mask = return_sequences on both
        expect(fwd.config.zero_output_for_mask).toBe(fwd.config.return_sequences);
        expect({ ...bwd.config, name: 0, go_backwards: 0 }).toEqual({ ...fwd.config, name: 0, go_backwards: 0 });
      } else {
        expectKeras3RnnConfig(l.class_name, l.config);
      }
      expectKeras3Weights(layout, `layers/${n === undefined ? base : `${base}_${n + 1}`}`, l, inputShape[2] as number);
    }

    expect(y.shape).toEqual(want.shape);
    const errNumpy = relError(y, want);
    const fromOrt = await ortRun(f.onnx, f.input);
    const ortKeras = timeMajor && fromOrt.rank === 3 ? swap01(fromOrt) : fromOrt;
    const ours = await nnportRun(bytes, x);
    expect(ours.shape).toEqual(want.shape);
    const errBack = relError(ours, ortKeras);
    console.log(`${name}: NumPy on the .keras ${errNumpy.toExponential(2)} relative to PyTorch; nnport on it ${errBack.toExponential(2)} relative to onnxruntime`);
    expect(errNumpy).toBeLessThan(1e-4);
    expect(errBack).toBeLessThan(1e-4);
  });

  it('crnn (Conv2d -> permute -> bidirectional LSTM, through the layout pass): nnport on the .keras against onnxruntime and PyTorch', async () => {
    const f = fixture('crnn');
    const model = await loadModel(f.onnx, { fileName: 'crnn.onnx' });
    const { bytes } = await convert(model, 'crnn.keras');
    const classes = (JSON.parse(new TextDecoder().decode(await zipEntry(bytes, 'config.json'))) as Layout['config']).config.layers.map((l) => l.class_name);
    expect(classes).toContain('Conv2D');
    expect(classes).toContain('Bidirectional');
    // NCHW [2, 1, 4, 7] -> the Keras input NHWC; the time-major [7, 2, 5] output -> batch-major
    const { permute } = await import('../../../src/wasm/permute.js');
    const ours = await nnportRun(bytes, permute(f.input, [0, 2, 3, 1]));
    expect(relError(ours, swap01(await ortRun(f.onnx, f.input)))).toBeLessThan(1e-4);
    expect(relError(ours, swap01(f.output))).toBeLessThan(1e-4);
  });
});

async function zipEntry(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  const { ZipReader } = await import('../../../src/io/zip.js');
  return ZipReader.open(bytes).read(name);
}

// ---- ONNX forms PyTorch does not export ----

const B = 2;
const T = 6;
const F = 3;
const H = 4;
const int = (value: number): Attr => ({ type: 'int', value });
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });

/** x [B, T, F] -> Transpose -> op -> its sequence as [B, T, nd·H] or its last states as [B, nd·H] */
function rnnGraph(op: 'LSTM' | 'GRU' | 'RNN', direction: string, use: 'seq' | 'last' | 'Y_c', attrs: Record<string, Attr> = {}): Graph {
  const nd = direction === 'bidirectional' ? 2 : 1;
  const G = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
  const inits = new Map<string, Tensor>([
    ['W', Tensor.float32([nd, G * H, F], Array.from(randomInput([nd * G * H * F], 3).toFloat32(), (v) => v * 1.2))],
    ['R', Tensor.float32([nd, G * H, H], Array.from(randomInput([nd * G * H * H], 4).toFloat32(), (v) => v * 0.9))],
    ['B', Tensor.float32([nd, 2 * G * H], Array.from(randomInput([nd * 2 * G * H], 5).toFloat32(), (v) => v * 0.8))],
    ['seq_shape', Tensor.int64([3], [0, 0, -1])],
  ]);
  const nodes: Node[] = [node('Transpose', ['x'], ['x_tm'], { perm: { type: 'ints', value: [1, 0, 2] } })];
  nodes.push(node(op, ['x_tm', 'W', 'R', 'B'], op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'], { hidden_size: int(H), direction: { type: 'string', value: direction }, ...attrs }));
  if (use === 'seq') {
    nodes.push(node('Transpose', ['Y'], ['Y_bt'], { perm: { type: 'ints', value: [2, 0, 1, 3] } }), node('Reshape', ['Y_bt', 'seq_shape'], ['y']));
  } else {
    const state = use === 'Y_c' ? 'Y_c' : 'Y_h';
    const hs = Array.from({ length: nd }, (_, d) => {
      inits.set(`dir${d}`, Tensor.int64([], [d]));
      nodes.push(node('Gather', [state, `dir${d}`], [`h${d}`], { axis: int(0) }));
      return `h${d}`;
    });
    nodes.push(nd === 1 ? node('Identity', hs, ['y']) : node('Concat', hs, ['y'], { axis: int(1) }));
  }
  return { name: `${op}_${direction}`, nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [B, T, F] }], outputs: [{ name: 'y', dtype: 'float32' }], initializers: inits, opsets: { '': 14 } };
}

const ONNX_CASES: Array<[string, Graph, string]> = [
  ['GRU linear_before_reset=0 (reset_after=False), sequence', rnnGraph('GRU', 'forward', 'seq'), 'GRU'],
  ['GRU linear_before_reset=0, bidirectional, last states', rnnGraph('GRU', 'bidirectional', 'last'), 'Bidirectional'],
  ['GRU linear_before_reset=1, reverse, last state', rnnGraph('GRU', 'reverse', 'last', { linear_before_reset: int(1) }), 'GRU'],
  ['LSTM reverse, last state (go_backwards)', rnnGraph('LSTM', 'reverse', 'last'), 'LSTM'],
  ['RNN reverse, last state', rnnGraph('RNN', 'reverse', 'last'), 'SimpleRNN'],
  ['LSTM, its last cell state Y_c (return_state)', rnnGraph('LSTM', 'forward', 'Y_c'), 'LSTM'],
  ['LSTM bidirectional, both last cell states Y_c', rnnGraph('LSTM', 'bidirectional', 'Y_c'), 'Bidirectional'],
  // ONNX's default HardSigmoid (0.2, 0.5) is Keras 2's hard_sigmoid: the gates' weights scaled by 1.2 for Keras 3's x/6 + 0.5 (recurrent-hard-sigmoid.ts)
  ['GRU HardSigmoid gates (Keras 2 hard_sigmoid, rescaled for Keras 3)', rnnGraph('GRU', 'forward', 'seq', { activations: { type: 'strings', value: ['HardSigmoid', 'Tanh'] } }), 'GRU'],
];

describe('ONNX recurrent ops PyTorch does not export -> .keras: NumPy and nnport on the archive against onnxruntime', () => {
  it.each(ONNX_CASES)('%s', async (_name, graph, cls) => {
    const onnx = writeOnnx(graph);
    const x = randomInput([B, T, F], 11);
    const want = await ortRun(onnx, x);
    const { bytes } = await convert(await loadModel(onnx, { fileName: 'rnn.onnx' }), 'rnn.keras');
    const { y, layout } = numpyRun(bytes, x);
    const layer = layout.config.config.layers.find((l) => l.class_name === cls)!;
    const inner = cls === 'Bidirectional' ? (layer.config.layer as LayerJson).config : layer.config;
    if (graph.nodes[1]!.opType === 'GRU') expect(inner.reset_after).toBe(graph.nodes[1]!.attrs.linear_before_reset !== undefined);
    if (graph.name.endsWith('_reverse')) expect(inner.go_backwards).toBe(true);
    expect(relError(y, want)).toBeLessThan(1e-5);
    expect(relError(await nnportRun(bytes, x), want)).toBeLessThan(1e-5);
  });
});

describe('refused by name in a .keras archive', () => {
  it.each([
    ['clip', rnnGraph('LSTM', 'forward', 'seq', { clip: { type: 'float', value: 3 } }), /LSTM with clip/],
    ['input_forget', rnnGraph('LSTM', 'forward', 'seq', { input_forget: int(1) }), /LSTM with input_forget/],
    ['LSTM g and h activations that differ', rnnGraph('LSTM', 'forward', 'seq', { activations: { type: 'strings', value: ['Sigmoid', 'Relu', 'Tanh'] } }), /one activation for g and h/],
    ['LSTM HardSigmoid cell activation (Keras 3 hard_sigmoid is x/6 + 0.5; only gates can be rescaled)', rnnGraph('LSTM', 'forward', 'seq', { activations: { type: 'strings', value: ['Sigmoid', 'HardSigmoid', 'HardSigmoid'] } }), /LSTM with activations Sigmoid, HardSigmoid, HardSigmoid/],
    ['reverse with its sequence used', rnnGraph('RNN', 'reverse', 'seq'), /RNN in reverse direction with its sequence Y used/],
  ] as Array<[string, Graph, RegExp]>)('%s', async (_name, graph, message) => {
    const model = await loadModel(writeOnnx(graph), { fileName: 'rnn.onnx' });
    await expect(convert(model, 'rnn.keras')).rejects.toThrow(message);
  });
});

describe('Bidirectional backward_layer in a .keras archive read by nnport', () => {
  /** gru_bidi_seq's archive with its backward layer's config changed by `edit`. */
  async function withBackward(edit: (c: JsonObject) => void): Promise<Uint8Array> {
    const { writeZip, ZipReader } = await import('../../../src/io/zip.js');
    const f = fixture('gru_bidi_seq');
    const zip = ZipReader.open((await convert(await loadModel(f.onnx, { fileName: 'gru.onnx' }), 'gru.keras')).bytes);
    const config = JSON.parse(new TextDecoder().decode(zip.read('config.json'))) as Layout['config'];
    edit((config.config.layers.find((l) => l.class_name === 'Bidirectional')!.config.backward_layer as LayerJson).config);
    return writeZip(['metadata.json', 'config.json', 'model.weights.h5'].map((name) => ({ name, data: name === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : zip.read(name) })));
  }

  it('one that computes something else than the wrapped layer run backwards is refused by name', async () => {
    for (const edit of [(c: JsonObject) => (c.activation = 'relu'), (c: JsonObject) => (c.go_backwards = false), (c: JsonObject) => (c.reset_after = false)]) {
      await expect(loadModel(await withBackward(edit), { fileName: 'gru.keras' })).rejects.toThrow(/Bidirectional with a backward_layer other than the wrapped layer run backwards/);
    }
  });

  it('a renamed one (only its name differs) is read and runs as PyTorch', async () => {
    const f = fixture('gru_bidi_seq');
    const y = await nnportRun(await withBackward((c) => (c.name = 'my_backward_gru')), f.input);
    expect(relError(y, f.output)).toBeLessThan(1e-4);
  });
});

// ---- the PyTorch exports of scripts/fixtures/recurrent_onnx.py (the TFLite writer's fixtures) ----

const ONNX_FIXTURES: Array<[string, 'batch' | 'time' | 'nchw', boolean]> = [
  // name, the input's layout, whether NumPy computes every layer (lstm_conv has a Conv2D)
  ['lstm_time_major', 'time', true],
  ['lstm_batch_first', 'batch', true],
  ['lstm_batch_first_seq', 'batch', true],
  ['lstm_layout1', 'batch', true],
  ['lstm_conv', 'nchw', false],
  ['rnn_tanh', 'batch', true],
  ['gru', 'batch', true],
  ['lstm_dynamic_time', 'batch', true],
  ['lstm_dynamic_time_only', 'batch', true],
];

describe('recurrent_onnx.py exports -> .keras: NumPy and nnport on the archive against PyTorch (every output)', () => {
  beforeAll(() => exportMissingRecurrentFixtures(), 300_000);

  it.each(ONNX_FIXTURES)('%s', async (name, layout, numpy) => {
    const f = await recurrentFixture(name);
    const { bytes } = await convert(await loadModel(writeOnnx(f.graph), { fileName: `${name}.onnx` }), `${name}.keras`);
    const { permute } = await import('../../../src/wasm/permute.js');
    const x = layout === 'time' ? swap01(f.input) : layout === 'nchw' ? permute(f.input, [0, 2, 3, 1]) : f.input;
    const want = f.outputs.map((o, i) => {
      const shape = (f.graph.outputs[i]!.shape ?? []).length;
      const t = Tensor.float32([o.length], o);
      return { t, timeMajor: layout !== 'batch' && shape === 3 };
    });
    const check = (got: Tensor[], what: string) => {
      expect(got).toHaveLength(want.length);
      got.forEach((g, i) => {
        const w = want[i]!;
        const keras = w.timeMajor ? swap01(g) : g;
        const err = relError(Tensor.float32([keras.size], keras.toFloat32()), w.t);
        console.log(`${name} output ${i}: ${what} ${err.toExponential(2)} relative to PyTorch`);
        expect(err).toBeLessThan(1e-4);
      });
    };
    check(await nnportRunAll(bytes, x), 'nnport on the .keras');
    if (numpy) check(numpyRun(bytes, x).ys, 'NumPy on the .keras');
  });

  it.each(['lstm_bidi', 'rnn_relu_bidi', 'lstm_last_step'])('%s (h_n [directions, batch, hidden] as a graph output) is refused by name', async (name) => {
    const f = await recurrentFixture(name);
    await expect(convert(await loadModel(writeOnnx(f.graph), { fileName: `${name}.onnx` }), `${name}.keras`)).rejects.toThrow(/graph output 'y1', the last state Y_h of node/);
  });
});

describe("hard_sigmoid in a Keras 3 archive is Keras 3's relu6(x + 3) / 6", () => {
  it('a GRU with recurrent_activation hard_sigmoid: nnport reads it as NumPy computes it', async () => {
    const { writeZip, ZipReader } = await import('../../../src/io/zip.js');
    const f = fixture('gru_bf_seq');
    const zip = ZipReader.open((await convert(await loadModel(f.onnx, { fileName: 'gru.onnx' }), 'gru.keras')).bytes);
    const config = JSON.parse(new TextDecoder().decode(zip.read('config.json'))) as Layout['config'];
    config.config.layers.find((l) => l.class_name === 'GRU')!.config.recurrent_activation = 'hard_sigmoid';
    const edited = writeZip(['metadata.json', 'config.json', 'model.weights.h5'].map((name) => ({ name, data: name === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : zip.read(name) })));
    const ours = await nnportRun(edited, f.input);
    const { y } = numpyRun(edited, f.input);
    expect(relError(ours, y)).toBeLessThan(1e-5);
    // the gates did change (PyTorch's are sigmoid)
    expect(relError(ours, f.output)).toBeGreaterThan(1e-2);
  });
});

describe('a .keras read by nnport and written again (.keras, .h5, .keras): NumPy on the last archive against PyTorch', () => {
  // return_state read as per-direction Slices of Y_h and Y_c, return_sequences=False as Y_h
  it.each(['gru2_bidi_hn', 'lstm_bidi_hn', 'lstm_hn', 'lstm_bidi_last', 'rnn_relu2_seq'])('%s', async (name) => {
    const f = fixture(name);
    let bytes = (await convert(await loadModel(f.onnx, { fileName: `${name}.onnx` }), `${name}.keras`)).bytes;
    for (const to of ['a.keras', 'b.h5', 'c.keras']) bytes = (await convert(await loadModel(bytes, { fileName: to === 'b.h5' ? 'a.keras' : 'b.h5' }), to)).bytes;
    const timeMajor = name === 'rnn_relu2_seq';
    const { y } = numpyRun(bytes, timeMajor ? swap01(f.input) : f.input);
    expect(relError(y, timeMajor ? swap01(f.output) : f.output)).toBeLessThan(1e-4);
  });
});
