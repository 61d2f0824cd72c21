// Dense layers (Gemm / MatMul by a 2-D constant: FULLY_CONNECTED) under --quantize int8 / int16x8
// get one weight scale per output row, as TF's recent converters write them: one outlier weight
// (torch 1.13's trunc_normal_ leaves a 2.0 among weights of std 0.02) then sets its own row's step
// alone. Each layout the writer takes to FULLY_CONNECTED: Gemm with transB (weights [out, in] as
// written), Gemm without (transposed, the row axis moves to 0), MatMul of a rank-3 input
// (keep_num_dims). Checked in the real TFLite interpreter against the float file: the per-channel
// file is well above the per-tensor one (perChannelDense: false), and nnport's integer runtime reads
// the file back and gives the interpreter's outputs exactly (requantization 'xnnpack': the
// interpreter rounds a per-channel int8 FULLY_CONNECTED's fixed-point product once, as TFLite's
// builtin kernel; int8-requantize-interpreter.test.ts has the layers where that shows);
// the file read back and written again keeps its scales and outputs.
// The CLI's --per-tensor-dense asks for one scale per layer.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { writeNpy } from '../../../src/formats/numpy/npy-write.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const IN = 48;
const OUT = 12;
/** the outlier: output row 3 reads input 5 with weight 2 */
const ROW = 3;
const COL = 5;

interface Layer {
  name: string;
  xShape: number[];
  /** weights laid out [out, in] (Gemm transB) or [in, out] */
  rowsFirst: boolean;
  node: Node;
}

const layers: Layer[] = [
  { name: 'gemm_transb', xShape: [2, IN], rowsFirst: true, node: { name: 'fc', domain: '', opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: { type: 'int', value: 1 } } } },
  { name: 'gemm', xShape: [2, IN], rowsFirst: false, node: { name: 'fc', domain: '', opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: {} } },
  { name: 'matmul_rank3', xShape: [2, 5, IN], rowsFirst: false, node: { name: 'fc', domain: '', opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], attrs: {} } },
];

function denseModel(layer: Layer, random: () => number): Graph {
  const w = Float32Array.from({ length: OUT * IN }, () => (random() + random() + random() - 1.5) * 0.04);
  w[layer.rowsFirst ? ROW * IN + COL : COL * OUT + ROW] = 2;
  const initializers = new Map([['w', new Tensor('float32', layer.rowsFirst ? [OUT, IN] : [IN, OUT], w)]]);
  if (layer.node.inputs[2]) initializers.set('b', new Tensor('float32', [OUT], Float32Array.from({ length: OUT }, () => random() * 0.2 - 0.1)));
  return { name: layer.name, nodes: [layer.node], inputs: [{ name: 'x', dtype: 'float32', shape: layer.xShape }], outputs: [{ name: 'y', dtype: 'float32' }], initializers, opsets: { '': 13 } };
}

interface FlatTensor {
  name: string;
  quantization?: { scale?: number[]; quantized_dimension?: number };
}

