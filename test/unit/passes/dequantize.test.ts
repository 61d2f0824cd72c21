// --dequantize on small QDQ graphs: integer input through a data move (TRANSPOSE, zero-point PAD)
// into a conv with per-channel int8 weights and an int32 bias, QuantizeLinear at the output; and
// the graphs it must refuse. The trained model's end-to-end check (interpreter and onnxruntime)
// is test/formats/tflite/quantize-trained.test.ts.
import { describe, expect, it } from 'vitest';
import { QuantizationError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { dequantizeGraph } from '../../../src/passes/dequantize.js';

const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });

function qdqGraph(): Graph {
  const init = new Map<string, Tensor>([
    ['perm', Tensor.int64([2], [1, 0])],
    ['pads', Tensor.int64([4], [0, 1, 0, 0])],
    ['pad_value', Tensor.scalar('int8', 3)],
    ['in_scale', Tensor.float32([], [0.5])],
    ['in_zp', Tensor.scalar('int8', 3)],
    ['w', new Tensor('int8', [2, 3], Int8Array.from([1, -2, 127, 4, 0, -127]))],
    ['w_scale', Tensor.float32([2], [0.25, 0.125])],
    ['w_zp', new Tensor('int8', [2], new Int8Array(2))],
    ['b', new Tensor('int32', [2], Int32Array.from([8, -16]))],
    ['b_scale', Tensor.float32([2], [0.125, 0.0625])],
    ['b_zp', new Tensor('int32', [2], new Int32Array(2))],
    ['y_scale', Tensor.float32([], [0.1])],
    ['y_zp', Tensor.scalar('int8', -5)],
  ]);
  return {
    name: 'qdq',
    inputs: [{ name: 'x', dtype: 'int8', shape: [2, 1] }],
    outputs: [{ name: 'y', dtype: 'int8', shape: [1, 2] }],
    initializers: init,
    opsets: { '': 21 },
    nodes: [
      node('Transpose', ['x'], ['xt'], { perm: { type: 'ints', value: [1, 0] } }),
      node('Pad', ['xt', 'pads', 'pad_value'], ['xp']),
      node('DequantizeLinear', ['xp', 'in_scale', 'in_zp'], ['xf']),
      node('DequantizeLinear', ['w', 'w_scale', 'w_zp'], ['wf'], { axis: { type: 'int', value: 0 } }),
      node('DequantizeLinear', ['b', 'b_scale', 'b_zp'], ['bf'], { axis: { type: 'int', value: 0 } }),
      node('Gemm', ['xf', 'wf', 'bf'], ['yf'], { transB: { type: 'int', value: 1 } }),
      node('QuantizeLinear', ['yf', 'y_scale', 'y_zp'], ['y']),
    ],
  };
}

describe('dequantizeGraph', () => {
  it('folds constant DequantizeLinear, removes activation Q/DQ, makes integer I/O float', () => {
    const { graph, notes } = dequantizeGraph(qdqGraph());
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Transpose', 'Pad', 'Gemm']);
    expect(graph.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [2, 1] }]);
    expect(graph.outputs).toEqual([{ name: 'y', dtype: 'float32', shape: [1, 2] }]);
    // the Gemm writes the graph output's name; the Pad reads the moved float input and pads with 0.0
    const gemm = graph.nodes[2]!;
    expect(gemm.outputs).toEqual(['y']);
    expect(gemm.inputs[0]).toBe('xp');
    const pad = graph.nodes[1]!;
    expect(graph.initializers.get(pad.inputs[2]!)!.toNumbers()).toEqual([0]);
    // per-channel weights (w - 0) * scale[row], bias (b - 0) * scale[c]
    expect(graph.initializers.get(gemm.inputs[1]!)!.toNumbers()).toEqual([0.25, -0.5, 31.75, 0.5, 0, -15.875]);
    expect(graph.initializers.get(gemm.inputs[2]!)!.toNumbers()).toEqual([1, -1]);
    // the integer data is gone
    for (const name of ['w', 'b', 'in_scale', 'y_scale']) expect(graph.initializers.has(name)).toBe(false);
    expect(notes[0]).toMatch(/2 constants became float, 2 QuantizeLinear\/DequantizeLinear nodes removed, 1 integer inputs/);
  });

  it('leaves a float graph as it is', () => {
    const g: Graph = { name: 'f', inputs: [{ name: 'x', dtype: 'float32', shape: [2] }], outputs: [{ name: 'y', dtype: 'float32', shape: [2] }], initializers: new Map(), opsets: { '': 21 }, nodes: [node('Relu', ['x'], ['y'])] };
    const { graph, notes } = dequantizeGraph(g);
    expect(graph.nodes).toEqual(g.nodes);
    expect(notes).toEqual([]);
  });

  it('refuses arithmetic on integer data and an integer input it cannot scale', () => {
    const g = qdqGraph();
    g.nodes.splice(0, 1, node('Add', ['x', 'x'], ['xt']));
    expect(() => dequantizeGraph(g)).toThrow(UnsupportedError);
    // no DequantizeLinear ever reads the input: its scale is unknown
    const h: Graph = { ...qdqGraph(), nodes: [node('Transpose', ['x'], ['y'], { perm: { type: 'ints', value: [1, 0] } })] };
    expect(() => dequantizeGraph(h)).toThrow(QuantizationError);
  });
});
