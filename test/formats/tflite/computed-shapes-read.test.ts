// The TFLite reader on paddings / sizes / shapes computed when the model runs (computed-model.ts:
// SHAPE-derived MIRROR_PAD / PAD / PADV2 paddings, RESIZE_* sizes from another input's SHAPE, a
// RESHAPE to a PACKed target, TRANSPOSE_CONV's output_shape over an open height / width): each file
// run at two input sizes by the real TFLite interpreter (tfjs-tflite in headless Chromium, the
// stored input shapes set as ResizeInputTensor would), by nnport (read, reference runtime) and by
// onnxruntime on the .onnx nnport converts it to; and bad paddings refused as FormatErrors.
import { describe, expect, it } from 'vitest';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { readModel } from '../../../src/formats/registry.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert } from '../../../src/index.js';
import { FormatError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { computedPadFile, computedReshapeFile, resizeToSkipFile, transposeConvOpenFile, transposeConvPastFullFile } from './computed-model.js';
import { buildOpModel } from './op-model.js';

const oracle = useTfliteOracle();

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
function random(shape: number[], seed: number): Tensor {
  const r = rng(seed);
  return Tensor.float32(shape, Array.from({ length: size(shape) }, () => r() * 4 - 2));
}

/** The file with each graph input's stored shape set as given. */
const storedAs = (bytes: Uint8Array, shapes: number[][]): Uint8Array => shapes.reduce((b, s, i) => s.reduce((bb, d, a) => withStoredDim(bb, a, d, i), b), bytes);

const CASES: Array<[string, () => Uint8Array, number[][][], string[]]> = [
  ['MIRROR_PAD REFLECT, paddings SHAPE(x) % [1, 3, 3, 1] / % [1, 2, 4, 1]', () => computedPadFile('REFLECT'), [[[1, 6, 7, 3]], [[2, 5, 9, 3]]], ['Pad']],
  ['MIRROR_PAD SYMMETRIC, the same computed paddings', () => computedPadFile('SYMMETRIC'), [[[1, 6, 7, 3]], [[2, 5, 9, 3]]], ['Concat', 'Slice']],
  ['PAD, the same computed paddings', () => computedPadFile('PAD'), [[[1, 6, 7, 3]], [[2, 5, 9, 3]]], ['Pad']],
  ['PADV2 (value 0.5), the same computed paddings', () => computedPadFile('PADV2'), [[[1, 6, 7, 3]], [[2, 5, 9, 3]]], ['Pad']],
  ['RESIZE_BILINEAR half_pixel_centers to a second input\'s SHAPE', () => resizeToSkipFile('bilinear', false, true), [[[1, 4, 5, 3], [1, 8, 9, 2]], [[2, 3, 7, 3], [2, 7, 10, 2]]], ['Resize']],
  ['RESIZE_BILINEAR align_corners to a second input\'s SHAPE', () => resizeToSkipFile('bilinear', true, false), [[[1, 4, 5, 3], [1, 8, 9, 2]], [[2, 3, 7, 3], [2, 7, 10, 2]]], ['Resize']],
  ['RESIZE_NEAREST_NEIGHBOR to a second input\'s SHAPE', () => resizeToSkipFile('nearest'), [[[1, 4, 5, 3], [1, 8, 9, 2]], [[2, 3, 7, 3], [2, 7, 10, 2]]], ['Resize']],
  ['RESHAPE to PACK(N, -1, 3)', () => computedReshapeFile(false), [[[1, 4, 5, 3]], [[3, 7, 2, 3]]], ['Reshape']],
  ['RESHAPE to PACK(N, H·W, 3)', () => computedReshapeFile(true), [[[1, 4, 5, 3]], [[3, 7, 2, 3]]], ['Reshape']],
  ['TRANSPOSE_CONV SAME, output_shape PACK(N, 2H, 2W, 2) over open H / W', () => transposeConvOpenFile(Padding.SAME), [[[1, 4, 5, 3]], [[2, 7, 3, 3]]], ['ConvTranspose']],
  ['TRANSPOSE_CONV VALID, output_shape PACK(N, 2H + 1, 2W + 1, 2) over open H / W', () => transposeConvOpenFile(Padding.VALID), [[[1, 4, 5, 3]], [[2, 7, 3, 3]]], ['ConvTranspose']],
  ['TRANSPOSE_CONV VALID, constant output_shape past the full output (bias-only rows)', () => transposeConvPastFullFile(Padding.VALID), [[[1, 3, 4, 2]]], ['ConvTranspose']],
  ['TRANSPOSE_CONV SAME, constant output_shape past the full output (bias-only rows)', () => transposeConvPastFullFile(Padding.SAME), [[[1, 3, 4, 2]]], ['ConvTranspose']],
];

describe('TFLite reader: paddings, sizes and shapes computed at run time, two input sizes, against the interpreter', () => {
  it.each(CASES.map(([name, file, sizes, ops], k) => [name, file, sizes, ops, k] as const))('%s', async (name, file, sizes, ops, k) => {
    const bytes = file();
    const g = await readTflite(bytes, { fileName: `computed_${k}.tflite` });
    for (const op of ops) expect(g.nodes.map((n) => n.opType)).toContain(op);
    const onnx = (await convert(await readModel(bytes, { fileName: `computed_${k}.tflite` }), `computed_${k}.onnx`)).bytes;
    for (const [j, shapes] of sizes.entries()) {
      const xs = shapes.map((s, i) => random(s, 50 + 10 * k + 3 * j + i));
      const theirs = (await oracle.run(storedAs(bytes, shapes), xs.map((x) => x.data as Float32Array), 1, 1))[0]!;
      const mine = [...(await runGraph(g, Object.fromEntries(g.inputs.map((v, i) => [v.name, xs[i]!])))).outputs.values()][0]!;
      const viaOnnx = [...(await ortRun(onnx, xs)).values()][0]!;
      expect(mine.shape, `${name}: nnport's shape at size ${j}`).toEqual(theirs.shape);
      expect(viaOnnx.shape, `${name}: onnxruntime's shape at size ${j}`).toEqual(theirs.shape);
      const want = theirs.data as Float32Array;
      const e = relErr(mine.toFloat32(), want);
      const o = relErr(viaOnnx.toFloat32(), want);
      console.log(`${name} at ${shapes.map((s) => `[${s.join(', ')}]`).join(' ')}: output [${theirs.shape.join(', ')}], nnport ${e.toExponential(2)}, onnxruntime on the .onnx ${o.toExponential(2)} of the interpreter (relative)`);
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(o).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('TFLite reader: bad paddings', () => {
  it('a paddings tensor that is not [rank, 2] (MIRROR_PAD, PAD, PADV2) is a FormatError naming it', async () => {
    for (const kind of ['REFLECT', 'SYMMETRIC', 'PAD', 'PADV2'] as const) {
      const err = await readTflite(computedPadFile(kind, 3), { fileName: `bad_${kind}.tflite` }).catch((e: unknown) => e);
      expect(err, kind).toBeInstanceOf(FormatError);
      expect(String(err), kind).toMatch(/paddings 't6' are int32 \[3, 2\], expected int32 or int64 \[4, 2\] for input shape \[1, 6, 7, 3\]/);
    }
  });

  it('constant negative paddings are a FormatError (PAD, MIRROR_PAD)', async () => {
    for (const code of ['PAD', 'MIRROR_PAD'] as const) {
      const { BuiltinOperator } = await import('../../../src/formats/generated/tflite/builtin-operator.js');
      const bytes = buildOpModel([{ shape: [1, 4, 4, 2] }, { shape: [4, 2], dtype: 'int32', data: [0, 0, -1, 1, 0, 0, 0, 0] }, { shape: [1, 4, 5, 2] }], [{ code: BuiltinOperator[code], inputs: [0, 1], outputs: [2] }]);
      const err = await readTflite(bytes, { fileName: `negative_${code}.tflite` }).catch((e: unknown) => e);
      expect(err, code).toBeInstanceOf(FormatError);
      expect(String(err), code).toMatch(/paddings \[0, 0, -1, 1, 0, 0, 0, 0\]/);
    }
  });
});
