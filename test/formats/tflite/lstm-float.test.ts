// TFLite float UNIDIRECTIONAL_SEQUENCE_LSTM against the real interpreter: TFLite Micro's
// mnist_lstm (cell_clip 10, so unrolled into plain ops) on several inputs, the same file
// converted to ONNX and run by onnxruntime-node, and the file with its options patched
// (cell_clip 0: one ONNX LSTM; relu / relu6 activations; NONE refused).
//
// The interpreter keeps the LSTM's variable state tensors between invokes (checked below), so each
// input runs on a fresh interpreter, whose state starts at zero as nnport's does.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { UnidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/unidirectional-sequence-lstmoptions.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ByteBuffer } from 'flatbuffers';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();
const MNIST = readFileSync(corpusPath('tflite/tflm-mnist-lstm-float/trained_lstm.tflite'));

function inputs(): Array<{ name: string; x: Float32Array }> {
  const r = rng(2024);
  const uniform = Float32Array.from({ length: 28 * 28 }, () => r());
  // a ring, like a drawn zero
  const ring = Float32Array.from({ length: 28 * 28 }, (_, i) => {
    const d = Math.hypot((i % 28) - 13.5, Math.floor(i / 28) - 13.5);
    return d > 6 && d < 10 ? 1 : 0;
  });
  // 18 rows of large inputs saturate the gates (the cell state grows by ~1 a step and meets
  // cell_clip 10), then small ones let it fall: the clipped state shows in the output
  const saturating = Float32Array.from({ length: 28 * 28 }, (_, i) => (i < 18 * 28 ? 20 : -1));
  return [
    { name: 'uniform', x: uniform },
    { name: 'ring', x: ring },
    { name: 'zeros', x: new Float32Array(28 * 28) },
    { name: 'saturating', x: saturating },
  ];
}

async function nnportRun(g: Graph, x: Float32Array): Promise<Float32Array> {
  const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, Tensor.float32([1, 28, 28], x)]]));
  return outputs.get(g.outputs[0]!.name)!.toFloat32();
}

/** A copy of a .tflite with the first LSTM's options changed in place (fields the file stores). */
function patchLstmOptions(bytes: Uint8Array, patch: { cellClip?: number; act?: ActivationFunctionType }): Uint8Array {
  const out = bytes.slice();
  const model = Model.getRootAsModel(new ByteBuffer(out));
  const op = model.subgraphs(0)!.operators(0)!;
  const o = op.builtinOptions(new UnidirectionalSequenceLSTMOptions()) as UnidirectionalSequenceLSTMOptions;
  const bb = o.bb!;
  const field = (vt: number): number => {
    const off = bb.__offset(o.bb_pos, vt);
    if (!off) throw new Error(`the file does not store option field at vtable offset ${vt}`);
    return o.bb_pos + off;
  };
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (patch.act !== undefined) view.setInt8(field(4), patch.act);
  if (patch.cellClip !== undefined) view.setFloat32(field(6), patch.cellClip, true);
  return out;
}

async function interpreter(bytes: Uint8Array, x: Float32Array, invokes = 1): Promise<Float32Array> {
  const [y] = await oracle.run(bytes, [x], invokes);
  return y!.data as Float32Array;
}

