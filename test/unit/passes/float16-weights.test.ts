// widenHalfCompute (a float16 graph -> float32 compute, float16 weights behind Casts) and
// encodeHalfWeights (float32 weights stored as float16 again). The widened graph, written as
// ONNX, is run by onnxruntime-node against the float16 graph with its weights decoded by hand.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/ir/float16.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { encodeHalfWeights, halfWeightsOf, isHalfWeightCast, widenHalfCompute } from '../../../src/passes/float16-weights.js';
import { runOrt } from '../../formats/onnx/ort-helpers.js';

const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const half = (shape: number[], values: number[]) => new Tensor('float16', shape, Uint16Array.from(values, float32ToFloat16Bits));
const f32 = (t: Tensor) => Array.from(t.data as Uint16Array, float16BitsToFloat32);

// x (float32) -> Cast to float16 -> MatMul w -> Add b -> Mul by a float16 Constant -> Relu -> Cast to float32 -> y
// (onnxconverter-common's keep_io_types form); and the same with float16 I/O and no Casts
const w = half([3, 4], [0.5, -1, 2, 0.25, 1.5, 0.1, -0.3, 0.7, -2, 1, 0.125, 3]);
const b = half([4], [0.1, -0.2, 0.3, 0.4]);
const k = half([4], [2, 0.5, -1, 1.25]);
const keepIo: Graph = {
  name: 'keepio',
  inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [2, 4] }],
  initializers: new Map([['w', w], ['b', b]]),
  opsets: { '': 17 },
  nodes: [
    node('Cast', ['x'], 'x16', { to: { type: 'int', value: 10 } }),
    node('MatMul', ['x16', 'w'], 'm'),
    node('Add', ['m', 'b'], 'a'),
    node('Constant', [], 'k', { value: { type: 'tensor', value: k } }),
    node('Mul', ['a', 'k'], 'p'),
    node('Relu', ['p'], 'y16'),
    node('Cast', ['y16'], 'y', { to: { type: 'int', value: 1 } }),
  ],
};
const allHalf: Graph = {
  ...keepIo,
  name: 'half',
  inputs: [{ name: 'x', dtype: 'float16', shape: [2, 3] }],
  outputs: [{ name: 'y', dtype: 'float16', shape: [2, 4] }],
  nodes: keepIo.nodes.slice(1, -1).map((n) => ({ ...n, inputs: n.inputs.map((i) => (i === 'x16' ? 'x' : i)), outputs: n.outputs.map((o) => (o === 'y16' ? 'y' : o)) })),
};
const xs = [0.5, -1, 2, 1.5, 0.25, -0.75];
const expected = (): number[] => {
  const [W, B, K] = [f32(w), f32(b), f32(k)];
  return Array.from({ length: 8 }, (_, i) => {
    const [r, c] = [Math.floor(i / 4), i % 4];
    let s = B[c]!;
    for (let j = 0; j < 3; j++) s += xs[r * 3 + j]! * W[j * 4 + c]!;
    return Math.max(0, s * K[c]!);
  });
};

describe('widenHalfCompute', () => {
  for (const g of [keepIo, allHalf]) {
    it(`${g.name}: float32 compute, float16 weights behind Casts that keep their names, onnxruntime gives the float32 result`, async () => {
      const r = widenHalfCompute(g);
      expect(r.weights).toBe(3);
      expect(r.io).toEqual(g.name === 'half' ? ['x', 'y'] : []);
      const casts = r.graph.nodes.filter((n) => isHalfWeightCast(r.graph, n));
      expect(casts.map((n) => n.outputs[0]).sort()).toEqual(['b', 'k', 'w']);
      expect([...r.graph.initializers].map(([n, t]) => `${n}:${t.dtype}`).sort()).toEqual(['b_float16:float16', 'k_float16:float16', 'w_float16:float16']);
      // the I/O Casts had nothing left to do
      expect(r.graph.nodes.map((n) => n.opType)).toEqual(['Cast', 'Cast', 'Cast', 'MatMul', 'Add', 'Mul', 'Relu']);
      expect([r.graph.inputs[0]!.dtype, r.graph.outputs[0]!.dtype, r.graph.outputs[0]!.name]).toEqual(['float32', 'float32', 'y']);
      const out = (await runOrt(writeOnnx(r.graph), { x: Tensor.float32([2, 3], xs) })).y!;
      const got = new Float32Array((out.bytes as Uint8Array).slice().buffer);
      expected().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      expect(halfWeightsOf(r.graph)).toEqual({ half: 3, float32: 0 });
    });
  }

  it('a float32 graph, and one whose float16 weights are read through Casts already (a float16 .tflite read), are left as they are', () => {
    const plain: Graph = { ...keepIo, initializers: new Map<string, Tensor>([['w', Tensor.float32([3, 4])], ['b', Tensor.float32([4])]]), nodes: [node('MatMul', ['x', 'w'], 'm'), node('Add', ['m', 'b'], 'y')] };
    expect(widenHalfCompute(plain).graph).toBe(plain);
    const read: Graph = { ...plain, initializers: new Map<string, Tensor>([['w16', w], ['b', Tensor.float32([4])]]), nodes: [node('Cast', ['w16'], 'w', { to: { type: 'int', value: 1 } }), ...plain.nodes] };
    expect(widenHalfCompute(read).graph).toBe(read);
  });
});

describe('encodeHalfWeights', () => {
  const g: Graph = {
    name: 'g',
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2, 4] }],
    initializers: new Map([
      ['w', Tensor.float32([3, 4], f32(w))],
      ['b', Tensor.float32([4], [0.1, 0.2, 0.3, 0.4])],
      ['s', Tensor.float32([1], [0.1])],
    ]),
    opsets: { '': 17 },
    nodes: [node('MatMul', ['x', 'w'], 'm'), node('Add', ['m', 'b'], 'a'), node('Mul', ['a', 's'], 'y')],
  };
  it("'exact' stores only what float16 holds exactly; 'all' rounds every weight of two or more elements", () => {
    const exact = encodeHalfWeights(g, 'exact');
    expect(exact.encoded).toBe(1);
    expect(exact.graph.initializers.get('w_float16')!.data).toEqual(w.data);
    expect(exact.graph.nodes.filter((n) => isHalfWeightCast(exact.graph, n)).map((n) => n.outputs[0])).toEqual(['w']);
    const all = encodeHalfWeights(g, 'all');
    expect(all.encoded).toBe(2);
    expect(f32(all.graph.initializers.get('b_float16')!)).toEqual([0.0999755859375, 0.199951171875, 0.300048828125, 0.39990234375]);
    // a scalar stays float32
    expect(all.graph.initializers.get('s')!.dtype).toBe('float32');
  });
});
