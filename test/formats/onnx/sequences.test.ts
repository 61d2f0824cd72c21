// ONNX sequence values from torch.jit.script modules that use lists (scripts/fixtures/
// onnx_sequences.py, made into .fixtures-cache/sequences/): torch.split -> list -> torch.stack /
// torch.cat / indexing / len / unbind, a list appended to in a loop then stacked, a list
// comprehension over split pieces. nnport's runtime against PyTorch's outputs and onnxruntime-node,
// the .onnx written back (onnxruntime-node), and the models converted to .tflite after
// resolve-sequences.ts (the real TFLite interpreter against PyTorch); sequences that stay are
// refused by name, and bad positions / splits are typed errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import { resetResourceLimits, setResourceLimits } from '../../../src/ir/budget.js';
import { ResourceError, ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import { emptyGraph, type Graph, type Node } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { TensorSequence } from '../../../src/ir/seq-values.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { ortRun } from '../../support/ort.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/sequences');
const NETS = { split_cat: [''], loop_stack: ['', '_long'], list_comp: [''] } as const;
type Net = keyof typeof NETS;
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('onnx_sequences.py', 'sequences', Object.keys(NETS));
}, 300_000);

afterEach(() => resetResourceLimits());

const npy = (net: Net, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, net, f))), f);
const modelBytes = (net: Net): Uint8Array => new Uint8Array(readFileSync(join(CACHE, net, 'model.onnx')));
const opsOf = (g: Graph): string[] => g.nodes.flatMap((n) => [n.opType, ...Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? opsOf(a.value) : []))]);

describe('ONNX sequences from torch.jit.script lists (PyTorch and onnxruntime-node)', () => {
  for (const net of Object.keys(NETS) as Net[]) {
    it(`${net}: nnport's run matches PyTorch and onnxruntime-node within 1e-6`, async () => {
      const graph = await readOnnx(modelBytes(net), { fileName: `${net}.onnx` });
      expect(opsOf(graph).some((op) => op.startsWith('Sequence') || op.endsWith('Sequence'))).toBe(true);
      for (const input of NETS[net]) {
        const x = npy(net, `input${input}.npy`);
        const ours = (await runGraph(graph, { x })).outputs;
        const ort = await ortRun(modelBytes(net), { x });
        graph.outputs.forEach((o, k) => {
          const want = npy(net, `output${input}_${k}.npy`);
          const y = ours.get(o.name)!;
          expect(y.shape, `${input} ${o.name}`).toEqual(want.shape);
          expect(maxAbsDiff(y.toFloat32(), want.toFloat32()), `${input} ${o.name} vs PyTorch`).toBeLessThan(1e-6);
          expect(maxAbsDiff(y.toFloat32(), ort.get(o.name)!.toFloat32()), `${input} ${o.name} vs onnxruntime`).toBeLessThan(1e-6);
        });
      }
    });
  }

  it('shape inference types the sequences (kind, their tensors\' shape) and the outputs', async () => {
    const split = await readOnnx(modelBytes('split_cat'), { fileName: 'split_cat.onnx' });
    const v = inferShapes(split).values;
    expect(v.get('/SplitToSequence_output_0')).toMatchObject({ kind: 'sequence', dtype: 'float32', shape: [2, 2, 4] });
    expect(v.get('/SplitToSequence_1_output_0')).toMatchObject({ kind: 'sequence', shape: [2, 6] });
    expect(v.get('y')).toMatchObject({ dtype: 'float32', shape: [2, 6, 4] });
    expect(split.valueInfo!.find((i) => i.name === '/SplitToSequence_output_0')).toMatchObject({ kind: 'sequence' });
    const loop = await readOnnx(modelBytes('loop_stack'), { fileName: 'loop_stack.onnx' });
    // the Loop carries the list: a sequence in and out
    const carried = loop.nodes.find((n) => n.opType === 'Loop')!.outputs[1]!;
    expect(inferShapes(loop).values.get(carried)).toMatchObject({ kind: 'sequence', dtype: 'float32' });
  });

  it('written back as .onnx (sequence-typed Loop body values kept): onnxruntime-node runs it as PyTorch does', async () => {
    for (const net of Object.keys(NETS) as Net[]) {
      const graph = await readOnnx(modelBytes(net), { fileName: `${net}.onnx` });
      const written = writeOnnx(graph);
      const back = await readOnnx(written, { fileName: `${net}.onnx` });
      const body = back.nodes.find((n) => n.opType === 'Loop')?.attrs.body;
      if (body?.type === 'graph') expect(body.value.inputs.some((i) => i.kind === 'sequence'), net).toBe(true);
      for (const input of NETS[net]) {
        const ort = await ortRun(written, { x: npy(net, `input${input}.npy`) });
        graph.outputs.forEach((o, k) => expect(maxAbsDiff(ort.get(o.name)!.toFloat32(), npy(net, `output${input}_${k}.npy`).toFloat32()), `${net}${input} ${o.name}`).toBeLessThan(1e-6));
      }
    }
  });
});

