// Keras .h5 files that claim more than they hold, built by test/fuzz/hostile-h5.ts (h5wasm),
// read with the default limits (no --max-memory): what the semantic fuzzer's HDF5 families
// found, one case each, with the exact outcome asserted.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel as readModelBytes } from '../../../src/index.js';
import { FormatError, ResourceError, ShapeError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { h5Ready, kerasH5, type H5Dataset, type KerasH5Layer } from '../../fuzz/hostile-h5.js';

beforeAll(async () => {
  await h5Ready();
});

const input = (shape: unknown) => ({ class_name: 'InputLayer', config: { name: 'x', batch_input_shape: shape, dtype: 'float32' } });
const dense = { class_name: 'Dense', config: { name: 'd', units: 3, activation: 'linear', use_bias: true } };
const sequential = (...layers: unknown[]) => ({ class_name: 'Sequential', config: { name: 's', layers } });
const denseWeights = (kernel: Omit<H5Dataset, 'kind' | 'path'>): KerasH5Layer[] => [
  { name: 'd', weights: [{ role: 'kernel', dataset: kernel }, { role: 'bias', dataset: { dtype: '<f4', shape: [3], written: 'all' } }] },
];
const read = (bytes: Uint8Array) => readModelBytes(bytes, { fileName: 'hostile.h5' });

describe('Keras .h5 datasets are checked before h5wasm allocates them', () => {
  it('a kernel claiming 1 GiB in chunks never written: a ResourceError naming the file and dataset (the reader may take 256 MiB beyond a small file)', async () => {
    const bytes = kerasH5(sequential(input([null, 1 << 16]), { ...dense, config: { ...dense.config, units: 1 << 12 } }), [
      { name: 'd', weights: [{ role: 'kernel', dataset: { dtype: '<f4', shape: [1 << 16, 1 << 12], written: 'none', chunks: [1 << 10, 1 << 10] } }, { role: 'bias', dataset: { dtype: '<f4', shape: [1 << 12], written: 'all' } }] },
    ]);
    expect(bytes.length).toBeLessThan(65536);
    const e = await read(bytes).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ResourceError);
    expect((e as Error).message).toMatch(/hostile\.h5: dataset '\/model_weights\/d\/d\/kernel:0' \[65536, 4096\].*more than the file holds/);
  });

  it('a kernel split into a grid of a million tiny chunks never written: a FormatError, not minutes of HDF5 chunk lookups', async () => {
    const bytes = kerasH5(sequential(input([null, 1 << 20]), dense), denseWeights({ dtype: '<f4', shape: [1 << 20, 3], written: 'none', chunks: [1, 3] }));
    await expect(read(bytes)).rejects.toThrow(/dataset '\/model_weights\/d\/d\/kernel:0' \[1048576, 3\] is split into 1048576 chunks/);
  });

  it('integer weights are refused; float64 ones are cast to the float32 Keras loads them into and run', async () => {
    await expect(read(kerasH5(sequential(input([null, 4]), dense), denseWeights({ dtype: '<u2', shape: [4, 3], written: 'all' })))).rejects.toThrow(/weight 'd\/kernel:0' is stored as uint16/);
    const m = await read(kerasH5(sequential(input([null, 4]), dense), denseWeights({ dtype: '<f8', shape: [4, 3], written: 'all' })));
    if (m.kind !== 'graph') throw new Error('not a graph');
    const y = [...(await runGraph(m.graph, { x: Tensor.float32([1, 4], [1, 2, 3, 4]) })).outputs.values()][0]!;
    // the generator's elements: (i % 7) - 3, kernel [4, 3] row-major, bias the same [-3, -2, -1]
    const k = Array.from({ length: 12 }, (_, i) => (i % 7) - 3);
    const want = [0, 1, 2].map((j) => [1, 2, 3, 4].reduce((s, xi, i) => s + xi * k[i * 3 + j]!, 0) + (j - 3));
    expect([...y.toFloat32()]).toEqual(want);
  });

  it('a weight name walking a hard-link loop is refused by its length, at once', async () => {
    const bytes = kerasH5(sequential(input([null, 4]), dense), denseWeights({ dtype: '<f4', shape: [4, 3], written: 'all' }), {
      items: [{ kind: 'hard link', path: '/model_weights/d/d/loop', target: '/model_weights' }],
    });
    // the honest names read
    expect((await read(bytes)).kind).toBe('graph');
    const looped = kerasH5(sequential(input([null, 4]), dense), [{ ...denseWeights({ dtype: '<f4', shape: [4, 3], written: 'all' })[0]!, weightNames: [`${'d/loop/d/'.repeat(300)}d/kernel:0`, 'd/bias:0'] }], {
      items: [{ kind: 'hard link', path: '/model_weights/d/d/loop', target: '/model_weights' }],
    });
    await expect(read(looped)).rejects.toThrow(/weight name 'd\/loop\/d\/.*' has 902 parts, more than the 16/);
  });
});

