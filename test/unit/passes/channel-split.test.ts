// Channel splitting (src/passes/channel-split.ts) on a small channels-last graph: a residual
// stream through MaxPool and Add (a conv without a bias both reading and writing it) is split; a
// tensor read by a depthwise conv and one written by a depthwise conv through a Relu are left, with
// the reason. The split float graph must compute what the original computes (both run by the real
// TFLite interpreter), with each split value's min/max moved exactly as the pass says.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { writeNpy } from '../../../src/formats/numpy/npy-write.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import { QuantizationError } from '../../../src/ir/errors.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { splitChannels, splitClippedChannels } from '../../../src/passes/channel-split.js';
import { findEqualizationGroups } from '../../../src/passes/equalize.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-channel-split-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let seed = 29;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (opType: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const weights = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rand));
const bias = (n: number) => Tensor.float32([n], Array.from({ length: n }, () => rand() * 0.5));

/**
 * x -> A (3x3, 3->8) = a -> MaxPool = p;  p + B(p) = r (B: no bias);  r -> C (1x1, 8->6) = c
 *   -> D (depthwise 3x3) = d -> Relu -> E (1x1, 6->4) = y (graph output)
 */
function model(): Graph {
  return {
    name: 'split',
    nodes: [
      node('Conv', ['x', 'A', 'Ab'], 'a', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
      node('MaxPool', ['a'], 'p', { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
      node('Conv', ['p', 'B'], 'b', { kernel_shape: ints([1, 1]) }),
      node('Add', ['p', 'b'], 'r'),
      node('Conv', ['r', 'C', 'Cb'], 'c', { kernel_shape: ints([1, 1]) }),
      node('Conv', ['c', 'D', 'Db'], 'd', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: { type: 'int', value: 6 } }),
      node('Relu', ['d'], 'd_relu'),
      node('Conv', ['d_relu', 'E', 'Eb'], 'y', { kernel_shape: ints([1, 1]) }),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 4, 4] }],
    initializers: new Map<string, Tensor>([
      ['A', weights([8, 3, 3, 3])],
      ['Ab', bias(8)],
      ['B', weights([8, 8, 1, 1])],
      ['C', weights([6, 8, 1, 1])],
      ['Cb', bias(6)],
      ['D', weights([6, 1, 3, 3])],
      ['Db', bias(6)],
      ['E', weights([4, 6, 1, 1])],
      ['Eb', bias(4)],
    ]),
    opsets: { '': 17 },
  };
}

const sample = () => Tensor.float32([1, 8, 8, 3], Array.from({ length: 192 }, rand));

/** min / max of every value over the samples, on nnport's runtime */
async function ranges(g: Graph, samples: Tensor[]): Promise<Map<string, { min: number; max: number }>> {
  const stats = new Map<string, { min: number; max: number }>();
  for (const x of samples) {
    await runGraph(g, { x }, {
      onValue: (name, t) => {
        if (t.dtype !== 'float32' || !t.size) return;
        const d = t.toFloat32();
        const s = stats.get(name) ?? { min: Infinity, max: -Infinity };
        for (const v of d) (s.min = Math.min(s.min, v)), (s.max = Math.max(s.max, v));
        stats.set(name, s);
      },
    });
  }
  return stats;
}

/**
 * x -> E (1x1, 3->6) -> ReLU6 -> zero Pad -> D (depthwise 3x3) = d -> ReLU6 = r -> P (1x1, 6->4) = y
 * (graph output); D's channels scaled so that their maxima spread over 0.3 .. 1 of the tensor's.
 */
