// ONNX LSTM / GRU / RNN (PyTorch exports: scripts/fixtures/recurrent_onnx.py) written as frozen
// GraphDefs: TF1 graphs hold a static RNN as its unrolled steps (MatMul, Add, Sigmoid, Tanh / Relu,
// Mul, Sub, Split, Reshape, ConcatV2), as the corpus' tf2onnx LSTM does. Every written .pb is run
// by the independent NumPy interpreter of GraphDefs (scripts/fixtures/tf_numpy_run.py) and, where
// OpenCV 4.6's TF importer has every op the model needs, by OpenCV dnn, against PyTorch's outputs;
// nnport reading the .pb back runs it too. (The bidirectional exports are NumPy-only: PyTorch
// reorders a bidirectional Y with a 4-D Transpose, which that importer takes only as NHWC <-> NCHW.)
// A dynamic sequence length and what the steps cannot compute are refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { exportMissingRecurrentFixtures, recurrentFixture } from '../tflite/recurrent-fixtures.js';
import { pythonRun } from './python-runs.js';

beforeAll(async () => {
  registerAllFormats();
  await initKernels();
  exportMissingRecurrentFixtures();
});

const MODELS = ['lstm_time_major', 'lstm_batch_first', 'lstm_bidi', 'lstm_layout1', 'lstm_last_step', 'lstm_dynamic_batch', 'rnn_tanh', 'rnn_relu_bidi', 'gru'];
const OPENCV_RUNS = new Set(['lstm_time_major', 'lstm_batch_first', 'lstm_layout1', 'rnn_tanh', 'gru']);

describe('ONNX recurrent layers -> frozen GraphDef (unrolled), against PyTorch', () => {
  it.each(MODELS)('%s', async (name) => {
    const f = await recurrentFixture(name);
    const pb = await writeGraphDef(f.graph, { fileName: `${name}.pb` });
    const outputs = f.graph.outputs.map((o) => o.name.replace(/:0$/, ''));
    const errors: Record<string, number> = {};
    const numpy = pythonRun('numpy', `recurrent-${name}`, pb, f.input, outputs);
    outputs.forEach((o, k) => (errors[`numpy ${k}`] = relErr(numpy.get(o)!.toFloat32(), f.outputs[k]!)));
    if (OPENCV_RUNS.has(name)) {
      const opencv = pythonRun('opencv', `recurrent-${name}`, pb, f.input, outputs);
      outputs.forEach((o, k) => (errors[`opencv ${k}`] = relErr(opencv.get(o)!.toFloat32(), f.outputs[k]!)));
    }
    const back = { graph: await readGraphDef(pb, { fileName: `${name}.pb` }) };
    const ours = (await runGraph(back.graph, new Map([[back.graph.inputs[0]!.name, f.input]]))).outputs;
    // a GraphDef has no output order: each output by its name
    expect(back.graph.outputs.map((o) => o.name).sort()).toEqual([...outputs].sort());
    outputs.forEach((o, k) => (errors[`nnport ${k}`] = relErr(ours.get(o)!.toFloat32(), f.outputs[k]!)));
    console.log(`${name}: ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')} relative to PyTorch`);
    for (const [k, v] of Object.entries(errors)) expect(v, k).toBeLessThan(1e-5);
  });

  it('a dynamic sequence length, peepholes and clip are refused by name', async () => {
    const dynamic = await recurrentFixture('lstm_dynamic_time');
    await expect(writeGraphDef(dynamic.graph)).rejects.toThrow(/LSTM over a dynamic sequence length in a GraphDef/);
    const f = await recurrentFixture('lstm_time_major');
    const lstm = f.graph.nodes.find((n) => n.opType === 'LSTM')!;
    const H = f.graph.initializers.get(lstm.inputs[2]!)!.shape[2]!;
    const withNode = (edit: (n: typeof lstm) => typeof lstm, extra?: [string, Tensor]) => ({
      ...f.graph,
      nodes: f.graph.nodes.map((n) => (n === lstm ? edit(n) : n)),
      initializers: new Map([...f.graph.initializers, ...(extra ? [extra] : [])]),
    });
    const peepholes = withNode((n) => ({ ...n, inputs: [...n.inputs.slice(0, 7), ...new Array<string>(Math.max(0, 7 - n.inputs.length)).fill(''), 'P'].slice(0, 8) }), ['P', Tensor.float32([1, 3 * H], new Float32Array(3 * H))]);
    await expect(writeGraphDef(peepholes)).rejects.toThrow(/LSTM peepholes in a GraphDef/);
    const clipped = withNode((n) => ({ ...n, attrs: { ...n.attrs, clip: { type: 'float', value: 3 } } }));
    await expect(writeGraphDef(clipped)).rejects.toThrow(/LSTM clip in a GraphDef/);
  });
});
