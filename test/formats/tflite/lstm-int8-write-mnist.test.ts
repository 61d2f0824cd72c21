// The real oracle for nnport's int8 LSTM quantization: TFLite Micro's mnist_lstm in float and as
// TF's converter quantized it to int8 (corpus: tflm-mnist-lstm-float / tflm-mnist-lstm-int8).
// nnport reads the float file (its LSTM's cell_clip 10 rides on the IR's LSTM as nnport's
// attribute), checked against the float file in the interpreter, and quantizes it (--quantize
// int8, calibrated on synthetic digits) into TFLite's integer LSTM with the cell clip, as TF's
// converter did. Checked: flatc verifies the file and the interpreter runs it; nnport's
// integer runtime on the written file within 1 LSB of the interpreter; the output's SNR against
// the float file on held-out synthetic digits, next to TF's own int8 file's on the same inputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const FLOAT = 'tflite/tflm-mnist-lstm-float/trained_lstm.tflite';
const INT8 = 'tflite/tflm-mnist-lstm-int8/trained_lstm_int8.tflite';

/** A synthetic handwritten digit in [0, 1]: a few thick random strokes on black (28 x 28). */
function digit(r: () => number): Float32Array {
  const img = new Float32Array(28 * 28);
  const strokes = 2 + Math.floor(r() * 3);
  for (let s = 0; s < strokes; s++) {
    let x = 6 + r() * 16;
    let y = 4 + r() * 20;
    let dx = r() * 2 - 1;
    let dy = r() * 2 - 1;
    for (let k = 0; k < 14; k++) {
      for (let py = -1; py <= 1; py++) {
        for (let px = -1; px <= 1; px++) {
          const xi = Math.round(x + px);
          const yi = Math.round(y + py);
          if (xi < 0 || xi > 27 || yi < 0 || yi > 27) continue;
          const v = px === 0 && py === 0 ? 1 : 0.5 + 0.4 * r();
          img[yi * 28 + xi] = Math.max(img[yi * 28 + xi]!, v);
        }
      }
      dx = Math.max(-1.2, Math.min(1.2, dx + (r() - 0.5) * 0.6));
      dy = Math.max(-1.2, Math.min(1.2, dy + (r() - 0.5) * 0.6));
      x += dx;
      y += dy;
    }
  }
  return img;
}

describe('mnist_lstm: nnport int8 vs TF int8 (the TFLite converter)', () => {
  it("quantized by nnport: the interpreter runs it, nnport's integer runtime within 1 LSB, SNR near TF's int8 file", async () => {
    const floatFile = new Uint8Array(readFileSync(corpusPath(FLOAT)));
    const tfInt8 = new Uint8Array(readFileSync(corpusPath(INT8)));
    const g = await readTflite(floatFile, { fileName: FLOAT });
    expect(g.nodes.filter((n) => n.opType === 'LSTM').map((n) => n.attrs.cell_clip)).toEqual([{ type: 'float', value: 10 }]);
    const r = rng(2026);
    const calibration = Array.from({ length: 48 }, () => [Tensor.float32([1, 28, 28], digit(r))]);
    const bytes = await writeTflite(g, { fileName: 'mnist_lstm_int8.tflite', quantize: { mode: 'int8', calibration } });
    type Json = { subgraphs: { tensors: { type?: string; quantization?: { scale?: number[] } }[]; operators: { inputs: number[]; intermediates?: number[]; builtin_options?: { cell_clip?: number } }[] }[] };
    const json = flatcJson<Json>(bytes, 'mnist_lstm_int8');
    const op = json.subgraphs[0]!.operators.find((o) => o.intermediates?.length === 5)!;
    expect(json.subgraphs[0]!.tensors[op.inputs[19]!]!.type).toBe('INT16');
    // the integer LSTM bounds its cell state as TF's file does
    const tfJson = flatcJson<Json>(tfInt8, 'mnist_lstm_int8_tf');
    const tfOp = tfJson.subgraphs[0]!.operators.find((o) => o.intermediates?.length === 5)!;
    expect(op.builtin_options?.cell_clip).toBe(10);
    expect(tfOp.builtin_options?.cell_clip).toBe(10);
    // TF's file: int8 in (scale 1/255, zero point -128) and out (1/256, -128)
    const toInt8 = (x: Float32Array) => Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v * 255) - 128)));
    const fromTf = (q: Int8Array) => Float32Array.from(q, (v) => (v + 128) / 256);
    const want: Float32Array[] = [];
    const ours: Float32Array[] = [];
    const theirs: Float32Array[] = [];
    const rebuilt: Float32Array[] = [];
    let lsb = 0;
    const held = rng(77);
    for (let k = 0; k < 12; k++) {
      const x = digit(held);
      const [f] = await oracle.run(floatFile, [x]);
      want.push(f!.data as Float32Array);
      const [o] = await oracle.run(bytes, [x]);
      ours.push(o!.data as Float32Array);
      const [t] = await oracle.run(tfInt8, [toInt8(x)]);
      theirs.push(fromTf(t!.data as Int8Array));
      lsb = Math.max(lsb, await integerRuntimeLsbOff(bytes, Tensor.float32([1, 28, 28], x), o!.data as Float32Array));
      if (k < 3) {
        // nnport's read of the float file computes it (nnport's float runtime)
        const { runGraph } = await import('../../../src/runtime/executor.js');
        rebuilt.push([...(await runGraph(g, { [g.inputs[0]!.name]: Tensor.float32([1, 28, 28], x) })).outputs.values()][0]!.toFloat32());
      }
    }
    const snrOurs = pooledSnrDb(want, ours);
    const snrTf = pooledSnrDb(want, theirs);
    const snrRebuilt = pooledSnrDb(want.slice(0, 3), rebuilt);
    console.log(`mnist_lstm on 12 held-out synthetic digits, SNR vs the float file in the interpreter: nnport int8 ${snrOurs.toFixed(1)} dB, TF int8 ${snrTf.toFixed(1)} dB (nnport's read of the float file ${snrRebuilt.toFixed(1)} dB); nnport integer runtime vs interpreter ${lsb} LSB`);
    expect(snrRebuilt).toBeGreaterThan(80);
    expect(lsb).toBeLessThanOrEqual(1);
    // measured: nnport 34.9 dB, TF 35.1 dB; 3 dB of room for the calibration sets differing (TF calibrated on MNIST)
    expect(snrOurs).toBeGreaterThan(snrTf - 3);
  });
});
