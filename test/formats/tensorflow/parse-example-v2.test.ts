// TF2's tf.io.parse_example in a serving graph: ParseExampleV2 (dense keys one string vector,
// sparse and ragged features beside) reading a string Placeholder of serialized tf.Examples, cut at
// its dense features, which become float inputs. The graph is written node for node as TF2 traces
// it; the oracle is the graph's arithmetic on those features (z = 2·x + y, broadcast), checked in
// nnport and onnxruntime. Sparse and ragged features a graph still reads are refused naming them.
import { describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';

const FLOAT = 1;
const STRING = 7;
const INT64 = 9;
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
const strings = (name: string, values: string[]) => ({
  name,
  op: 'Const',
  attr: { dtype: { type: STRING }, value: { tensor: { dtype: STRING, tensor_shape: shape(values.length), string_val: values.map((v) => new TextEncoder().encode(v)) } } },
});
const floats = (name: string, dims: number[], values: number[]) => ({
  name,
  op: 'Const',
  attr: { dtype: { type: FLOAT }, value: { tensor: { dtype: FLOAT, tensor_shape: shape(...dims), tensor_content: new Uint8Array(Float32Array.from(values).buffer) } } },
});

/**
 * serialized [?] -> ParseExampleV2 (dense x [3], y [1]; `sparse` / `ragged` features beside) ->
 * z = 2·x + y. `read`: which output z adds instead of y (a sparse or ragged one).
 */
function servingGraph(opts: { sparse?: boolean; ragged?: boolean; read?: 'sparse' | 'ragged'; scalar?: boolean } = {}): Uint8Array {
  const nSparse = opts.sparse ? 1 : 0;
  const p = 'ParseExample/ParseExampleV2';
  const dense = (i: number) => `${p}:${3 * nSparse + i}`;
  const read = opts.read === 'sparse' ? `${p}:${nSparse}` : opts.read === 'ragged' ? `${p}:${3 * nSparse + 2}` : dense(1);
  return tensorflow.GraphDef.encode({
    node: [
      { name: 'serialized', op: 'Placeholder', attr: { dtype: { type: STRING }, shape: { shape: opts.scalar ? shape() : shape(-1) } } },
      strings('ParseExample/names', []),
      strings('ParseExample/sparse_keys', opts.sparse ? ['tags'] : []),
      strings('ParseExample/dense_keys', ['x', 'y']),
      strings('ParseExample/ragged_keys', opts.ragged ? ['words'] : []),
      floats('ParseExample/default_x', [0], []),
      floats('ParseExample/default_y', [1], [0.5]),
      {
        name: p,
        op: 'ParseExampleV2',
        input: ['serialized', 'ParseExample/names', 'ParseExample/sparse_keys', 'ParseExample/dense_keys', 'ParseExample/ragged_keys', 'ParseExample/default_x', 'ParseExample/default_y'],
        attr: {
          Tdense: { list: { type: [FLOAT, FLOAT] } },
          num_sparse: { i: nSparse },
          sparse_types: { list: { type: opts.sparse ? [INT64] : [] } },
          ragged_value_types: { list: { type: opts.ragged ? [FLOAT] : [] } },
          ragged_split_types: { list: { type: opts.ragged ? [INT64] : [] } },
          dense_shapes: { list: { shape: [shape(3), shape(1)] } },
        },
      },
      floats('two', [], [2]),
      { name: 'twice', op: 'Mul', input: [dense(0), 'two'], attr: { T: { type: FLOAT } } },
      { name: 'z', op: 'AddV2', input: ['twice', read], attr: { T: { type: FLOAT } } },
    ],
  }).finish();
}

const seeded = (dims: number[], seed: number) => {
  const r = rng(seed);
  return new Tensor('float32', dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
};

describe('ParseExampleV2 (tf.io.parse_example) cut at its dense features', () => {
  for (const sparse of [false, true]) {
    it(`dense x [3] and y [1]${sparse ? ', a sparse feature beside that nothing reads' : ''}: inputs x, y; z = 2·x + y in nnport and onnxruntime`, async () => {
      const m = await loadModel(servingGraph({ sparse, ragged: sparse }), { fileName: 'serving.pb', outputs: ['z'] });
      if (m.kind !== 'graph') throw new Error('not a graph');
      expect(m.graph.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
        ['x', 'float32', [null, 3]],
        ['y', 'float32', [null, 1]],
      ]);
      const x = seeded([4, 3], 1);
      const y = seeded([4, 1], 2);
      const want = Float32Array.from({ length: 12 }, (_, k) => 2 * x.toFloat32()[k]! + y.toFloat32()[Math.floor(k / 3)]!);
      const r = await run(m, { x, y });
      expect(Array.from(r.outputs.get('z')!.toFloat32())).toEqual(Array.from(want));
      const { bytes } = await convert(m, 'model.onnx');
      const ort = await ortRun(bytes, { x, y });
      expect(Array.from([...ort.values()][0]!.toFloat32())).toEqual(Array.from(want));
    });
  }

  it('one scalar serialized Example: features without a batch dimension', async () => {
    const m = await loadModel(servingGraph({ scalar: true }), { fileName: 'serving.pb', outputs: ['z'] });
    if (m.kind !== 'graph') throw new Error('not a graph');
    expect(m.graph.inputs.map((i) => i.shape)).toEqual([[3], [1]]);
  });

  it('a sparse or ragged feature the graph reads is refused naming it; dense keys that disagree with Tdense are a FormatError', async () => {
    await expect(loadModel(servingGraph({ sparse: true, read: 'sparse' }), { fileName: 'serving.pb', outputs: ['z'] })).rejects.toThrow(UnsupportedError);
    await expect(loadModel(servingGraph({ sparse: true, read: 'sparse' }), { fileName: 'serving.pb', outputs: ['z'] })).rejects.toThrow(/ParseExampleV2 of sparse \/ ragged features.*sparse 'tags'/);
    await expect(loadModel(servingGraph({ ragged: true, read: 'ragged' }), { fileName: 'serving.pb', outputs: ['z'] })).rejects.toThrow(/ParseExampleV2 of sparse \/ ragged features.*ragged 'words'/);
    const bad = tensorflow.GraphDef.decode(servingGraph());
    bad.node.find((n) => n.name === 'ParseExample/dense_keys')!.attr!.value!.tensor!.string_val = [new TextEncoder().encode('x')];
    const err = await loadModel(tensorflow.GraphDef.encode(bad).finish(), { fileName: 'serving.pb', outputs: ['z'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(String(err)).toMatch(/serving\.pb.*ParseExampleV2 'ParseExample\/ParseExampleV2': 2 dense features but 1 dense keys/);
  });
});
