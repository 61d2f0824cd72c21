// Keras recurrent layers TFLite's fused sequence ops and a GraphDef's LSTM cannot hold as they are
// (old Keras' hard_sigmoid gates, relu gates, a linear GRU, Bidirectional of those, states read
// or fed as inputs) written as their unrolled steps (src/passes/unroll-recurrent.ts; over an open sequence
// length, as a loop over the steps: src/passes/recurrent-to-loop.ts), every
// output compared with an independent run of the ORIGINAL model: TensorFlow.js 4.9 running the .h5
// / model.json (NumPy from the file's config and weights for the reset_after GRU TF.js cannot
// build) against the real TFLite interpreter running nnport's .tflite, and the NumPy GraphDef
// runner and OpenCV 4.6 dnn running nnport's .pb.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5 } from '../../../src/formats/keras/index.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert, loadModelFiles, type GraphModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { oracleOutput, runOracles, writeInput, type RunCase } from '../../conformance/graphdef-writer-run.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { flatcJson, tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel } from '../tfjs/graph-oracle.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';

const tflite = useTfliteOracle();
const bytes = (rel: string) => new Uint8Array(readFileSync(corpusPath(rel)));
const TOL = 1e-5;

/** The graph with its inputs' unknown time dims fixed at `time`, and the batch (axis 0) at `batch` when given. */
function pinned(model: GraphModel, time: number, batch?: number): GraphModel {
  const g = model.graph;
  return { ...model, graph: { ...g, inputs: g.inputs.map((v) => ({ ...v, shape: v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? (batch ?? d) : time)) })) } };
}

const shapesOf = (g: Graph, batch: number): number[][] => g.inputs.map((v) => v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : 5)));

/** nnport's .tflite of the model run by the TFLite interpreter (batch 1: the writer fixes a recurrent model's batch there). */
async function tfliteOutputs(model: GraphModel, xs: Tensor[]): Promise<Tensor[]> {
  const file = (await convert(model, 'm.tflite')).bytes;
  const g = model.graph;
  // every recurrent layer here is unrolled or fused; none is left as a WHILE loop
  expect(tfliteOpNames(file, 'm.tflite')).not.toContain('WHILE');
  const declared = await tflite.inputs(file);
  const byName = new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const));
  const outs = await tflite.run(file, declared.map((d) => byName.get(d.name)!.toFloat32()));
  return outs.map((o) => Tensor.float32(o.shape, Float32Array.from(o.data as Float32Array)));
}

/** nnport's .pb of the model run by the NumPy GraphDef runner and OpenCV (each output by its node name; undefined: the oracle could not run it). */
async function graphDefOutputs(model: GraphModel, xs: Tensor[], tag: string): Promise<{ numpy: Tensor[]; opencv?: Tensor[]; status: string }> {
  const pb = (await convert(model, 'm.pb')).bytes;
  const g = model.graph;
  const back = await readGraphDef(pb, { fileName: 'm.pb' });
  // the .pb's outputs are the model's, by name
  const names = g.outputs.map((o) => o.name.replace(/:0$/, ''));
  expect(back.outputs.map((o) => o.name).sort()).toEqual([...names].sort());
  const dir = mkdtempSync(join(tmpdir(), `nnport-${tag}-`));
  writeFileSync(join(dir, 'm.pb'), pb);
  mkdirSync(join(dir, 'out'));
  const c: RunCase = { id: tag, pb: join(dir, 'm.pb'), out_dir: join(dir, 'out'), sets: [{ name: 'a', inputs: g.inputs.map((v, i) => ({ name: v.name, npy: writeInput(join(dir, `x${i}.npy`), xs[i]!) })) }], outputs: names };
  const status = runOracles(dir, [c]).get(tag)!;
  expect(status.numpy, 'the NumPy GraphDef runner').toBe('ok');
  const numpy = names.map((_, k) => oracleOutput(c, 'a', 'numpy', k)!);
  const opencv = status.opencv === 'ok' ? names.map((_, k) => oracleOutput(c, 'a', 'opencv', k)!) : undefined;
  return { numpy, opencv, status: status.opencv };
}

