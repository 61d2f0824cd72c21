// TensorFlow graphs converted onward on the command line and run by other frameworks: the frozen
// MNIST and CIFAR-10 CNNs -> Keras .h5 and TF.js layers model.json run by TensorFlow.js, and
// -> .tflite run by the TFLite interpreter, against OpenCV dnn's output of the original .pb;
// seed 002's checkpoint -> .tflite in one command (`convert model.meta --checkpoint PREFIX
// --outputs pred`), run by the interpreter, against W·x + b from the checkpoint as the
// independent Python decoder (scripts/fixtures/tf_goldens.py) read it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { corpusPath } from '../../support/corpus.js';
import { startTfliteOracle, type TfliteOracle } from '../../support/tflite-oracle.js';
import { predict, relError, tfjsModelFromH5, tfjsModelFromJson } from '../keras/tfjs-oracle.js';
import { loadNpy, npyTensor, tfGoldens } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-tf-onward-'));
let cache = '';
let oracle: TfliteOracle;
beforeAll(async () => {
  cache = tfGoldens();
  await initKernels();
  oracle = await startTfliteOracle();
}, 120_000);
afterAll(async () => {
  await oracle?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s), (s) => lines.push(s));
  return { code, text: lines.join('\n') };
}

async function tflite(file: string, x: Tensor): Promise<Tensor> {
  const bytes = new Uint8Array(readFileSync(file));
  const [inp] = await oracle.inputs(bytes);
  expect(inp!.dtype).toBe('float32');
  const outs = await oracle.run(bytes, [x.toFloat32()]);
  expect(outs).toHaveLength(1);
  return new Tensor('float32', outs[0]!.shape, outs[0]!.data as Float32Array);
}

const CNNS: [string, string, string[]][] = [
  ['tensorspace-mnist-conv', 'tf-graphdef/tensorspace-mnist-conv/frozen_model.pb', []],
  // the ArgMax output 'pred' has no Keras layer: the logits are the output
  ['utensor-cifar10-cnn', 'tf-graphdef/utensor-cifar10-cnn/cifar10_cnn.pb', ['--outputs', 'fully_connect_2/logits']],
];

describe('frozen TF CNNs -> .h5 / model.json (TensorFlow.js) and .tflite (interpreter) vs OpenCV dnn', () => {
  for (const [key, rel, flags] of CNNS) {
    it(`${key} -> model.h5, web/model.json and model.tflite`, async () => {
      const pb = corpusPath(rel);
      const x = npyTensor(join(cache, key, 'input.npy'));
      const want = npyTensor(join(cache, key, 'opencv.npy'));
      const h5 = join(tmp, `${key}.h5`);
      const json = join(tmp, key, 'web/model.json');
      const tfl = join(tmp, `${key}.tflite`);
      for (const out of [h5, json, tfl]) {
        const r = await cli('convert', pb, ...flags, '-o', out);
        expect(r.code, r.text).toBe(0);
      }
      const fromH5 = predict(await tfjsModelFromH5(new Uint8Array(readFileSync(h5))), [x])[0]!;
      const fromJson = predict(
        await tfjsModelFromJson(new Uint8Array(readFileSync(json)), (p) => new Uint8Array(readFileSync(join(dirname(json), p)))),
        [x],
      )[0]!;
      const fromTflite = await tflite(tfl, x);
      for (const [what, got] of [['h5', fromH5], ['model.json', fromJson], ['tflite', fromTflite]] as const) {
        expect(got.shape, what).toEqual([...want.shape]);
        expect(relError(got, want), what).toBeLessThanOrEqual(1e-4);
      }
    }, 120_000);
  }
});

describe("seed 002: a TF1 checkpoint -> .tflite in one command", () => {
  const dir = () => corpusPath('tf-checkpoint/tf2onnx-regression-ckpt');

  it('convert model.meta --checkpoint PREFIX --outputs pred: the interpreter gives W·x + b of the checkpoint', async () => {
    const out = join(tmp, 'regression.tflite');
    // X is a Placeholder of unknown rank; as TF's own converter, a TFLite file needs it given
    const bare = await cli('convert', join(dir(), 'model.meta'), '--checkpoint', join(dir(), 'model'), '--outputs', 'pred', '-o', out);
    expect(bare.code).toBe(1);
    expect(bare.text).toMatch(/'X'.*--input-shape X=/);
    const r = await cli('convert', join(dir(), 'model.meta'), '--checkpoint', join(dir(), 'model'), '--outputs', 'pred', '--input-shape', 'X=4', '-o', out);
    expect(r.code, r.text).toBe(0);
    const manifest = JSON.parse(readFileSync(join(cache, 'ckpt-tf2onnx-regression-ckpt/vars.json'), 'utf8')) as { name: string; file: string }[];
    const v = (name: string) => {
      const a = loadNpy(join(cache, 'ckpt-tf2onnx-regression-ckpt', manifest.find((m) => m.name === name)!.file));
      expect(a.dtype).toBe('float32');
      return new Float32Array(a.bytes.buffer, a.bytes.byteOffset, 1)[0]!;
    };
    const W = v('W');
    const b = v('b');
    expect(W).not.toBe(0);
    const x = Tensor.float32([4], [0, 0.5, -1.25, 3]);
    const y = await tflite(out, x);
    expect(y.shape).toEqual([4]);
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(x.data as Float32Array, (t) => Math.fround(Math.fround(t * W) + b)));
  }, 60_000);
});
