// The TFLite writer on PyTorch models whose Reshape targets follow several dynamic dims
// (scripts/fixtures/tflite_reshape_models.py: x.view(b, c, h * w) attention, a grouped reshape and
// a flattened head over a dynamic batch / height / width). They were written for dim 1; now the
// dims stay -1 in shape_signature and RESHAPE reads its target computed from SHAPE when the model
// runs. Each file run by the real TFLite interpreter (tfjs-tflite in headless Chromium) at two input
// sizes against PyTorch's outputs, read back by nnport's reader and run by its runtime, and written
// on as .onnx and run by onnxruntime, at both sizes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { flatcJson, opNamesOf, useTfliteOracle, withStoredDim, type FlatcOps } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

/**
 * Each net's outputs and the layout the file gives them: flatten_heads' grouped mean comes out NHWC,
 * as with the dims fixed (its Reshape to [b, 2, c / 2, h, w] takes h, w from Shape(x): shape inference
 * names them with x's derived symbols, src/ir/README.md, so the layout pass knows the reshape keeps
 * them and lays it out channels-last; it stayed in PyTorch's NCHW before).
 */
const NETS = { spatial_attn: ['nhwc'], flatten_heads: ['nhwc', 'nchw'] } as const;
type Net = keyof typeof NETS;
const dir = (): string => ensureScriptFixtures('tflite_reshape_models.py', 'tflite-reshapes', Object.keys(NETS));

const nhwc = (t: Tensor): Tensor => (t.rank === 4 ? permuteTensor(t, [0, 2, 3, 1]) : t);

interface Json {
  subgraphs: Array<{ tensors: Array<{ shape_signature?: number[]; buffer?: number }>; inputs: number[] }>;
  buffers: Array<{ data?: number[] }>;
}

describe('TFLite writer: Reshape targets computed from several dynamic dims, two input sizes, vs PyTorch', () => {
  for (const name of Object.keys(NETS) as Net[]) {
    it(`${name}: -1 dims kept, RESHAPE of a computed target; the interpreter, nnport's read-back and onnxruntime on its .onnx within 1e-4 of PyTorch at both sizes`, { timeout: 120_000 }, async () => {
      const d = join(dir(), name);
      const npy = (f: string) => readNpy(readFileSync(join(d, `${f}.npy`)));
      const m = await readModel(new Uint8Array(readFileSync(join(d, 'model.onnx'))), { fileName: `${name}.onnx` });
      const bytes = await writeTflite((m as { graph: Graph }).graph, { fileName: `${name}.tflite` });
      const json = flatcJson<FlatcOps<{ inputs: number[] }> & Json>(bytes, name);
      const sg = json.subgraphs[0]!;
      expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, -1, -1, 3]);
      const names = opNamesOf(json);
      // some RESHAPE reads a target no buffer holds (computed when the model runs)
      const computed = sg.operators.filter((op, i) => names[i] === 'RESHAPE' && !(json.buffers[sg.tensors[op.inputs[1]!]!.buffer ?? 0]?.data?.length ?? 0));
      expect(computed.length, 'RESHAPEs of a computed target').toBeGreaterThan(0);
      const back = await readTflite(bytes, { fileName: `${name}.tflite` });
      const onnx = (await convert(await readModel(bytes, { fileName: `${name}.tflite` }), `${name}.onnx`)).bytes;
      for (const k of [0, 1]) {
        const x = nhwc(npy(`input${k}`));
        const want = NETS[name].map((layout, i) => (layout === 'nhwc' ? nhwc(npy(`output${k}_${i}`)) : npy(`output${k}_${i}`)).toFloat32());
        let file = bytes;
        x.shape.forEach((dim, a) => (file = withStoredDim(file, a, dim)));
        const theirs = (await oracle.run(file, [x.toFloat32()], 1, 1)).map((t) => t.data as Float32Array);
        const mine = [...(await runGraph(back, { [back.inputs[0]!.name]: x })).outputs.values()].map((t) => t.toFloat32());
        const viaOnnx = [...(await ortRun(onnx, [x])).values()].map((t) => t.toFloat32());
        want.forEach((w, i) => {
          const [e, r, o] = [theirs[i]!, mine[i]!, viaOnnx[i]!].map((got) => (got.length === w.length ? relErr(got, w) : Infinity));
          console.log(`${name} input [${x.shape.join(', ')}] output ${i}: interpreter ${e.toExponential(2)}, nnport read-back ${r.toExponential(2)}, onnxruntime on its .onnx ${o.toExponential(2)} of PyTorch (relative)`);
          expect(e).toBeLessThanOrEqual(1e-4);
          expect(r).toBeLessThanOrEqual(1e-4);
          expect(o).toBeLessThanOrEqual(1e-4);
        });
      }
    });
  }
});