/**
 * The model written with its sequence length open, run at length `t` (every open dim past the batch): the .tflite
 * (batch 1) by the TFLite interpreter, its inputs' stored dims set to t, the .pb (batch 2) by the NumPy
 * GraphDef runner and the TF.js graph model (batch 2) by TF.js; the worst relative error of each against TF.js running
 * the original.
 */
async function openSequenceErrors(model: GraphModel, oracle: Awaited<ReturnType<typeof tfjsModelFromH5>>, t: number): Promise<[number, number, number]> {
  const g = model.graph;
  const at = (batch: number, seed: number) => g.inputs.map((v, i) => randomInput(v.shape!.map((d, j) => (typeof d === 'number' ? d : j === 0 ? batch : t)), seed + i));
  const file = (await convert(model, 'm.tflite')).bytes;
  expect(tfliteOpNames(file, 'm.tflite')).toContain('WHILE');
  const sg = flatcJson<{ subgraphs: Array<{ inputs: number[]; tensors: Array<{ name: string; shape_signature?: number[] }> }> }>(file, 'open').subgraphs[0]!;
  const declared = sg.inputs.map((k) => sg.tensors[k]!);
  let sized = file;
  declared.forEach((d, k) => d.shape_signature?.forEach((dim, axis) => (sized = dim === -1 && axis > 0 ? withStoredDim(sized, axis, t, k) : sized)));
  const xs1 = at(1, 31 + t);
  const byName = new Map(g.inputs.map((v, i) => [v.name, xs1[i]!] as const));
  const outs = await tflite.run(sized, declared.map((d) => byName.get(d.name)!.toFloat32()));
  const eTflite = worst(outs.map((o) => Tensor.float32(o.shape, Float32Array.from(o.data as Float32Array))), predict(oracle, xs1), `TFLite at length ${t}`);
  const xs2 = at(2, 61 + t);
  const want2 = predict(oracle, xs2);
  const pb = await graphDefOutputs(model, xs2, `lstm-open-${t}`);
  // the TF.js graph model (the GraphDef writer's nodes as model.json) run by TF.js itself
  const files = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
  const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
  const bare = (name: string) => name.replace(/:0$/, '');
  const graphModel = await runGraphModel(m, xs2, g.inputs.map((v) => bare(v.name)), g.outputs.map((o) => bare(o.name)));
  m.dispose();
  return [eTflite, worst(pb.numpy, want2, `NumPy GraphDef runner at length ${t}`), worst(graphModel, want2, `TF.js graph model at length ${t}`)];
}

/** The worst relative error of `got` against `want`, output by output (shapes equal). */
function worst(got: Tensor[], want: Tensor[], what: string): number {
  expect(got.length, what).toBe(want.length);
  return Math.max(
    ...got.map((t, k) => {
      expect(t.size, `${what} output ${k}`).toBe(want[k]!.size);
      return relError(t, want[k]!);
    }),
  );
}

