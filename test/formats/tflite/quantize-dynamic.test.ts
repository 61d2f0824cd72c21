// Dynamic-range quantization laid out as TF's converter emits it (Optimize.DEFAULT, no dataset),
// checked in the file (flatc with the schema) and run by the real TFLite interpreter against the
// float file: conv / depthwise weights int8 per output channel read by the hybrid kernels,
// FULLY_CONNECTED int8 per tensor with asymmetric_quantize_inputs, TRANSPOSE_CONV's int8 weights
// behind a DEQUANTIZE (float compute), weights under 1024 elements float; and per-channel
// FULLY_CONNECTED weights (a model read with them) behind a DEQUANTIZE, since the interpreter's
// hybrid FULLY_CONNECTED takes one scale.
import { describe, expect, it } from 'vitest';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { relErr } from '../../support/error-metrics.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

let seed = 7;
const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
const randomTensor = (shape: number[], scale: number): Tensor => {
  const t = Tensor.float32(shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rand() * scale;
  return t;
};
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const ints = (value: number[]) => ({ type: 'ints' as const, value });
const int = (value: number) => ({ type: 'int' as const, value });

/** NCHW ONNX: conv 16->32 (4608 weights), depthwise x4 (1152), 1x1 conv 128->4 (512: stays float), transposed conv 4->64 (1024), pool, dense 64->32 (2048). */
function model(): Graph {
  const init = new Map<string, Tensor>([
    ['w1', randomTensor([32, 16, 3, 3], 0.3)],
    ['b1', randomTensor([32], 0.1)],
    ['wd', randomTensor([128, 1, 3, 3], 0.6)],
    ['bd', randomTensor([128], 0.1)],
    ['ws', randomTensor([4, 128, 1, 1], 0.2)],
    ['wt', randomTensor([4, 64, 2, 2], 0.5)],
    ['bt', randomTensor([64], 0.1)],
    ['wf', randomTensor([32, 64], 0.4)],
    ['bf', randomTensor([32], 0.1)],
  ]);
  return {
    name: 'dynamic',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 16, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 32] }],
    initializers: init,
    opsets: { '': 17 },
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], ['c1'], { pads: ints([1, 1, 1, 1]) }),
      node('Relu', ['c1'], ['r1']),
      node('Conv', ['r1', 'wd', 'bd'], ['cd'], { pads: ints([1, 1, 1, 1]), group: int(32) }),
      node('Relu', ['cd'], ['rd']),
      node('Conv', ['rd', 'ws'], ['cs']),
      node('ConvTranspose', ['cs', 'wt', 'bt'], ['ct'], { strides: ints([2, 2]) }),
      node('Relu', ['ct'], ['rt']),
      node('GlobalAveragePool', ['rt'], ['p']),
      node('Flatten', ['p'], ['f']),
      node('Gemm', ['f', 'wf', 'bf'], ['y'], { transB: int(1) }),
    ],
  };
}

interface FlatcTensor {
  name: string;
  type: string;
  buffer: number;
  quantization?: { scale?: number[]; quantized_dimension?: number };
}
interface FlatcModel {
  operator_codes: { builtin_code: string }[];
  subgraphs: { tensors: FlatcTensor[]; operators: { opcode_index: number; inputs: number[]; outputs: number[]; builtin_options?: Record<string, unknown> }[] }[];
}

function opsOf(m: FlatcModel) {
  const sg = m.subgraphs[0]!;
  return sg.operators.map((o) => ({ code: m.operator_codes[o.opcode_index]!.builtin_code, inputs: o.inputs.map((i) => sg.tensors[i]!), outputs: o.outputs.map((i) => sg.tensors[i]!), options: o.builtin_options ?? {} }));
}

