/**
 * PyTorch models exported with a static batch (torch.onnx.export's default) into Keras .h5,
 * model.json and .keras, each run by TensorFlow.js against onnxruntime-node on the source graph:
 * - ShuffleNet's channel shuffle traced as Reshape [1, groups, c, h, w] -> Transpose -> Reshape
 *   [1, groups·c, h, w], the batch a literal 1 in both targets (the fixtures export a dynamic
 *   batch: Shape-computed targets). The targets now copy the batch (0): before, the layout pass
 *   placed the size-1 axis last and the Keras Reshape moved the batch (refused).
 * - A YOLO-style head: a per-channel bias computed from constants by a Reshape whose first dim
 *   is not the batch (the anchor grid's kind of constant subgraph, refused as a batch-changing
 *   Reshape before), and a Split of the [batch, anchors, channels] predictions into boxes and
 *   classes on the channel axis of rank-3 data (Reshape + Permute + Cropping2D in Keras).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { ortRun } from '../../support/ort.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3 } from './tfjs-oracle.js';

beforeAll(async () => {
  await initKernels();
});

const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (name: string, opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = [name]): Node => ({ name, opType, domain: '', inputs, outputs, attrs });

/** The written .h5, model.json and .keras, each built by TF.js, on the channels-last input. */
async function kerasOutputs(g: Graph, x: Tensor): Promise<Tensor[]> {
  const model = await loadModel(writeOnnx(g), { fileName: `${g.name}.onnx` });
  const h5 = await convert(model, `${g.name}.h5`);
  const js = await convert(model, `${g.name}/model.json`);
  const k3 = await convert(model, `${g.name}.keras`);
  const z = ZipReader.open(k3.bytes);
  const built = [await tfjsModelFromH5(h5.bytes), await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'))];
  return built.map((m) => predict(m, [permute(x, [0, 2, 3, 1])])[0]!);
}

describe('static-batch PyTorch exports -> Keras .h5 / model.json / .keras, run by TF.js, vs onnxruntime-node', () => {
  it('a channel shuffle whose Reshape targets name the batch as 1', async () => {
    // x [1, 4, 5, 6] -> Conv 4->8 -> Reshape [1, 2, 4, 5, 6] -> Transpose (0, 2, 1, 3, 4) -> Reshape [1, 8, 5, 6] -> Conv 8->3 (1x1)
    const g: Graph = {
      name: 'shuffle',
      nodes: [
        node('conv1', 'Conv', ['x', 'w1', 'b1'], { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) }),
        node('split_groups', 'Reshape', ['conv1', 'groups_shape']),
        node('swap', 'Transpose', ['split_groups'], { perm: ints([0, 2, 1, 3, 4]) }),
        node('merge', 'Reshape', ['swap', 'merged_shape']),
        node('conv2', 'Conv', ['merge', 'w2'], {}, ['y']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 6] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([
        ['w1', randomInput([8, 4, 3, 3], 1)],
        ['b1', randomInput([8], 2)],
        ['groups_shape', Tensor.int64([5], [1, 2, 4, 5, 6])],
        ['merged_shape', Tensor.int64([4], [1, 8, 5, 6])],
        ['w2', randomInput([3, 8, 1, 1], 3)],
      ]),
      opsets: { '': 13 },
    };
    const x = randomInput([1, 4, 5, 6], 4);
    const want = permute((await ortRun(g, { x })).get('y')!, [0, 2, 3, 1]);
    for (const got of await kerasOutputs(g, x)) {
      expect(got.shape).toEqual(want.shape);
      expect(relError(got, want)).toBeLessThan(1e-5);
    }
  });

  it('a YOLO-style head: a bias computed from constants through a Reshape, then boxes / classes split on the channels of [batch, anchors, channels]', async () => {
    // x [1, 3, 4, 5] -> Conv 3->12 (1x1) + Reshape(Mul(k [2, 6], 2), [12, 1, 1]) -> Reshape [1, 12, 20]
    //   -> Split axis 1 [4, 8] -> boxes, Sigmoid(classes) -> Concat axis 1 -> y [1, 12, 20]
    const g: Graph = {
      name: 'head',
      nodes: [
        node('conv', 'Conv', ['x', 'w']),
        node('doubled', 'Mul', ['k', 'two']),
        node('bias', 'Reshape', ['doubled', 'bias_shape']),
        node('biased', 'Add', ['conv', 'bias']),
        node('flat', 'Reshape', ['biased', 'flat_shape']),
        node('split', 'Split', ['flat', 'sizes'], { axis: { type: 'int', value: 1 } }, ['boxes', 'logits']),
        node('scores', 'Sigmoid', ['logits']),
        node('cat', 'Concat', ['boxes', 'scores'], { axis: { type: 'int', value: 1 } }, ['y']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 4, 5] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([
        ['w', randomInput([12, 3, 1, 1], 5)],
        ['k', randomInput([2, 6], 6)],
        ['two', Tensor.float32([1], [2])],
        ['bias_shape', Tensor.int64([3], [12, 1, 1])],
        ['flat_shape', Tensor.int64([3], [1, 12, 20])],
        ['sizes', Tensor.int64([2], [4, 8])],
      ]),
      opsets: { '': 13 },
    };
    const x = randomInput([1, 3, 4, 5], 7);
    const want = (await ortRun(g, { x })).get('y')!;
    expect(want.shape).toEqual([1, 12, 20]);
    // the Keras model gives [batch, anchors, channels]
    const wantLast = permute(want, [0, 2, 1]);
    for (const got of await kerasOutputs(g, x)) {
      expect(got.shape).toEqual([1, 20, 12]);
      expect(relError(got, wantLast)).toBeLessThan(1e-5);
    }
  });
});
