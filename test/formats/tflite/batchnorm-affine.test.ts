// A BatchNormalization no weight absorbs (burn's MNIST model from the corpus: a BatchNorm2d after
// a ReLU, a BatchNorm1d after Linear -> ReLU -> Linear) written to TFLite as MUL + ADD by
// per-channel constants, as TF's converter writes it (src/passes/batchnorm-affine.ts). The TFLite
// interpreter runs the file (float32, float16, dynamic-range, full int8) against
// onnxruntime-node on the ONNX file; int8 also through nnport's integer runtime (<= 1 LSB of the
// interpreter, with XNNPACK's requantization as the interpreter runs these ops).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { batchNormAsAffine } from '../../../src/passes/batchnorm-affine.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { integerRuntimeLsbOff, tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const FILE = corpusPath('onnx/burn-mnist-torch2-opset16/mnist.onnx');
const oracle = useTfliteOracle();

const images = (count: number, seed: number): Tensor[] => {
  const q = rng(seed);
  return Array.from({ length: count }, () => Tensor.float32([1, 28, 28, 1], Float32Array.from({ length: 784 }, () => q())));
};

/** onnxruntime-node on the ONNX file (NCHW input; the 28x28x1 image is the same bytes either way) */
async function reference(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const out = Object.values(await runOrt(bytes, { 'input.1': Tensor.float32([1, 1, 28, 28], x.toFloat32()) }))[0]!;
  const b = out.bytes as Uint8Array;
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
}

const opNames = (bytes: Uint8Array): string[] => tfliteOpNames(bytes, 'mnist');

describe('standalone BatchNormalization -> TFLite MUL + ADD (burn MNIST from the corpus), the interpreter vs onnxruntime-node', () => {
  it('the pass: scale = gamma / sqrt(var + eps), shift = beta - mean * scale in float64, then float32', async () => {
    const g = await readOnnx(readFileSync(FILE), { fileName: 'mnist.onnx' });
    const r = batchNormAsAffine(g);
    expect(r.rewritten).toEqual(['/norm1/BatchNormalization', '/norm2/BatchNormalization']);
    const bn = g.nodes.find((n) => n.name === '/norm2/BatchNormalization')!;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((v) => g.initializers.get(v)!.toNumbers()) as [number[], number[], number[], number[]];
    const eps = (bn.attrs.epsilon?.value as number | undefined) ?? 1e-5;
    const mul = r.graph.nodes.find((n) => n.name === '/norm2/BatchNormalization/mul')!;
    const add = r.graph.nodes.find((n) => n.name === '/norm2/BatchNormalization')!;
    expect(add.opType).toBe('Add');
    const scale = r.graph.initializers.get(mul.inputs[1]!)!;
    const shift = r.graph.initializers.get(add.inputs[1]!)!;
    expect(scale.shape).toEqual([10]);
    expect([...scale.toFloat32()]).toEqual(gamma.map((v, c) => Math.fround(v / Math.sqrt(variance[c]! + eps))));
    expect([...shift.toFloat32()]).toEqual(beta.map((v, c) => Math.fround(v - mean[c]! * (gamma[c]! / Math.sqrt(variance[c]! + eps)))));
    // the 4-D one after the ReLU: [C, 1, 1] against NCHW data
    const mul1 = r.graph.nodes.find((n) => n.name === '/norm1/BatchNormalization/mul')!;
    expect(r.graph.initializers.get(mul1.inputs[1]!)!.shape).toEqual([24, 1, 1]);
  });

  it('float32, float16, dynamic: no BatchNormalization left, MUL + ADD; the interpreter within bounds of onnxruntime-node', async () => {
    const bytes = new Uint8Array(readFileSync(FILE));
    const graph: Graph = await readOnnx(bytes, { fileName: 'mnist.onnx' });
    const xs = images(3, 21);
    const want = await Promise.all(xs.map((x) => reference(bytes, x)));
    for (const [mode, bound] of [[undefined, 1e-5], ['float16', 5e-3], ['dynamic', 5e-2]] as const) {
      const file = await writeTflite(graph, { fileName: 'mnist.tflite', ...(mode ? { quantize: { mode } } : {}) });
      const ops = opNames(file);
      expect(ops.filter((o) => o === 'MUL')).toHaveLength(2);
      expect(ops.at(-1)).toBe('LOG_SOFTMAX');
      for (const [i, x] of xs.entries()) {
        const [y] = await oracle.run(file, [x.toFloat32()]);
        const err = relErr(y!.data as Float32Array, want[i]!);
        if (i === 0) console.log(`burn mnist ${mode ?? 'float32'}: interpreter vs onnxruntime-node ${err.toExponential(2)} (relative to the output's scale)`);
        expect(err).toBeLessThanOrEqual(bound);
      }
    }
  });

  // the whole model (its LOG_SOFTMAX output on TFLite's fixed int8 grid, steps of 1/16) and the
  // model cut after the BatchNorm1d (the MUL + ADD output on a calibrated grid)
  for (const [cut, minSnr] of [[undefined, 20], ['/norm2/BatchNormalization_output_0', 30]] as const) {
    it(`int8${cut ? ' up to the BatchNorm1d' : ''}: the interpreter vs onnxruntime-node SNR > ${minSnr} dB; nnport integer runtime (XNNPACK requantization) <= 1 LSB of the interpreter`, async () => {
      const full = new Uint8Array(readFileSync(FILE));
      let graph: Graph = await readOnnx(full, { fileName: 'mnist.onnx' });
      if (cut) graph = { ...graph, nodes: graph.nodes.slice(0, graph.nodes.findIndex((n) => n.outputs[0] === cut) + 1), outputs: [{ name: cut, dtype: 'float32' }] };
      const bytes = cut ? writeOnnx(graph) : full;
      const calibration = images(16, 5).map((t) => [t]);
      const file = await writeTflite(graph, { fileName: 'mnist.tflite', quantize: { mode: 'int8', calibration } });
      const ops = opNames(file);
      expect(ops.filter((o) => o === 'MUL')).toHaveLength(2);
      expect(ops.includes('LOG_SOFTMAX')).toBe(!cut);
      const want: Float32Array[] = [];
      const got: Float32Array[] = [];
      for (const x of images(3, 9)) {
        const [y] = await oracle.run(file, [x.toFloat32()]);
        want.push(await reference(bytes, x));
        got.push(y!.data as Float32Array);
        // (the interpreter runs ADD / MUL / the convs on XNNPACK: its float32 requantization)
        expect(await integerRuntimeLsbOff(file, x, y!.data as Float32Array, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1.0001);
      }
      const snr = pooledSnrDb(want, got);
      console.log(`burn mnist int8${cut ? ' up to the BatchNorm1d' : ''}: interpreter vs onnxruntime-node SNR ${snr.toFixed(1)} dB`);
      expect(snr).toBeGreaterThan(minSnr);
    });
  }
});
