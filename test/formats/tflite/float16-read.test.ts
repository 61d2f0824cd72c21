// A float16 .tflite (weights stored as float16 behind DEQUANTIZE, the TF converter's float16 mode)
// read by nnport and written again as it is (no passes): the depthwise weights, decoded once to
// float32 by the reader, are a constant the writer can lay out (they were a Reshape of a constant,
// refused as computed weights). The interpreter gives the file written again the outputs of the
// float16 file (the same float32 values of the weights), and nnport's runtime on the graph read.
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
let seed = 3;
const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const t = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand()));

describe('float16 TFLite read and written again', () => {
  it('conv + depthwise + 1x1 conv: the file written from the graph read computes what the float16 file does', async () => {
    const onnx: Graph = {
      name: 'f16',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 8, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6, 8, 8] }],
      initializers: new Map([['w1', t([8, 4, 3, 3])], ['b1', t([8])], ['wd', t([8, 1, 3, 3])], ['bd', t([8])], ['w3', t([6, 8, 1, 1])]]),
      opsets: { '': 17 },
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], 'c1', { pads: { type: 'ints', value: [1, 1, 1, 1] } }),
        node('Relu', ['c1'], 'r1'),
        node('Conv', ['r1', 'wd', 'bd'], 'cd', { pads: { type: 'ints', value: [1, 1, 1, 1] }, group: { type: 'int', value: 8 } }),
        node('Conv', ['cd', 'w3'], 'y'),
      ],
    };
    const half = serializeTflite((await quantizeGraph(await prepareForTflite(onnx), { mode: 'float16' })).graph);
    const types = (b: Uint8Array, name: string) => flatcJson<{ subgraphs: { tensors: { type?: string }[] }[] }>(b, name, { defaults: true }).subgraphs[0]!.tensors.map((v) => v.type);
    expect(types(half, 'f16')).toContain('FLOAT16');
    const back = await readTflite(half);
    const again = serializeTflite(back);
    expect(types(again, 'f16-again')).not.toContain('FLOAT16');
    const x = Tensor.float32([1, 8, 8, 4], Array.from({ length: 256 }, () => rand() * 2));
    const theirs = (await oracle.run(half, [x.data as Float32Array]))[0]!.data as Float32Array;
    const theirsAgain = (await oracle.run(again, [x.data as Float32Array]))[0]!.data as Float32Array;
    const ours = (await runGraph(back, { [back.inputs[0]!.name]: x })).outputs.get(back.outputs[0]!.name)!.toFloat32();
    expect(relErr(theirsAgain, theirs)).toBeLessThanOrEqual(1e-6);
    expect(relErr(ours, theirs)).toBeLessThanOrEqual(1e-5);
  });
});
