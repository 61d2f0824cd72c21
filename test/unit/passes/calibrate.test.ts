// Calibration (src/passes/calibrate.ts) and the executor's `observe` option it relies on: the
// ranges and histograms are exactly those of every value of the unfused graph over the samples
// (the fused graph the runtime runs after the first sample changes nothing), the runtime fuses
// only when no observed value is fused away, and the samples are not kept when nothing reads
// them again.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { calibrate, HIST_BINS } from '../../../src/passes/calibrate.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { histogram, minMax } from '../../../src/wasm/calibrate.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { prepareForTflite } from '../../../src/formats/tflite/write.js';
import { randomF32, rng } from '../kernels/reference.js';
import { torchvisionFixture } from './torchvision.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (opType: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): Node => ({ name: `${out}_node`, opType, domain: '', inputs, outputs: [out], attrs });

/**
 * x -> Pad (zero, spatial) -> Conv 3x3 -> Clip [0, 6] -> c1 -> Conv 1x1 -> c2; Add(c2, c1) -> Relu
 * -> y. The runtime fuses the first Conv with its Clip (removing 'conv1', and 'padded' where the
 * runtime folds pads), and leaves the rest.
 */
function testGraph(): { graph: Graph; needed: Set<string> } {
  const r = rng(7);
  const inits = new Map<string, Tensor>([
    ['pads', new Tensor('int64', [8], BigInt64Array.from([0, 0, 1, 1, 0, 0, 1, 1].map(BigInt)))],
    ['w1', Tensor.float32([6, 3, 3, 3], randomF32(162, r).map((v) => v * 2))],
    ['b1', Tensor.float32([6], randomF32(6, r))],
    ['lo', Tensor.float32([], [0])],
    ['hi', Tensor.float32([], [6])],
    ['w2', Tensor.float32([6, 6, 1, 1], randomF32(36, r))],
    ['b2', Tensor.float32([6], randomF32(6, r))],
  ]);
  const nodes = [
    node('Pad', ['x', 'pads'], 'padded'),
    node('Conv', ['padded', 'w1', 'b1'], 'conv1', { kernel_shape: ints([3, 3]) }),
    node('Clip', ['conv1', 'lo', 'hi'], 'c1'),
    node('Conv', ['c1', 'w2', 'b2'], 'c2', { kernel_shape: ints([1, 1]) }),
    node('Add', ['c2', 'c1'], 'sum'),
    node('Relu', ['sum'], 'y'),
  ];
  const graph: Graph = { name: 'calibrate-test', nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 9, 9] }], outputs: [{ name: 'y', dtype: 'float32' }], initializers: inits, opsets: { '': 13 } };
  // what quantize's plan asks for here: the input, c1 (conv1 is fused into the Clip), c2, y
  // (sum is fused into the Relu; padded shares x's parameters)
  return { graph, needed: new Set(['x', 'c1', 'c2', 'y']) };
}

function samplesOf(n: number, seed: number): Tensor[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => [Tensor.float32([1, 3, 9, 9], randomF32(243, r).map((v) => v * 3))]);
}

/** Every value of the unfused graph on every sample (keepIntermediates runs it as given). */
async function allValues(graph: Graph, samples: Tensor[][]): Promise<Map<string, Tensor>[]> {
  const out: Map<string, Tensor>[] = [];
  for (const [x] of samples) {
    const r = await runGraph(graph, new Map([['x', x!]]), { keepIntermediates: true });
    out.push(new Map([['x', x!], ...r.values!]));
  }
  return out;
}

