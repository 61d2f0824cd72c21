// TFLite's int8 MAXIMUM / MINIMUM copy the larger / smaller input byte and read it with the output's
// parameters: a pre-quantized (QDQ) Max / Min whose output is quantized otherwise than its inputs (as
// onnxruntime's quantize_static may write it; nnport's own quantizer ties them) needs its inputs
// requantized to the output's (write-requantize.ts). The real interpreter against onnxruntime-node on the
// QDQ graph, and nnport's integer runtime against the interpreter.
import { beforeAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
});

const OUT = { scale: 0.05, zeroPoint: -10 };

/**
 * a (scale 0.02, zero point 3) and b (0.03, -5) through QuantizeLinear / DequantizeLinear, the op, its output
 * quantized at OUT. With `constant`, b is an int8 initializer of those codes (DequantizeLinear only).
 */
function qdq(op: string, shape: number[], constant?: Int8Array, attrs: Graph['nodes'][number]['attrs'] = {}, perAxis?: { axis: number; scales: number[]; zeroPoints: number[] }): Graph {
  const g = emptyGraph(`qdq_${op}`);
  g.opsets[''] = 17;
  const params: Record<string, [number, number]> = { a: [0.02, 3], b: [0.03, -5], y: [OUT.scale, OUT.zeroPoint] };
  for (const [k, [s, z]] of Object.entries(params)) {
    g.initializers.set(`${k}_scale`, Tensor.float32([], [s]));
    g.initializers.set(`${k}_zero_point`, new Tensor('int8', [], Int8Array.of(z)));
  }
  const node = (name: string, opType: string, inputs: string[], output: string) => g.nodes.push({ name, opType, domain: '', inputs, outputs: [output], attrs: {} });
  for (const k of ['a', 'b']) {
    if (k === 'b' && constant) {
      g.initializers.set('b_q', new Tensor('int8', shape, constant));
      if (perAxis) {
        g.initializers.set('b_scale', Tensor.float32([perAxis.scales.length], perAxis.scales));
        g.initializers.set('b_zero_point', new Tensor('int8', [perAxis.zeroPoints.length], Int8Array.from(perAxis.zeroPoints)));
      }
      node('dq_b', 'DequantizeLinear', ['b_q', 'b_scale', 'b_zero_point'], 'b_dq');
      if (perAxis) g.nodes.at(-1)!.attrs = { axis: { type: 'int', value: perAxis.axis } };
      continue;
    }
    g.inputs.push({ name: k, dtype: 'float32', shape });
    node(`q_${k}`, 'QuantizeLinear', [k, `${k}_scale`, `${k}_zero_point`], `${k}_q`);
    node(`dq_${k}`, 'DequantizeLinear', [`${k}_q`, `${k}_scale`, `${k}_zero_point`], `${k}_dq`);
  }
  g.nodes.push({ name: 'op', opType: op, domain: '', inputs: ['a_dq', 'b_dq'], outputs: ['y_float'], attrs });
  node('q_y', 'QuantizeLinear', ['y_float', 'y_scale', 'y_zero_point'], 'y_q');
  node('dq_y', 'DequantizeLinear', ['y_q', 'y_scale', 'y_zero_point'], 'y');
  g.outputs.push({ name: 'y', dtype: 'float32' });
  return g;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('int8 MAXIMUM / MINIMUM of a QDQ graph quantized otherwise at the output', () => {
  for (const [op, tflite] of [['Max', 'MAXIMUM'], ['Min', 'MINIMUM']] as const) {
    it(`${op}: inputs requantized to the output's parameters, within 1 LSB of onnxruntime, the integer runtime within 1 of the interpreter`, async () => {
      const shape = [2, 3, 4, 5];
      const r = rng(op.length);
      const x = [0, 1].map(() => Tensor.float32(shape, Float32Array.from({ length: 120 }, () => r() * 6 - 3)));
      const g = qdq(op, shape);
      const want = [...(await ortRun(g, x)).values()][0]!.toFloat32();
      const bytes = await writeTflite(g, { fileName: `${op}.tflite` });
      const ops = tfliteOpNames(bytes, op);
      expect(ops).toEqual(['QUANTIZE', 'QUANTIZE', 'QUANTIZE', 'QUANTIZE', tflite, 'DEQUANTIZE']);
      const [got] = await oracle.run(bytes, x.map((t) => t.toFloat32()));
      const vsOrt = maxAbs(got!.data as Float32Array, want) / OUT.scale;
      const back = await readTflite(bytes);
      const mine = [...(await runInteger(back, { a: x[0]!, b: x[1]! }, { requantization: 'xnnpack' })).outputs.values()][0]!.toFloat32();
      const vsInteger = maxAbs(mine, got!.data as Float32Array) / OUT.scale;
      console.log(`${op}: ${ops.join(' ')}; interpreter vs onnxruntime ${vsOrt.toFixed(2)} LSB, integer runtime vs interpreter ${vsInteger.toFixed(2)} LSB`);
      expect(vsOrt).toBeLessThanOrEqual(1 + 1e-4);
      expect(vsInteger).toBeLessThanOrEqual(1 + 1e-4);
    });
  }

  // a constant operand (a clamp bound, a concatenated learned token) quantized otherwise: its codes requantized in place
  // per axis: a learned per-channel bound or token whose DequantizeLinear has one scale per channel (axis 1)
  const perAxis = { axis: 1, scales: [0.01, 0.03, 0.045], zeroPoints: [0, -7, 4] };
  for (const [op, tflite, shape, attrs, axis] of [
    ['Max', 'MAXIMUM', [2, 3, 4, 5], {}, undefined],
    ['Min', 'MINIMUM', [2, 3, 4, 5], {}, undefined],
    ['Concat', 'CONCATENATION', [2, 3, 4, 5], { axis: { type: 'int' as const, value: 1 } }, undefined],
    ['Max', 'MAXIMUM', [2, 3, 4, 5], {}, perAxis],
    ['Min', 'MINIMUM', [2, 3, 4, 5], {}, perAxis],
    ['Concat', 'CONCATENATION', [2, 3, 4, 5], { axis: { type: 'int' as const, value: 2 } }, perAxis],
  ] as const) {
    it(`${op} of an int8 constant${axis ? ' quantized per channel' : ''} on other parameters: its codes requantized in the file, within 1 LSB of onnxruntime, the integer runtime within 1 of the interpreter`, async () => {
      const r = rng(op.length + 7);
      const n = shape.reduce((p, d) => p * d, 1);
      const x = Tensor.float32([...shape], Float32Array.from({ length: n }, () => r() * 6 - 3));
      const codes = Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
      const g = qdq(op, [...shape], codes, attrs, axis);
      const want = [...(await ortRun(g, [x])).values()][0]!.toFloat32();
      const bytes = await writeTflite(g, { fileName: `${op}_constant${axis ? '_per_axis' : ''}.tflite` });
      const ops = tfliteOpNames(bytes, op);
      expect(ops).toEqual(['QUANTIZE', 'QUANTIZE', tflite, 'DEQUANTIZE']);
      const [got] = await oracle.run(bytes, [x.toFloat32()]);
      const vsOrt = maxAbs(got!.data as Float32Array, want) / OUT.scale;
      const back = await readTflite(bytes);
      const mine = [...(await runInteger(back, { a: x }, { requantization: 'xnnpack' })).outputs.values()][0]!.toFloat32();
      const vsInteger = maxAbs(mine, got!.data as Float32Array) / OUT.scale;
      console.log(`${op} of a constant${axis ? ' per axis' : ''}: ${ops.join(' ')}; interpreter vs onnxruntime ${vsOrt.toFixed(2)} LSB, integer runtime vs interpreter ${vsInteger.toFixed(2)} LSB`);
      expect(vsOrt).toBeLessThanOrEqual(1 + 1e-4);
      expect(vsInteger).toBeLessThanOrEqual(1 + 1e-4);
    });
  }
});
