// fuseTorchAttention (src/passes/fuse-torch-attention.ts): PyTorch 1.13's ONNX export of
// nn.MultiheadAttention self-attention (packed in-projection, Slices, head-folding Reshapes and
// Transposes, scaled MatMul, Softmax, out-projection Gemm) rewritten as onnxruntime's
// com.microsoft.Attention + a MatMul / Add out-projection on the batch-major input. Proved on the
// graph: onnxruntime runs the rewritten .onnx against PyTorch's own output
// (scripts/fixtures/keras_transformer_models.py: batch_first, sequence-first in a transposing model,
// a TransformerEncoderLayer). A scale other than 1/sqrt(head_dim) is left as it is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseTorchAttention } from '../../../src/passes/fuse-torch-attention.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';

const NETS = ['mha_batch', 'mha_seq', 'encoder'] as const;
let dir = '';

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('keras_transformer_models.py', 'keras-transformers', NETS);
}, 300_000);

async function graphOf(net: string): Promise<Graph> {
  const model = await loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });
  if (model.kind !== 'graph') throw new Error('expected a graph');
  return model.graph;
}

describe('fuseTorchAttention on PyTorch exports, onnxruntime vs PyTorch', () => {
  it.each(NETS)('%s', async (net) => {
    const g = await graphOf(net);
    const x = readNpy(new Uint8Array(readFileSync(join(dir, net, 'input.npy'))));
    const want = readNpy(new Uint8Array(readFileSync(join(dir, net, 'output.npy'))));
    const { graph, fused } = fuseTorchAttention(g);
    expect(fused).toHaveLength(1);
    const attention = graph.nodes.filter((n) => n.opType === 'Attention' && n.domain === 'com.microsoft');
    expect(attention).toHaveLength(1);
    expect(attention[0]!.attrs.num_heads).toEqual({ type: 'int', value: net === 'mha_seq' ? 4 : 2 });
    // no head-folding Reshape and no Softmax left
    expect(graph.nodes.filter((n) => n.opType === 'Softmax' || n.opType === 'Reshape' || n.opType === 'Transpose')).toEqual([]);
    const y = await ortFirst(graph, [x]);
    const e = relErr(y.toFloat32(), want.toFloat32());
    console.log(`${net}: onnxruntime on the rewritten graph vs PyTorch ${e.toExponential(2)}`);
    expect(y.shape).toEqual(want.shape);
    expect(e).toBeLessThan(1e-5);
  });

  it('leaves an attention scaled by anything but 1/sqrt(head_dim) as it is', async () => {
    const g = await graphOf('mha_batch');
    const div = g.nodes.find((n) => n.opType === 'Div' && g.nodes.some((m) => m.opType === 'Constant' && m.outputs[0] === n.inputs[1] && constantScalar(m) > 2.8))!;
    expect(div).toBeDefined();
    const other = { ...g, initializers: new Map(g.initializers).set('other_scale', Tensor.float32([], [3])), nodes: g.nodes.map((n) => (n === div ? { ...n, inputs: [n.inputs[0]!, 'other_scale'] } : n)) };
    const { graph, fused } = fuseTorchAttention(other);
    expect(fused).toEqual([]);
    expect(graph).toBe(other);
  });
});

function constantScalar(n: Graph['nodes'][number]): number {
  const v = n.attrs.value as { value?: Tensor } | undefined;
  return v?.value instanceof Tensor && v.value.size === 1 ? v.value.toNumbers()[0]! : NaN;
}
