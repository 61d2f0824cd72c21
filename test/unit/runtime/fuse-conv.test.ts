// The conv fusion pass: fused graphs compute what the unfused ones do (random chains of
// Pad, Conv, BatchNormalization and activations), onnxruntime-node agrees on a Conv+BN+Relu/Clip
// model, values a caller can see are never fused away, and the input graph is left alone.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseConv, type FuseConvReport } from '../../../src/runtime/fuse-conv.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { randomF32, rng, worstMismatch } from '../kernels/reference.js';
import { ortRun } from '../../support/ort.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const float = (value: number): Attr => ({ type: 'float', value });

type Act = 'none' | 'Relu' | 'Clip-const-nodes' | 'Clip-initializers' | 'Clip-max-only' | 'Clip-attrs' | 'LeakyRelu';
const ACTS: readonly Act[] = ['none', 'Relu', 'Clip-const-nodes', 'Clip-initializers', 'Clip-max-only', 'Clip-attrs', 'LeakyRelu'];

/** Builds graphs node by node with unique names. */
class Builder {
  nodes: Node[] = [];
  initializers = new Map<string, Tensor>();
  private n = 0;
  constructor(
    readonly r: () => number,
    readonly opset: number,
  ) {}

  name(base: string): string {
    return `${base}_${this.n++}`;
  }
  init(base: string, t: Tensor): string {
    const name = this.name(base);
    this.initializers.set(name, t);
    return name;
  }
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = this.name(opType.toLowerCase());
    this.nodes.push({ name: this.name(`${opType}_node`), opType, domain: '', inputs, outputs: [out], attrs });
    return out;
  }
  conv(x: string, C: number, M: number, k: number, group: number, stride: number, bias: boolean): string {
    const w = this.init('W', Tensor.float32([M, C / group, k, k], randomF32((M * C * k * k) / group, this.r)));
    const b = bias ? this.init('B', Tensor.float32([M], randomF32(M, this.r))) : undefined;
    const p = (k - 1) >> 1;
    return this.node('Conv', b ? [x, w, b] : [x, w], { pads: ints([p, p, p, p]), strides: ints([stride, stride]), group: { type: 'int', value: group } });
  }
  /** Pad (N, C, H, W) on H and W only: pads [t, l, b, r], a constant `value` (0 is what a conv's own pads do). */
  pad(x: string, p: number[], value = 0): string {
    const pads = [0, 0, p[0]!, p[1]!, 0, 0, p[2]!, p[3]!];
    if (this.opset < 11) return this.node('Pad', [x], { pads: ints(pads), value: float(value) });
    const inputs = [x, this.init('pads', Tensor.int64([8], pads))];
    if (value !== 0 || p[0]! % 2) inputs.push(this.init('value', Tensor.float32([], [value])));
    return this.node('Pad', inputs);
  }
  batchNorm(x: string, M: number): string {
    const r = this.r;
    const scale = this.init('scale', Tensor.float32([M], randomF32(M, r).map((v) => 2 * v)));
    const beta = this.init('beta', Tensor.float32([M], randomF32(M, r)));
    const mean = this.init('mean', Tensor.float32([M], randomF32(M, r)));
    const variance = this.init('var', Tensor.float32([M], randomF32(M, r).map((v) => 0.1 + Math.abs(v) * 2)));
    return this.node('BatchNormalization', [x, scale, beta, mean, variance], { epsilon: float(1e-3) });
  }
  act(x: string, act: Act): string {
    const lo = -0.25 + this.r() * 0.25;
    const hi = 0.5 + this.r();
    const scalar = (v: number): Tensor => Tensor.float32([], [v]);
    switch (act) {
      case 'none':
        return x;
      case 'Relu':
        return this.node('Relu', [x]);
      case 'LeakyRelu':
        return this.node('LeakyRelu', [x], { alpha: float(0.1) });
      case 'Clip-attrs':
        return this.node('Clip', [x], { min: float(lo), max: float(hi) });
      case 'Clip-initializers':
        return this.node('Clip', [x, this.init('min', scalar(lo)), this.init('max', scalar(hi))]);
      case 'Clip-max-only':
        return this.node('Clip', [x, '', this.init('max', scalar(hi))]);
      case 'Clip-const-nodes': {
        const min = this.node('Constant', [], { value: { type: 'tensor', value: scalar(lo) } });
        const max = this.node('Constant', [], { value: { type: 'tensor', value: scalar(hi) } });
        return this.node('Clip', [x, min, max]);
      }
    }
  }
  graph(input: { name: string; shape: number[] }, outputs: string[]): Graph {
    return {
      name: 'fuse-test',
      nodes: this.nodes,
      inputs: [{ name: input.name, dtype: 'float32', shape: input.shape }],
      outputs: outputs.map((name) => ({ name, dtype: 'float32' })),
      initializers: this.initializers,
      opsets: { '': this.opset },
    };
  }
}

