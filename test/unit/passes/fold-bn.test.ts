// --fold-bn: BatchNormalization after a Conv folded into its weights, on ONNX graphs and on the
// channels-last nnport pair (HWIO and OHWI weights); outputs still match PyTorch.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { foldBatchNorm } from '../../../src/passes/fold-bn.js';
import { channelsLastPerm, permuteTensor, toChannelsLast } from '../../../src/passes/layout.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relativeError, torchvisionFixture } from './torchvision.js';

const feedName = (g: Graph): string => g.inputs.filter((v) => !g.initializers.has(v.name))[0]!.name;
const bnCount = (g: Graph): number => g.nodes.filter((n) => n.opType === 'BatchNormalization').length;
const nhwc = (t: Tensor): Tensor => permuteTensor(t, channelsLastPerm(t.rank));

async function outputOf(g: Graph, x: Tensor): Promise<Tensor> {
  return (await runGraph(g, { [feedName(g)]: x }, { optimize: false })).outputs.get(g.outputs[0]!.name)!;
}

describe('foldBatchNorm', () => {
  for (const name of ['resnet18', 'seg_head']) {
    it(`${name}: every BN after a conv folded (ONNX graph), output matches PyTorch`, async () => {
      const f = await torchvisionFixture(name);
      expect(bnCount(f.graph)).toBeGreaterThan(0);
      const { graph, folded } = foldBatchNorm(f.graph);
      expect(folded.length).toBe(bnCount(f.graph));
      expect(bnCount(graph)).toBe(0);
      expect(relativeError(await outputOf(graph, f.input), f.output)).toBeLessThan(1e-4);
    });
  }

  for (const target of ['keras', 'tflite'] as const) {
    it(`resnet18 channels-last (${target}): nnport Conv + BatchNormalization folded, output matches PyTorch`, async () => {
      const f = await torchvisionFixture('resnet18');
      const cl = toChannelsLast(f.graph, { target }).graph;
      expect(bnCount(cl)).toBeGreaterThan(0);
      const { graph } = foldBatchNorm(cl);
      expect(bnCount(graph)).toBe(0);
      expect(relativeError(await outputOf(graph, nhwc(f.input)), f.output)).toBeLessThan(1e-4);
    });
  }

  it('leaves a BN whose input has other readers alone', async () => {
    const f = await torchvisionFixture('resnet18');
    const g = f.graph;
    const bn = g.nodes.find((n) => n.opType === 'BatchNormalization')!;
    const extra: Graph = { ...g, outputs: [...g.outputs, { name: bn.inputs[0]!, dtype: 'float32' }] };
    const { folded } = foldBatchNorm(extra);
    expect(folded).not.toContain(bn.name);
  });
});
