// Lowering a quantized channels-last graph (the TFLite reader's QDQ form of a real int8 model):
// conv weights stay DequantizeLinear(re-laid int8 constant) -> Conv, with the per-axis axis
// following the permutation, so runtimes still see the QDQ conv pattern; no transpose inside.
// onnxruntime-node runs the lowered file and agrees with nnport's runtime on the channels-last graph.
import { describe, expect, it } from 'vitest';
import { convert, loadModelFile } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { explainLayout } from '../../../src/passes/layout.js';
import { lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { corpusPath } from '../../support/corpus.js';
import { relativeError } from './torchvision.js';
import { ortFirst } from '../../support/ort.js';

describe('lowering QDQ channels-last graphs', () => {
  it('utensor quant_mnist_cnn (int8 TFLite): DQ -> Conv kept, no transposes inside, ORT agrees', async () => {
    const model = await loadModelFile(corpusPath('tflite/utensor-quant-mnist-cnn-int8-floatio/quant_mnist_cnn.tflite'));
    if (model.kind !== 'graph') throw new Error('expected a graph');
    const g = model.graph;
    const lowered = lowerChannelsLast(g);
    const lg = lowered.graph;
    expect(lowered.transposes.filter((t) => !t.io), explainLayout(lowered).join('\n')).toEqual([]);
    const convs = lg.nodes.filter((n) => n.opType === 'Conv');
    expect(convs.length).toBeGreaterThan(0);
    for (const c of convs) expect(lg.nodes.find((n) => n.outputs.includes(c.inputs[1]!))?.opType, c.name).toBe('DequantizeLinear');

    const v = g.inputs.filter((i) => !g.initializers.has(i.name))[0]!;
    const shape = v.shape!.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Tensor.float32(shape, Array.from({ length: n }, (_, i) => Math.sin(i * 0.1) * 0.5 + 0.5));
    const ours = (await runGraph(g, { [v.name]: x })).outputs.get(g.outputs[0]!.name)!;
    const { bytes } = await convert(model, 'quant_mnist_cnn.onnx');
    // 'basic': onnxruntime 1.30's full-level QDQ propagation mistypes a Q it inserts after a Reshape (its bug, the file runs at 'basic')
    const y = await ortFirst(bytes, { [v.name]: x }, { graphOptimizationLevel: 'basic' });
    expect(relativeError(y, ours)).toBeLessThan(1e-5);
  });
});