interface Chain {
  graph: Graph;
  x: Tensor;
  /** every activation and BN output, in order */
  tail: string[];
}

/** x -> [Conv -> BN? -> act] x 2..3 -> output, with random kinds, sizes and activations. */
const padR = rng(31);

function randomChain(r: () => number): Chain {
  const act = pick(r, ACTS);
  const opset = act === 'Clip-attrs' ? 6 : pick(r, [11, 13, 17]);
  const b = new Builder(r, opset);
  const H = 3 + Math.floor(r() * 14);
  let C = 1 + Math.floor(r() * 6);
  const xs = [pick(r, [1, 2]), C, H, H];
  let v = 'x';
  const tail: string[] = [];
  const layers = 2 + Math.floor(r() * 2);
  for (let l = 0; l < layers; l++) {
    const depthwise = l > 0 && r() < 0.4;
    const M = depthwise ? C : 1 + Math.floor(r() * 9);
    // an explicit Pad before the conv (how channels-last graphs carry TF-inexpressible padding); a non-zero one stays
    // (drawn from their own stream, so the chains' other draws are what they were before Pads)
    if (padR() < 0.35) v = b.pad(v, [0, 1, 2, 3].map(() => Math.floor(padR() * 3)), padR() < 0.2 ? 0.5 : 0);
    v = b.conv(v, C, M, pick(r, [1, 3]), depthwise ? C : 1, pick(r, [1, 1, 2]), r() < 0.5);
    if (r() < 0.8) tail.push((v = b.batchNorm(v, M)));
    const a = l === layers - 1 && r() < 0.3 ? 'none' : pick(r, [act, act, 'Relu'] as const);
    const next = b.act(v, opset < 11 && a.startsWith('Clip') ? 'Clip-attrs' : a);
    if (next !== v) tail.push((v = next));
    C = M;
  }
  const data = randomF32(xs.reduce((p, q) => p * q, 1), r);
  return { graph: b.graph({ name: 'x', shape: xs }, [v]), x: Tensor.float32(xs, data), tail };
}

function expectClose(got: Tensor, want: Tensor, what: string, rel = 1e-5, abs = 1e-5): void {
  expect(got.shape, what).toEqual(want.shape);
  const { excess, index } = worstMismatch(got.data as Float32Array, want.data as Float32Array, rel, abs);
  expect(excess, `${what}: worst at ${index}: ${(got.data as Float32Array)[index]} vs ${(want.data as Float32Array)[index]}`).toBeLessThanOrEqual(0);
}

