// The corpus' frozen GraphDefs, listed once for the eager and the lazy reader's tests, and the
// check both make: every Const equals the independent wire-format decoder's .npy
// (scripts/fixtures/tf_goldens.py writes <name>/consts.json and one .npy per Const).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { NodeAttrs, type GraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { loadNpy } from './helpers.js';

/** name (its goldens' folder under tfGoldens()) -> path in the corpus */
export const CORPUS_GRAPHS: Record<string, string> = {
  'tensorspace-mnist-conv': 'tf-graphdef/tensorspace-mnist-conv/frozen_model.pb',
  'tf2onnx-fc-layers': 'tf-graphdef/tf2onnx-fc-layers/frozen.pb',
  'tf2onnx-lstm': 'tf-graphdef/tf2onnx-lstm/frozen.pb',
  'utensor-cifar10-cnn': 'tf-graphdef/utensor-cifar10-cnn/cifar10_cnn.pb',
  'utensor-conv-golden': 'tf-graphdef/utensor-conv-golden/test_conv.pb',
  'tfrust-regression-train-graph': 'tf-graphdef/tfrust-regression-train-graph/model.pb',
};

/** Every Const of `gd` (read from `file`) equals the decoder's .npy: dtype, shape and bytes. */
export function expectConstsEqualGoldens(gd: GraphDef, file: string, goldens: string, name: string): void {
  const manifest = JSON.parse(readFileSync(join(goldens, name, 'consts.json'), 'utf8')) as { name: string; file: string | null }[];
  const consts = gd.node!.filter((n) => n.op === 'Const');
  expect(consts.length).toBe(manifest.length);
  expect(manifest.length).toBeGreaterThan(0);
  for (const m of manifest) {
    const node = consts.find((n) => n.name === m.name)!;
    const t = new NodeAttrs(node, file).tensor('value');
    const want = loadNpy(join(goldens, name, m.file!));
    expect([t.dtype, ...t.shape], m.name).toEqual([want.dtype, ...want.shape]);
    expect(Buffer.from(t.bytes()).equals(Buffer.from(want.bytes)), m.name).toBe(true);
  }
}