describe('Keras recurrent layers unrolled into .tflite and .pb, against TF.js / NumPy running the original', () => {
  it('keras-h5/fdeep-lstm-multiinput-functional/lstm.h5 (hard_sigmoid, relu and linear gates, Bidirectional, states read and fed): every output', async () => {
    const file = 'keras-h5/fdeep-lstm-multiinput-functional/lstm.h5';
    const read = await readKerasH5(bytes(file), { fileName: file });
    const oracle = await tfjsModelFromH5(bytes(file));
    const errors: string[] = [];
    // input_3's sequence length is open in the file: the layers over it nnport cannot fuse become loops over
    // the run-time steps (src/passes/recurrent-to-loop.ts), WHILE in the .tflite, StatelessWhile in the .pb
    for (const t of [4, 9]) {
      const [eTflite, ePb, eGraphModel] = await openSequenceErrors(read, oracle, t);
      errors.push(`length ${t} open: TFLite interpreter ${eTflite.toExponential(2)}, NumPy GraphDef runner ${ePb.toExponential(2)}, TF.js graph model ${eGraphModel.toExponential(2)}`);
      expect(eTflite).toBeLessThan(TOL);
      expect(ePb).toBeLessThan(TOL);
      expect(eGraphModel).toBeLessThan(TOL);
    }
    // TFLite: batch 1 (the writer fixes a recurrent model's batch there), the open dims fixed as a
    // user fixes them: --input-shape for each input (ReadOptions.inputShapes, src/ir/input-shapes.ts)
    const inputShapes = Object.fromEntries(read.graph.inputs.map((v) => [v.name, v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 5))]));
    const one = (await loadModelFiles([corpusPath(file)], { inputShapes })) as GraphModel;
    expect(one.graph.inputs).toEqual(pinned(read, 5, 1).graph.inputs);
    const xs1 = shapesOf(one.graph, 1).map((s, i) => randomInput(s, 51 + i));
    const want1 = predict(oracle, xs1);
    expect(want1.length).toBe(17);
    const e1 = worst(await tfliteOutputs(one, xs1), want1, 'TFLite');
    errors.push(`TFLite interpreter ${e1.toExponential(2)}`);
    expect(e1).toBeLessThan(TOL);
    // GraphDef: the batch stays dynamic (Reshape's -1), run at batch 2
    const two = pinned(read, 5);
    const xs2 = shapesOf(read.graph, 2).map((s, i) => randomInput(s, 71 + i));
    const want2 = predict(oracle, xs2);
    const pb = await graphDefOutputs(two, xs2, 'lstm-multiinput');
    const e2 = worst(pb.numpy, want2, 'NumPy GraphDef runner');
    errors.push(`NumPy GraphDef runner ${e2.toExponential(2)}`);
    expect(e2).toBeLessThan(TOL);
    if (pb.opencv) errors.push(`OpenCV ${worst(pb.opencv, want2, 'OpenCV').toExponential(2)}`);
    else errors.push(`OpenCV: ${pb.status.slice(0, 160)}`);
    console.log(`${file}: ${errors.join(', ')} relative to TF.js`);
  });

  it('keras-h5/fdeep-gru-initial-state-tfkeras/temp_stateless.h5 (GRU reset_after, linear, initial state from an input) against NumPy', async () => {
    const file = 'keras-h5/fdeep-gru-initial-state-tfkeras/temp_stateless.h5';
    const read = await readKerasH5(bytes(file), { fileName: file });
    const golden = (xs: Tensor[]): Tensor[] => {
      const out = execFileSync('/usr/bin/python3', ['scripts/fixtures/keras_gru_numpy.py', corpusPath(file)], { cwd: REPO_ROOT, input: JSON.stringify({ inputs: xs.map((x) => Array.from(x.toFloat32())), shapes: xs.map((x) => x.shape) }) });
      const r = JSON.parse(out.toString()) as { shape: number[]; data: number[] };
      return [Tensor.float32(r.shape, r.data)];
    };
    const one = pinned(read, 5, 1);
    const xs1 = shapesOf(one.graph, 1).map((s, i) => randomInput(s, 23 + i));
    const e1 = worst(await tfliteOutputs(one, xs1), golden(xs1), 'TFLite');
    const xs2 = shapesOf(read.graph, 2).map((s, i) => randomInput(s, 29 + i));
    const want2 = golden(xs2);
    const pb = await graphDefOutputs(read, xs2, 'gru-initial-state');
    const e2 = worst(pb.numpy, want2, 'NumPy GraphDef runner');
    const e3 = pb.opencv ? worst(pb.opencv, want2, 'OpenCV') : undefined;
    console.log(`${file}: TFLite interpreter ${e1.toExponential(2)}, NumPy GraphDef runner ${e2.toExponential(2)}, OpenCV ${e3 === undefined ? pb.status.slice(0, 160) : e3.toExponential(2)} relative to NumPy's Keras GRU`);
    expect(e1).toBeLessThan(TOL);
    expect(e2).toBeLessThan(TOL);
    if (e3 !== undefined) expect(e3).toBeLessThan(TOL);
  });

  // TF.js' activations (hardSigmoid is Keras 2's clip(0.2x + 0.5, 0, 1)) on layers TFLite's fused ops cannot compute
  const built: Array<[string, () => tf.LayersModel]> = [
    ['LSTM hardSigmoid gates, softsign cell, return_sequences', () => tf.sequential({ layers: [tf.layers.lstm({ units: 4, recurrentActivation: 'hardSigmoid', activation: 'softsign', returnSequences: true, inputShape: [6, 3] })] })],
    ['LSTM tanh gates, elu cell, go_backwards, return_state (Y_c read)', () => {
      const x = tf.input({ shape: [5, 3] });
      const outs = tf.layers.lstm({ units: 3, recurrentActivation: 'tanh', activation: 'elu', goBackwards: true, returnState: true }).apply(x) as tf.SymbolicTensor[];
      return tf.model({ inputs: x, outputs: outs });
    }],
    ['LSTM sigmoid / tanh with its cell state read (return_state)', () => {
      const x = tf.input({ shape: [4, 2] });
      const outs = tf.layers.lstm({ units: 3, returnState: true }).apply(x) as tf.SymbolicTensor[];
      return tf.model({ inputs: x, outputs: outs });
    }],
    ['GRU softplus, hardSigmoid gates, reset_after=false', () => tf.sequential({ layers: [tf.layers.gru({ units: 4, activation: 'softplus', recurrentActivation: 'hardSigmoid', returnSequences: true, inputShape: [6, 3] })] })],
    ['SimpleRNN linear, return_sequences', () => tf.sequential({ layers: [tf.layers.simpleRNN({ units: 4, activation: 'linear', returnSequences: true, inputShape: [5, 2] })] })],
    ['Bidirectional(LSTM) hardSigmoid gates, relu, concat', () => tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, recurrentActivation: 'hardSigmoid', activation: 'relu' }) as never, inputShape: [5, 2] })] })],
  ];
  it.each(built)('%s (TF.js model.json)', async (_name, make) => {
    const m = make();
    // weights away from the initializers' orthogonal / zero values (larger: the activations' bends are reached)
    m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', 80 + i), 1.5)));
    const { json, shard } = await tfjsRoundTrip(m);
    const read = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const oracle = await tfjsModelFromJson(json, () => shard);
    // inputs in [-2, 2)
    const inputs = (batch: number, seed: number) => shapesOf(read.graph, batch).map((s, i) => Tensor.float32(s, randomInput(s, seed + i).toFloat32().map((v) => 2 * v)));
    const xs1 = inputs(1, 91);
    const e1 = worst(await tfliteOutputs(read, xs1), predict(oracle, xs1), 'TFLite');
    const xs2 = inputs(2, 93);
    const want2 = predict(oracle, xs2);
    const pb = await graphDefOutputs(read, xs2, `built-${_name.replace(/\W+/g, '-')}`);
    const e2 = worst(pb.numpy, want2, 'NumPy GraphDef runner');
    const e3 = pb.opencv ? worst(pb.opencv, want2, 'OpenCV') : undefined;
    console.log(`${_name}: TFLite interpreter ${e1.toExponential(2)}, NumPy GraphDef runner ${e2.toExponential(2)}, OpenCV ${e3 === undefined ? pb.status.slice(0, 120) : e3.toExponential(2)} relative to TF.js`);
    expect(e1).toBeLessThan(TOL);
    expect(e2).toBeLessThan(TOL);
    if (e3 !== undefined) expect(e3).toBeLessThan(TOL);
  });
});
