// Empirical bias correction (src/passes/bias-correction.ts) on a small channels-last graph: a conv
// whose inputs have a non-zero mean (so its int8 weights shift each output channel's mean) feeding
// a ReLU6 and a depthwise conv. What the pass promises, checked on nnport's QDQ simulation over the
// samples it measured: only int32 biases change; the first conv's per-channel mean error (on the
// positions its ReLU6 passes) drops to the bias's rounding; the depthwise output's mean error
// shrinks. The interpreter's view (SNR on held-out photos) is test/formats/tflite/bias-correction.test.ts.
import { describe, expect, it } from 'vitest';
import { prepareForTflite } from '../../../src/formats/tflite/write.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';

let seed = 29;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (opType: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const tensor = (shape: number[], f: () => number) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f));

/** x -> A (3x3, 3->8) -> Clip(0, 6) -> D (depthwise 3x3) = y */
function model(): Graph {
  return {
    name: 'bias-correction',
    nodes: [
      node('Conv', ['x', 'A', 'Ab'], 'a', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
      node('Clip', ['a', 'zero', 'six'], 'a6'),
      node('Conv', ['a6', 'D', 'Db'], 'y', { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: { type: 'int', value: 8 } }),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 12, 12] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 8, 12, 12] }],
    initializers: new Map([
      ['A', tensor([8, 3, 3, 3], () => rand() * 0.6)],
      ['Ab', tensor([8], () => 1 + rand())],
      ['D', tensor([8, 1, 3, 3], () => rand())],
      ['Db', tensor([8], () => rand() * 0.1)],
      ['zero', Tensor.float32([], [0])],
      ['six', Tensor.float32([], [6])],
    ]),
    opsets: { '': 17 },
  };
}

/** Per channel (last axis), the mean of (got - want) over the positions where `mask(want)` holds. */
function channelMeanError(wants: Float32Array[], gots: Float32Array[], c: number, mask: (v: number) => boolean = () => true): number[] {
  const sum = new Float64Array(c);
  const count = new Float64Array(c);
  wants.forEach((w, k) => {
    for (let i = 0; i < w.length; i++) {
      if (!mask(w[i]!)) continue;
      sum[i % c] += gots[k]![i]! - w[i]!;
      count[i % c]++;
    }
  });
  return Array.from(sum, (s, ch) => s / count[ch]!);
}

describe('empirical bias correction', () => {
  it('removes the mean error of each layer on the samples it measured, changing int32 biases only', async () => {
    const g = await prepareForTflite(model());
    // inputs with a non-zero mean, like images: the int8 weights' rounding then shifts the means
    const samples = Array.from({ length: 12 }, () => [tensor([1, 12, 12, 3], () => 0.5 + 0.5 * rand())]);
    const plain = await quantizeGraph(g, { mode: 'int8', calibration: samples, method: 'minmax', equalize: false });
    const corrected = await quantizeGraph(g, { mode: 'int8', calibration: samples, method: 'minmax', equalize: false, biasCorrection: true });
    expect(corrected.graph.nodes).toEqual(plain.graph.nodes);
    const changed = [...plain.graph.initializers].filter(([k, t]) => t.toNumbers().some((v, i) => v !== corrected.graph.initializers.get(k)!.toNumbers()[i]));
    expect(changed.map(([, t]) => t.dtype)).toEqual(['int32', 'int32']);

    // the convs' pre-activation outputs, by node name in both graphs
    const convs = (q: Graph) => q.nodes.filter((n) => n.opType === 'Conv');
    const [fa, fd] = convs(g).map((n) => n.outputs[0]!);
    const outputsOf = async (graph: Graph, names: string[]) => {
      const r: Float32Array[][] = names.map(() => []);
      for (const [x] of samples) {
        const { outputs } = await runGraph(graph, { x: x! }, { outputs: names });
        names.forEach((v, i) => r[i]!.push(outputs.get(v)!.toFloat32() as Float32Array));
      }
      return r;
    };
    const [fA, fD] = await outputsOf(g, [fa!, fd!]);
    const active = (v: number) => v > 0 && v < 6;
    const meanErrors = async (q: Graph) => {
      const [qa, qd] = convs(q).map((n) => n.outputs[0]!);
      const [qA, qD] = await outputsOf(q, [qa!, qd!]);
      return { a: channelMeanError(fA!, qA!, 8, active), d: channelMeanError(fD!, qD!, 8) };
    };
    const before = await meanErrors(plain.graph);
    const after = await meanErrors(corrected.graph);
    const worst = (e: number[]) => Math.max(...e.map(Math.abs));
    const total = (e: number[]) => e.reduce((s, v) => s + Math.abs(v), 0);
    // the bias's int32 step (input scale x weight scale) is far below these errors
    console.log(`first conv's worst channel mean error ${worst(before.a).toExponential(2)} -> ${worst(after.a).toExponential(2)}; depthwise ${total(before.d).toExponential(2)} -> ${total(after.d).toExponential(2)} (sum over channels)`);
    expect(worst(before.a)).toBeGreaterThan(2e-3);
    expect(worst(after.a)).toBeLessThan(worst(before.a) / 10);
    expect(total(after.d)).toBeLessThan(total(before.d) / 2);
  });
});