describe('per-channel dense weights (FULLY_CONNECTED)', () => {
  for (const layer of layers) {
    for (const mode of ['int8', 'int16x8'] as const) {
      it(`${layer.name} ${mode}: one scale per output row, above per tensor, integer runtime 0 LSB`, { timeout: 300_000 }, async () => {
        const random = rng(7);
        const model = await loadModel(writeOnnx(denseModel(layer, random)), { fileName: `${layer.name}.onnx` });
        const size = layer.xShape.reduce((a, d) => a * d, 1);
        // the outlier's input stays small: the outputs' range is the ordinary weights' (an activation's step fits them)
        const sample = () => new Tensor('float32', layer.xShape, Float32Array.from({ length: size }, (_, i) => (random() * 2 - 1) * (i % IN === COL ? 0.02 : 1)));
        const calibration = Array.from({ length: 16 }, () => [sample()]);
        const float = (await convert(model, 'dense.tflite')).bytes;
        const perChannel = (await convert(model, 'dense.tflite', { quantize: { mode, calibration } })).bytes;
        const perTensor = (await convert(model, 'dense.tflite', { quantize: { mode, calibration, perChannelDense: false } })).bytes;
        const tensors = flatcJson<{ subgraphs: Array<{ tensors: FlatTensor[] }> }>(perChannel, 'dense').subgraphs[0]!.tensors;
        const weights = tensors.find((t) => /^w_quantized/.test(t.name))!.quantization!;
        // FULLY_CONNECTED's weights are [out, in]: quantized_dimension 0 (flatc leaves the default out)
        expect(weights.scale).toHaveLength(OUT);
        expect(weights.quantized_dimension ?? 0).toBe(0);
        const bias = tensors.find((t) => /bias|^b_quantized/.test(t.name) && t.quantization?.scale)!.quantization!;
        expect(bias.scale).toHaveLength(OUT);
        // read back and written again: the reader's per-channel FULLY_CONNECTED (axis 0 of [out, in]) keeps its scales
        const again = (await convert(await loadModel(perChannel, { fileName: 'dense.tflite' }), 'again.tflite')).bytes;
        const againWeights = flatcJson<{ subgraphs: Array<{ tensors: FlatTensor[] }> }>(again, 'again').subgraphs[0]!.tensors.find((t) => /^w_quantized/.test(t.name))!.quantization!;
        expect(againWeights.scale).toEqual(weights.scale);
        const want: Float32Array[] = [];
        const got: Float32Array[] = [];
        const gotPerTensor: Float32Array[] = [];
        for (let k = 0; k < 4; k++) {
          const x = sample();
          want.push((await oracle.run(float, [x.toFloat32()]))[0]!.data as Float32Array);
          got.push((await oracle.run(perChannel, [x.toFloat32()]))[0]!.data as Float32Array);
          gotPerTensor.push((await oracle.run(perTensor, [x.toFloat32()]))[0]!.data as Float32Array);
          expect(await integerRuntimeLsbOff(perChannel, x, got[k]!, { requantization: 'xnnpack' })).toBe(0);
          expect((await oracle.run(again, [x.toFloat32()]))[0]!.data).toEqual(got[k]);
        }
        const snr = pooledSnrDb(want, got);
        const snrPerTensor = pooledSnrDb(want, gotPerTensor);
        console.log(`${layer.name} ${mode}: ${snr.toFixed(1)} dB from float per channel, ${snrPerTensor.toFixed(1)} dB per tensor`);
        // (measured 8.5-14 dB above: the outlier's own row keeps the coarse step, 2 / 127, and bounds the pooled SNR)
        expect(snr).toBeGreaterThan(snrPerTensor + 6);
      });
    }
  }

  it('the CLI: --per-tensor-dense writes one weight scale per dense layer, int8 / int16x8 only', { timeout: 120_000 }, async () => {
    const random = rng(9);
    const dir = mkdtempSync(join(tmpdir(), 'nnport-dense-per-channel-'));
    try {
      writeFileSync(join(dir, 'dense.onnx'), writeOnnx(denseModel(layers[0]!, random)));
      mkdirSync(join(dir, 'calibration'));
      for (let k = 0; k < 4; k++) writeFileSync(join(dir, 'calibration', `x${k}.npy`), writeNpy(new Tensor('float32', [2, IN], Float32Array.from({ length: 2 * IN }, () => random() * 2 - 1))));
      const weightScales = async (...flags: string[]): Promise<number> => {
        const said: string[] = [];
        const out = join(dir, `${flags.length}.tflite`);
        const code = await main(['convert', join(dir, 'dense.onnx'), '-o', out, '--quantize', 'int8', '--calibration', join(dir, 'calibration'), ...flags], (t) => said.push(t), (t) => said.push(t));
        expect(code, said.join('\n')).toBe(0);
        const tensors = flatcJson<{ subgraphs: Array<{ tensors: FlatTensor[] }> }>(new Uint8Array(readFileSync(out)), 'cli').subgraphs[0]!.tensors;
        return tensors.find((t) => /^w_quantized/.test(t.name))!.quantization!.scale!.length;
      };
      expect(await weightScales()).toBe(OUT);
      expect(await weightScales('--per-tensor-dense')).toBe(1);
      const refused = async (...args: string[]): Promise<string> => {
        const said: string[] = [];
        expect(await main(['convert', join(dir, 'dense.onnx'), '-o', join(dir, 'r.tflite'), ...args], (t) => said.push(t), (t) => said.push(t))).not.toBe(0);
        return said.join('\n');
      };
      expect(await refused('--quantize', 'dynamic', '--per-tensor-dense')).toMatch(/--per-tensor-dense applies to --quantize int8 and int16x8 only/);
      expect(await refused('--per-tensor-dense')).toMatch(/--per-tensor-dense needs --quantize/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