function clippedModel(): Graph {
  const dw = weights([6, 1, 3, 3]).toFloat32().map((v, i) => v * [1, 0.3, 0.6, 0.45, 0.9, 0.35][Math.floor(i / 9)]!);
  return {
    name: 'clip-split',
    nodes: [
      node('Conv', ['x', 'E', 'Eb'], 'e', { kernel_shape: ints([1, 1]) }),
      node('Clip', ['e', 'lo', 'hi'], 'e6'),
      node('Pad', ['e6', 'pads'], 'ep'),
      node('Conv', ['ep', 'D', 'Db'], 'd', { kernel_shape: ints([3, 3]), group: { type: 'int', value: 6 } }),
      node('Clip', ['d', 'lo', 'hi'], 'r'),
      node('Conv', ['r', 'P', 'Pb'], 'y', { kernel_shape: ints([1, 1]) }),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 8, 8] }],
    initializers: new Map<string, Tensor>([
      ['E', Tensor.float32([6, 3, 1, 1], weights([6, 3, 1, 1]).toFloat32().map((v) => v * 2))],
      ['Eb', bias(6)],
      ['D', Tensor.float32([6, 1, 3, 3], dw)],
      ['Db', Tensor.float32([6], [0.5, 0.1, 0.2, 0.1, 0.4, 0.1])],
      ['P', weights([4, 6, 1, 1])],
      ['Pb', bias(4)],
      ['lo', Tensor.float32([], [0])],
      ['hi', Tensor.float32([], [6])],
      ['pads', new Tensor('int64', [8], BigInt64Array.from([0, 0, 1, 1, 0, 0, 1, 1].map(BigInt)))],
    ]),
    opsets: { '': 17 },
  };
}

