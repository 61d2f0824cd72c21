// Partitioned variables (tf.compat.v1.get_variable(..., partitioner=...)): graph parts `w/part_k`
// read from slices of ONE checkpoint tensor `w`, in a V2 bundle (placed by the `variables`
// collection's save_slice_info_def), a V1 SaveSlices table (placed by RestoreSlice ops) and a TF1
// SavedModel of resource parts (placed by RestoreV2), all written without TensorFlow by
// scripts/fixtures/tf_partitioned.py. The oracle is NumPy on the arrays the script wrote:
// y = relu(x w + b) v, checked in nnport and in onnxruntime on the .onnx. Damaged slices and slice
// infos fail with a FormatError naming the file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, freeze, loadModelFiles, run, type LoadedModel } from '../../../src/index.js';
import { decodeGraphDef, NodeAttrs } from '../../../src/formats/tensorflow/graph-def.js';
import { parseShapeAndSlice } from '../../../src/formats/tensorflow/partitioned.js';
import { FormatError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { Tensor as T } from '../../../src/ir/tensor.js';
import { npyTensor } from './helpers.js';
import { pythonRun } from './python-runs.js';

const FIX = join(REPO_ROOT, 'test/fixtures/tf-partitioned');
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as Record<string, number[][]>;
const x = () => npyTensor(join(FIX, 'x.npy'));
const y = () => npyTensor(join(FIX, 'y.npy'));

async function graphModel(path: string, options: { outputs?: string[] } = {}): Promise<LoadedModel> {
  const m = await loadModelFiles([path], options);
  if (m.kind !== 'graph') throw new Error(`${path}: not a graph`);
  return m;
}

/** nnport's and onnxruntime's (on the .onnx) outputs for one input. */
async function outputs(m: LoadedModel, input: Tensor): Promise<[Tensor, Tensor]> {
  if (m.kind !== 'graph') throw new Error('not a graph');
  const r = await run(m, { [m.graph.inputs[0]!.name]: input });
  const { bytes } = await convert(m, 'model.onnx');
  const ort = await ortRun(bytes, [input]);
  return [r.outputs.get(m.graph.outputs[0]!.name)!, [...ort.values()][0]!];
}

describe('partitioned variables', () => {
  for (const [what, path] of [
    ['a V2 checkpoint, parts placed by the variables collection', 'v2/model.meta'],
    ['a V1 checkpoint, parts placed by RestoreSlice ops', 'v1/model.meta'],
    ['a TF1 SavedModel of resource parts, placed by RestoreV2', 'saved_model/saved_model.pb'],
  ] as const) {
    it(`${what}: y = relu(x w + b) v equals NumPy's, in nnport and onnxruntime`, async () => {
      const m = await graphModel(join(FIX, path), path.endsWith('.meta') ? { outputs: ['y'] } : {});
      const [got, ort] = await outputs(m, x());
      expect(got.shape).toEqual([5, 4]);
      expect(maxAbsDiff(got.toFloat32(), y().toFloat32())).toBeLessThan(1e-5);
      expect(maxAbsDiff(ort.toFloat32(), y().toFloat32())).toBeLessThan(1e-5);
    });
  }

  it("freeze: each part's Const is its slice of the written array (rows of w, columns of v)", async () => {
    const meta = join(FIX, 'v2/model.meta');
    const frozen = await freeze(new Uint8Array(readFileSync(meta)), {
      fileName: meta,
      readSibling: async (n) => new Uint8Array(readFileSync(join(FIX, 'v2', n))),
      outputs: ['y'],
    });
    expect(frozen.variables).toBe(6);
    const nodes = decodeGraphDef(frozen.bytes, 'frozen.pb').node!;
    const value = (name: string) => new NodeAttrs(nodes.find((n) => n.name === name)!, 'frozen.pb').tensor('value');
    const w = expected.w!;
    const v = expected.v!;
    const close = (t: Tensor, want: number[][]) => {
      expect(t.shape).toEqual([want.length, want[0]!.length]);
      expect(maxAbsDiff(t.toFloat32(), Float32Array.from(want.flat()))).toBeLessThan(1e-7);
    };
    close(value('w/part_0'), w.slice(0, 2));
    close(value('w/part_1'), w.slice(2, 3));
    close(value('w/part_2'), w.slice(3, 4));
    close(value('v/part_0'), v.map((r) => r.slice(0, 2)));
    close(value('v/part_1'), v.map((r) => r.slice(2, 4)));
  });

  it("shape_and_slice strings as TensorFlow's saver writes them; malformed ones are FormatErrors", () => {
    expect(parseShapeAndSlice('4 3 2,1:-', 'spec', 'f')).toEqual({ fullShape: [4, 3], extents: [{ start: 2, size: 1 }, { start: 0, size: 3 }] });
    expect(parseShapeAndSlice('10 0,4', 'spec', 'f')).toEqual({ fullShape: [10], extents: [{ start: 0, size: 4 }] });
    for (const bad of ['4 3 2,1', '4 3 2,3:-', '4 x 0,1:-', '4 3 1:-', '4 3 -1,2:-']) expect(() => parseShapeAndSlice(bad, 'spec', 'f'), bad).toThrow(FormatError);
  });

  for (const [name, message] of [
    ['gap', /'w' \[4, 3\]: its 2 slices hold 9 of its 12 elements/],
    ['overlap', /'w' \[4, 3\]: two of its slices overlap/],
    ['size', /slice \[2:\+1, 0:\+3\] lies at \[\d+, \+12\] of data shard 0, which has \d+ bytes/],
    ['missing', /slice \[2:\+1, 0:\+3\] is missing from the index/],
    ['full-shape', /'w\/part_0' is a part of 'w' \[5, 3\] .*but the checkpoint's 'w' is \[4, 3\]/],
    ['outside', /the part \[3:\+1, 1:\+3\] lies outside the full shape \[4, 3\]/],
    ['no-info', /'w\/part_0' is a part of the partitioned checkpoint tensor 'w', but neither/],
  ] as const) {
    it(`hostile: ${name} is a FormatError naming the file`, async () => {
      const meta = join(FIX, 'hostile', name, 'model.meta');
      const err = await loadModelFiles([meta], { outputs: ['y'] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FormatError);
      expect((err as FormatError).message).toMatch(message);
      expect((err as FormatError).message).toMatch(/model\.(meta|index)/);
    });
  }
});

describe('embedding_lookup of a partitioned table', () => {
  it("DynamicPartition / GatherV2 / ParallelDynamicStitch over the parts: y = sum(table rows of ids * d) + c equals NumPy's, in nnport and onnxruntime", async () => {
    const m = await graphModel(join(FIX, 'embedding/model.meta'), { outputs: ['y'] });
    const ids = npyTensor(join(FIX, 'ids.npy'));
    const want = npyTensor(join(FIX, 'emb_y.npy'));
    const [got, ort] = await outputs(m, ids);
    expect(got.shape).toEqual([2, 3]);
    expect(maxAbsDiff(got.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
    expect(maxAbsDiff(ort.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });
});

/** x [4, 2] split by DynamicPartition (1-D and 2-D partitions) and stitched back by DynamicStitch (duplicates: the later wins) and ParallelDynamicStitch. */
function stitchGraph(): Uint8Array {
  const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
  const ints = (name: string, dims: number[], v: number[]) => ({
    name,
    op: 'Const',
    attr: { dtype: { type: 3 }, value: { tensor: { dtype: 3, tensor_shape: shape(...dims), tensor_content: new Uint8Array(Int32Array.from(v).buffer) } } },
  });
  const F = { T: { type: 1 } };
  return tensorflow.GraphDef.encode({
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: shape(4, 2) } } },
      ints('p', [4], [1, 0, 1, 2]),
      { name: 'part', op: 'DynamicPartition', input: ['x', 'p'], attr: { ...F, num_partitions: { i: 3 } } },
      ints('all', [4], [0, 1, 2, 3]),
      // part 0 is x row 1, part 1 rows 0 and 2, part 2 row 3
      ints('i0', [1], [3]),
      ints('i1', [2], [1, 0]),
      ints('i2', [1], [2]),
      // x first, then the parts over it: every row's last writer is a part
      { name: 'stitch', op: 'DynamicStitch', input: ['all', 'i0', 'i1', 'i2', 'x', 'part', 'part:1', 'part:2'], attr: { ...F, N: { i: 4 } } },
      { name: 'parallel', op: 'ParallelDynamicStitch', input: ['i0', 'i1', 'i2', 'part', 'part:1', 'part:2'], attr: { ...F, N: { i: 3 } } },
      // 2-D partitions over the leading dims of x as [2, 2, 2]
      ints('shape3', [3], [2, 2, 2]),
      { name: 'x3', op: 'Reshape', input: ['x', 'shape3'], attr: { ...F, Tshape: { type: 3 } } },
      ints('p2', [2, 2], [2, 0, 2, 2]),
      { name: 'part2', op: 'DynamicPartition', input: ['x3', 'p2'], attr: { ...F, num_partitions: { i: 3 } } },
      { name: 'part2_0', op: 'Identity', input: ['part2'], attr: F },
      { name: 'part2_2', op: 'Identity', input: ['part2:2'], attr: F },
    ],
  }).finish();
}

describe('DynamicPartition / DynamicStitch / ParallelDynamicStitch against the NumPy runner', () => {
  it('1-D and 2-D partitions, a stitch whose later duplicates win, a parallel stitch: nnport and onnxruntime equal NumPy', async () => {
    const pb = stitchGraph();
    const outs = ['stitch', 'parallel', 'part2_0', 'part2_2'];
    const x = new T('float32', [4, 2], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const want = pythonRun('numpy', 'dynamic-stitch', pb, x, outs);
    const graph = await readGraphDef(pb, { fileName: 'stitch.pb', outputs: outs });
    const r = await run(graph, { x });
    const ort = [...(await ortRun(graph, [x])).values()];
    outs.forEach((o, k) => {
      const w = want.get(o)!;
      const got = r.outputs.get(graph.outputs[k]!.name)!;
      expect([...got.shape], o).toEqual([...w.shape]);
      expect(Array.from(got.toFloat32()), o).toEqual(Array.from(w.toFloat32()));
      expect(Array.from(ort[k]!.toFloat32()), `${o} (onnxruntime)`).toEqual(Array.from(w.toFloat32()));
    });
    // row 0 of the stitch is part:1's x row 2, not x's own row 0: the later index won
    expect(Array.from(want.get('stitch')!.toFloat32().slice(0, 2))).toEqual([5, 6]);
  });
});
