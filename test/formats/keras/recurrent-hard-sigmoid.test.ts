// Recurrent HardSigmoid activations at another (alpha, beta) than the target's hard_sigmoid, written
// with the weights that feed them scaled (src/passes/recurrent-hard-sigmoid.ts): old Keras' gates
// (clip(0.2x + 0.5, 0, 1)) in a Keras 3 .keras file, whose hard_sigmoid is clip(x/6 + 0.5, 0, 1), run
// by the NumPy runner of Keras 3 archives (scripts/fixtures/keras_recurrent_numpy.py, Keras 3's
// hard_sigmoid) against TensorFlow.js running the original model; ONNX HardSigmoid at other
// alpha / beta in .h5 (TF.js) and .keras (NumPy) against onnxruntime-node.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, type GraphModel } from '../../../src/index.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { buildOneNodeRecurrent, floats, int, strs } from '../tflite/one-node-recurrent.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';
import { ortRun } from '../../support/ort.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });

beforeAll(async () => {
  registerAllFormats();
  await initKernels();
});

/** NumPy (h5py) running a .keras / .h5 file: every output. */
function numpyRun(bytes: Uint8Array, name: string, xs: Tensor[]): Tensor[] {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-hard-sigmoid-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    const input = JSON.stringify({ inputs: xs.map((x) => Array.from(x.toFloat32())), shapes: xs.map((x) => x.shape) });
    const out = JSON.parse(execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_recurrent_numpy.py'), file], { input, maxBuffer: 64 << 20 }).toString()) as { outputs: { shape: number[]; data: number[] }[] };
    return out.outputs.map((o) => Tensor.float32(o.shape, o.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const worst = (got: Tensor[], want: Tensor[]): number => {
  expect(got.length).toBe(want.length);
  return Math.max(...got.map((t, k) => relError(t, want[k]!)));
};

describe("Keras 2's hard_sigmoid gates written to Keras 3 .keras (weights scaled), against TF.js on the original", () => {
  const built: Array<[string, () => tf.LayersModel]> = [
    ['LSTM hard_sigmoid gates (Keras < 2.3 default), return_sequences', () => tf.sequential({ layers: [tf.layers.lstm({ units: 4, recurrentActivation: 'hardSigmoid', returnSequences: true, inputShape: [6, 3] })] })],
    ['GRU hard_sigmoid gates and candidate, reset_after=false', () => tf.sequential({ layers: [tf.layers.gru({ units: 4, recurrentActivation: 'hardSigmoid', activation: 'hardSigmoid', returnSequences: true, inputShape: [5, 3] })] })],
    ['SimpleRNN hard_sigmoid', () => tf.sequential({ layers: [tf.layers.simpleRNN({ units: 3, activation: 'hardSigmoid', inputShape: [5, 2] })] })],
    ['Bidirectional(LSTM hard_sigmoid gates), concat', () => tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, recurrentActivation: 'hardSigmoid' }) as never, inputShape: [5, 2] })] })],
  ];
  it.each(built)('%s', async (name, make) => {
    const m = make();
    // weights that reach both bends of hard_sigmoid
    m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', 120 + i), 1.5)));
    const { json, shard } = await tfjsRoundTrip(m);
    const read = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const oracle = await tfjsModelFromJson(json, () => shard);
    const xs = read.graph.inputs.map((v, i) => {
      const shape = v.shape!.map((d) => (typeof d === 'number' ? d : 2));
      return Tensor.float32(shape, randomInput(shape, 130 + i).toFloat32().map((x) => 2 * x));
    });
    const want = predict(oracle, xs);
    const keras = (await convert(read, 'm.keras')).bytes;
    const e3 = worst(numpyRun(keras, 'm.keras', xs), want);
    // Keras 2 .h5 keeps hard_sigmoid as it is
    const h5 = (await convert(read, 'm.h5')).bytes;
    const e2 = worst(predict(await tfjsModelFromH5(h5), xs), want);
    console.log(`${name}: .keras (NumPy, Keras 3 hard_sigmoid) ${e3.toExponential(2)}, .h5 (TF.js) ${e2.toExponential(2)} relative to TF.js on the original`);
    expect(e3).toBeLessThan(1e-5);
    expect(e2).toBeLessThan(1e-5);
    // and the NumPy runner on the .h5 (Keras 2's hard_sigmoid, the weights as they were) agrees with TF.js
    expect(worst(numpyRun(h5, 'm.h5', xs), want)).toBeLessThan(1e-5);
  });
});

describe('ONNX HardSigmoid at other alpha / beta, against onnxruntime-node', () => {
  it.each([
    ['GRU HardSigmoid (0.3, 0.45) gates, HardSigmoid (0.25, 0.6) candidate, linear_before_reset=0', 'GRU', { activations: strs(['HardSigmoid', 'HardSigmoid']), activation_alpha: floats([0.3, 0.25]), activation_beta: floats([0.45, 0.6]), linear_before_reset: int(0) }],
    ['LSTM HardSigmoid (0.35, 0.4) gates', 'LSTM', { activations: strs(['HardSigmoid', 'Tanh', 'Tanh']), activation_alpha: floats([0.35]), activation_beta: floats([0.4]) }],
  ] as const)('%s: .h5 (TF.js) and .keras (NumPy)', async (name, op, attrs) => {
    const one = buildOneNodeRecurrent({ op, seq: 5, batch: 2, input: 3, hidden: 4, bias: true, attrs: { ...attrs }, outputs: ['Y'] }, 140, { weights: 1.2, bias: 0.8, peepholes: 0 });
    // as Keras lays it out: x [B, T, F] -> time-major -> the op -> Y [T, 1, B, H] -> [B, T, H]
    const n = one.graph.nodes[0]!;
    const graph: Graph = {
      ...one.graph,
      nodes: [
        { name: 'to_time_major', opType: 'Transpose', domain: '', inputs: ['x'], outputs: ['X'], attrs: { perm: ints([1, 0, 2]) } },
        n,
        { name: 'to_batch_major', opType: 'Transpose', domain: '', inputs: ['Y'], outputs: ['Y_bt'], attrs: { perm: ints([2, 0, 1, 3]) } },
        { name: 'merge', opType: 'Reshape', domain: '', inputs: ['Y_bt', 'seq_shape'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 5, 3] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([...one.graph.initializers, ['seq_shape', Tensor.int64([3], [0, 0, -1])]]),
    };
    const xb = one.x.permute([1, 0, 2]);
    const want = (await ortRun(writeOnnx(graph), { x: Tensor.float32([...xb.shape], xb.toFloat32()) })).get('y')!;
    const model: GraphModel = { kind: 'graph', format: 'onnx', graph };
    const h5 = (await convert(model, 'm.h5')).bytes;
    const e2 = relError(predict(await tfjsModelFromH5(h5), [xb])[0]!, want);
    const keras = (await convert(model, 'm.keras')).bytes;
    const e3 = relError(numpyRun(keras, 'm.keras', [xb])[0]!, want);
    console.log(`${name}: .h5 (TF.js) ${e2.toExponential(2)}, .keras (NumPy) ${e3.toExponential(2)} relative to onnxruntime`);
    expect(e2).toBeLessThan(1e-5);
    expect(e3).toBeLessThan(1e-5);
  });
});
