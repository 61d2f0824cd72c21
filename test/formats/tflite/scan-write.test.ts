// ONNX Scan over a sequence of run-time length (a symbolic dim: nnport cannot unroll it) kept as a
// TFLite WHILE (src/passes/scan-to-loop.ts makes it a Loop), run by the real TFLite interpreter
// against onnxruntime-node on the ONNX model, at two sequence lengths (the file's stored dim set to
// each, as ResizeInputTensor does). Models: scripts/fixtures/onnx_scan_symbolic.py (a running sum as
// the backend's test_scan9_sum; an RNN-like body with two scan inputs, one scanned in reverse, one
// along axis 1, a scan output stacked along axis 1 and one in reverse).
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { expectScanOutputs, SCAN_NETS, type ScanNet, scanCases, scanModel } from '../../support/scan-symbolic.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
}, 300_000);

describe('ONNX Scan of run-time sequence length kept as a TFLite WHILE, run by the TFLite interpreter vs onnxruntime', () => {
  for (const net of Object.keys(SCAN_NETS) as ScanNet[]) {
    const spec = SCAN_NETS[net];
    it(`${net}: a WHILE subgraph; outputs within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = scanModel(net);
      const { bytes, notes } = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), `${net}.tflite`);
      expect(notes.join('\n')).toMatch(/Scan kept as tflite control flow/);
      const json = flatcJson<FlatcOps & { subgraphs: Array<{ operators: Array<{ opcode_index?: number }> }> }>(bytes, net);
      expect(json.subgraphs[0]!.operators.map((o) => opNameOf(json, o))).toContain('WHILE');
      const names = Object.keys(spec.inputs);
      for (const { t, feeds, want } of await scanCases(net, onnxBytes)) {
        let sized = bytes;
        names.forEach((name, i) => {
          const d = (spec.seqDim as Record<string, number>)[name];
          if (d !== undefined) sized = withStoredDim(sized, d, t, i);
        });
        const got = await oracle.run(sized, feeds.map((f) => f.toFloat32()));
        expectScanOutputs(net, '.tflite', t, spec.outputs, got.map((g) => new Tensor('float32', [...g.shape], g.data as Float32Array)), want);
      }
    });
  }
});
