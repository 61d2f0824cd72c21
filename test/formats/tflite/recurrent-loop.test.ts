// ONNX GRU / LSTM / RNN over a run-time sequence length that the TFLite writer cannot give to a
// fused sequence op (a GRU; an LSTM with initial states from model inputs or its cell state read)
// written as a WHILE over the time steps (src/passes/recurrent-to-loop.ts), run by the real TFLite
// interpreter at sequence lengths 5 and 11 (the file's stored dim set to each, as ResizeInputTensor
// does) against PyTorch (scripts/fixtures/recurrent_dynamic_models.py). Under --quantize int8 (8
// calibration sequences of length 11) the loop body's steps are integer ops: the interpreter's int8
// file against its float file (SNR), nnport's integer runtime against the interpreter (LSB of each output).
// One-node ONNX layers (layout 1, reverse, bidirectional, hard_sigmoid gates, constant initial states) against
// onnxruntime-node at lengths 4 and 9 (layout 1 run there as its layout-0 twin: onnxruntime has no layout 1).
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert, loadModel, type GraphModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { batchFirst, DYNAMIC_RECURRENT_NETS, dynamicRecurrentNet, oneNodeDynamicCases, oneNodeOracle } from '../../support/recurrent-dynamic.js';
import { integerRuntimeLsbOffEach, tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { buildOneNodeRecurrent } from './one-node-recurrent.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
}, 300_000);

describe('recurrent layers over a run-time sequence length as a TFLite WHILE, run by the TFLite interpreter vs PyTorch', () => {
  it.each(DYNAMIC_RECURRENT_NETS.map((n) => [n]))('%s: outputs within 1e-5 (relative) of PyTorch at sequence lengths 5 and 11', async (net) => {
    const { onnx, cases } = dynamicRecurrentNet(net);
    const { bytes } = await convert(await loadModel(onnx, { fileName: `${net}.onnx` }), `${net}.tflite`);
    const ops = tfliteOpNames(bytes, net);
    // (lstm_2layer and rnn_relu: zero initial states, sigmoid / tanh or relu and no cell state read -- the 2-layer LSTM
    // reads c_n -- so only the LSTM whose c_n is read, or none, is a loop)
    if (net !== 'rnn_relu') expect(ops).toContain('WHILE');
    for (const c of cases) {
      const sized = withStoredDim(bytes, batchFirst(net) ? 1 : 0, c.t);
      const got = await oracle.run(sized, c.feeds.map((f) => f.toFloat32()));
      expect(got).toHaveLength(c.want.length);
      const errs = c.want.map((w, k) => {
        expect([...got[k]!.shape]).toEqual([...w.shape]);
        return relErr(got[k]!.data as Float32Array, w.toFloat32());
      });
      console.log(`${net} .tflite at length ${c.t}: interpreter vs PyTorch per output (max abs over max |PyTorch|) ${errs.map((e) => e.toExponential(2)).join(', ')}`);
      for (const e of errs) expect(e).toBeLessThanOrEqual(1e-5);
    }
  });
});

/** The integer runtime's largest distance from the interpreter's outputs, in LSB of each output's grid (XNNPACK's requantization). */
const lsbOff = (bytes: Uint8Array, x: Tensor, theirs: Float32Array[]): Promise<number[]> => integerRuntimeLsbOffEach(bytes, x, theirs, { requantization: 'xnnpack' });

// The interpreter hands only the primary subgraph to XNNPACK: the WHILE body runs TFLite's builtin kernels, and the
// integer runtime runs bodies with TFLite's requantization whatever it uses for the primary graph (with XNNPACK's in the
// body too the 2-layer LSTM was 2 LSB off once its dense weights became per-channel, and the bidirectional GRU 4 LSB).
const INT8_CASES = [
  { net: 'gru', minDb: 28 },
  { net: 'gru_bidi', minDb: 25 },
  { net: 'lstm_2layer', minDb: 25 },
  { net: 'rnn_relu', minDb: 25 },
] as const;