describe('dynamic-range TFLite as TF emits it, run by the interpreter', () => {
  it('hybrid conv / depthwise / dense, weight-only transposed conv, small weights float', async () => {
    const g = await prepareForTflite(model());
    const x = randomTensor([1, 8, 8, 16], 2);
    const float = serializeTflite(g);
    const dynamic = serializeTflite((await quantizeGraph(g, { mode: 'dynamic' })).graph);
    const ops = opsOf(flatcJson<FlatcModel>(dynamic, 'dynamic', { defaults: true }));
    const one = (code: string) => {
      const found = ops.filter((o) => o.code === code);
      expect({ code, count: found.length }).toEqual({ code, count: code === 'CONV_2D' ? 2 : 1 });
      return found;
    };
    const [conv, small] = one('CONV_2D');
    // hybrid conv: int8 weights per output channel (OHWI axis 0), float activations
    expect([conv!.inputs[0]!.type, conv!.inputs[1]!.type, conv!.inputs[1]!.quantization!.scale!.length, conv!.inputs[1]!.quantization!.quantized_dimension]).toEqual(['FLOAT32', 'INT8', 32, 0]);
    // 512 weights: under TF's 1024-element minimum, float
    expect(small!.inputs[1]!.type).toBe('FLOAT32');
    const [dw] = one('DEPTHWISE_CONV_2D');
    expect([dw!.inputs[0]!.type, dw!.inputs[1]!.type, dw!.inputs[1]!.quantization!.scale!.length, dw!.inputs[1]!.quantization!.quantized_dimension]).toEqual(['FLOAT32', 'INT8', 128, 3]);
    const [fc] = one('FULLY_CONNECTED');
    expect([fc!.inputs[1]!.type, fc!.inputs[1]!.quantization!.scale!.length, fc!.options.asymmetric_quantize_inputs]).toEqual(['INT8', 1, true]);
    // TRANSPOSE_CONV reads float weights that a DEQUANTIZE makes from int8 per-channel ones
    const [tconv] = one('TRANSPOSE_CONV');
    const [deq] = one('DEQUANTIZE');
    expect(tconv!.inputs[1]!.name).toBe(deq!.outputs[0]!.name);
    expect([deq!.inputs[0]!.type, deq!.inputs[0]!.quantization!.scale!.length, deq!.inputs[0]!.quantization!.quantized_dimension, tconv!.inputs[1]!.type]).toEqual(['INT8', 64, 0, 'FLOAT32']);

    const want = (await oracle.run(float, [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(dynamic, [x.data as Float32Array]))[0]!.data as Float32Array;
    const err = relErr(got, want);
    console.log(`dynamic vs float: ${err.toExponential(2)}`);
    // int8 weights and the hybrid kernels' on-the-fly int8 activations: measured 4.2e-3
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThanOrEqual(1e-2);
  });

  it('per-channel FULLY_CONNECTED weights go through a DEQUANTIZE and compute in float', async () => {
    const w = Int8Array.from({ length: 48 * 40 }, () => Math.round(rand() * 254));
    const scales = Array.from({ length: 48 }, (_, i) => 0.001 * (1 + i));
    const g: Graph = {
      name: 'fc',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 40] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 48] }],
      initializers: new Map<string, Tensor>([
        ['w', new Tensor('int8', [48, 40], w)],
        ['w_scale', Tensor.float32([48], scales)],
        ['w_zp', new Tensor('int8', [48], new Int8Array(48))],
        ['wf', new Tensor('float32', [48, 40], Float32Array.from(w, (v, i) => v * scales[Math.floor(i / 40)]!))],
        ['b', randomTensor([48], 0.1)],
      ]),
      opsets: { '': 17 },
      nodes: [node('DequantizeLinear', ['w', 'w_scale', 'w_zp'], ['wq'], { axis: int(0) }), node('Gemm', ['x', 'wq', 'b'], ['y'], { transB: int(1) })],
    };
    const floatGraph: Graph = { ...g, nodes: [node('Gemm', ['x', 'wf', 'b'], ['y'], { transB: int(1) })] };
    const bytes = serializeTflite(await prepareForTflite(g));
    const ops = opsOf(flatcJson<FlatcModel>(bytes, 'fc', { defaults: true }));
    expect(ops.map((o) => o.code)).toEqual(['DEQUANTIZE', 'FULLY_CONNECTED']);
    expect(ops[0]!.inputs[0]!.quantization!.scale!.length).toBe(48);
    const x = randomTensor([1, 40], 4);
    const want = (await oracle.run(serializeTflite(await prepareForTflite(floatGraph)), [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(bytes, [x.data as Float32Array]))[0]!.data as Float32Array;
    expect(relErr(got, want)).toBeLessThanOrEqual(1e-6);
  });
});
