// nnport's float runtime on channels-last graphs read from .tflite: the torchvision mobilenet_v2
// and resnet18 fixtures written as float .tflite files, read back (nnport ops, OHWI / HWIO
// weights) and run by nnport — lowered to the NCHW kernels at plan time, the default
// (runtime/lower-for-run.ts) — give the real TFLite interpreter's outputs on the same input,
// and PyTorch's. Values an observer reads by name (onValue, keepIntermediates, `outputs`)
// are the ones the unlowered graph computes, in its channels-last layout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../../src/formats/registry.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { lowerForRun } from '../../../src/runtime/lower-for-run.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

describe('channels-last .tflite graphs on the float runtime (lowered to NCHW) vs the TFLite interpreter and PyTorch', () => {
  for (const name of ['mobilenet_v2', 'resnet18']) {
    it(name, async () => {
      const dir = torchvisionDir(name);
      const onnx = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
      if (onnx.kind !== 'graph') throw new Error('not a graph');
      const bytes = await writeTflite(onnx.graph, { fileName: `${name}.tflite` });
      const g: Graph = await readTflite(bytes);
      expect(g.nodes.some((n) => n.domain === 'nnport' && n.opType === 'Conv')).toBe(true);
      // what runs: NCHW ops with one transpose, at the channels-last input
      const lowered = lowerForRun(g);
      expect(lowered).toBeDefined();
      expect(lowered!.graph.nodes.some((n) => n.domain === 'nnport' && n.opType !== 'FusedConv')).toBe(false);
      expect(lowered!.graph.nodes.filter((n) => n.opType === 'Transpose').length).toBe(1);
      expect(lowered!.complete).toBe(true);

      const x = readNpy(readFileSync(join(dir, 'input.npy'))).permute([0, 2, 3, 1]);
      const input = g.inputs.find((v) => !g.initializers.has(v.name))!.name;
      const out = g.outputs[0]!.name;
      const got = (await runGraph(g, { [input]: x })).outputs.get(out)!;
      const [interp] = await oracle.run(bytes, [x.data as Float32Array]);
      const pytorch = readNpy(readFileSync(join(dir, 'output.npy')));
      expect(got.shape).toEqual([...interp!.shape]);
      expect(maxAbsDiff(got.data as Float32Array, interp!.data as Float32Array)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(got.data as Float32Array, pytorch.data as Float32Array)).toBeLessThanOrEqual(1e-4);

      // the permuting channels-last kernels (no lowering, no fusion) compute the same
      const plain = await runGraph(g, { [input]: x }, { optimize: false, keepIntermediates: true });
      expect(maxAbsDiff(got.data as Float32Array, plain.outputs.get(out)!.data as Float32Array)).toBeLessThanOrEqual(1e-5);

      // observers get every value by its name, channels-last, as the unlowered graph computes it
      // (the same NCHW kernels on the same data: equal, not merely close)
      const seen = new Map<string, Tensor>();
      const dumped = await runGraph(g, { [input]: x }, { keepIntermediates: true, onValue: (n, t) => seen.set(n, t) });
      const want = plain.values!;
      expect([...dumped.values!.keys()].sort()).toEqual([...want.keys()].sort());
      expect([...seen.keys()].sort()).toEqual([...want.keys()].sort());
      let permuted = 0;
      for (const [k, t] of want) {
        const a = dumped.values!.get(k)!;
        const b = seen.get(k)!;
        expect(a.shape, k).toEqual(t.shape);
        expect(b.shape, k).toEqual(t.shape);
        if (b.deferred) permuted++;
        expect(maxAbsDiff(a.data as Float32Array, t.data as Float32Array), k).toBe(0);
        expect(maxAbsDiff(b.data as Float32Array, t.data as Float32Array), k).toBe(0);
      }
      expect(permuted).toBeGreaterThan(want.size / 2);

      // `outputs` naming intermediates: channels-last, equal to the unlowered values up to fusion's rounding
      const asked = [...want.keys()].filter((k) => want.get(k)!.rank === 4).slice(0, 12);
      const some = await runGraph(g, { [input]: x }, { outputs: asked });
      for (const k of asked) {
        const t = want.get(k)!;
        const scale = (t.data as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 1);
        expect(some.outputs.get(k)!.shape, k).toEqual(t.shape);
        expect(maxAbsDiff(some.outputs.get(k)!.data as Float32Array, t.data as Float32Array) / scale, k).toBeLessThanOrEqual(1e-5);
      }
    }, 120_000);
  }
});