describe('sequences converted (resolve-sequences.ts; the TFLite interpreter vs PyTorch)', () => {
  const cases: Array<[Net, Record<string, number[]> | undefined, string]> = [
    ['split_cat', undefined, ''],
    ['list_comp', undefined, ''],
    ['loop_stack', { x: [2, 5, 4] }, ''],
  ];
  for (const [net, inputShapes, input] of cases) {
    it(`${net}${inputShapes ? ' with its input shape fixed' : ''}: no sequence left, .tflite matches PyTorch`, async () => {
      const model = await loadModel(modelBytes(net), { fileName: `${net}.onnx`, inputShapes });
      const tfl = await convert(model, `${net}.tflite`);
      expect(tfl.notes).toEqual(expect.arrayContaining([expect.stringMatching(/sequence ops? made tensor ops/)]));
      const ops = tfliteOpNames(tfl.bytes, net);
      expect(ops).toEqual(expect.arrayContaining(['CONCATENATION']));
      const x = npy(net, `input${input}.npy`);
      const outs = await oracle.run(tfl.bytes, [x.toFloat32()]);
      expect(outs.length).toBe(model.kind === 'graph' ? model.graph.outputs.length : 0);
      outs.forEach((y, k) => {
        const want = npy(net, `output${input}_${k}.npy`);
        expect(y.shape, `output ${k}`).toEqual(want.shape);
        const err = maxAbsDiff(y.data as Float32Array, want.toFloat32());
        console.log(`${net} .tflite output ${k} vs PyTorch: max abs ${err.toExponential(2)} (${ops.length} ops)`);
        expect(err, `output ${k}`).toBeLessThan(1e-5);
      });
    });
  }

  it('a sequence that stays (a list built in a Loop over an open dim) is refused by name for every format without sequences', async () => {
    const open = await loadModel(modelBytes('loop_stack'), { fileName: 'loop_stack.onnx' });
    for (const out of ['m.tflite', 'm.pb', 'm.h5', 'm.keras', 'm.json']) {
      await expect(convert(open, out), out).rejects.toThrow(/unsupported: sequence \/ optional values in a .* file: ConcatFromSequence '\/ConcatFromSequence' stays: its sequence comes from Loop '\/Loop', which stays \(a trip count that is not a constant: fix the input shapes\) \(and 2 more\)/);
    }
    // ONNX keeps it
    const onnx = await convert(open, 'm.onnx');
    expect(opsOf(await readOnnx(onnx.bytes, { fileName: 'm.onnx' }))).toEqual(expect.arrayContaining(['SequenceEmpty', 'SequenceInsert', 'ConcatFromSequence']));
  });
});

// ---- bad input, on small graphs made here ----

