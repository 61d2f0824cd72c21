// Channel shuffles over a height / width known only at run time (scripts/fixtures/dynamic_hw_shuffle.py:
// torchvision shufflenet_v2_x1_0 and a small 3-group shuffle, exported with a dynamic batch, height and
// width). Their Reshapes take n, h, w from Shape(x) at run time; after stride-2 convs shape inference
// cannot size h, w, and names them with derived symbols (src/ir/README.md) so that the channel count
// survives the Reshape back to [n, -1, h, w]. Written to .pb (read back by nnport's TF reader), a TF.js
// graph model (run by TF.js), Keras .h5 (run by TF.js as a layers model) and .tflite (the interpreter,
// its input's stored size set to each), and run at two sizes against onnxruntime-node on the export
// (itself checked against PyTorch). No written file holds a derived symbol's name. merged_hw shuffles
// over a merged h * w, which no derived symbol sizes: its Shape subgraphs run in the files, and its
// output of two run-time dims is a copy the TFLite writer sizes from SHAPE (a constant RESHAPE target
// of two -1s, written before, made the interpreter fail).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, inspect, loadModel, run } from '../../../src/index.js';
import { DERIVED_DIM_PREFIX } from '../../../src/ir/graph.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { expectLikeOnnxruntime, runChannelsLast } from '../channels-last-runs.js';
import { tfjsModelFromH5 } from '../keras/tfjs-oracle.js';
import { loadWrittenGraphModel, tf } from '../tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

/**
 * each net: its outputs and the layout each file gives them (merged_hw's stay in PyTorch's order: the
 * layout pass does not carry channels-last through a Reshape of a merged h * w), whether its shuffles
 * fold into fixed channel permutations (no Shape subgraph left), and whether Keras can hold it (else the
 * refusal, by name: Keras has no Shape layer)
 */
const NETS: Record<string, { outputs: Record<string, 'nhwc' | 'nchw'>; folds: boolean; keras: true | RegExp }> = {
  shufflenet: { outputs: { y: 'nhwc' }, folds: true, keras: true },
  shuffle_g3: { outputs: { y: 'nhwc' }, folds: true, keras: true },
  merged_hw: { outputs: { y: 'nchw', z: 'nchw' }, folds: false, keras: /Shape has no Keras layer/ },
};
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('dynamic_hw_shuffle.py', 'dynamic-hw-shuffle', Object.keys(NETS));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const derivedName = new TextEncoder().encode(DERIVED_DIM_PREFIX);
/** `bytes` holds the UTF-8 of the derived-symbol prefix somewhere */
const holdsDerived = (bytes: Uint8Array): boolean => Buffer.from(bytes).includes(Buffer.from(derivedName));

describe('channel shuffles of a run-time height / width in .pb, TF.js graph models, Keras and .tflite, against onnxruntime-node', () => {
  for (const [net, spec] of Object.entries(NETS)) {
    it(net, { timeout: 300_000 }, async () => {
      const onnx = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const model = await loadModel(onnx, { fileName: `${net}.onnx` });
      const web = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
      const graphModel = await loadWrittenGraphModel({ json: web.bytes, sidecars: web.sidecars });
      const pb = (await convert(model, `${net}.pb`)).bytes;
      const ops = tensorflow.GraphDef.decode(pb).node.map((n) => n.op);
      // the input's height and width stay open in the file
      const placeholder = tensorflow.GraphDef.decode(pb).node.find((n) => n.op === 'Placeholder')!;
      expect(placeholder.attr!.shape!.shape!.dim!.map((d) => Number(d.size))).toEqual([-1, -1, -1, 3]);
      const back = await loadModel(pb, { fileName: `${net}.pb` });
      const tflite = (await convert(model, `${net}.tflite`)).bytes;
      const sig = flatcJson<{ subgraphs: { inputs: number[]; tensors: { shape_signature?: number[] }[] }[] }>(tflite, `${net}.tflite`).subgraphs[0]!;
      expect(sig.tensors[sig.inputs[0]!]!.shape_signature).toEqual([-1, -1, -1, 3]);
      const onnxAgain = (await convert(model, `${net}.onnx`)).bytes;
      let h5: Uint8Array | undefined;
      if (spec.keras === true) h5 = (await convert(model, `${net}.h5`)).bytes;
      else {
        const err = await convert(model, `${net}.h5`).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UnsupportedError);
        expect(String(err)).toMatch(spec.keras);
      }
      const written: [string, Uint8Array][] = [['.pb', pb], ['.tflite', tflite], ['model.json', web.bytes], ['.onnx', onnxAgain]];
      if (h5) written.push(['.h5', h5]);
      for (const [what, bytes] of written) {
        expect(holdsDerived(bytes), `${net}${what} names a derived symbol`).toBe(false);
      }
      // nor does inspect's listing of the inferred shapes (an unknown dim there)
      expect(JSON.stringify((await inspect(model, `${net}.onnx`)).values)).not.toContain(DERIVED_DIM_PREFIX);
      const keras = h5 && (await tfjsModelFromH5(h5));
      // the channel count known, each shuffle is a fixed permutation of the channels (a 1x1 selection conv), no Shape subgraph left
      if (spec.folds) for (const op of ['Shape', 'Reshape', 'Transpose']) expect(ops, `${net}.pb`).not.toContain(op);
      const outputs = Object.keys(spec.outputs);
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const want = await ortRun(onnx, { x });
        for (const o of outputs) expect(relErr(want.get(o)!.toFloat32(), npy(net, `${o}_${c}`).toFloat32()), `onnxruntime vs PyTorch ${o}`).toBeLessThan(1e-5);
        // the written models take NHWC input (the layout pass); one interpreter thread: the web interpreter aborts on
        // merged_hw's dynamic tensors with more
        const got = await runChannelsLast({ graphModel, back, tflite, keras: keras || undefined }, oracle, x.permute([0, 2, 3, 1]), outputs, 1);
        expectLikeOnnxruntime(got, want, outputs, `${net} x_${c} ${JSON.stringify(x.shape)}`, { nhwc: (o) => spec.outputs[o] === 'nhwc' });
      }
      graphModel.dispose();
      keras?.dispose();
    });
  }
});
