// Cross-layer equalization (src/passes/equalize.ts) on a small channels-last graph with every case
// the pass must tell apart: a residual stream through Relu, MaxPool and Add (one group, a conv
// both reading and writing it), a clipped (ReLU6) tensor read by a depthwise conv (scaled per
// channel within the bound: a channel that reaches 6 keeps its scale), a depthwise conv producing
// a linear bottleneck, a graph output (never scaled). The equalized float graph must compute what
// the original computes on the calibration samples, both run by the real TFLite interpreter.
import { describe, expect, it } from 'vitest';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelRangeObserver, equalizedRange, equalizeGraph, findEqualizationGroups } from '../../../src/passes/equalize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

let seed = 17;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (opType: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
/** ONNX OIHW weights whose output channel o is scaled by gain(o): channels of very different ranges. */
const weights = (shape: number[], gain: (o: number) => number) => {
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  return Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => rand() * gain(Math.floor(i / per))));
};
const bias = (n: number) => Tensor.float32([n], Array.from({ length: n }, () => rand() * 0.1));

/**
 * x -> A (3x3, 3->8) -> Relu -> MaxPool = p;  p + B(p) = r;  r -> C (1x1, 8->6) -> Clip(0, 6)
 *   -> D (depthwise 3x3) = d -> E (1x1, 6->4) = y (graph output)
 */
function model(): Graph {
  const inits = new Map<string, Tensor>([
    ['A', weights([8, 3, 3, 3], (o) => 10 ** (-o / 3))],
    ['Ab', bias(8)],
    ['B', weights([8, 8, 1, 1], () => 0.3)],
    ['Bb', bias(8)],
    // channels 0 and 1 reach the ReLU6 bound on the samples, the others stay far below it
    ['C', weights([6, 8, 1, 1], (o) => [4, 2, 0.3, 0.1, 0.05, 0.02][o]!)],
    ['Cb', bias(6)],
    ['D', weights([6, 1, 3, 3], (o) => 10 ** (-o / 2))],
    ['Db', bias(6)],
    ['E', weights([4, 6, 1, 1], () => 1)],
    ['Eb', bias(4)],
    ['zero', Tensor.float32([], [0])],
    ['six', Tensor.float32([], [6])],
  ]);
  return {
    name: 'equalize',
    nodes: [
      node('Conv', ['x', 'A', 'Ab'], 'a', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
      node('Relu', ['a'], 'a_relu'),
      node('MaxPool', ['a_relu'], 'p', { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
      node('Conv', ['p', 'B', 'Bb'], 'b', { kernel_shape: ints([1, 1]) }),
      node('Add', ['p', 'b'], 'r'),
      node('Conv', ['r', 'C', 'Cb'], 'c', { kernel_shape: ints([1, 1]) }),
      node('Clip', ['c', 'zero', 'six'], 'c6'),
      node('Conv', ['c6', 'D', 'Db'], 'd', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: { type: 'int', value: 6 } }),
      node('Conv', ['d', 'E', 'Eb'], 'y', { kernel_shape: ints([1, 1]) }),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 4, 4] }],
    initializers: inits,
    opsets: { '': 17 },
  };
}

const sample = () => Tensor.float32([1, 8, 8, 3], Array.from({ length: 192 }, rand));

