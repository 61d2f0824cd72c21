// float16 and dynamic-range TFLite for the rest of the torchvision fixtures (resnet18 and
// mobilenet_v2 are in quantize.test.ts with full int8 too): every file is run by the real
// interpreter, float16 within 1e-2 and dynamic within 5e-2 of PyTorch's output, relative to the
// largest output value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

// The dynamic-range target is 5e-2 (measured: lenet 0.005, seg_head 0.006, squeezenet
// 0.013, efficientnet_b0 0.043, densenet121 0.040). shufflenet_v2 misses it (measured 0.102), like
// the random-init mobilenet_v2 in quantize.test.ts (0.133): both are depthwise networks whose random
// torchvision init (tiny depthwise kernels, BN scales of 17-234) amplifies any rounding by about
// 20 dB (bench/RESULTS.md, qacc's section; bench/int8-accuracy.mjs). The floor below is that
// measurement of TF's layout, not the target; weight-only kernels with weights under 4096 elements
// float meet it (0.022; quantize-dynamic.test.ts, bench/RESULTS.md dyn's section).
const dynamicTolerance: Record<string, number> = { shufflenet_v2_x1_0: 0.12 };

describe('float16 and dynamic-range TFLite of the torchvision fixtures, run by the interpreter, vs PyTorch', () => {
  for (const name of ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0', 'efficientnet_b0', 'densenet121']) {
    it(name, { timeout: 300_000 }, async () => {
      const dir = torchvisionDir(name);
      const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
      const g = await prepareForTflite((m as { graph: Graph }).graph);
      const x = readNpy(readFileSync(join(dir, 'input.npy')));
      const xs = x.rank === 4 ? permuteTensor(x, [0, 2, 3, 1]) : x;
      const want = readNpy(readFileSync(join(dir, 'output.npy')));
      // outputs of rank 4 come back channels-last
      const wantData = (want.rank === 4 ? permuteTensor(want, [0, 2, 3, 1]) : want).toFloat32();
      const run = async (bytes: Uint8Array) => (await oracle.run(bytes, [xs.data as Float32Array]))[0]!.data as Float32Array;
      const f16 = relErr(await run(serializeTflite((await quantizeGraph(g, { mode: 'float16' })).graph)), wantData);
      const dyn = relErr(await run(serializeTflite((await quantizeGraph(g, { mode: 'dynamic' })).graph)), wantData);
      console.log(`${name}: float16 ${f16.toExponential(2)}, dynamic ${dyn.toExponential(2)} (relative to the largest output)`);
      expect(f16).toBeLessThanOrEqual(1e-2);
      expect(dyn).toBeLessThanOrEqual(dynamicTolerance[name] ?? 5e-2);
    });
  }
});
