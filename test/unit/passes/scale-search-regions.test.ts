// The range search's two ways of running a candidate's region (src/passes/scale-search.ts): as one
// QDQ graph on the stacked samples (the default) and node by node (how it ran before). They run the
// same kernels on the same numbers, so every activation scale and zero point the search chooses must
// be identical, on a model whose regions take both paths (the dense head runs node by node).
import { describe, expect, it } from 'vitest';
import { prepareForTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';

let seed = 11;
const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
const gauss = (): number => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
const t = (shape: number[], sd: number) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => sd * gauss()));
const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const ints = (value: number[]) => ({ type: 'ints' as const, value });

/** Conv -> ReLU6 -> depthwise -> ReLU6 -> 1x1 conv -> residual Add -> 1x1 conv -> ReLU -> pool -> dense. */
function model(): Graph {
  return {
    name: 'blocks',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 12, 12] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 5] }],
    initializers: new Map([
      ['w1', t([8, 3, 3, 3], 0.4)], ['b1', t([8], 0.2)], ['lo', Tensor.float32([], [0])], ['hi', Tensor.float32([], [6])],
      ['wd', t([8, 1, 3, 3], 0.5)], ['bd', t([8], 0.2)], ['wp', t([8, 8, 1, 1], 0.4)], ['bp', t([8], 0.1)],
      ['wq', t([16, 8, 1, 1], 0.4)], ['bq', t([16], 0.1)], ['wf', t([5, 16], 0.5)], ['bf', t([5], 0.1)],
    ]),
    opsets: { '': 17 },
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], 'c1', { pads: ints([1, 1, 1, 1]) }),
      node('Clip', ['c1', 'lo', 'hi'], 'r1'),
      node('Conv', ['r1', 'wd', 'bd'], 'cd', { pads: ints([1, 1, 1, 1]), group: { type: 'int', value: 8 } }),
      node('Clip', ['cd', 'lo', 'hi'], 'rd'),
      node('Conv', ['rd', 'wp', 'bp'], 'cp'),
      node('Add', ['cp', 'r1'], 'a'),
      node('Conv', ['a', 'wq', 'bq'], 'cq'),
      node('Relu', ['cq'], 'rq'),
      node('GlobalAveragePool', ['rq'], 'p'),
      node('Flatten', ['p'], 'f'),
      node('Gemm', ['f', 'wf', 'bf'], 'y', { transB: { type: 'int', value: 1 } }),
    ],
  };
}

const scalesOf = (g: Graph): string[] =>
  g.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => `${n.inputs[0]}: ${g.initializers.get(n.inputs[1]!)!.toNumbers()[0]} ${g.initializers.get(n.inputs[2]!)?.toNumbers()[0]}`);

describe('range search: a region run as one graph chooses what node by node chooses', () => {
  it('identical scales and zero points, both paths taken, and the search changed ranges', { timeout: 60_000 }, async () => {
    const g = await prepareForTflite(model());
    const calibration = Array.from({ length: 8 }, () => [t([1, 12, 12, 3], 1)]);
    const graphRuns = { graph: 0, nodes: 0 };
    const nodeRuns = { graph: 0, nodes: 0 };
    const fast = await quantizeGraph(g, { mode: 'int8', calibration, method: 'search', search: { runs: graphRuns } });
    const slow = await quantizeGraph(g, { mode: 'int8', calibration, method: 'search', search: { runRegions: 'node', runs: nodeRuns } });
    const mse = await quantizeGraph(g, { mode: 'int8', calibration, method: 'mse' });
    expect(scalesOf(fast.graph)).toEqual(scalesOf(slow.graph));
    expect(scalesOf(fast.graph).length).toBeGreaterThanOrEqual(6);
    expect(scalesOf(fast.graph)).not.toEqual(scalesOf(mse.graph));
    expect(graphRuns.graph).toBeGreaterThan(0);
    expect(graphRuns.nodes).toBeGreaterThan(0);
    expect(nodeRuns).toEqual({ graph: 0, nodes: graphRuns.graph + graphRuns.nodes });
    // a second sweep, with the ranges the first one chose inside each region
    const twice = async (runRegions: 'region' | 'node') => scalesOf((await quantizeGraph(g, { mode: 'int8', calibration, method: 'search', search: { sweeps: 2, runRegions } })).graph);
    const second = await twice('region');
    expect(second).toEqual(await twice('node'));
  });
});
