// The CLI on a Caffe pair: inspect (pair and caffemodel alone), run with --dump and
// --input-shape, convert to .onnx (run by onnxruntime-node), all against OpenCV dnn's outputs.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../../src/formats/numpy/index.js';
import { corpusPath } from '../../support/corpus.js';
import { opencvReal, relativeError } from './opencv.js';
import { ortRun } from '../../support/ort.js';
import { cli } from '../../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-caffe-cli-'));

describe('nnport CLI on Caffe models', () => {
  const proto = corpusPath('caffe/mtcnn-rnet/det2.prototxt');
  const weights = corpusPath('caffe/mtcnn-rnet/det2.caffemodel');
  const ref = opencvReal('mtcnn-rnet', proto, weights, [2, 3, 24, 24]);
  const x = join(tmp, 'x.npy');
  writeFileSync(x, writeNpy(ref.input));

  it('inspects the pair and the caffemodel alone', async () => {
    const pair = await cli('inspect', proto, weights, '--input-shape', 'data=2,3,24,24');
    expect(pair.code, pair.err).toBe(0);
    expect(pair.out).toMatch(/Caffe prototxt/);
    expect(pair.out).toMatch(/data: float32 \[2, 3, 24, 24\]/);
    expect(pair.out).toMatch(/prob1: float32 \[2, 2\]/);
    expect(pair.out).toMatch(/conv4\/weight\s+float32\s+\[128, 576\]/);
    const alone = await cli('inspect', weights);
    expect(alone.code, alone.err).toBe(0);
    expect(alone.out).toMatch(/Caffe model weights/);
    expect(alone.out).toMatch(/conv1\/weight\s+float32\s+\[28, 3, 3, 3\]/);
    expect(alone.out).toMatch(/prelu1\s+PReLU\s+conv1 -> conv1/);
    expect(pair.out).toMatch(/conv1\s+Convolution\s+data -> conv1\s+num_output=28 kernel_size=3 stride=1\s+\[28x3x3x3\] \[28\]/);
  });

  it('runs with --dump: every top by its Caffe name, outputs equal to OpenCV', async () => {
    const out = join(tmp, 'out');
    const dump = join(tmp, 'dump');
    const r = await cli('run', proto, weights, '--input-shape', 'data=2,3,24,24', '--input', x, '-o', out, '--dump', dump);
    expect(r.code, r.err).toBe(0);
    for (const [name, want] of ref.outputs) expect(relativeError(readNpy(new Uint8Array(readFileSync(join(out, `${name}.npy`)))), want), name).toBeLessThanOrEqual(1e-4);
    const dumped = readdirSync(dump);
    for (const layer of ['conv1', 'prelu1', 'pool1', 'conv4', 'prelu4', 'conv5-1', 'prob1']) expect(dumped, layer).toContain(`${layer}.npy`);
  });

  it('converts to ONNX that onnxruntime runs to OpenCV\'s outputs', async () => {
    const onnx = join(tmp, 'rnet.onnx');
    const r = await cli('convert', proto, weights, '--input-shape', 'data=2,3,24,24', '-o', onnx);
    expect(r.code, r.err).toBe(0);
    const res = await ortRun(onnx, { data: ref.input });
    for (const [name, want] of ref.outputs) expect(relativeError(res.get(name)!, want), name).toBeLessThanOrEqual(1e-4);
  });

  it('refuses to run or convert a prototxt given without its weights', async () => {
    const ran = await cli('run', proto, '--input', x, '-o', join(tmp, 'never'));
    expect(ran.code).toBe(1);
    expect(ran.err).toMatch(/the Caffe net has no weights/);
    const onnx = join(tmp, 'no-weights.onnx');
    const r = await cli('convert', proto, '-o', onnx);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the Caffe net has no weights \(\d+ blobs, e\.g\. 'conv1\/weight'\): give its \.caffemodel after the prototxt/);
    expect(existsSync(onnx)).toBe(false);
  });

  it('fails with one line naming the file for a truncated caffemodel, writing nothing', async () => {
    const cut = join(tmp, 'cut.caffemodel');
    writeFileSync(cut, readFileSync(weights).subarray(0, 200_000));
    const onnx = join(tmp, 'never.onnx');
    const r = await cli('convert', proto, cut, '-o', onnx);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cut\.caffemodel at offset \d+: length \d+ runs past the end/);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(existsSync(onnx)).toBe(false);
  });
});
