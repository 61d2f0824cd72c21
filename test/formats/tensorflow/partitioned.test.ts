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
import { npyTensor } from './helpers.js';

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
