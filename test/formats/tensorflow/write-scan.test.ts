// ONNX Scan over a sequence of run-time length (a symbolic dim: nnport cannot unroll it) kept as a
// StatelessWhile (src/passes/scan-to-loop.ts makes it a Loop): the TF.js graph model run by
// TensorFlow.js (executeAsync) and the frozen .pb read back by nnport's TensorFlow reader and run,
// both against onnxruntime-node on the ONNX model at two sequence lengths. Models:
// scripts/fixtures/onnx_scan_symbolic.py (a running sum as the backend's test_scan9_sum; an RNN-like
// body with two scan inputs, one scanned in reverse, one along axis 1, a scan output stacked along
// axis 1 and one in reverse).
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { expectScanOutputs, SCAN_NETS, type ScanNet, scanCases, scanModel } from '../../support/scan-symbolic.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
}, 300_000);

describe('ONNX Scan of run-time sequence length kept as a StatelessWhile (TF.js graph model, GraphDef) vs onnxruntime', () => {
  for (const net of Object.keys(SCAN_NETS) as ScanNet[]) {
    const spec = SCAN_NETS[net];
    it(`${net}: the TF.js graph model (executeAsync) within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = scanModel(net);
      const files = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), 'out/model.json', { tfjsFormat: 'graph' });
      expect(files.notes.join('\n')).toMatch(/Scan kept as tfjs-graph control flow/);
      const json = JSON.parse(new TextDecoder().decode(files.bytes));
      expect((json.modelTopology.node as Array<{ op: string }>).map((n) => n.op)).toContain('StatelessWhile');
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      for (const c of await scanCases(net, onnxBytes)) expectScanOutputs(net, 'TF.js', c.t, spec.outputs, await runGraphModel(m, c.feeds, Object.keys(spec.inputs), [...spec.outputs]), c.want);
      m.dispose();
    });

    it(`${net}: the .pb (StatelessWhile) read back by nnport within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = scanModel(net);
      const { bytes } = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), `${net}.pb`);
      expect(tensorflow.GraphDef.decode(bytes).node.map((n) => n.op)).toContain('StatelessWhile');
      const back = await loadModel(bytes, { fileName: `${net}.pb` });
      for (const c of await scanCases(net, onnxBytes)) {
        const outs = await run(back, Object.fromEntries(Object.keys(spec.inputs).map((name, i) => [name, c.feeds[i]!])));
        expectScanOutputs(net, '.pb read back', c.t, spec.outputs, spec.outputs.map((o) => outs.outputs.get(o)!), c.want);
      }
    });
  }
});
