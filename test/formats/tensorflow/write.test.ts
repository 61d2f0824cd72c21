// GraphDef writer: torchvision fixtures (ONNX exported by PyTorch) written as NHWC .pb files
// run in OpenCV dnn (readNetFromTensorflow) with PyTorch's outputs; a frozen TF graph read and
// written again runs in OpenCV like the original.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { writeNpy } from '../../../src/formats/numpy/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { emptyGraph } from '../../../src/ir/graph.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff, npyTensor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-pb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function opencv(pb: Uint8Array, x: Tensor, tag: string): Tensor {
  const model = join(tmp, `${tag}.pb`);
  writeFileSync(model, pb);
  writeFileSync(join(tmp, `${tag}-x.npy`), writeNpy(x));
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py'), model, join(tmp, `${tag}-x.npy`), join(tmp, `${tag}-y.npy`)]);
  return npyTensor(join(tmp, `${tag}-y.npy`));
}

/** NCHW -> NHWC copy of a 4-D float32 tensor (the .pb's input layout). */
function toNhwc(t: Tensor): Tensor {
  const [n, c, h, w] = t.shape as number[];
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let b = 0; b < n!; b++) for (let ch = 0; ch < c!; ch++) for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) out[((b * h! + y) * w! + x) * c! + ch] = src[((b * c! + ch) * h! + y) * w! + x]!;
  return new Tensor('float32', [n!, h!, w!, c!], out);
}

describe('GraphDef writer', () => {
  for (const [name, tol] of [['lenet', 1e-5], ['squeezenet1_1', 1e-4]] as const) {
    it(`${name}: the written .pb runs in OpenCV with PyTorch's output`, async () => {
      const dir = join(REPO_ROOT, 'test/fixtures/models', name);
      const model = await loadModelFiles([join(dir, 'model.onnx')]);
      const { bytes } = await convert(model, 'model.pb');
      const ops = new Set(decodeGraphDef(bytes, 'model.pb').node!.map((n) => n.op));
      expect(ops.has('Conv2D')).toBe(true);
      expect(ops.has('Transpose')).toBe(false);
      const y = opencv(bytes, toNhwc(npyTensor(join(dir, 'input.npy'))), name);
      const want = npyTensor(join(dir, 'output.npy'));
      expect(y.size).toBe(want.size);
      expect(maxAbsDiff(y.toFloat32(), want.toFloat32())).toBeLessThan(tol);
    });
  }

  it('a frozen TF graph read and written again runs in OpenCV like the original', async () => {
    const file = corpusPath('tf-graphdef/tensorspace-mnist-conv/frozen_model.pb');
    const model = await loadModelFiles([file], { inputShapes: { MyInput: [1, 28, 28, 1] } });
    const { bytes } = await convert(model, 'again.pb');
    const x = new Tensor('float32', [1, 28, 28, 1], Float32Array.from({ length: 784 }, (_, i) => ((i * 37) % 101) / 101));
    const again = opencv(bytes, x, 'again');
    const original = opencv(new Uint8Array(readFileSync(file)), x, 'original');
    expect(maxAbsDiff(again.toFloat32(), original.toFloat32())).toBeLessThan(1e-6);
  });

  it('ops with no GraphDef form are listed together', async () => {
    const g = emptyGraph('g');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2] });
    g.nodes.push({ name: 'a', opType: 'Erf', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} }, { name: 'b', opType: 'HardSwish', domain: '', inputs: ['y'], outputs: ['z'], attrs: {} });
    g.outputs.push({ name: 'z', dtype: 'float32', shape: [2] });
    await expect(writeGraphDef(g, { fileName: 'x.pb' })).rejects.toThrow(UnsupportedError);
    await expect(writeGraphDef(g, { fileName: 'x.pb' })).rejects.toThrow(/Erf \(node 'a'\), HardSwish \(node 'b'\)/);
  });
});
