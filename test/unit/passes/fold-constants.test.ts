// Constant folding through the runtime's kernels (injected evaluator): a shape subgraph and
// constant arithmetic fold away and the graph computes what onnxruntime-node computes on the
// original; the committed torchvision fixtures still match PyTorch after folding.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/index.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { foldConstants } from '../../../src/passes/fold-constants.js';
import { createNodeEvaluator } from '../../../src/runtime/evaluate.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relativeError, torchvisionFixture } from './torchvision.js';
import { ortRun } from '../../support/ort.js';

const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });

function shapeSubgraph(): Graph {
  return {
    name: 'g',
    nodes: [
      node('Shape', ['x'], ['s']),
      node('Gather', ['s', 'zero'], ['n'], { axis: { type: 'int', value: 0 } }),
      node('Unsqueeze', ['n', 'axes0'], ['n1']),
      node('Concat', ['n1', 'minus1'], ['shape'], { axis: { type: 'int', value: 0 } }),
      node('Reshape', ['x', 'shape'], ['flat']),
      node('Constant', [], ['c'], { value: { type: 'tensor', value: Tensor.float32([12], Array.from({ length: 12 }, (_, i) => i / 7)) } }),
      node('Mul', ['c', 'two'], ['c2']),
      node('Add', ['flat', 'c2'], ['y']),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2, 12] }],
    initializers: new Map<string, Tensor>([
      ['zero', Tensor.int64([], [0])],
      ['axes0', Tensor.int64([1], [0])],
      ['minus1', Tensor.int64([1], [-1])],
      ['two', Tensor.float32([], [2])],
    ]),
    opsets: { '': 17 },
  };
}

describe('foldConstants', () => {
  it('folds a Shape -> Gather -> Unsqueeze -> Concat shape subgraph and constant arithmetic; onnxruntime agrees', async () => {
    const g = shapeSubgraph();
    const { graph, folded } = foldConstants(g, { evaluate: await createNodeEvaluator() });
    expect(folded).toBe(5); // Shape, Gather, Unsqueeze, Concat, Mul (the Constant node becomes dead)
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Reshape', 'Add']);
    expect(g.nodes).toHaveLength(8); // the input graph is untouched
    expect([...graph.initializers.get('shape')!.data]).toEqual([2n, -1n]);
    const x = Tensor.float32([2, 3, 4], Array.from({ length: 24 }, (_, i) => Math.sin(i)));
    const want = (await ortRun(writeOnnx(g), { x })).get('y')!;
    const got = (await runGraph(graph, { x })).outputs.get('y')!;
    expect(got.shape).toEqual(want.shape);
    expect(relativeError(got, want)).toBeLessThan(1e-6);
  });

  it('leaves initializers that are also graph inputs (they can be fed over) alone', async () => {
    const g = shapeSubgraph();
    g.inputs.push({ name: 'two', dtype: 'float32', shape: [] });
    const { graph } = foldConstants(g, { evaluate: await createNodeEvaluator() });
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Reshape', 'Constant', 'Mul', 'Add']);
  });

  for (const name of ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0']) {
    it(`${name}: the folded graph still matches PyTorch`, async () => {
      const f = await torchvisionFixture(name);
      const { graph } = foldConstants(f.graph, { evaluate: await createNodeEvaluator() });
      const feed = graph.inputs.filter((v) => !graph.initializers.has(v.name))[0]!.name;
      const y = (await runGraph(graph, { [feed]: f.input })).outputs.get(graph.outputs[0]!.name)!;
      expect(relativeError(y, f.output)).toBeLessThan(1e-4);
    });
  }
});
