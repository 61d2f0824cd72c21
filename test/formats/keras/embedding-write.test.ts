// Embeddings written to Keras (.h5, .keras, TF.js model.json): a Gather of a constant [V, D] table
// by run-time ids (nn.Embedding as PyTorch exports it to ONNX: int64 ids) becomes an Embedding
// layer, and a Cast of ids that only an Embedding reads is no layer (the layer casts its ids
// itself: a Keras Embedding read back is Cast + Gather, so Keras -> Keras failed on the Cast).
// Checked: TF.js runs each written file, against onnxruntime on the source graph and TF.js on the
// source Keras model.
import { describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { ortFirst } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { predict, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3, tfjsRoundTrip } from './tfjs-oracle.js';

registerAllFormats();

const V = 30;
const T = 7;
const D = 12;
const K = 4;
const int = (value: number) => ({ type: 'int' as const, value });
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });

/** ids -> embedding -> Dense + ReLU -> mean over time -> Dense; `floatIds`: a float input cast to int64 first. */
function textModel(idType: 'int64' | 'int32' | 'float32'): Graph {
  const r = rng(5);
  const rand = (n: number, s: number) => Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const ids = idType === 'float32' ? 'ids_int' : 'ids';
  return {
    name: 'text',
    inputs: [{ name: 'ids', dtype: idType, shape: ['batch', T] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', K] }],
    initializers: new Map<string, Tensor>([
      ['embedding.weight', Tensor.float32([V, D], rand(V * D, 1))],
      ['fc.weight', Tensor.float32([D, D], rand(D * D, 0.5))],
      ['fc.bias', Tensor.float32([D], rand(D, 0.1))],
      ['head.weight', Tensor.float32([D, K], rand(D * K, 0.5))],
    ]),
    opsets: { '': 17 },
    nodes: [
      ...(idType === 'float32' ? [node('Cast', ['ids'], ['ids_int'], { to: int(7) })] : []),
      node('Gather', ['embedding.weight', ids], ['emb'], { axis: int(0) }),
      node('MatMul', ['emb', 'fc.weight'], ['h0']),
      node('Add', ['h0', 'fc.bias'], ['h1']),
      node('Relu', ['h1'], ['h']),
      node('ReduceMean', ['h'], ['pooled'], { axes: { type: 'ints', value: [1] }, keepdims: int(0) }),
      node('MatMul', ['pooled', 'head.weight'], ['logits']),
    ],
  };
}

const idRows = (n: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: n * T }, () => Math.floor(r() * V));
};
const asType = (v: number[], n: number, type: 'int64' | 'int32' | 'float32'): Tensor =>
  type === 'int64' ? Tensor.int64([n, T], v) : type === 'int32' ? new Tensor('int32', [n, T], Int32Array.from(v)) : Tensor.float32([n, T], v);

/** TF.js' prediction from each Keras file nnport writes of `model`, on float ids (the Embedding casts them). */
async function kerasOutputs(model: Parameters<typeof convert>[0], ids: Tensor): Promise<Record<string, Tensor>> {
  const h5 = await convert(model, 'm.h5');
  const js = await convert(model, 'web/model.json');
  const z = ZipReader.open((await convert(model, 'm.keras')).bytes);
  const x = [Tensor.float32(ids.shape, ids.toFloat32())];
  return {
    '.h5': predict(await tfjsModelFromH5(h5.bytes), x)[0]!,
    'model.json': predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), x)[0]!,
    '.keras': predict(await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5')), x)[0]!,
  };
}

describe('embeddings into Keras', () => {
  for (const idType of ['int64', 'int32', 'float32'] as const) {
    it(`Gather of a constant table by ${idType} ids${idType === 'float32' ? ' (through a Cast)' : ''}: an Embedding layer, TF.js = onnxruntime`, async () => {
      const g = textModel(idType);
      const n = 3;
      const v = idRows(n, 17);
      const want = await ortFirst(g, [asType(v, n, idType)]);
      const model = { kind: 'graph' as const, format: 'onnx' as const, graph: g };
      const outs = await kerasOutputs(model, asType(v, n, 'float32'));
      const h5 = await convert(model, 'm.h5');
      const back = await loadModel(h5.bytes, { fileName: 'm.h5' });
      if (back.kind !== 'graph') throw new Error('expected a graph');
      // the .h5 read back: its Embedding is Cast + Gather again
      expect(back.graph.nodes.filter((k) => k.opType === 'Gather')).toHaveLength(1);
      for (const [file, got] of Object.entries(outs)) {
        const e = relErr(got.toFloat32(), want.toFloat32());
        console.log(`embedding (${idType} ids) ${file} in TF.js vs onnxruntime: ${e.toExponential(2)}`);
        expect(got.shape).toEqual([n, K]);
        expect(e).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('a TF.js Embedding model read and written again to each Keras format (Keras -> Keras)', async () => {
    const m = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: V, outputDim: D, inputLength: T, inputShape: [T] }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.dense({ units: K, activation: 'softmax' }),
      ],
    });
    const { json, shard } = await tfjsRoundTrip(m);
    const src = await loadModel(json, { fileName: 'model.json', readSibling: async () => shard });
    const ids = Tensor.float32([2, T], idRows(2, 3));
    const want = predict(m, [ids])[0]!;
    for (const [file, got] of Object.entries(await kerasOutputs(src, ids))) {
      const e = relErr(got.toFloat32(), want.toFloat32());
      console.log(`TF.js Embedding model -> ${file} in TF.js: ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-6);
    }
    m.dispose();
  });

  it('refused by name: a Cast read by other ops, a table gathered on its feature axis', async () => {
    const g = textModel('float32');
    g.nodes.push(node('Cast', ['ids_int'], ['ids_f'], { to: int(1) }));
    g.outputs.push({ name: 'ids_f', dtype: 'float32', shape: ['batch', T] });
    g.nodes[0] = { ...g.nodes[0]!, outputs: ['ids_int'] };
    await expect(convert({ kind: 'graph', format: 'onnx', graph: g }, 'm.h5')).rejects.toThrow(/Cast other than of ids an Embedding reads has no Keras layer/);
    const h = textModel('int64');
    h.nodes[0] = { ...h.nodes[0]!, attrs: { axis: int(1) } };
    await expect(convert({ kind: 'graph', format: 'onnx', graph: h }, 'm.h5')).rejects.toThrow(UnsupportedError);
  });
});
