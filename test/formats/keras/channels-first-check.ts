// Shared by the channels_first Keras tests (TF.js-saved models and the h5py-written files).
import type * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { GraphModel } from '../../../src/formats/model.js';
import { convert } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ortFirst } from '../../support/ort.js';
import { relError } from './tfjs-oracle.js';

/** (N, C, d...) -> (N, d..., C) */
export const channelsLast = (t: Tensor): Tensor => t.permute([0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]);

/**
 * nnport's runtime on the model as read, and onnxruntime on the .onnx nnport writes, give `want` for
 * `x` (relative error < 1e-5); channels_first data is the IR's own layout: no channels-last op.
 */
export async function expectNchwRuntimes(model: GraphModel, x: Tensor, want: Tensor, ortOptions: ort.InferenceSession.SessionOptions = {}): Promise<void> {
  const g = model.graph;
  expect(g.nodes.filter((n) => n.domain === 'nnport')).toEqual([]);
  const got = (await runGraph(g, new Map([[g.inputs[0]!.name, x]]))).outputs.get(g.outputs[0]!.name)!;
  expect(got.shape).toEqual(want.shape);
  expect(relError(got, want)).toBeLessThan(1e-5);
  const onnx = await convert(model, 'cf.onnx');
  expect(relError(await ortFirst(onnx.bytes, [x], ortOptions), want)).toBeLessThan(1e-5);
}
