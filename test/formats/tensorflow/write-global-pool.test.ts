// GraphDef writer: a global pool over 1-D, 2-D and 3-D channels-last data is Mean / Max over every
// axis between the batch and the channels. (It was written over axes [1, 2] at every rank: a 3-D
// net's pooled value kept its depth axis — torchvision's r3d_18 as .pb failed at its Flatten — and
// a 1-D one would have averaged over the channels.) Each .pb is run by the NumPy GraphDef runner
// (scripts/fixtures/tf_numpy_run.py) against onnxruntime-node on the ONNX model.
import { describe, expect, it } from 'vitest';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { pythonRun, relativeError } from './python-runs.js';

/** x (N, C, spatial...) -> GlobalAveragePool -> avg, GlobalMaxPool -> max */
function pools(shape: number[]): Graph {
  return {
    name: 'pools',
    nodes: [
      { name: 'avg', domain: '', opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['avg'], attrs: {} },
      { name: 'max', domain: '', opType: 'GlobalMaxPool', inputs: ['x'], outputs: ['max'], attrs: {} },
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [
      { name: 'avg', dtype: 'float32' },
      { name: 'max', dtype: 'float32' },
    ],
    initializers: new Map(),
    opsets: { '': 13 },
  };
}

const toLast = (t: Tensor): Tensor => permuteTensor(t, [0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]);

describe('GraphDef writer: global pools over every spatial axis, NumPy runner vs onnxruntime', () => {
  it.each([
    ['1-D', [2, 3, 7]],
    ['2-D', [2, 3, 5, 6]],
    ['3-D', [2, 3, 4, 5, 6]],
  ])('%s', async (_name, shape) => {
    const onnx = writeOnnx(pools(shape));
    const r = rng(shape.length);
    const x = Tensor.float32(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
    const want = await ortRun(onnx, { x });
    const { bytes } = await convert(await loadModel(onnx, { fileName: 'pools.onnx' }), 'pools.pb');
    const means = decodeGraphDef(bytes, 'pools.pb').node!.filter((n) => n.op === 'Mean' || n.op === 'Max');
    expect(means.map((n) => n.op).sort()).toEqual(['Max', 'Mean']);
    const got = pythonRun('numpy', `global-pool-${shape.length}d`, bytes, toLast(x), ['avg', 'max']);
    for (const o of ['avg', 'max']) {
      // keep_dims: N, 1 per spatial axis, C — ONNX's N, C, 1...
      const w = toLast(want.get(o)!);
      const y = got.get(o)!;
      expect(y.shape, o).toEqual(w.shape);
      expect(relativeError(y, w), o).toBeLessThan(1e-6);
    }
  });
});