describe('channel splitting', () => {
  it('splits a ReLU6 output read by a 1x1 conv by range, keeps the float function (TFLite interpreter) on the calibration data, and int8 gains', { timeout: 60_000 }, async () => {
    const g = await prepareForTflite(clippedModel());
    const samples = Array.from({ length: 8 }, sample);
    const stats = await ranges(g, samples);
    const clip = g.nodes.filter((n) => n.opType === 'Clip').at(-1)!;
    const r = clip.outputs[0]!;
    // per-channel maxima of r (channels-last), measured
    const max = new Float32Array(6);
    for (const x of samples) await runGraph(g, { x }, { onValue: (name, t) => void (name === r && t.toFloat32().forEach((v, i) => (max[i % 6] = Math.max(max[i % 6]!, v)))) });
    const top = Math.max(...max);
    const before = { ...stats.get(r)! };
    const res = splitClippedChannels(g, stats, (v) => (v === r ? max : undefined));
    const wide = [...max].filter((m) => m > top / 2).length;
    expect(wide).toBeGreaterThan(0);
    expect(wide).toBeLessThan(6);
    expect(res.split).toEqual([{ value: r, channels: 6, added: wide, bound: top / 2 }]);
    // a tensor that would need copies of more of its channels than maxAdded allows is left whole
    expect(splitClippedChannels(g, new Map([[r, { ...before }]]), (v) => (v === r ? max : undefined), { maxAdded: (wide - 0.5) / 6 }).split).toEqual([]);
    // E computes the wide channels again, D has a channel per copy, P reads them all
    const weightOf = (k: Node) => res.graph.initializers.get(res.graph.nodes.find((n) => n.name === k.name)!.inputs[1]!)!;
    const [e, d, p] = g.nodes.filter((n) => n.opType === 'Conv');
    expect(weightOf(e!).shape[0]).toBe(6 + wide);
    expect(weightOf(d!).shape).toEqual([3, 3, 1, 6 + wide]);
    expect(res.graph.nodes.find((n) => n.name === d!.name)!.attrs.group).toEqual({ type: 'int', value: 6 + wide });
    expect(weightOf(p!).shape).toEqual([4, 1, 1, 6 + wide]);
    // r's range halves (its recorded max is the split graph's, measured)
    expect(stats.get(r)).toEqual({ min: before.min, max: top / 2 });
    expect((await ranges(res.graph, samples)).get(r)!.max).toBeCloseTo(top / 2, 5);
    // the same function on the calibration samples, both files run by the interpreter
    const original = serializeTflite(g);
    const split = serializeTflite(res.graph);
    for (const x of samples) {
      const want = (await oracle.run(original, [x.data as Float32Array]))[0]!.data as Float32Array;
      const got = (await oracle.run(split, [x.data as Float32Array]))[0]!.data as Float32Array;
      expect(relErr(got, want)).toBeLessThanOrEqual(1e-5);
    }
    // int8 (minmax, no equalization: only the split differs): the written file keeps a fused
    // RELU6 (the Clip's bound restored) and is closer to the float model on the samples
    const calibration = samples.map((x) => [x]);
    const files = await Promise.all([0, 2].map(async (clipSplit) => serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration, equalize: false, clipSplit })).graph)));
    const wants: Float32Array[] = [];
    const gots: Float32Array[][] = [[], []];
    for (const x of samples) {
      wants.push((await oracle.run(original, [x.data as Float32Array]))[0]!.data as Float32Array);
      for (const k of [0, 1]) gots[k]!.push((await oracle.run(files[k]!, [x.data as Float32Array]))[0]!.data as Float32Array);
    }
    const [plain, clipped] = gots.map((o) => pooledSnrDb(wants, o));
    console.log(`int8 minmax on the samples: ${plain!.toFixed(2)} dB, ReLU6 output split by range: ${clipped!.toFixed(2)} dB`);
    // measured 38.28 -> 38.86 dB (r is one of five int8 tensors here, with the input, E's output, y
    // and the weights); a split whose copies did not add back would fail the float check above
    expect(clipped!).toBeGreaterThan(plain! + 0.3);
    expect(files[1]!.length).toBeGreaterThan(files[0]!.length);
  });

  it('splits the residual stream into offset copies, keeps the float function (TFLite interpreter) and says why it left the rest', { timeout: 60_000 }, async () => {
    const g = await prepareForTflite(model());
    const samples = Array.from({ length: 8 }, sample);
    const stats = await ranges(g, samples);
    const before = new Map([...stats].map(([k, v]) => [k, { ...v }]));
    const groups = findEqualizationGroups(g);
    const res = splitChannels(g, stats, { groups });

    // the stream (A's and B's outputs through MaxPool / Add, read by B and C) is split; C's output
    // read by the depthwise D, and D's output through the Relu, are not
    expect(res.split.map((s) => s.channels)).toEqual([8]);
    expect(res.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/depthwise conv .* reads it and cannot add the two copies/), expect.stringMatching(/a Relu computes/)]);
    const weightOf = (out: string) => res.graph.initializers.get(res.graph.nodes.find((n) => n.outputs[0] === out)!.inputs[1]!)!;
    const stream = res.split[0]!.values;
    const aOut = g.nodes.find((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith('A'))!.outputs[0]!;
    const bOut = g.nodes.find((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith('B'))!.outputs[0]!;
    const cOut = g.nodes.find((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith('C'))!.outputs[0]!;
    expect(stream).toContain(aOut);
    // channels-last OHWI weights: A's and B's output channels and B's and C's input channels doubled
    expect(weightOf(aOut).shape).toEqual([16, 3, 3, 3]);
    expect(weightOf(bOut).shape).toEqual([16, 1, 1, 16]);
    expect(weightOf(cOut).shape).toEqual([6, 1, 1, 16]);
    // B had no bias: it got one, carrying its copies' offsets
    const bNode = res.graph.nodes.find((n) => n.outputs[0] === bOut)!;
    const bBias = res.graph.initializers.get(bNode.inputs[2]!)!.toFloat32();
    expect(bBias.length).toBe(16);
    expect(bBias[0]).toBeCloseTo(res.offsets.get(bOut)!, 9);
    expect(bBias[8]).toBeCloseTo(-res.offsets.get(bOut)!, 9);
    // the offset is a quarter of the halved range's int8 step; an Add carries the sum of its inputs'
    const rOut = g.nodes.find((n) => n.opType === 'Add')!.outputs[0]!;
    const s = before.get(aOut)!;
    expect(res.offsets.get(aOut)).toBeCloseTo((Math.max(s.max, 0) - Math.min(s.min, 0)) / 2 / 255 / 4, 9);
    expect(res.offsets.get(rOut)).toBeCloseTo(res.offsets.get(bOut)! + res.offsets.get(aOut)!, 9);

    // the moved min / max are those of the split graph, measured
    const after = await ranges(res.graph, samples);
    for (const v of stream) {
      expect(after.get(v)!.min).toBeCloseTo(stats.get(v)!.min, 4);
      expect(after.get(v)!.max).toBeCloseTo(stats.get(v)!.max, 4);
      expect(stats.get(v)!.max - stats.get(v)!.min).toBeLessThan(0.51 * (before.get(v)!.max - before.get(v)!.min));
    }
    for (const v of [cOut, 'y']) expect(stats.get(v)).toEqual(before.get(v));

    // the same function on the samples and on new inputs, both files run by the interpreter
    const original = serializeTflite(g);
    const split = serializeTflite(res.graph);
    for (const x of [...samples, sample(), sample()]) {
      const want = (await oracle.run(original, [x.data as Float32Array]))[0]!.data as Float32Array;
      const got = (await oracle.run(split, [x.data as Float32Array]))[0]!.data as Float32Array;
      expect(relErr(got, want)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('is refused, naming why, where the quantizer cannot follow it', async () => {
    const g = await prepareForTflite(model());
    const calibration = [[sample()]];
    await expect(quantizeGraph(g, { mode: 'int8', calibration, channelSplit: true, weightRounding: 'gptq' })).rejects.toThrow(QuantizationError);
    await expect(quantizeGraph(g, { mode: 'int16x8', calibration, channelSplit: true })).rejects.toThrow(/channel splitting applies to int8, not int16x8/);
  });

  it('convert --channel-split writes the split int8 model; other modes refuse the flag', { timeout: 120_000 }, async () => {
    const dir = join(tmp, 'calibration');
    mkdirSync(dir);
    for (let k = 0; k < 4; k++) writeFileSync(join(dir, `x${k}.npy`), writeNpy(sample()));
    const onnx = join(tmp, 'split.onnx');
    writeFileSync(onnx, writeOnnx(model()));
    const err: string[] = [];
    const out = join(tmp, 'split.tflite');
    expect(await main(['convert', onnx, '-o', out, '--quantize', 'int8', '--calibration', dir, '--channel-split'], () => undefined, (s) => err.push(s))).toBe(0);
    expect(err.join('\n')).toBe('');
    // A's int8 weights have twice its 8 output channels
    const back = await readTflite(new Uint8Array(readFileSync(out)));
    expect([...back.initializers.values()].some((t) => t.dtype === 'int8' && t.shape.join() === '16,3,3,3')).toBe(true);
    expect(await main(['convert', onnx, '-o', join(tmp, 'd.tflite'), '--quantize', 'dynamic', '--channel-split'], () => undefined, (s) => err.push(s))).not.toBe(0);
    expect(err.join('\n')).toMatch(/--channel-split applies to --quantize int8 only/);
  });

  it('convert --range-split splits only the ReLU6 outputs by range; other modes and --channel-split refuse it', { timeout: 120_000 }, async () => {
    const dir = join(tmp, 'calibration-range');
    mkdirSync(dir);
    for (let k = 0; k < 4; k++) writeFileSync(join(dir, `x${k}.npy`), writeNpy(sample()));
    const onnx = join(tmp, 'range.onnx');
    writeFileSync(onnx, writeOnnx(clippedModel()));
    const out: string[] = [];
    const err: string[] = [];
    const file = join(tmp, 'range.tflite');
    expect(await main(['convert', onnx, '-o', file, '--quantize', 'int8', '--calibration', dir, '--no-equalize', '--range-split'], (s) => out.push(s), (s) => err.push(s))).toBe(0);
    expect(err.join('\n')).toBe('');
    // (without --no-equalize, equalization evens the channels' maxima out and the tensor is left whole)
    expect(out.join('\n')).toMatch(/clip split: 1 ReLU6 output in 2 ranges, [1-5] channels? added/);
    // the depthwise conv's int8 weights (TFLite's 1,kh,kw,C) got the copies' channels; E (OHWI, 3 -> C) and P (C -> 4) follow
    const back = await readTflite(new Uint8Array(readFileSync(file)));
    const int8 = [...back.initializers.values()].filter((t) => t.dtype === 'int8').map((t) => t.shape);
    const channels = int8.find((s) => s.length === 4 && s[0] === 1 && s[1] === 3 && s[2] === 3)?.[3];
    expect(channels).toBeGreaterThan(6);
    expect(int8).toContainEqual([channels, 1, 1, 3]);
    expect(int8).toContainEqual([4, 1, 1, channels]);
    for (const extra of [['--quantize', 'dynamic', '--range-split'], ['--range-split'], ['--quantize', 'int8', '--calibration', dir, '--range-split', '--channel-split']]) {
      const e: string[] = [];
      expect(await main(['convert', onnx, '-o', join(tmp, 'r2.tflite'), ...extra], () => undefined, (s) => e.push(s))).not.toBe(0);
      expect(e.join('\n')).toMatch(/--range-split (applies to --quantize int8 only|needs --quantize)|already includes --range-split/);
    }
  });
});
