// A dynamic-range (hybrid) .tflite stores its dense weights int8 with one scale per layer (the
// interpreter's hybrid FULLY_CONNECTED takes one). Quantized again to full int8, those weights are
// on an int8 grid already: they keep it (the same integers and scale) instead of going onto one
// scale per output row, which would round every value a second time. A float model's dense layers
// still get per-row scales. Checked in the real interpreter: the int8 file against the hybrid
// file's own outputs, and the weights against the hybrid file's.
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

/** x [4, 64] -> dense 64 -> 48, relu -> dense 48 -> 40 (weights over 1024 elements: dynamic range quantizes both) */
function mlp(random: () => number): Graph {
  const t = (shape: number[], scale: number) => new Tensor('float32', shape, Float32Array.from({ length: shape[0]! * (shape[1] ?? 1) }, () => (random() * 2 - 1) * scale));
  const w1 = t([48, 64], 0.2);
  // one row with a large weight: per row, the other rows would get finer steps than the layer's
  (w1.data as Float32Array)[5 * 64 + 3] = 1.5;
  const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, domain: '', opType, inputs, outputs, attrs });
  return {
    name: 'mlp',
    inputs: [{ name: 'x', dtype: 'float32', shape: [4, 64] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([
      ['w1', w1],
      ['b1', t([48], 0.1)],
      ['w2', t([40, 48], 0.2)],
      ['b2', t([40], 0.1)],
    ]),
    opsets: { '': 13 },
    nodes: [node('Gemm', ['x', 'w1', 'b1'], ['h'], { transB: { type: 'int', value: 1 } }), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'w2', 'b2'], ['y'], { transB: { type: 'int', value: 1 } })],
  };
}

interface FlatTensor {
  name: string;
  type?: string;
  shape?: number[];
  quantization?: { scale?: number[] };
}

/** The int8 weight tensors of a file's FULLY_CONNECTED ops, in op order: scales and integers. */
async function denseWeights(bytes: Uint8Array, name: string): Promise<{ scales: number[]; q: number[] }[]> {
  const json = flatcJson<{ operator_codes: { builtin_code?: string }[]; subgraphs: { tensors: FlatTensor[]; operators: { opcode_index?: number; inputs: number[] }[] }[] }>(bytes, name);
  const sg = json.subgraphs[0]!;
  const g = await readTflite(bytes);
  return sg.operators
    .filter((o) => json.operator_codes[o.opcode_index ?? 0]!.builtin_code === 'FULLY_CONNECTED')
    .map((o) => {
      const t = sg.tensors[o.inputs[1]!]!;
      expect(t.type).toBe('INT8');
      return { scales: t.quantization!.scale!, q: g.initializers.get(t.name)!.toNumbers() };
    });
}

describe('a dynamic-range file quantized again to int8', () => {
  it('keeps its dense layers on their int8 grid (one scale, the same integers); a float model gets per-row scales', { timeout: 300_000 }, async () => {
    const random = rng(21);
    const float = await loadModel(writeOnnx(mlp(random)), { fileName: 'mlp.onnx' });
    const sample = () => Tensor.float32([4, 64], Array.from({ length: 256 }, () => random() * 2 - 1));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const hybrid = (await convert(float, 'mlp.tflite', { quantize: { mode: 'dynamic' } })).bytes;
    const hybridWeights = await denseWeights(hybrid, 'hybrid');
    expect(hybridWeights.map((w) => w.scales.length)).toEqual([1, 1]);

    const converted = await convert(await loadModel(hybrid, { fileName: 'mlp.tflite' }), 'again.tflite', { quantize: { mode: 'int8', calibration } });
    const again = converted.bytes;
    const againWeights = await denseWeights(again, 'again');
    expect(againWeights).toEqual(hybridWeights);

    // the float model itself: one scale per output row
    const fromFloat = (await convert(float, 'int8.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
    expect((await denseWeights(fromFloat, 'int8')).map((w) => w.scales.length)).toEqual([48, 40]);

    // the int8 file computes the hybrid file's function within int8 activation noise
    const want: Float32Array[] = [];
    const got: Float32Array[] = [];
    for (let k = 0; k < 4; k++) {
      const x = sample();
      want.push((await oracle.run(hybrid, [x.toFloat32()]))[0]!.data as Float32Array);
      got.push((await oracle.run(again, [x.toFloat32()]))[0]!.data as Float32Array);
    }
    const snr = pooledSnrDb(want, got);
    console.log(`hybrid -> int8: ${snr.toFixed(1)} dB from the hybrid file's outputs`);
    expect(snr).toBeGreaterThan(30);
  });
});