function seqGraph(nodes: Array<Omit<Node, 'name' | 'domain' | 'attrs'> & Partial<Node>>, inputs: Graph['inputs'], output: string, initializers: Record<string, Tensor> = {}): Graph {
  const g = emptyGraph('seq');
  g.nodes = nodes.map((n, i) => ({ name: `n${i}`, domain: '', attrs: {}, ...n }));
  g.inputs = inputs;
  g.outputs = [{ name: output, dtype: 'float32' }];
  for (const [k, t] of Object.entries(initializers)) g.initializers.set(k, t);
  return g;
}

const x6 = Tensor.float32([2, 6], Array.from({ length: 12 }, (_, i) => i));

describe('a sequence appended to', () => {
  it('shares its tensors with the longer sequence, and a second append to it is a sequence of its own', async () => {
    const [t0, t1, t2] = [0, 1, 2].map((v) => Tensor.float32([1], [v]));
    const a = new TensorSequence('float32', [t0!]);
    const b = a.appended(t1!);
    const c = a.appended(t2!);
    const d = b.appended(t2!);
    expect([a.length, b.length, c.length, d.length]).toEqual([1, 2, 2, 3]);
    expect(a.elements).toEqual([t0]);
    expect(b.elements.map((t) => t.toNumbers()[0])).toEqual([0, 1]);
    expect(c.elements.map((t) => t.toNumbers()[0])).toEqual([0, 2]);
    expect(d.elements.map((t) => t.toNumbers()[0])).toEqual([0, 1, 2]);
    expect(() => a.appended(Tensor.int64([1], [1]))).toThrow(/element 1 of a sequence of float32 is int64/);
    // SequenceInsert at the end of a sequence another insert already grew: the first is unchanged
    const g = seqGraph(
      [
        { opType: 'SequenceInsert', inputs: ['s', 'x'], outputs: ['s1'] },
        { opType: 'SequenceInsert', inputs: ['s', 'x'], outputs: ['s2'] },
        { opType: 'SequenceInsert', inputs: ['s1', 'x'], outputs: ['s3'] },
        { opType: 'SequenceLength', inputs: ['s3'], outputs: ['n3'] },
        { opType: 'SequenceLength', inputs: ['s2'], outputs: ['y'] },
      ],
      [{ name: 's', dtype: 'float32', kind: 'sequence' }, { name: 'x', dtype: 'float32', shape: [2, 6] }],
      'y',
    );
    g.outputs.push({ name: 'n3', dtype: 'int64' });
    const r = (await runGraph(g, { s: a, x: x6 })).outputs;
    expect([r.get('y')!.toNumbers()[0], r.get('n3')!.toNumbers()[0], a.length]).toEqual([2, 3, 1]);
  });
});

