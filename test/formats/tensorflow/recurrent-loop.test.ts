// ONNX GRU / LSTM / RNN over a run-time sequence length in a TF.js graph model / frozen .pb: a
// StatelessWhile over the time steps (src/passes/recurrent-to-loop.ts; the GraphDef writer unrolls
// only a static sequence). The TF.js graph model runs in TF.js (executeAsync) and the .pb is read
// back by nnport's TF reader and run, both against PyTorch (scripts/fixtures/
// recurrent_dynamic_models.py) at sequence lengths 5 and 11; one-node ONNX layers (layout 1, reverse, bidirectional)
// in TF.js against onnxruntime-node at lengths 4 and 9.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { DYNAMIC_RECURRENT_NETS, dynamicRecurrentNet, type DynamicRecurrentCase, oneNodeDynamicCases, oneNodeOracle } from '../../support/recurrent-dynamic.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
}, 300_000);

const INPUTS = ['x', 'h0', 'c0'];
const OUTPUTS = ['y', 'h_n', 'c_n'];

function expectClose(net: string, where: string, c: DynamicRecurrentCase, got: Tensor[]): void {
  const errs = c.want.map((w, k) => {
    expect([...got[k]!.shape], `${net} ${OUTPUTS[k]} shape`).toEqual([...w.shape]);
    return relErr(got[k]!.toFloat32(), w.toFloat32());
  });
  console.log(`${net} ${where} at length ${c.t}: vs PyTorch per output (max abs over max |PyTorch|) ${errs.map((e) => e.toExponential(2)).join(', ')}`);
  for (const e of errs) expect(e).toBeLessThanOrEqual(1e-5);
}

describe('recurrent layers over a run-time sequence length as a StatelessWhile (TF.js graph model, GraphDef) vs PyTorch', () => {
  it.each(DYNAMIC_RECURRENT_NETS.map((n) => [n]))('%s: the TF.js graph model (executeAsync) within 1e-5 (relative) of PyTorch at sequence lengths 5 and 11', async (net) => {
    const { onnx, cases } = dynamicRecurrentNet(net);
    const files = await convert(await loadModel(onnx, { fileName: `${net}.onnx` }), 'out/model.json', { tfjsFormat: 'graph' });
    const json = JSON.parse(new TextDecoder().decode(files.bytes)) as { modelTopology: { node: Array<{ op: string }> } };
    expect(json.modelTopology.node.map((n) => n.op)).toContain('StatelessWhile');
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    for (const c of cases) expectClose(net, 'TF.js graph model', c, await runGraphModel(m, c.feeds, INPUTS.slice(0, c.feeds.length), OUTPUTS.slice(0, c.want.length)));
    m.dispose();
  });

  it.each(DYNAMIC_RECURRENT_NETS.map((n) => [n]))('%s: the .pb (StatelessWhile) read back by nnport within 1e-5 (relative) of PyTorch at sequence lengths 5 and 11', async (net) => {
    const { onnx, cases } = dynamicRecurrentNet(net);
    const { bytes } = await convert(await loadModel(onnx, { fileName: `${net}.onnx` }), `${net}.pb`);
    expect(tensorflow.GraphDef.decode(bytes).node.map((n) => n.op)).toContain('StatelessWhile');
    const back = await loadModel(bytes, { fileName: `${net}.pb` });
    for (const c of cases) {
      const outs = await run(back, Object.fromEntries(c.feeds.map((f, k) => [INPUTS[k]!, f])));
      expectClose(net, '.pb read back', c, OUTPUTS.slice(0, c.want.length).map((o) => outs.outputs.get(o)!));
    }
  });
});

describe('one-node ONNX recurrent layers over a run-time sequence length as a StatelessWhile vs onnxruntime (layout 1 through its layout-0 twin, reverse, bidirectional)', () => {
  it.each(oneNodeDynamicCases().map((c) => [c.name, c] as const))('%s: the TF.js graph model within 1e-5 (relative) at lengths 4 and 9', async (_name, c) => {
    const files = await convert({ kind: 'graph', format: 'onnx', graph: c.at(4).graph }, 'out/model.json', { tfjsFormat: 'graph' });
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    for (const t of [4, 9]) {
      const { graph, x } = c.at(t);
      const want = await oneNodeOracle(graph, x);
      const names = graph.outputs.map((o) => o.name);
      const got = await runGraphModel(m, [x], ['X'], names);
      const errs = names.map((o, k) => {
        expect([...got[k]!.shape]).toEqual([...want.get(o)!.shape]);
        return relErr(got[k]!.toFloat32(), want.get(o)!.toFloat32());
      });
      console.log(`${c.name} TF.js graph model at length ${t}: vs onnxruntime ${errs.map((e) => e.toExponential(2)).join(', ')}`);
      for (const e of errs) expect(e).toBeLessThanOrEqual(1e-5);
    }
    m.dispose();
  });
});