describe('fuseConv', () => {
  it('fused and unfused graphs agree on random Conv / BN / activation chains, and the input graph is untouched', () => {
    const r = rng(2024);
    const total: FuseConvReport = { batchNorms: 0, activations: 0, pads: 0 };
    for (let t = 0; t < 60; t++) {
      const { graph, x } = randomChain(r);
      const before = JSON.stringify(graph.nodes);
      const inits = new Map(graph.initializers);
      const fused = fuseConv(graph, total);
      expect(JSON.stringify(graph.nodes)).toBe(before);
      expect(graph.initializers).toEqual(inits);
      for (const [k, v] of inits) expect(graph.initializers.get(k)).toBe(v);

      const want = runGraphSync(graph, { x }, { optimize: false }).outputs;
      const got = runGraphSync(fused, { x }, { optimize: false }).outputs;
      const viaDefault = runGraphSync(graph, { x }).outputs;
      const out = graph.outputs[0]!.name;
      expectClose(got.get(out)!, want.get(out)!, `chain ${t}: ${graph.nodes.map((n) => n.opType).join(' ')}`);
      expect([...viaDefault.get(out)!.data]).toEqual([...got.get(out)!.data]);
    }
    // the random chains do exercise both halves of the pass
    expect(total.batchNorms).toBeGreaterThan(40);
    expect(total.activations).toBeGreaterThan(40);
    expect(total.pads).toBeGreaterThan(15);
  });

  it('folds BN and fuses Relu / Clip into nnport::FusedConv, leaving LeakyRelu and unused constants out', () => {
    const b = new Builder(rng(1), 13);
    let v = b.conv('x', 3, 4, 3, 1, 1, true);
    v = b.act(b.batchNorm(v, 4), 'Clip-const-nodes');
    v = b.conv(v, 4, 4, 3, 4, 1, false);
    v = b.act(b.batchNorm(v, 4), 'LeakyRelu');
    const graph = b.graph({ name: 'x', shape: [1, 3, 8, 8] }, [v]);
    const fused = fuseConv(graph);
    expect(fused.nodes.map((n) => `${n.domain}:${n.opType}`)).toEqual(['nnport:FusedConv', ':Conv', ':LeakyRelu']);
    expect(fused.opsets.nnport).toBe(1);
    const first = fused.nodes[0]!;
    expect(first.outputs).toEqual([graph.nodes.find((n) => n.opType === 'Clip')!.outputs[0]]);
    expect(first.attrs.activation_min?.type).toBe('float');
  });

  it('keeps every value a caller can see: graph outputs, values with other readers, non-constant parameters', () => {
    const r = rng(7);
    // BN output is a graph output: BN is folded (the conv now computes that value), the Relu stays.
    let b = new Builder(r, 13);
    const bn = b.batchNorm(b.conv('x', 2, 3, 3, 1, 1, true), 3);
    const relu = b.act(bn, 'Relu');
    let g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, [relu, bn]);
    expect(fuseConv(g).nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu']);
    // The conv output has two readers: nothing to fuse.
    b = new Builder(r, 13);
    const c = b.conv('x', 2, 3, 3, 1, 1, true);
    const sum = b.node('Add', [b.act(c, 'Relu'), c]);
    g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, [sum]);
    expect(fuseConv(g)).toBe(g);
    // BN parameters fed at run time are not folded (the Relu still is).
    b = new Builder(r, 13);
    const conv = b.conv('x', 2, 3, 3, 1, 1, true);
    const scale = b.init('s', Tensor.float32([3], [1, 2, 3]));
    const ins = [conv, scale, scale, scale, 'var'];
    b.nodes.push({ name: 'bn', opType: 'BatchNormalization', domain: '', inputs: ins, outputs: ['y'], attrs: {} });
    g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, ['y']);
    g.inputs.push({ name: 'var', dtype: 'float32', shape: [3] });
    expect(fuseConv(g)).toBe(g);
    // Training-mode BN is not an affine map of the conv output.
    b = new Builder(r, 15);
    b.batchNorm(b.conv('x', 2, 3, 3, 1, 1, true), 3);
    b.nodes[1]!.attrs.training_mode = { type: 'int', value: 1 };
    g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, [b.nodes[1]!.outputs[0]!]);
    expect(fuseConv(g)).toBe(g);
  });

  it('keepIntermediates (--dump), onValue and outputs naming a fused-away value still see the BN and activation values', () => {
    const r = rng(99);
    for (let t = 0; t < 10; t++) {
      const { graph, x, tail } = randomChain(r);
      if (!tail.length) continue;
      const dumped = runGraphSync(graph, { x }, { keepIntermediates: true }).values!;
      const plain = runGraphSync(graph, { x }, { optimize: false, outputs: tail }).outputs;
      const asked = runGraphSync(graph, { x }, { outputs: tail }).outputs;
      const seen = new Map<string, Tensor>();
      runGraphSync(graph, { x }, { onValue: (name, value) => seen.set(name, value) });
      for (const name of tail) {
        expect(dumped.has(name), name).toBe(true);
        expect([...dumped.get(name)!.data]).toEqual([...plain.get(name)!.data]);
        // a value the fused graph still has comes from the folded conv: equal up to rounding
        expectClose(asked.get(name)!, plain.get(name)!, name);
        expect([...seen.get(name)!.data]).toEqual([...plain.get(name)!.data]);
      }
    }
  });

  it('a graph whose initializers, outputs or nodes were replaced after a run is fused again', () => {
    const b = new Builder(rng(5), 13);
    const y = b.act(b.batchNorm(b.conv('x', 2, 3, 3, 1, 1, true), 3), 'Relu');
    const g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, [y]);
    const x = Tensor.float32([1, 2, 5, 5], randomF32(50, rng(6)));
    runGraphSync(g, { x });
    const scaleName = b.nodes[1]!.inputs[1]!;
    g.initializers.set(scaleName, Tensor.float32([3], [0.5, -1, 2]));
    const after = runGraphSync(g, { x }).outputs.get(y)!;
    expectClose(after, runGraphSync(g, { x }, { optimize: false }).outputs.get(y)!, 'replaced BN scale');
    g.outputs = [...g.outputs, { name: b.nodes[1]!.outputs[0]!, dtype: 'float32' }];
    expect(runGraphSync(g, { x }).outputs.has(b.nodes[1]!.outputs[0]!)).toBe(true);
    g.nodes.pop();
    g.outputs = [{ name: b.nodes[1]!.outputs[0]!, dtype: 'float32' }];
    const bn = runGraphSync(g, { x }).outputs.get(g.outputs[0]!.name)!;
    expectClose(bn, runGraphSync(g, { x }, { optimize: false }).outputs.get(g.outputs[0]!.name)!, 'Relu removed');
  });

  it('feeding a value over a folded initializer runs the unfused graph', () => {
    const b = new Builder(rng(3), 13);
    const y = b.act(b.batchNorm(b.conv('x', 2, 3, 3, 1, 1, true), 3), 'Relu');
    const g = b.graph({ name: 'x', shape: [1, 2, 5, 5] }, [y]);
    const scaleName = b.nodes[1]!.inputs[1]!;
    g.inputs.push({ name: scaleName, dtype: 'float32', shape: [3] });
    const x = Tensor.float32([1, 2, 5, 5], randomF32(50, rng(4)));
    const s = Tensor.float32([3], [0, 0, 0]);
    const over = runGraphSync(g, { x, [scaleName]: s }).outputs.get(y)!;
    const want = runGraphSync(g, { x, [scaleName]: s }, { optimize: false }).outputs.get(y)!;
    const folded = runGraphSync(g, { x }).outputs.get(y)!;
    expect([...over.data]).toEqual([...want.data]);
    expect([...over.data]).not.toEqual([...folded.data]);
  });
});

