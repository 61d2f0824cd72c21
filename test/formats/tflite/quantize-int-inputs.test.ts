// Full-int8 quantization of models whose input is not float: token ids into an embedding (a text
// classifier as PyTorch exports it, int64 ids). The calibration samples stay integers — they were
// cast to float32, and the float model then refused its own samples ("input must be int64").
// And the embedding table is int8 on its GATHER's output parameters (its own whole range, as TF's
// converter writes it): it was left float under an int8 output, which the interpreter refuses to
// load. Checked against onnxruntime on the float model and the interpreter on the int8 file.
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortFirst } from '../../support/ort.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const V = 40;
const T = 6;
const D = 16;
const K = 5;

function textClassifier(idType: 'int64' | 'int32'): Graph {
  const r = rng(7);
  const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
  return {
    name: 'text',
    inputs: [{ name: 'ids', dtype: idType, shape: [1, T] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: [1, K] }],
    initializers: new Map<string, Tensor>([
      ['table', Tensor.float32([V, D], Array.from({ length: V * D }, () => r() * 2 - 1))],
      ['w', Tensor.float32([D, D], Array.from({ length: D * D }, () => (r() * 2 - 1) * 0.4))],
      ['b', Tensor.float32([D], Array.from({ length: D }, () => (r() * 2 - 1) * 0.1))],
      ['w2', Tensor.float32([D, K], Array.from({ length: D * K }, () => (r() * 2 - 1) * 0.4))],
    ]),
    opsets: { '': 17 },
    nodes: [
      node('Gather', ['table', 'ids'], ['emb'], { axis: { type: 'int', value: 0 } }),
      node('MatMul', ['emb', 'w'], ['h0']),
      node('Add', ['h0', 'b'], ['h1']),
      node('Relu', ['h1'], ['h']),
      node('ReduceMean', ['h'], ['pooled'], { axes: { type: 'ints', value: [1] }, keepdims: { type: 'int', value: 0 } }),
      node('MatMul', ['pooled', 'w2'], ['logits']),
    ],
  };
}

describe('full int8 quantization of a model with integer inputs', () => {
  it('token ids: calibrated on integer samples; int32 ids run by the interpreter, int64 ids (PyTorch) by nnport within 1 LSB of it', async () => {
    const r = rng(99);
    const ids = Array.from({ length: 48 }, () => Array.from({ length: T }, () => Math.floor(r() * V)));
    const asType = (v: number[], type: 'int64' | 'int32'): Tensor => (type === 'int64' ? Tensor.int64([1, T], v) : new Tensor('int32', [1, T], Int32Array.from(v)));
    const file = async (type: 'int64' | 'int32') => (await convert({ kind: 'graph', format: 'onnx', graph: textClassifier(type) }, 'm.tflite', { quantize: { mode: 'int8', calibration: ids.slice(0, 32).map((v) => [asType(v, type)]) } })).bytes;
    const i32 = await file('int32');
    const i64 = await file('int64');
    expect(tfliteOpNames(i32, 'text')[0]).toBe('GATHER');
    // the table is int8 on the GATHER output's parameters (a float table under an int8 output does not load)
    const json = flatcJson<{ subgraphs: { tensors: { name: string; type?: string }[]; operators: { inputs: number[] }[] }[] }>(i32, 'text');
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.operators[0]!.inputs[0]!]!.type).toBe('INT8');
    const want: Float32Array[] = [];
    const got: Float32Array[] = [];
    let lsb = 0;
    for (const v of ids.slice(32)) {
      want.push((await ortFirst(textClassifier('int64'), [asType(v, 'int64')])).toFloat32());
      // (the web interpreter feeds no int64 input: the int64 file is run by nnport's integer runtime)
      const theirs = (await oracle.run(i32, [Int32Array.from(v)]))[0]!.data as Float32Array;
      got.push(theirs);
      lsb = Math.max(lsb, await integerRuntimeLsbOff(i64, asType(v, 'int64'), theirs));
    }
    const snr = pooledSnrDb(want, got);
    console.log(`int8 text classifier: interpreter ${snr.toFixed(1)} dB against onnxruntime's float; nnport on the int64-id file within ${lsb.toFixed(2)} LSB of it`);
    expect(snr).toBeGreaterThan(25);
    expect(lsb).toBeLessThanOrEqual(1.0001);
  });
});
