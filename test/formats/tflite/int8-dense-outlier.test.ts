// A dense layer whose weights hold one outlier (torch 1.13's trunc_normal_ leaves a 2.0 among weights
// of std 0.02: torchvision convnext_tiny's classifier at random init) under --quantize int8. Its
// per-tensor weight scale is then large enough that scale_x · scale_w / scale_y passes 0.02, where
// TFLite's FULLY_CONNECTED checks the bias's scale against scale_x · scale_w: the bias was written
// per channel (1000 equal scales), whose legacy per-tensor scale the kernel reads as 0, and the
// interpreter refused to initialize the file. The bias now has the weights' one scale: the file runs
// in the real interpreter and nnport's integer runtime gives its int8 outputs exactly. Dense weights
// are per output row by default now (int8-dense-per-channel.test.ts); this is the per-tensor case
// (perChannelDense: false, what TF's older converters wrote), whose accuracy stays what one
// weight scale for the whole layer allows: the outlier's row sets the step of every row, 8-12 dB
// from float here, logged, not asserted.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const random = rng(5);
const IN = 64;
const OUT = 10;

function denseModel(): Graph {
  const w = Float32Array.from({ length: OUT * IN }, () => (random() + random() + random() - 1.5) * 0.04);
  // the outlier reads input channel 0, which the data leaves at 0: the output range stays the small weights'
  w[3 * IN] = 2;
  return {
    name: 'dense_outlier',
    nodes: [{ name: 'fc', domain: '', opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: { type: 'int', value: 1 } } }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, IN] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([
      ['w', new Tensor('float32', [OUT, IN], w)],
      ['b', new Tensor('float32', [OUT], new Float32Array(OUT))],
    ]),
    opsets: { '': 13 },
  };
}

interface FlatTensor {
  name: string;
  quantization?: { scale?: number[] };
}

describe('int8 dense layer with an outlier weight', () => {
  it('initializes in the interpreter (the bias on the weights\' one scale) and the integer runtime equals it', { timeout: 300_000 }, async () => {
    const model = await loadModel(writeOnnx(denseModel()), { fileName: 'dense.onnx' });
    const sample = () => new Tensor('float32', [1, IN], Float32Array.from({ length: IN }, (_, i) => (i === 0 ? 0 : random())));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const float = (await convert(model, 'dense.tflite')).bytes;
    const q8 = (await convert(model, 'dense.tflite', { quantize: { mode: 'int8', calibration, perChannelDense: false } })).bytes;
    const tensors = flatcJson<{ subgraphs: Array<{ tensors: FlatTensor[] }> }>(q8, 'dense').subgraphs[0]!.tensors;
    const scaleOf = (pattern: RegExp) => tensors.find((t) => pattern.test(t.name))!.quantization!.scale!;
    expect(scaleOf(/^w_quantized$/)).toHaveLength(1);
    expect(scaleOf(/^b_quantized$/)).toHaveLength(1);
    // the case the interpreter's check catches: scale_x · scale_w / scale_y above 0.02
    const ratio = (scaleOf(/^x_quantized$/)[0]! * scaleOf(/^w_quantized$/)[0]!) / scaleOf(/^y_quantized$/)[0]!;
    expect(ratio).toBeGreaterThan(0.02);
    for (let k = 0; k < 3; k++) {
      const x = sample();
      const [want] = await oracle.run(float, [x.toFloat32()]);
      const [got] = await oracle.run(q8, [x.toFloat32()]);
      const snr = pooledSnrDb([want!.data as Float32Array], [got!.data as Float32Array]);
      const lsb = await integerRuntimeLsbOff(q8, x, got!.data as Float32Array, { requantization: 'xnnpack' });
      console.log(`sample ${k}: int8 vs float ${snr.toFixed(1)} dB; scale_x·scale_w/scale_y ${ratio.toFixed(4)}; integer runtime ${lsb} LSB off the interpreter`);
      expect(lsb).toBe(0);
    }
  });
});
