// GraphDef writer: every torchvision fixture (ONNX exported by PyTorch) written as an NHWC .pb
// runs in OpenCV dnn (readNetFromTensorflow) with PyTorch's outputs; a frozen TF graph read and
// written again runs in OpenCV like the original.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { TORCHVISION_MODELS, torchvisionDir } from '../../support/torchvision-fixtures.js';
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

/**
 * OpenCV's output for a written .pb, cached under .fixtures-cache/tf-written/<tag>/ and reused
 * only while the stamp (hash of the script, the .pb bytes and the input) matches.
 */
function opencvCached(pb: Uint8Array, x: Tensor, tag: string): Tensor {
  const script = join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py');
  const xBytes = writeNpy(x);
  const stamp = createHash('sha256').update(readFileSync(script)).update(pb).update(xBytes).digest('hex');
  const dir = join(REPO_ROOT, '.fixtures-cache/tf-written', tag);
  if (existsSync(join(dir, 'stamp')) && readFileSync(join(dir, 'stamp'), 'utf8') === stamp && existsSync(join(dir, 'opencv.npy'))) return npyTensor(join(dir, 'opencv.npy'));
  const y = opencv(pb, x, tag);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'opencv.npy'), writeNpy(y));
  writeFileSync(join(dir, 'stamp'), stamp);
  return y;
}

/** NHWC -> NCHW copy of a 4-D float32 tensor (PyTorch's output layout). */
function toNchw(t: Tensor): Tensor {
  const [n, h, w, c] = t.shape as number[];
  const src = t.toFloat32();
  const out = new Float32Array(src.length);
  for (let b = 0; b < n!; b++) for (let ch = 0; ch < c!; ch++) for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) out[((b * c! + ch) * h! + y) * w! + x] = src[((b * h! + y) * w! + x) * c! + ch]!;
  return new Tensor('float32', [n!, c!, h!, w!], out);
}

// TF ops each fixture's .pb must hold (the forms OpenCV's importer runs)
const EXPECTED_OPS: Partial<Record<(typeof TORCHVISION_MODELS)[number], string[]>> = {
  seg_head: ['ResizeBilinear', 'SpaceToBatchND', 'BatchToSpaceND', 'Softmax'],
  shufflenet_v2_x1_0: ['Slice', 'ConcatV2', 'DepthwiseConv2dNative'],
  mobilenet_v2: ['DepthwiseConv2dNative', 'Relu6'],
  resnet18: ['Pad', 'MaxPool'],
  efficientnet_b0: ['Sigmoid', 'Mul', 'Mean'],
  densenet121: ['ConcatV2', 'AvgPool'],
};

describe('GraphDef writer', () => {
  for (const name of TORCHVISION_MODELS) {
    it(`${name}: the written .pb runs in OpenCV with PyTorch's output (max error <= 1e-4 of the output's scale)`, async () => {
      const dir = torchvisionDir(name);
      const model = await loadModelFiles([join(dir, 'model.onnx')]);
      const { bytes } = await convert(model, 'model.pb');
      const ops = new Set(decodeGraphDef(bytes, 'model.pb').node!.map((n) => n.op));
      expect(ops.has('Conv2D')).toBe(true);
      // no op OpenCV's importer lacks, no layout shuffling left
      for (const op of ['Transpose', 'GatherV2', 'PadV2']) expect(ops.has(op), op).toBe(false);
      for (const op of EXPECTED_OPS[name] ?? []) expect(ops.has(op), op).toBe(true);
      let y = opencvCached(bytes, toNhwc(npyTensor(join(dir, 'input.npy'))), name);
      const want = npyTensor(join(dir, 'output.npy'));
      if (want.rank === 4) y = toNchw(y);
      expect(y.shape).toEqual(want.shape);
      const w = want.toFloat32();
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbsDiff(y.toFloat32(), w) / scale).toBeLessThan(1e-4);
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
    g.nodes.push({ name: 'a', opType: 'Unique', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} }, { name: 'b', opType: 'StringNormalizer', domain: '', inputs: ['y'], outputs: ['z'], attrs: {} });
    g.outputs.push({ name: 'z', dtype: 'float32', shape: [2] });
    await expect(writeGraphDef(g, { fileName: 'x.pb' })).rejects.toThrow(UnsupportedError);
    await expect(writeGraphDef(g, { fileName: 'x.pb' })).rejects.toThrow(/Unique \(node 'a'\), StringNormalizer \(node 'b'\)/);
  });
});
