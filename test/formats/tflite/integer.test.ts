// The integer runtime on the corpus files whose expected outputs come with them: the seanet
// 16x8 conv against its TFLM golden CSV (exact), person detection against its two test
// images (classified as their names say). Interpreter comparisons are in interpreter.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { fuseQdqIslands, runInteger } from '../../../src/runtime/integer/index.js';
import { multiplyByQuantizedMultiplier, quantizeMultiplier, saturatingRoundingDoublingHighMul, roundingDivideByPOT } from '../../../src/runtime/integer/fixed-point.js';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';

const csvInts = (rel: string): number[] =>
  readFileSync(corpusPath(rel), 'utf8')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number);

/**
 * An 8-bit palettized BMP (the TFLM test images) as the int8 input TFLM's own test feeds:
 * rows top first, each gray byte reinterpreted as int8 (generate_cc_arrays.py casts the bytes).
 */
function bmpToInt8(bytes: Uint8Array): { data: Int8Array; width: number; height: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = dv.getUint32(10, true);
  const width = dv.getInt32(18, true);
  const height = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  expect(bpp).toBe(8);
  const stride = Math.ceil(width / 4) * 4;
  const data = new Int8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = height - 1 - y; // rows are stored bottom-up
    for (let x = 0; x < width; x++) {
      const index = bytes[offset + row * stride + x]!;
      const gray = bytes[54 + index * 4]!; // palette entry (B, G, R, 0)
      data[y * width + x] = (gray << 24) >> 24;
    }
  }
  return { data, width, height };
}

describe('fixed-point helpers (TFLite common.h)', () => {
  it('SaturatingRoundingDoublingHighMul and RoundingDivideByPOT agree with a BigInt model', () => {
    const r = rng(11);
    const model = (a: number, b: number) => {
      if (a === -2147483648 && b === -2147483648) return 2147483647;
      const ab = BigInt(a) * BigInt(b);
      const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
      return Number((ab + nudge) / (1n << 31n));
    };
    for (let i = 0; i < 20000; i++) {
      const a = Math.floor(r() * 2 ** 32) - 2 ** 31;
      const b = i % 3 === 0 ? Math.floor(r() * 2 ** 32) - 2 ** 31 : Math.floor(r() * 2 ** 30) + 2 ** 30;
      expect(saturatingRoundingDoublingHighMul(a, b)).toBe(model(a, b));
    }
    expect(roundingDivideByPOT(5, 1)).toBe(3);
    expect(roundingDivideByPOT(-5, 1)).toBe(-3);
    expect(roundingDivideByPOT(-6, 2)).toBe(-2);
    const q = quantizeMultiplier(0.0035);
    expect(q.multiplier * 2 ** (q.shift - 31)).toBeCloseTo(0.0035, 9);
    expect(multiplyByQuantizedMultiplier(1000, q.multiplier, q.shift)).toBe(4);
  });
});

describe('integer runtime on the corpus', () => {
  it('seanet conv0 16x8 equals the TFLM golden output exactly', async () => {
    const g = await readTflite(readFileSync(corpusPath('tflite/tflm-seanet-conv0-int16x8/conv0.tflite')));
    const input = csvInts('tflite/tflm-seanet-conv0-int16x8/conv0_input0_int16.csv');
    const golden = csvInts('tflite/tflm-seanet-conv0-int16x8/conv0_golden_int16.csv');
    const fused = fuseQdqIslands(g);
    expect(fused.nodes.map((n) => `${n.domain}.${n.opType}`)).toEqual(['nnport.int.Conv']);
    const { outputs } = await runInteger(g, { [g.inputs[0]!.name]: new Tensor('int16', [1, 8, 166, 2], Int16Array.from(input)) });
    const y = [...outputs.values()][0]!;
    expect(y.dtype).toBe('int16');
    expect(Array.from(y.data as Int16Array)).toEqual(golden);
  });

  it('person detection: person.bmp is a person, no_person.bmp is not', async () => {
    const g = await readTflite(readFileSync(corpusPath('tflite/tflm-person-detect-int8/person_detect.tflite')));
    const fused = fuseQdqIslands(g);
    // every conv, the pool and the softmax run as integer kernels
    expect(fused.nodes.filter((n) => n.domain === 'nnport.int').length).toBe(30);
    for (const [file, person] of [
      ['person.bmp', true],
      ['no_person.bmp', false],
    ] as const) {
      const img = bmpToInt8(readFileSync(corpusPath(`tflite/tflm-person-detect-int8/testdata/${file}`)));
      const { outputs } = await runInteger(g, { [g.inputs[0]!.name]: new Tensor('int8', [1, 96, 96, 1], img.data) });
      const [notPerson, isPerson] = Array.from([...outputs.values()][0]!.data as Int8Array) as [number, number];
      expect({ file, person: isPerson > notPerson }).toEqual({ file, person });
    }
  });
});