describe('Keras model configs: numbers, topology and attributes', () => {
  it('a chain of 10000 layers reads (no recursion) and runs: relu of the input', async () => {
    const n = 10000;
    const act = (name: string, from: string) => ({ class_name: 'Activation', name, config: { name, activation: 'relu' }, inbound_nodes: [[[from, 0, 0, {}]]] });
    const layers = [input([null, 4]), ...Array.from({ length: n }, (_, i) => act(i === n - 1 ? 'y' : `a${i}`, i ? `a${i - 1}` : 'x'))];
    const m = await read(kerasH5({ class_name: 'Functional', config: { name: 'chain', layers, input_layers: [['x', 0, 0]], output_layers: [['y', 0, 0]] } }, []));
    if (m.kind !== 'graph') throw new Error('not a graph');
    expect(m.graph.nodes).toHaveLength(n);
    const y = [...(await runGraph(m.graph, { x: Tensor.float32([1, 4], [-1, 2, -3, 4]) })).outputs.values()][0]!;
    expect([...y.toFloat32()]).toEqual([0, 2, 0, 4]);
  });

  it('Keras 3 call args nested 100000 deep read; a ref nested as deep is a FormatError that still prints', async () => {
    const depth = 100_000;
    const build = (inner: string, asArgs: boolean) => {
      const text = JSON.stringify({ class_name: 'Functional', config: { name: 'm', layers: [input([null, 4]), { class_name: 'Activation', name: 'y', config: { name: 'y', activation: 'relu' }, inbound_nodes: asArgs ? [{ args: 'NESTED', kwargs: {} }] : [['NESTED']] }], input_layers: [['x', 0, 0]], output_layers: [['y', 0, 0]] } });
      return kerasH5(text.replace('"NESTED"', '['.repeat(depth) + inner + ']'.repeat(depth)), []);
    };
    const ok = await read(build(JSON.stringify({ class_name: '__keras_tensor__', config: { keras_history: ['x', 0, 0] } }), true));
    expect(ok.kind).toBe('graph');
    await expect(read(build('"x"', false))).rejects.toThrow(/layer 'y': cannot read a layer input from \(a value nested too deeply to show\)/);
  });

  it('refs with negative or fractional indices, an input layer read at call 1, and a cycle are FormatErrors', async () => {
    const model = (ref: unknown[], extra: unknown[] = []) =>
      kerasH5({ class_name: 'Functional', config: { name: 'm', layers: [input([null, 4]), { class_name: 'Activation', name: 'y', config: { name: 'y', activation: 'relu' }, inbound_nodes: [[ref]] }, ...extra], input_layers: [['x', 0, 0]], output_layers: [['y', 0, 0]] } }, []);
    await expect(read(model(['x', -1, 0]))).rejects.toThrow(/index is -1, not a non-negative integer/);
    await expect(read(model(['x', 0, 0.5]))).rejects.toThrow(/index is 0.5, not a non-negative integer/);
    await expect(read(model(['x', 1, 0]))).rejects.toThrow(/input layer 'x' has no call 1/);
    await expect(read(model(['z', 0, 0], [{ class_name: 'Activation', name: 'z', config: { name: 'z', activation: 'relu' }, inbound_nodes: [[['y', 0, 0]]] }]))).rejects.toThrow(/layer '(y|z)' depends on itself/);
  });

  it('sizes that are not positive integers are ShapeErrors at read; Reshape and Permute check theirs', async () => {
    const conv = (strides: unknown) =>
      kerasH5(sequential(input([null, 8, 8, 3]), { class_name: 'Conv2D', config: { name: 'c', filters: 4, kernel_size: [3, 3], strides, padding: 'same' } }), [
        { name: 'c', weights: [{ role: 'kernel', dataset: { dtype: '<f4', shape: [3, 3, 3, 4], written: 'all' } }, { role: 'bias', dataset: { dtype: '<f4', shape: [4], written: 'all' } }] },
      ]);
    for (const s of [0, -1, 1.5, [2, 0], 2 ** 31]) {
      const e = await read(conv(s)).catch((x: unknown) => x);
      expect(e, JSON.stringify(s)).toBeInstanceOf(ShapeError);
      expect((e as Error).message).toMatch(/hostile\.h5: layer 'c' strides: expected 2 positive integers/);
    }
    expect((await read(conv([2, 2]))).kind).toBe('graph');
    const up = kerasH5(sequential(input([null, 8, 8, 3]), { class_name: 'UpSampling2D', config: { name: 'u', size: -1 } }), []);
    await expect(read(up)).rejects.toThrow(ShapeError);
    const reshape = kerasH5(sequential(input([null, 8]), { class_name: 'Reshape', config: { name: 'r', target_shape: [-1, -1] } }), []);
    await expect(read(reshape)).rejects.toThrow(/target_shape is not a list of positive integers/);
    const permute = kerasH5(sequential(input([null, 2, 3]), { class_name: 'Permute', config: { name: 'p', dims: [1, 1] } }), []);
    await expect(read(permute)).rejects.toThrow(/dims \[1,1\] is not a permutation of 1\.\.2/);
  });

  it('a model_config that is not one string, and a layer name of a million characters, are one short FormatError line', async () => {
    const e1 = await read(kerasH5(new Float32Array(8), [])).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(FormatError);
    expect((e1 as Error).message).toMatch(/model_config attribute is not one JSON string \(type <f, shape \[8\]\)/);
    const long = 'n'.repeat(1 << 20);
    const e2 = await read(kerasH5(sequential(input([null, 4]), { ...dense, config: { ...dense.config, name: long } }), [])).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(FormatError);
    expect((e2 as Error).message).toMatch(/a Dense layer's name has 1048576 characters/);
    expect((e2 as Error).message.length).toBeLessThan(300);
  });
});