describe('recurrent layers over a run-time sequence length as a WHILE under --quantize int8', () => {
  it.each(INT8_CASES.map((c) => [c.net, c] as const))('%s: int8 vs float in the interpreter at lengths 5 and 11; integer runtime within 1 LSB of the interpreter', { timeout: 300_000 }, async (net, c) => {
    const { onnx, cases, calib } = dynamicRecurrentNet(net);
    const graph = ((await loadModel(onnx, { fileName: `${net}.onnx` })) as GraphModel).graph;
    const per = calib.size / calib.shape[0]!;
    const calibration = Array.from({ length: calib.shape[0]! }, (_, i) => [new Tensor('float32', calib.shape.slice(1), calib.toFloat32().slice(i * per, (i + 1) * per))]);
    const int8 = await writeTflite(graph, { quantize: { mode: 'int8', calibration } });
    const float = await writeTflite(graph);
    expect(tfliteOpNames(int8, net)).toContain('WHILE');
    const axis = batchFirst(net) ? 1 : 0;
    for (const k of cases) {
      const sized = withStoredDim(int8, axis, k.t);
      const theirs = (await oracle.run(sized, [k.feeds[0]!.toFloat32()])).map((t) => t.data as Float32Array);
      const floats = (await oracle.run(withStoredDim(float, axis, k.t), [k.feeds[0]!.toFloat32()])).map((t) => t.data as Float32Array);
      const snr = pooledSnrDb(floats, theirs);
      const vsTorch = pooledSnrDb(k.want.map((w) => w.toFloat32()), theirs);
      const off = await lsbOff(sized, k.feeds[0]!, theirs);
      console.log(`${net} int8 at length ${k.t}: interpreter int8 vs float ${snr.toFixed(1)} dB (vs PyTorch ${vsTorch.toFixed(1)} dB); nnport integer runtime ${off.map((v) => v.toFixed(2)).join(', ')} LSB off the interpreter`);
      expect(snr).toBeGreaterThan(c.minDb);
      // (one LSB comes out as 1 ± float rounding of the dequantized values)
      for (const v of off) expect(v).toBeLessThan(1.001);
    }
  });
});

describe('one-node ONNX recurrent layers over a run-time sequence length as a TFLite WHILE vs onnxruntime (layout 1 through its layout-0 twin, reverse, bidirectional)', () => {
  it.each(oneNodeDynamicCases().map((c) => [c.name, c] as const))('%s: within 1e-5 (relative) at lengths 4 and 9', async (_name, c) => {
    const bytes = await writeTflite(c.at(4).graph);
    expect(tfliteOpNames(bytes, 'one_node')).toContain('WHILE');
    for (const t of [4, 9]) {
      const { graph, x } = c.at(t);
      const want = await oneNodeOracle(graph, x);
      const axis = graph.nodes[0]!.attrs.layout ? 1 : 0;
      const got = await oracle.run(withStoredDim(bytes, axis, t), [x.toFloat32()]);
      const errs = graph.outputs.map((o, k) => {
        expect([...got[k]!.shape]).toEqual([...want.get(o.name)!.shape]);
        return relErr(got[k]!.data as Float32Array, want.get(o.name)!.toFloat32());
      });
      console.log(`${c.name} .tflite at length ${t}: interpreter vs onnxruntime ${errs.map((e) => e.toExponential(2)).join(', ')}`);
      for (const e of errs) expect(e).toBeLessThanOrEqual(1e-5);
    }
  });
});

it('a sequence_lens over a run-time sequence length is refused by name (nothing checks that it equals the length)', async () => {
  const { graph } = buildOneNodeRecurrent({ op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, constants: { sequence_lens: new Tensor('int32', [2], Int32Array.of(4, 4)) } }, 7, { weights: 0.6, bias: 0.4, peepholes: 0.6 });
  const open = { ...graph, inputs: graph.inputs.map((v) => ({ ...v, shape: ['T', 2, 3] })) };
  await expect(writeTflite(open)).rejects.toThrow(/GRU sequence_lens over a dynamic sequence length in a TFLite file/);
});
