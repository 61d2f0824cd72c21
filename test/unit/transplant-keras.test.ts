// The Keras layout rules of the transplant pass (what the Keras writer will use for .pth -> Keras),
// checked element by element against index arithmetic written out here.
import { beforeAll, describe, expect, it } from 'vitest';
import { emptyGraph, type Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { KERAS_PARAM_NAMES } from '../../src/passes/name-mapping.js';
import { inlineKernels as kernels } from '../../src/wasm/tensor-kernels.js';
import { transplant } from '../../src/passes/transplant.js';
import { initKernels } from '../../src/wasm/loader.js';

beforeAll(async () => {
  await initKernels();
});

const iota = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

function graphWith(init: Record<string, number[]>, nodes: Omit<Node, 'domain' | 'attrs' | 'outputs'>[] & { attrs?: Node['attrs'] }[]): Graph {
  const g = emptyGraph('keras');
  for (const [k, s] of Object.entries(init)) g.initializers.set(k, Tensor.zeros('float32', s));
  for (const n of nodes) g.nodes.push({ domain: '', outputs: [`${n.name}:out`], attrs: {}, ...n } as Node);
  return g;
}

describe('transplant with the Keras convention', () => {
  it('conv OIHW -> HWIO, dense (out,in) -> (in,out), BatchNorm roles by name, depthwise (C,1,H,W) -> (H,W,C,1), conv-transpose IOHW -> HWOI', async () => {
    const g = graphWith(
      {
        'conv1/kernel:0': [3, 3, 2, 4],
        'conv1/bias:0': [4],
        'bn1/gamma:0': [4],
        'bn1/beta:0': [4],
        'bn1/moving_mean:0': [4],
        'bn1/moving_variance:0': [4],
        'dw/depthwise_kernel:0': [3, 3, 4, 1],
        'up/kernel:0': [2, 2, 3, 4],
        'fc/kernel:0': [4, 5],
      },
      [
        { name: 'conv1', opType: 'Conv', inputs: ['x', 'conv1/kernel:0', 'conv1/bias:0'] },
        { name: 'bn1', opType: 'BatchNormalization', inputs: ['conv1:out', 'bn1/gamma:0', 'bn1/beta:0', 'bn1/moving_mean:0', 'bn1/moving_variance:0'] },
        { name: 'dw', opType: 'Conv', inputs: ['bn1:out', 'dw/depthwise_kernel:0'], attrs: { group: { type: 'int', value: 4 } } },
        { name: 'up', opType: 'ConvTranspose', inputs: ['dw:out', 'up/kernel:0'] },
        { name: 'fc', opType: 'Gemm', inputs: ['up:out', 'fc/kernel:0'] },
      ],
    );
    // The layer kinds come from the graph's ops (a grouped Conv whose Keras kernel has C = group is depthwise).
    const src = new Map<string, Tensor>([
      ['conv1.weight', iota([4, 2, 3, 3])],
      ['conv1.bias', iota([4])],
      ['bn1.weight', iota([4])],
      ['bn1.bias', iota([4])],
      ['bn1.running_mean', iota([4])],
      ['bn1.running_var', iota([4])],
      ['bn1.num_batches_tracked', Tensor.int64([], [1])],
      ['dw.weight', iota([4, 1, 3, 3])],
      ['up.weight', iota([4, 3, 2, 2])],
      ['fc.weight', iota([5, 4])],
    ]);
    const { graph, report } = await transplant(src, g, { kernels, convention: 'keras' });
    expect(report.unmatchedSource).toEqual([]);
    expect(report.unmatchedTarget).toEqual([]);
    expect(report.skipped.map((s) => s.source)).toEqual(['bn1.num_batches_tracked']);
    const at = (name: string, idx: number[]) => {
      const t = graph.initializers.get(name)!;
      let flat = 0;
      for (let i = 0; i < idx.length; i++) flat = flat * t.shape[i]! + idx[i]!;
      return t.toNumbers()[flat];
    };
    // HWIO[h][w][i][o] = OIHW[o][i][h][w]
    for (const [h, w, i, o] of [[0, 0, 0, 0], [2, 1, 1, 3], [1, 2, 0, 2]] as const) expect(at('conv1/kernel:0', [h, w, i, o])).toBe(((o * 2 + i) * 3 + h) * 3 + w);
    // (in, out)[i][o] = (out, in)[o][i]
    for (const [i, o] of [[0, 0], [3, 4], [2, 1]] as const) expect(at('fc/kernel:0', [i, o])).toBe(o * 4 + i);
    // depthwise Keras (H, W, C, M=1)[h][w][c][0] = (C, 1, H, W)[c][0][h][w]
    for (const [h, w, c] of [[0, 0, 0], [2, 1, 3], [1, 2, 2]] as const) expect(at('dw/depthwise_kernel:0', [h, w, c, 0])).toBe((c * 3 + h) * 3 + w);
    // conv transpose: Keras (H, W, out, in)[h][w][o][i] = PyTorch (in, out, H, W)[i][o][h][w]
    for (const [h, w, o, i] of [[0, 0, 0, 0], [1, 1, 2, 3], [0, 1, 1, 2]] as const) expect(at('up/kernel:0', [h, w, o, i])).toBe(((i * 3 + o) * 2 + h) * 2 + w);
    expect(report.matched.find((m) => m.source === 'bn1.running_var')).toMatchObject({ target: 'bn1/moving_variance:0', via: 'normalized', kind: 'batchnorm' });
    expect(report.matched.find((m) => m.source === 'conv1.weight')).toMatchObject({ layout: 'oihwToHwio' });
    expect(report.matched.find((m) => m.source === 'dw.weight')).toMatchObject({ layout: 'depthwiseOihwToKeras' });
    expect(KERAS_PARAM_NAMES.batchnorm.running_var).toBe('moving_variance');
  });
});