describe('sequence ops refuse bad input with typed errors', () => {
  it('SequenceAt out of range: at run time and, a constant one, when converting', async () => {
    const g = seqGraph(
      [
        { opType: 'SplitToSequence', inputs: ['x', 'two'], outputs: ['s'], attrs: { axis: { type: 'int', value: 1 } } },
        { opType: 'SequenceAt', inputs: ['s', 'at'], outputs: ['y'] },
      ],
      [{ name: 'x', dtype: 'float32', shape: [2, 6] }],
      'y',
      { two: Tensor.int64([], [2]), at: Tensor.int64([], [3]) },
    );
    await expect(runGraph(g, { x: x6 })).rejects.toThrow(ShapeError);
    await expect(runGraph(g, { x: x6 })).rejects.toThrow(/SequenceAt position 3 is out of range for a sequence of 3 tensors \(allowed: -3 to 2\)/);
    g.initializers.set('at', Tensor.int64([], [-3]));
    expect((await runGraph(g, { x: x6 })).outputs.get('y')!.toNumbers()).toEqual([0, 1, 6, 7]);
    g.initializers.set('at', Tensor.int64([], [-4]));
    const model = await loadModel(writeOnnx(g), { fileName: 'bad-at.onnx' });
    await expect(convert(model, 'm.tflite')).rejects.toThrow(/position -4 is out of range for a sequence of 3 tensors/);
    // a position that is a graph input with a default (an initializer too) is no constant: refused, not baked in
    g.initializers.set('at', Tensor.int64([], [1]));
    g.inputs.push({ name: 'at', dtype: 'int64', shape: [] });
    const overridable = await loadModel(writeOnnx(g), { fileName: 'input-at.onnx' });
    await expect(convert(overridable, 'm.tflite')).rejects.toThrow(/SequenceAt 'n1' stays: its position is not a constant/);
  });

  it('SplitToSequence with a negative, zero, mis-summed or too fine split', async () => {
    const g = (split: Tensor) => seqGraph([{ opType: 'SplitToSequence', inputs: ['x', 'split'], outputs: ['s'], attrs: { axis: { type: 'int', value: 1 } } }, { opType: 'ConcatFromSequence', inputs: ['s'], outputs: ['y'], attrs: { axis: { type: 'int', value: 1 } } }], [{ name: 'x', dtype: 'float32', shape: [2, 6] }], 'y', { split });
    await expect(runGraph(g(Tensor.int64([3], [4, -1, 3])), { x: x6 })).rejects.toThrow(/SplitToSequence split\[1\] -1 is negative/);
    await expect(runGraph(g(Tensor.int64([], [0])), { x: x6 })).rejects.toThrow(/SplitToSequence split 0 must be positive/);
    await expect(runGraph(g(Tensor.int64([2], [4, 3])), { x: x6 })).rejects.toThrow(/sums to 7, the dim split is 6/);
    // an int64 split far out of range, as a file could give
    await expect(runGraph(g(Tensor.int64([], [-9e15])), { x: x6 })).rejects.toThrow(ShapeError);
    expect((await runGraph(g(Tensor.int64([2], [4, 2])), { x: x6 })).outputs.get('y')!.toNumbers()).toEqual(x6.toNumbers());
    // pieces over the memory budget: a ResourceError before they are made
    setResourceLimits({ maxMemory: 256 });
    await expect(runGraph(g(Tensor.int64([], [1])), { x: x6 })).rejects.toThrow(ResourceError);
  });

  it('a sequence where a tensor belongs (and the reverse) is named, never computed on', async () => {
    const relu = seqGraph([{ opType: 'SplitToSequence', inputs: ['x'], outputs: ['s'] }, { opType: 'Relu', inputs: ['s'], outputs: ['y'] }], [{ name: 'x', dtype: 'float32', shape: [2, 6] }], 'y');
    expect(() => inferShapes(relu)).toThrow(/Relu input 0 's' is a sequence; the op takes tensors/);
    await expect(runGraph(relu, { x: x6 })).rejects.toThrow(/a sequence of 2 float32 tensors is not a tensor/);
    const at = seqGraph([{ opType: 'SequenceAt', inputs: ['s', 'zero'], outputs: ['y'] }], [{ name: 's', dtype: 'float32', kind: 'sequence' }], 'y', { zero: Tensor.int64([], [0]) });
    await expect(runGraph(at, { s: x6 })).rejects.toThrow(/input 's' must be a sequence, got a tensor float32 \[2, 6\]/);
    expect((await runGraph(at, { s: new TensorSequence('float32', [x6]) })).outputs.get('y')!.shape).toEqual([2, 6]);
    await expect(runGraph(at, { s: new TensorSequence('float32', []) })).rejects.toThrow(/position 0 is out of range for a sequence of 0 tensors/);
    // an empty optional has no element to get
    const get = seqGraph([{ opType: 'Optional', inputs: [], outputs: ['o'], attrs: { type: { type: 'type', value: { dtype: 'float32' } } } }, { opType: 'OptionalGetElement', inputs: ['o'], outputs: ['y'] }], [], 'y');
    await expect(runGraph(get, {})).rejects.toThrow(/OptionalGetElement: the optional tensor of float32 \(empty\) holds no value/);
    const model = await loadModel(writeOnnx(get), { fileName: 'optional.onnx' });
    await expect(convert(model, 'm.tflite')).rejects.toThrow(UnsupportedError);
  });
});