describe('TFLite float UNIDIRECTIONAL_SEQUENCE_LSTM (mnist_lstm) against the interpreter', () => {
  it('the interpreter keeps the LSTM state between invokes, so every input gets a fresh interpreter', async () => {
    const x = inputs()[0]!.x;
    const once = await interpreter(MNIST, x);
    const twice = await interpreter(MNIST, x, 2);
    expect(relErr(twice, once)).toBeGreaterThan(1e-3);
    expect(Array.from(await interpreter(MNIST, x))).toEqual(Array.from(once));
  });

  it('nnport runs the file as the interpreter does (4 inputs, one meeting cell_clip)', async () => {
    const g = await readTflite(MNIST, { fileName: 'trained_lstm.tflite' });
    // cell_clip 10 bounds the cell state, which ONNX LSTM's clip (gate inputs) cannot: one LSTM
    // carrying nnport's attribute cell_clip
    const lstms = g.nodes.filter((n) => n.opType === 'LSTM');
    expect(lstms.map((n) => n.attrs.cell_clip)).toEqual([{ type: 'float', value: 10 }]);
    expect(g.nodes.find((n) => n.doc?.includes('start at zero'))).toBeDefined();
    // the same graph without the clip, to show the saturating input needs it
    const unclipped: Graph = { ...g, nodes: g.nodes.map((n) => (n.opType === 'LSTM' ? { ...n, attrs: Object.fromEntries(Object.entries(n.attrs).filter(([k]) => k !== 'cell_clip')) } : n)) };
    for (const { name, x } of inputs()) {
      const theirs = await interpreter(MNIST, x);
      const err = relErr(await nnportRun(g, x), theirs);
      console.log(`mnist_lstm ${name}: nnport vs interpreter ${err.toExponential(2)} relative`);
      expect(err, name).toBeLessThan(1e-5);
      if (name === 'saturating') expect(relErr(await nnportRun(unclipped, x), theirs)).toBeGreaterThan(1e-3);
    }
  });

  it('written back to .tflite: one UNIDIRECTIONAL_SEQUENCE_LSTM with cell_clip 10, the interpreter computes what it computes on the source file', async () => {
    const model = await loadModel(MNIST, { fileName: 'trained_lstm.tflite' });
    const { bytes } = await convert(model, 'mnist_lstm.tflite');
    const json = flatcJson<{ operator_codes: { builtin_code?: string }[]; subgraphs: { operators: { opcode_index?: number; builtin_options?: { cell_clip?: number } }[] }[] }>(bytes, 'mnist-lstm-back');
    const ops = json.subgraphs[0]!.operators.filter((op) => json.operator_codes[op.opcode_index ?? 0]!.builtin_code === 'UNIDIRECTIONAL_SEQUENCE_LSTM');
    expect(ops.map((op) => op.builtin_options?.cell_clip)).toEqual([10]);
    for (const { name, x } of inputs()) {
      const err = relErr(await interpreter(bytes, x), await interpreter(MNIST, x));
      console.log(`mnist_lstm ${name}: written back, interpreter vs interpreter on the source ${err.toExponential(2)} relative`);
      expect(err, name).toBeLessThan(1e-6);
    }
  });

  it('--quantize dynamic: a hybrid UNIDIRECTIONAL_SEQUENCE_LSTM with cell_clip 10; the interpreter runs it close to the float file, nnport reading it back equals the interpreter', async () => {
    const g = await readTflite(MNIST, { fileName: 'trained_lstm.tflite' });
    const bytes = await writeTflite(g, { fileName: 'mnist_lstm_dynamic.tflite', quantize: { mode: 'dynamic', minElements: 1 } });
    const json = flatcJson<{ operator_codes: { builtin_code?: string }[]; subgraphs: { tensors: { type?: string }[]; operators: { opcode_index?: number; inputs: number[]; builtin_options?: { cell_clip?: number } }[] }[] }>(bytes, 'mnist-lstm-dynamic');
    const sg = json.subgraphs[0]!;
    const op = sg.operators.find((o) => json.operator_codes[o.opcode_index ?? 0]!.builtin_code === 'UNIDIRECTIONAL_SEQUENCE_LSTM')!;
    expect(op.builtin_options?.cell_clip).toBe(10);
    expect(sg.tensors[op.inputs[1]!]!.type).toBe('INT8');
    const back = await readTflite(bytes, { fileName: 'mnist_lstm_dynamic.tflite' });
    expect(back.nodes.filter((n) => n.opType === 'HybridLSTM').map((n) => n.attrs.cell_clip)).toEqual([{ type: 'float', value: 10 }]);
    for (const { name, x } of inputs()) {
      const theirs = await interpreter(bytes, x);
      const vsFloat = relErr(theirs, await interpreter(MNIST, x));
      const readBack = relErr(await nnportRun(back, x), theirs);
      console.log(`mnist_lstm ${name}: dynamic in the interpreter vs the float file ${vsFloat.toExponential(2)}, nnport's read-back vs the interpreter ${readBack.toExponential(2)} relative`);
      expect(vsFloat, name).toBeLessThan(5e-2);
      expect(readBack, name).toBeLessThan(1e-5);
    }
  });

  it('converted to a frozen GraphDef (the clipped LSTM unrolled), the NumPy GraphDef interpreter computes the interpreter outputs', async () => {
    const model = await loadModel(MNIST, { fileName: 'trained_lstm.tflite' });
    const { bytes } = await convert(model, 'mnist_lstm.pb');
    const g = await readGraphDef(bytes, { fileName: 'mnist_lstm.pb' });
    expect(g.nodes.some((n) => n.opType === 'LSTM')).toBe(false);
    const out = g.outputs[0]!.name.replace(/:0$/, '');
    for (const { name, x } of inputs()) {
      const numpy = pythonRun('numpy', `mnist-lstm-${name}`, bytes, Tensor.float32([1, 28, 28], x), [out]).get(out)!;
      const err = relErr(numpy.toFloat32(), await interpreter(MNIST, x));
      console.log(`mnist_lstm ${name}: GraphDef in NumPy vs interpreter ${err.toExponential(2)} relative`);
      expect(err, name).toBeLessThan(1e-5);
    }
  });

  it('converted to ONNX, onnxruntime-node computes the interpreter outputs', async () => {
    const model = await loadModel(MNIST, { fileName: 'trained_lstm.tflite' });
    const { bytes } = await convert(model, 'mnist_lstm.onnx');
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      for (const { name, x } of inputs()) {
        const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [1, 28, 28]) });
        const err = relErr(res[session.outputNames[0]!]!.data as Float32Array, await interpreter(MNIST, x));
        console.log(`mnist_lstm ${name}: ONNX in onnxruntime vs interpreter ${err.toExponential(2)} relative`);
        expect(err, name).toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });

  it.each([
    { name: 'cell_clip 0: one ONNX LSTM', patch: { cellClip: 0 }, lstm: true },
    { name: 'cell_clip 0, relu activation', patch: { cellClip: 0, act: ActivationFunctionType.RELU }, lstm: true },
    { name: 'relu6 activation: unrolled', patch: { act: ActivationFunctionType.RELU6 }, lstm: false },
  ])('patched options: $name; nnport and onnxruntime-node equal the interpreter', async ({ patch, lstm }) => {
    const file = patchLstmOptions(MNIST, patch);
    const g = await readTflite(file, { fileName: 'patched.tflite' });
    expect(g.nodes.some((n) => n.opType === 'LSTM')).toBe(lstm);
    const { bytes } = await convert(await loadModel(file, { fileName: 'patched.tflite' }), 'patched.onnx');
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      for (const { name, x } of inputs()) {
        const theirs = await interpreter(file, x);
        expect(relErr(await nnportRun(g, x), theirs), `${name}: nnport`).toBeLessThan(1e-5);
        const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [1, 28, 28]) });
        expect(relErr(res[session.outputNames[0]!]!.data as Float32Array, theirs), `${name}: onnxruntime`).toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });

  it('fused activation NONE is refused: the interpreter leaves its h = o * act(c) buffer unwritten', async () => {
    const file = patchLstmOptions(MNIST, { act: ActivationFunctionType.NONE });
    await expect(readTflite(file, { fileName: 'none.tflite' })).rejects.toThrow(/UNIDIRECTIONAL_SEQUENCE_LSTM with fused activation NONE/);
  });
});
