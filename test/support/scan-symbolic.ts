// The fixtures of scripts/fixtures/onnx_scan_symbolic.py (ONNX Scans over a sequence of run-time
// length) and their cases, shared by the TFLite and GraphDef / TF.js Scan tests: each net's inputs at
// sequence length t (random, seeded by t), with onnxruntime-node's outputs for them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { maxAbsDiff } from './error-metrics.js';
import { ensureScriptFixtures } from './fixture-script.js';
import { ortRun } from './ort.js';
import { rng } from './rng.js';

/** Per net: each input's shape at sequence length t, which dim of it is the sequence, and the outputs. */
export const SCAN_NETS = {
  scan_sum: { inputs: { initial: (_t: number) => [2], x: (t: number) => [t, 2] }, seqDim: { x: 0 }, outputs: ['y', 'z'] },
  scan_rnn: { inputs: { h0: (_t: number) => [2, 3], x: (t: number) => [t, 3], u: (t: number) => [2, t, 3] }, seqDim: { x: 0, u: 1 }, outputs: ['h', 'y', 'r'] },
} as const;
export type ScanNet = keyof typeof SCAN_NETS;

/** The net's model.onnx (the fixtures made when missing or stale). */
export function scanModel(net: ScanNet): Uint8Array {
  const dir = ensureScriptFixtures('onnx_scan_symbolic.py', 'onnx-scan-symbolic', Object.keys(SCAN_NETS));
  return new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
}

const random = (shape: number[], seed: number): Tensor => {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return new Tensor('float32', shape, Float32Array.from({ length: size }, () => r() * 2 - 1));
};

/** The net's feeds at sequence lengths 3 and 7 (in its inputs' order) and onnxruntime's outputs for them. */
export async function scanCases(net: ScanNet, onnxBytes: Uint8Array): Promise<Array<{ t: number; feeds: Tensor[]; want: Map<string, Tensor> }>> {
  const names = Object.keys(SCAN_NETS[net].inputs);
  return Promise.all(
    [3, 7].map(async (t) => {
      const feeds = names.map((name, i) => random((SCAN_NETS[net].inputs as Record<string, (t: number) => number[]>)[name]!(t), 100 * t + i));
      return { t, feeds, want: await ortRun(onnxBytes, Object.fromEntries(names.map((name, i) => [name, feeds[i]!]))) };
    }),
  );
}

/** Each output of the net within 1e-5 of onnxruntime's, with the same shape. */
export function expectScanOutputs(net: string, what: string, t: number, outputs: readonly string[], got: Tensor[], want: Map<string, Tensor>): void {
  outputs.forEach((o, k) => {
    const w = want.get(o)!;
    expect(got[k]!.shape, `${o} at ${t}`).toEqual(w.shape);
    const err = maxAbsDiff(got[k]!.toFloat32(), w.toFloat32());
    console.log(`${net} ${o} (length ${t}): ${what} vs onnxruntime max abs ${err.toExponential(2)}`);
    expect(err, `${o} at ${t}`).toBeLessThanOrEqual(1e-5);
  });
}
