// --input-shape for the formats whose readers leave it to readModel (src/ir/input-shapes.ts,
// src/formats/registry.ts): an ONNX model with symbolic dims read with fixed ones, and the
// usage errors for a shape the file contradicts.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/index.js';
import { UsageError } from '../../../src/ir/errors.js';
import { withInputShapes } from '../../../src/ir/input-shapes.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { Tensor } from '../../../src/ir/tensor.js';

function twoInputs(): Graph {
  const g = emptyGraph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 3, null] }, { name: 'y', dtype: 'float32', shape: [1, 3, 4] });
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'y'], outputs: ['z'], attrs: {} });
  g.outputs.push({ name: 'z', dtype: 'float32' });
  g.opsets = { '': 13 };
  return g;
}

describe('--input-shape where the reader does not take it', () => {
  it('an ONNX model with symbolic dims is read with the given ones; run-time shapes follow', async () => {
    const bytes = writeOnnx(twoInputs());
    const open = await loadModel(bytes, { fileName: 'm.onnx' });
    expect(open.kind === 'graph' && open.graph.inputs[0]!.shape).toEqual(['batch', 3, null]);
    const fixed = await loadModel(bytes, { fileName: 'm.onnx', inputShapes: { x: [1, 3, 4] } });
    if (fixed.kind !== 'graph') throw new Error('not a graph');
    expect(fixed.graph.inputs.map((v) => v.shape)).toEqual([[1, 3, 4], [1, 3, 4]]);
  });

  it('names, ranks and fixed dims the file declares are checked, with the file named', () => {
    const g = twoInputs();
    expect(() => withInputShapes(g, { w: [1, 3, 4] }, 'm.onnx')).toThrow(new UsageError("--input-shape names 'w', which is not an input of 'm.onnx' (inputs: 'x', 'y')"));
    expect(() => withInputShapes(g, { x: [1, 3] }, 'm.onnx')).toThrow(/gives 'x' 2 dims; 'm.onnx' declares 3 \(\[batch, 3, \?\]\)/);
    expect(() => withInputShapes(g, { x: [1, 5, 4] }, 'm.onnx')).toThrow(/gives 'x' dim 1 = 5; 'm.onnx' fixes it at 3/);
    expect(() => withInputShapes(g, { '': [1, 3, 4] }, 'm.onnx')).toThrow(/has 2 inputs \('x', 'y'\): name the one/);
    // an initializer listed as an input is not one the user shapes
    const h = { ...g, inputs: [g.inputs[0]!, { name: 'w', dtype: 'float32' as const, shape: [2] }], initializers: new Map([['w', Tensor.float32([2], [1, 2])]]) };
    expect(withInputShapes(h, { '': [2, 3, 7] }, 'm.onnx').inputs.map((v) => v.shape)).toEqual([[2, 3, 7], [2]]);
  });

  it('a weights-only file has no inputs to shape', async () => {
    const { writeNpy } = await import('../../../src/formats/numpy/index.js');
    const npy = writeNpy(Tensor.float32([2], [1, 2]));
    await expect(loadModel(npy, { fileName: 'w.npy', inputShapes: { x: [1] } })).rejects.toThrow(/--input-shape: 'w.npy' is a .* holding weights only/);
  });
});