describe('fused Conv + BN + Relu / Clip vs onnxruntime-node', () => {
  for (const act of ['Relu', 'Clip-const-nodes', 'Clip-initializers'] as const) {
    it(`${act}: dense 3x3 then depthwise 3x3 stride 2 then 1x1`, async () => {
      const r = rng(act.length);
      const b = new Builder(r, 13);
      let v = b.act(b.batchNorm(b.conv('x', 3, 16, 3, 1, 1, false), 16), act);
      v = b.act(b.batchNorm(b.conv(v, 16, 16, 3, 16, 2, false), 16), act);
      v = b.batchNorm(b.conv(v, 16, 8, 1, 1, 1, true), 8);
      const graph = b.graph({ name: 'x', shape: [1, 3, 23, 23] }, [v]);
      const x = Tensor.float32([1, 3, 23, 23], randomF32(3 * 23 * 23, r));
      const want = (await ortRun(writeOnnx(graph), { x }, { intraOpNumThreads: 1, interOpNumThreads: 1 })).get(v)!;
      const fused = fuseConv(graph);
      expect(fused.nodes.filter((n) => n.opType === 'FusedConv')).toHaveLength(2);
      const got = runGraphSync(graph, { x }).outputs.get(v)!;
      expectClose(got, want, act, 1e-4, 1e-5);
    });
  }
});
