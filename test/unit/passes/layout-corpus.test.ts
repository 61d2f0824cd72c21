// The layout pass on the ONNX corpus files whose expected outputs come with them (the ONNX
// backend cases, made by PyTorch, opset 6 with weights listed as graph inputs) and on
// light_squeezenet (opset 9, weights as inputs too; onnxruntime-node is the oracle there):
// no transposes, and the channels-last graph on the NHWC input gives the expected output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnx, readTensorProto } from '../../../src/formats/onnx/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, explainLayout, permuteTensor, toChannelsLast } from '../../../src/passes/layout.js';
import { foldConstants } from '../../../src/passes/fold-constants.js';
import { createNodeEvaluator } from '../../../src/runtime/evaluate.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { corpusPath } from '../../support/corpus.js';
import { relativeError } from './torchvision.js';
import { ortFirst } from '../../support/ort.js';

const nhwc = (t: Tensor): Tensor => (t.rank >= 3 ? permuteTensor(t, channelsLastPerm(t.rank)) : t);
const feedName = (g: Graph): string => g.inputs.filter((v) => !g.initializers.has(v.name))[0]!.name;

async function check(source: Graph, input: Tensor, expected: Tensor): Promise<void> {
  // weights made by ConstantOfShape (light_squeezenet) are constants once folded, as convert() does
  const graph = foldConstants(source, { evaluate: await createNodeEvaluator() }).graph;
  const result = toChannelsLast(graph);
  const g = result.graph;
  // a graph without spatial ops (PRelu alone) keeps its input as it is
  const spatial = g.nodes.some((n) => n.domain === 'nnport');
  const lay = (t: Tensor): Tensor => (spatial ? nhwc(t) : t);
  expect(g.nodes.filter((n) => n.opType === 'Transpose'), explainLayout(result).join('\n')).toEqual([]);
  // weights listed as inputs were re-laid: the graph now asks only for the data
  expect(g.inputs.filter((v) => !g.initializers.has(v.name))).toHaveLength(1);
  const out = (await runGraph(g, { [feedName(g)]: lay(input) })).outputs.get(g.outputs[0]!.name)!;
  // an output whose only non-unit axis is the channel (softmax over N×1000×1×1) may stay as declared
  const want = out.shape.join() === expected.shape.join() && expected.shape.filter((d) => d !== 1).length <= 1 ? expected : lay(expected);
  expect(out.shape).toEqual(want.shape);
  expect(relativeError(out, want)).toBeLessThan(1e-4);
}

describe('layout pass on ONNX corpus files', () => {
  for (const name of ['avgpool2d-stride', 'batchnorm2d-eval', 'conv2d-depthwise-padded', 'conv2d-dilated', 'conv2d-groups', 'convtranspose2d', 'maxpool2d', 'prelu-2d-multiparam']) {
    it(`onnx-backend-${name}`, async () => {
      const dir = corpusPath(`onnx/onnx-backend-${name}`);
      const graph = await readOnnx(readFileSync(join(dir, 'model.onnx')), { fileName: 'model.onnx' });
      const input = readTensorProto(readFileSync(join(dir, 'test_data_set_0/input_0.pb')));
      const expected = readTensorProto(readFileSync(join(dir, 'test_data_set_0/output_0.pb')));
      await check(graph, input, expected);
    });
  }

  it('light_squeezenet (onnxruntime-node on the original)', async () => {
    const path = corpusPath('onnx/onnx-light-squeezenet/light_squeezenet.onnx');
    const bytes = readFileSync(path);
    const graph = await readOnnx(bytes, { fileName: path });
    const inp = graph.inputs.find((v) => !graph.initializers.has(v.name))!;
    const shape = inp.shape!.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Tensor.float32(shape, Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)));
    await check(graph, x, await ortFirst(bytes, { [inp.name]: x }));
  });
});
