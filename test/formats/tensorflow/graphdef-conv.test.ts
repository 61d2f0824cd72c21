// NHWC convolution graphs of the corpus run like OpenCV dnn and the stored IDX golden (needs
// the nnport channels-last kernels of the runtime).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/index.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { maxAbsDiff, npyTensor, tfGoldens } from './helpers.js';

let cache = '';
beforeAll(() => {
  cache = tfGoldens();
});

async function runGraph(rel: string, feeds: Record<string, Tensor>, options = {}): Promise<Tensor> {
  const file = corpusPath(rel);
  const graph = await readGraphDef(new Uint8Array(readFileSync(file)), { fileName: file, ...options });
  const r = await run(graph, feeds);
  return r.outputs.get(graph.outputs[0]!.name)!;
}

describe('NHWC GraphDefs run like the oracles', () => {
  it('tensorspace-mnist-conv (NHWC Conv2D, MaxPool, dynamic Reshape) matches OpenCV dnn', async () => {
    const x = npyTensor(join(cache, 'tensorspace-mnist-conv/input.npy'));
    const y = await runGraph('tf-graphdef/tensorspace-mnist-conv/frozen_model.pb', { MyInput: x });
    const want = npyTensor(join(cache, 'tensorspace-mnist-conv/opencv.npy'));
    expect(maxAbsDiff(y.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });

  it('utensor-cifar10-cnn (SAME and VALID convs) logits match OpenCV dnn, ArgMax agrees', async () => {
    const file = corpusPath('tf-graphdef/utensor-cifar10-cnn/cifar10_cnn.pb');
    const graph = await readGraphDef(new Uint8Array(readFileSync(file)), { fileName: file, outputs: ['fully_connect_2/logits', 'pred'] });
    const x = npyTensor(join(cache, 'utensor-cifar10-cnn/input.npy'));
    const r = await run(graph, { Placeholder: x });
    const logits = r.outputs.get('fully_connect_2/logits')!;
    const want = npyTensor(join(cache, 'utensor-cifar10-cnn/opencv.npy')).toFloat32();
    expect(maxAbsDiff(logits.toFloat32(), want)).toBeLessThan(1e-3);
    const pred = r.outputs.get('pred')!;
    expect(pred.dtype).toBe('int64');
    expect(Number((pred.data as BigInt64Array)[0])).toBe(want.indexOf(Math.max(...want)));
  });

  it('utensor-conv-golden: Conv2D VALID stride 2 equals its IDX golden', async () => {
    const dir = corpusPath('tf-graphdef/utensor-conv-golden');
    const idx = (f: string) => {
      const b = new Uint8Array(readFileSync(join(dir, f)));
      const dv = new DataView(b.buffer, b.byteOffset);
      expect(b[2]).toBe(0x0d);
      const rank = b[3]!;
      const shape = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i));
      const n = shape.reduce((a, c) => a * c, 1);
      return { shape, data: Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 + 4 * rank + 4 * i)) };
    };
    const out = await runGraph('tf-graphdef/utensor-conv-golden/test_conv.pb', {});
    const want = idx('output_conv.idx');
    expect(out.shape).toEqual(want.shape);
    expect(maxAbsDiff(out.toFloat32(), want.data)).toBeLessThan(1e-4);
  });
});