describe('cross-layer equalization', () => {
  it('finds the exact groups, balances their channels and keeps the float function (TFLite interpreter)', { timeout: 60_000 }, async () => {
    const g = await prepareForTflite(model());
    const groups = findEqualizationGroups(g);
    const convOf = (n: Node) => n.inputs[1];
    // the residual stream (A's and B's outputs through Relu / MaxPool / Add, read by B and C), C's
    // output through its ReLU6 read by the depthwise D, and D's linear output read by E; the graph
    // output y is in none
    const summary = groups.map((gr) => ({ channels: gr.channels, producers: gr.producers.map((e) => convOf(e.node)).sort(), consumers: gr.consumers.map((e) => convOf(e.node)).sort(), clipped: gr.clipped.size }));
    const wName = (onnx: string) => g.nodes.find((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith(onnx))!.inputs[1]!;
    expect(summary).toEqual([
      { channels: 8, producers: [wName('A'), wName('B')].sort(), consumers: [wName('B'), wName('C')].sort(), clipped: 0 },
      { channels: 6, producers: [wName('C')], consumers: [wName('D')], clipped: 1 },
      { channels: 6, producers: [wName('D')], consumers: [wName('E')], clipped: 0 },
    ]);
    expect(groups.flatMap((gr) => gr.values)).not.toContain('y');

    const calibration = Array.from({ length: 8 }, sample);
    const obs = channelRangeObserver(groups);
    for (const x of calibration) await runGraph(g, { x }, { onValue: obs.observe });
    const eq = equalizeGraph(g, groups, obs.ranges, { alpha: 1 });
    expect(eq.groups).toBe(3);

    // through the ReLU6: a channel that reached 6 on the samples keeps scale 1, the others are
    // scaled up to half the bound (the default headroom of 2), not to it
    const [clippedValue, bounds] = [...groups[1]!.clipped][0]!;
    expect(bounds).toEqual({ lo: 0, hi: 6 });
    const c6 = obs.ranges.get(clippedValue)!;
    const s6 = eq.scales.get(clippedValue)!;
    expect([c6.max[0], c6.max[1]]).toEqual([6, 6]);
    expect(Math.max(...c6.max.slice(2))).toBeLessThan(2);
    for (let c = 0; c < 6; c++) {
      if (c6.max[c]! >= 6) expect(s6[c]).toBe(1);
      else {
        expect(s6[c]).toBeGreaterThan(1.5);
        expect(s6[c]! * c6.max[c]!).toBeLessThanOrEqual(3);
        expect(s6[c]! * c6.max[c]!).toBeGreaterThan(2.99);
      }
    }

    // alpha 1: every channel of every group value spans as much of the tensor's range as the
    // widest channel did, up to the cap -- measured on the equalized graph, and the ranges
    // predicted from the original's per-channel ones are the measured ones
    const after = channelRangeObserver(groups);
    for (const x of calibration) await runGraph(eq.graph, { x }, { onValue: after.observe });
    const residual = groups[0]!.values.find((v) => after.ranges.has(v) && g.nodes.some((n) => n.opType === 'Add' && n.outputs[0] === v))!;
    const r = after.ranges.get(residual)!;
    const span = (k: number) => Math.max(r.max[k]!, 0) - Math.min(r.min[k]!, 0);
    const spans = Array.from({ length: 8 }, (_, k) => span(k));
    const before = obs.ranges.get(residual)!;
    const spansBefore = Array.from({ length: 8 }, (_, k) => Math.max(before.max[k]!, 0) - Math.min(before.min[k]!, 0));
    expect(Math.min(...spansBefore) / Math.max(...spansBefore)).toBeLessThan(0.2);
    expect(Math.min(...spans) / Math.max(...spans)).toBeGreaterThan(0.3);
    for (const v of groups.flatMap((gr) => gr.values)) {
      const measured = after.ranges.get(v);
      if (!measured) continue;
      const predicted = equalizedRange(obs.ranges.get(v)!, eq.scales.get(v)!);
      expect(Math.min(...measured.min)).toBeCloseTo(predicted.min, 4);
      expect(Math.max(...measured.max)).toBeCloseTo(predicted.max, 4);
    }

    // the same function on the calibration samples, both files run by the interpreter
    const original = serializeTflite(g);
    const equalized = serializeTflite(eq.graph);
    for (const x of calibration) {
      const want = (await oracle.run(original, [x.data as Float32Array]))[0]!.data as Float32Array;
      const got = (await oracle.run(equalized, [x.data as Float32Array]))[0]!.data as Float32Array;
      expect(relErr(got, want)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('leaves a conv whose weights another node also reads', async () => {
    const m = model();
    // E reads B's weights too (reshaped copies would be separate initializers): B's group is out
    m.nodes[8] = node('Conv', ['d', 'E', 'Eb'], 'y', { kernel_shape: ints([1, 1]) });
    m.nodes.push(node('Conv', ['r', 'B', 'Bb'], 'y2', { kernel_shape: ints([1, 1]) }));
    m.outputs.push({ name: 'y2', dtype: 'float32', shape: [1, 8, 4, 4] });
    const g = await prepareForTflite(m);
    const groups = findEqualizationGroups(g);
    expect(groups.map((gr) => gr.channels)).toEqual([6, 6]);
  });
});
