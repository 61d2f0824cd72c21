// nnport's integer HARD_SWISH (src/runtime/integer/hard-swish.ts, TFLite's int16 fixed-point
// kernel) against the real TFLite interpreter: a one-op int8-I/O model fed every int8 value, for
// input ranges that put the reluish multiplier's exponent on both sides of 0. Before this kernel
// the integer runtime computed HardSwish in float and rounded, 1 LSB off the interpreter on some
// values (2 of 256 for [-3, 40]), which MobileNetV3's depth amplified.
import { describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeOnnx } from '../../../src/formats/onnx/index.js';
import { emptyGraph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

describe('integer HardSwish', () => {
  for (const [lo, hi] of [[-9, 9], [-20, 25], [-3, 40], [-1.5, 2], [-60, 10], [-0.2, 0.3]] as const) {
    it(`input calibrated to [${lo}, ${hi}]: every int8 input gives the interpreter's output`, async () => {
      await initKernels();
      registerAllFormats();
      const g = emptyGraph();
      g.opsets[''] = 14;
      g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 256] });
      g.nodes.push({ name: 'hs', opType: 'HardSwish', domain: '', inputs: ['x'], outputs: ['y'], attrs: {} });
      g.outputs.push({ name: 'y', dtype: 'float32' });
      const model = await loadModel(await writeOnnx(g), { fileName: 'hard-swish.onnx' });
      const calibration = [[Tensor.float32([1, 256], Float32Array.from({ length: 256 }, (_, i) => lo + ((hi - lo) * i) / 255))]];
      const { bytes } = await convert(model, 'hard-swish.tflite', { quantize: { mode: 'int8', calibration, io: 'int8' } });
      const xs = Int8Array.from({ length: 256 }, (_, i) => i - 128);
      const [theirs] = await oracle.run(bytes, [xs]);
      expect(theirs!.dtype).toBe('int8');
      const back = await readTflite(bytes);
      expect(back.nodes.map((n) => n.opType)).toContain('HardSwish');
      for (const resident of [true, false]) {
        const { outputs } = await runInteger(back, { [back.inputs[0]!.name]: new Tensor('int8', [1, 256], xs) }, { resident });
        expect(Array.from([...outputs.values()][0]!.data as Int8Array)).toEqual(Array.from(theirs!.data as Int8Array));
      }
    });
  }
});
