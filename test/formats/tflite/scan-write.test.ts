// ONNX Scan over a sequence of run-time length (a symbolic dim: nnport cannot unroll it) kept as a
// TFLite WHILE (src/passes/scan-to-loop.ts makes it a Loop), run by the real TFLite interpreter
// against onnxruntime-node on the ONNX model, at two sequence lengths (the file's stored dim set to
// each, as ResizeInputTensor does). Models: scripts/fixtures/onnx_scan_symbolic.py (a running sum as
// the backend's test_scan9_sum; an RNN-like body with two scan inputs, one scanned in reverse, one
// along axis 1, a scan output stacked along axis 1 and one in reverse).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

// per net: each input's shape at sequence length t, and which dim of it is the sequence
const NETS = {
  scan_sum: { inputs: { initial: (_t: number) => [2], x: (t: number) => [t, 2] }, seqDim: { x: 0 }, outputs: ['y', 'z'] },
  scan_rnn: { inputs: { h0: (_t: number) => [2, 3], x: (t: number) => [t, 3], u: (t: number) => [2, t, 3] }, seqDim: { x: 0, u: 1 }, outputs: ['h', 'y', 'r'] },
} as const;
let dir = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('onnx_scan_symbolic.py', 'onnx-scan-symbolic', Object.keys(NETS));
}, 300_000);

const random = (shape: number[], seed: number): Tensor => {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return new Tensor('float32', shape, Float32Array.from({ length: size }, () => r() * 2 - 1));
};

describe('ONNX Scan of run-time sequence length kept as a TFLite WHILE, run by the TFLite interpreter vs onnxruntime', () => {
  for (const [net, spec] of Object.entries(NETS)) {
    it(`${net}: a WHILE subgraph; outputs within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const { bytes, notes } = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), `${net}.tflite`);
      expect(notes.join('\n')).toMatch(/Scan kept as tflite control flow/);
      const json = flatcJson<FlatcOps & { subgraphs: Array<{ operators: Array<{ opcode_index?: number }> }> }>(bytes, net);
      expect(json.subgraphs[0]!.operators.map((o) => opNameOf(json, o))).toContain('WHILE');
      const names = Object.keys(spec.inputs);
      for (const t of [3, 7]) {
        const feeds = names.map((name, i) => random((spec.inputs as Record<string, (t: number) => number[]>)[name]!(t), 100 * t + i));
        const want = await ortRun(onnxBytes, Object.fromEntries(names.map((name, i) => [name, feeds[i]!])));
        let sized = bytes;
        names.forEach((name, i) => {
          const d = (spec.seqDim as Record<string, number>)[name];
          if (d !== undefined) sized = withStoredDim(sized, d, t, i);
        });
        const got = await oracle.run(sized, feeds.map((f) => f.toFloat32()));
        spec.outputs.forEach((o, k) => {
          const w = want.get(o)!;
          expect(got[k]!.shape, `${o} at ${t}`).toEqual(w.shape);
          const err = maxAbsDiff(got[k]!.data as Float32Array, w.toFloat32());
          console.log(`${net} ${o} (length ${t}): .tflite vs onnxruntime max abs ${err.toExponential(2)}`);
          expect(err, `${o} at ${t}`).toBeLessThanOrEqual(1e-5);
        });
      }
    });
  }
});
