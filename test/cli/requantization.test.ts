// `nnport run --requantization`: which of the TFLite interpreter's int8 roundings a quantized
// .tflite runs with. The corpus Caffe LeNet (batch 64) quantized to int8: the interpreter (tfjs-tflite,
// XNNPACK delegate) requantizes its FULLY_CONNECTEDs in float32, TFLite's reference kernels (the
// default) with fixed-point multipliers, which differ by one step on a few outputs of ip1 and
// reach the softmax. With `--requantization xnnpack` the CLI's output is the interpreter's exactly.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModelFiles } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { corpusPath } from '../support/corpus.js';
import { rng } from '../support/rng.js';
import { useTfliteOracle } from '../support/tflite-test.js';
import { cli } from '../support/cli.js';

const oracle = useTfliteOracle();
const random = rng(23);
const tmp = mkdtempSync(join(tmpdir(), 'nnport-requant-'));

/** Elements of `a` not equal to `b`. */
const differing = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).filter((v, i) => v !== b[i]).length;

describe('nnport run --requantization', () => {
  it("xnnpack gives the interpreter's int8 LeNet outputs exactly; the default (TFLite's reference kernels) does not", { timeout: 300_000 }, async () => {
    const model = await loadModelFiles([corpusPath('caffe/lenet-mnist')]);
    const shape = [64, 28, 28, 1];
    const sample = () => new Tensor('float32', shape, Float32Array.from({ length: 64 * 28 * 28 }, () => random()));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const q8 = (await convert(model, 'lenet.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
    const file = join(tmp, 'lenet_int8.tflite');
    writeFileSync(file, q8);
    let referenceOff = 0;
    for (let k = 0; k < 2; k++) {
      const x = sample();
      const xFile = join(tmp, `x${k}.npy`);
      writeFileSync(xFile, writeNpy(x));
      const theirs = (await oracle.run(q8, [x.toFloat32()]))[0]!.data as Float32Array;
      const outputs: Float32Array[] = [];
      for (const mode of ['xnnpack', undefined]) {
        const y = join(tmp, `y${k}_${mode ?? 'default'}.npy`);
        const r = await cli('run', file, '--input', xFile, '-o', y, ...(mode ? ['--requantization', mode] : []));
        expect(r.code, r.err).toBe(0);
        outputs.push(readNpy(readFileSync(y)).toFloat32());
      }
      const [xnnpack, reference] = outputs as [Float32Array, Float32Array];
      console.log(`sample ${k}: of ${theirs.length} probabilities, --requantization xnnpack differs from the interpreter in ${differing(xnnpack, theirs)}, the default in ${differing(reference, theirs)}`);
      expect(differing(xnnpack, theirs)).toBe(0);
      referenceOff += differing(reference, theirs);
    }
    // the flag changes what runs: TFLite's reference kernels are off the interpreter somewhere
    expect(referenceOff).toBeGreaterThan(0);
  });

  it('refuses an unknown mode and a float model by name', async () => {
    const x = join(tmp, 'lenet_x.npy');
    writeFileSync(x, writeNpy(new Tensor('float32', [1, 1, 28, 28], new Float32Array(784))));
    const bad = await cli('run', corpusPath('caffe/lenet-mnist'), '--input', x, '--requantization', 'fast');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--requantization must be reference, xnnpack, builtin, got 'fast'/);
    const float = await cli('run', 'examples/lenet/model.onnx', '--input', x, '--requantization', 'xnnpack');
    expect(float.code).not.toBe(0);
    expect(float.err).toMatch(/--requantization is for quantized \.tflite models; examples\/lenet\/model\.onnx runs in floating point/);
    const both = await cli('compare', 'examples/lenet/model.onnx', 'examples/lenet/model.onnx', '--input', 'examples/lenet/input.npy', '--requantization', 'builtin');
    expect(both.code).not.toBe(0);
    expect(both.err).toMatch(/compare: --requantization is for quantized \.tflite models/);
  });
});
