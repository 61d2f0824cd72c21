// ONNX Scan over a sequence of run-time length (a symbolic dim: nnport cannot unroll it) kept as a
// StatelessWhile (src/passes/scan-to-loop.ts makes it a Loop): the TF.js graph model run by
// TensorFlow.js (executeAsync) and the frozen .pb read back by nnport's TensorFlow reader and run,
// both against onnxruntime-node on the ONNX model at two sequence lengths. Models:
// scripts/fixtures/onnx_scan_symbolic.py (a running sum as the backend's test_scan9_sum; an RNN-like
// body with two scan inputs, one scanned in reverse, one along axis 1, a scan output stacked along
// axis 1 and one in reverse).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = {
  scan_sum: { inputs: { initial: (_t: number) => [2], x: (t: number) => [t, 2] }, outputs: ['y', 'z'] },
  scan_rnn: { inputs: { h0: (_t: number) => [2, 3], x: (t: number) => [t, 3], u: (t: number) => [2, t, 3] }, outputs: ['h', 'y', 'r'] },
} as const;
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('onnx_scan_symbolic.py', 'onnx-scan-symbolic', Object.keys(NETS));
}, 300_000);

const random = (shape: number[], seed: number): Tensor => {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return new Tensor('float32', shape, Float32Array.from({ length: size }, () => r() * 2 - 1));
};

/** Each net's feeds at sequence length t and onnxruntime's outputs for them. */
async function cases(net: keyof typeof NETS, onnxBytes: Uint8Array): Promise<Array<{ t: number; feeds: Tensor[]; want: Map<string, Tensor> }>> {
  const names = Object.keys(NETS[net].inputs);
  return Promise.all(
    [3, 7].map(async (t) => {
      const feeds = names.map((name, i) => random((NETS[net].inputs as Record<string, (t: number) => number[]>)[name]!(t), 100 * t + i));
      return { t, feeds, want: await ortRun(onnxBytes, Object.fromEntries(names.map((name, i) => [name, feeds[i]!]))) };
    }),
  );
}

function check(net: string, what: string, t: number, outputs: readonly string[], got: Tensor[], want: Map<string, Tensor>): void {
  outputs.forEach((o, k) => {
    const w = want.get(o)!;
    expect(got[k]!.shape, `${o} at ${t}`).toEqual(w.shape);
    const err = maxAbsDiff(got[k]!.toFloat32(), w.toFloat32());
    console.log(`${net} ${o} (length ${t}): ${what} vs onnxruntime max abs ${err.toExponential(2)}`);
    expect(err, `${o} at ${t}`).toBeLessThanOrEqual(1e-5);
  });
}

describe('ONNX Scan of run-time sequence length kept as a StatelessWhile (TF.js graph model, GraphDef) vs onnxruntime', () => {
  for (const net of Object.keys(NETS) as Array<keyof typeof NETS>) {
    const spec = NETS[net];
    it(`${net}: the TF.js graph model (executeAsync) within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const files = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), 'out/model.json', { tfjsFormat: 'graph' });
      expect(files.notes.join('\n')).toMatch(/Scan kept as tfjs-graph control flow/);
      const json = JSON.parse(new TextDecoder().decode(files.bytes));
      expect((json.modelTopology.node as Array<{ op: string }>).map((n) => n.op)).toContain('StatelessWhile');
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      for (const c of await cases(net, onnxBytes)) check(net, 'TF.js', c.t, spec.outputs, await runGraphModel(m, c.feeds, Object.keys(spec.inputs), [...spec.outputs]), c.want);
      m.dispose();
    });

    it(`${net}: the .pb (StatelessWhile) read back by nnport within 1e-5 of onnxruntime at sequence lengths 3 and 7`, async () => {
      const onnxBytes = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const { bytes } = await convert(await loadModel(onnxBytes, { fileName: `${net}.onnx` }), `${net}.pb`);
      expect(tensorflow.GraphDef.decode(bytes).node.map((n) => n.op)).toContain('StatelessWhile');
      const back = await loadModel(bytes, { fileName: `${net}.pb` });
      for (const c of await cases(net, onnxBytes)) {
        const outs = await run(back, Object.fromEntries(Object.keys(spec.inputs).map((name, i) => [name, c.feeds[i]!])));
        check(net, '.pb read back', c.t, spec.outputs, spec.outputs.map((o) => outs.outputs.get(o)!), c.want);
      }
    });
  }
});