describe('calibrate', () => {
  it('minmax: the ranges are exactly the min / max of each needed value of the unfused graph over the samples', async () => {
    await initKernels();
    const { graph, needed } = testGraph();
    const samples = samplesOf(6, 11);
    const { stats, floats, count, inputs } = await calibrate(graph, needed, samples, 'minmax');
    expect(count).toBe(6);
    expect(inputs).toEqual([]);
    // every float value of the graph is learnt on the first sample, the fused-away ones too
    expect([...floats].sort()).toEqual(['c1', 'c2', 'conv1', 'padded', 'sum', 'x', 'y']);
    expect([...stats.keys()].sort()).toEqual([...needed].sort());
    const values = await allValues(graph, samples);
    for (const name of needed) {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) for (const e of v.get(name)!.data as Float32Array) (min = Math.min(min, e)), (max = Math.max(max, e));
      expect(stats.get(name), name).toEqual({ min: min + 0, max: max + 0 });
    }
  });

  it('percentile / entropy: the |x| histograms are those of the unfused values, and the samples are given back only for a report', async () => {
    await initKernels();
    const { graph, needed } = testGraph();
    const samples = samplesOf(4, 12);
    const values = await allValues(graph, samples);
    for (const method of ['percentile', 'entropy'] as const) {
      for (const report of [false, true]) {
        const { stats, inputs } = await calibrate(graph, needed, samples, method, undefined, { report });
        expect(inputs.length).toBe(report ? 4 : 0);
        for (const [name, s] of stats) {
          const want = new Uint32Array(HIST_BINS);
          for (const v of values) histogram(Float32Array.from(v.get(name)!.data as Float32Array, Math.abs), HIST_BINS, 0, s.histMax!, { counts: want });
          expect(s.histMax, name).toBe(Math.max(-s.min, s.max));
          expect(s.hist, `${method} ${name}`).toEqual(want);
        }
      }
    }
  });

  it('keeps no sample alive after its forward pass in minmax calibration without a report', async () => {
    await initKernels();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { graph, needed } = testGraph();
    const refs: WeakRef<Tensor>[] = [];
    const alive: number[] = [];
    const r = rng(13);
    async function* stream() {
      for (let i = 0; i < 6; i++) {
        // WeakRefs hold their targets until the current job ends: let it end, then collect
        await new Promise((resolve) => setTimeout(resolve, 0));
        gc();
        // every sample before the one just calibrated (which the loop may still hold)
        alive.push(refs.slice(0, -1).filter((w) => w.deref() !== undefined).length);
        const x = Tensor.float32([1, 3, 9, 9], randomF32(243, r));
        refs.push(new WeakRef(x));
        yield [x];
      }
    }
    const { count } = await calibrate(graph, needed, stream(), 'minmax');
    expect(count).toBe(6);
    expect(alive).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

/** Plain JS min / max over every element (NaN skipped, -0 as +0), accumulated into `acc`. */
function accumulateRange(acc: Map<string, { min: number; max: number }>, name: string, data: ArrayLike<number>): void {
  let min = acc.get(name)?.min ?? Infinity;
  let max = acc.get(name)?.max ?? -Infinity;
  for (let i = 0; i < data.length; i++) {
    const e = data[i]!;
    if (e < min) min = e;
    if (e > max) max = e;
  }
  acc.set(name, { min: min + 0, max: max + 0 });
}

describe('calibrate: ranges taken in WASM memory', () => {
  it('mobilenet_v2 (channels-last, run lowered and fused), 2 samples: every range equals a JS min / max over the whole tensor', async () => {
    await initKernels();
    const f = await torchvisionFixture('mobilenet_v2');
    const g = await prepareForTflite(f.graph);
    const input = g.inputs[0]!;
    const r = rng(31);
    const samples = [0, 1].map(() => [Tensor.float32([1, 224, 224, 3], randomF32(224 * 224 * 3, r).map((v) => v * 2))]);
    // every value the fused graph computes (observing none of them keeps fusion on)
    const needed = new Set<string>();
    await runGraph(g, new Map([[input.name, samples[0]![0]!]]), { onValue: (name) => needed.add(name), observe: new Set() });
    expect(needed.size).toBeGreaterThan(60);
    const want = new Map<string, { min: number; max: number }>();
    // the tensors calibration sees, reduced in JS (over the computed data: a range does not depend on the layout)
    const { stats } = await calibrate(g, needed, samples, 'minmax', undefined, undefined, (name, t) => {
      if (needed.has(name) && t.dtype === 'float32') accumulateRange(want, name, (t.deferred?.source ?? t.data) as Float32Array);
    });
    expect(stats.size).toBe(needed.size);
    for (const [name, s] of stats) expect(s, name).toEqual(want.get(name));
  }, 60_000);

  it('runGraph ranges: the kernels note the range of each observed value, which minMax returns without reading the data again', async () => {
    await initKernels();
    const { graph, needed } = testGraph();
    const x = samplesOf(1, 15)[0]![0]!;
    const observed = async (ranges: boolean) => {
      const got = new Map<string, { noted: { min: number; max: number }; full: { min: number; max: number } }>();
      await runGraph(graph, new Map([['x', x]]), {
        observe: needed,
        ranges,
        onValue: (name, t) => {
          const data = (t.deferred?.source ?? t.data) as Float32Array;
          const full = new Map<string, { min: number; max: number }>();
          accumulateRange(full, name, data);
          // overwrite an element: a noted range does not see it, one computed now does
          const saved = data[0]!;
          data[0] = 1e30;
          got.set(name, { noted: minMax(t), full: full.get(name)! });
          data[0] = saved;
        },
      });
      return got;
    };
    const noted = await observed(true);
    for (const name of ['c1', 'c2', 'y']) expect(noted.get(name)!.noted, name).toEqual(noted.get(name)!.full);
    const computed = await observed(false);
    for (const name of ['c1', 'c2', 'y']) expect(computed.get(name)!.noted.max, name).toBe(Math.fround(1e30));
    // and only within the step that made it: afterwards minMax reads the data
    const t = (await runGraph(graph, new Map([['x', x]]), { observe: needed, ranges: true, onValue: () => {} })).outputs.get('y')!;
    const data = t.data as Float32Array;
    data[0] = 1e30;
    expect(minMax(t).max).toBe(Math.fround(1e30));
  });
});

describe('runGraph observe', () => {
  it('fuses when no observed value is fused away, and onValue gets the values the fused graph computes', async () => {
    await initKernels();
    const { graph } = testGraph();
    const x = samplesOf(1, 14)[0]![0]!;
    const seen = async (observe?: ReadonlySet<string>) => {
      const got: string[] = [];
      const ops: string[] = [];
      await runGraph(graph, new Map([['x', x]]), { observe, onValue: (name, _t, n) => (got.push(name), ops.push(n.opType)) });
      return { got, ops };
    };
    const all = await seen();
    expect(all.got).toEqual(['padded', 'conv1', 'c1', 'c2', 'sum', 'y']);
    const fused = await seen(new Set(['c1', 'c2', 'y']));
    expect(fused.got).not.toContain('conv1');
    expect(fused.got).toEqual(expect.arrayContaining(['c1', 'c2', 'y']));
    expect(fused.ops).toContain('FusedConv');
    // asking to see a value fusion would remove runs the graph as given
    expect((await seen(new Set(['conv1', 'y']))).got).toEqual(all.got);
  });
});
