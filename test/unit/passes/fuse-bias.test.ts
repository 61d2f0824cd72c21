// fuseBias: a Conv / ConvTranspose (ONNX or channels-last nnport) or MatMul followed by an Add /
// Sub of a per-channel constant becomes one op with that bias. ONNX graphs are checked by
// onnxruntime-node running the graph before and after; every graph the pass cannot prove equal
// (a constant that is not one value per channel, a value read elsewhere, an overridable or
// computed operand, a QDQ weight, a batched MatMul) is returned unchanged. With ndDense (the TFLite
// writer), a MatMul of an N-D input + Add along its last axis becomes Reshape -> Gemm -> Reshape.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/index.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseBias } from '../../../src/passes/fuse-bias.js';
import { runOrt } from '../../formats/onnx/ort-helpers.js';
import { randomF32, rng } from '../kernels/reference.js';

const r = rng(97);
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });
const str = (value: string): Attr => ({ type: 'string', value });
const f32 = (shape: number[]): Tensor => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r));
const node = (name: string, opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): Node => ({ name, opType, domain, inputs, outputs, attrs });

function graph(nodes: Node[], inits: Record<string, Tensor>, x: number[], opset = 13): Graph {
  return {
    name: 'g',
    nodes,
    inputs: [{ name: 'x', dtype: 'float32', shape: x }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(Object.entries(inits)),
    opsets: { '': opset },
  };
}

/** Conv (3 -> C, 3x3, pad 1) on a 1x3x5x5 input, then `op`(conv, c) (or (c, conv) with `first`), then Relu -> y */
function convThen(op: 'Add' | 'Sub', c: Tensor, options: { first?: boolean; bias?: boolean; C?: number } = {}): Graph {
  const C = options.C ?? 4;
  const inits: Record<string, Tensor> = { w: f32([C, 3, 3, 3]), c };
  if (options.bias) inits.b = f32([C]);
  return graph(
    [
      node('conv', 'Conv', ['x', 'w', ...(options.bias ? ['b'] : [])], ['z'], { pads: ints([1, 1, 1, 1]) }),
      node('bias', op, options.first ? ['c', 'z'] : ['z', 'c'], ['a']),
      node('relu', 'Relu', ['a'], ['y']),
    ],
    inits,
    [1, 3, 5, 5],
  );
}

async function ortOutput(g: Graph, x: Tensor): Promise<Float32Array> {
  const out = (await runOrt(writeOnnx(g), { x })).y!;
  const b = out.bytes as Uint8Array;
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
}

/** The fused graph computes what the original did, in onnxruntime-node (within float rounding). */
async function expectSameInOrt(before: Graph, after: Graph, xShape: number[]): Promise<void> {
  const x = f32(xShape);
  const want = await ortOutput(before, x);
  const got = await ortOutput(after, x);
  let m = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    m = Math.max(m, Math.abs(got[i]! - want[i]!));
    s = Math.max(s, Math.abs(want[i]!));
  }
  expect(got.length).toBe(want.length);
  expect(m / s).toBeLessThanOrEqual(1e-6);
}

const ops = (g: Graph): string[] => g.nodes.map((n) => n.opType);

describe('fuseBias on ONNX graphs (onnxruntime-node runs both)', () => {
  const shapes: Array<[string, number[]]> = [
    ['[1,C,1,1]', [1, 4, 1, 1]],
    ['[C,1,1]', [4, 1, 1]],
    ['scalar []', []],
    ['[1]', [1]],
    ['[1,1,1,1]', [1, 1, 1, 1]],
  ];
  for (const [label, shape] of shapes) {
    it(`Conv + Add of a ${label} constant becomes the Conv's bias`, async () => {
      const c = f32(shape);
      const g = convThen('Add', c);
      const { graph: out, fused } = fuseBias(g);
      expect(fused).toEqual(['bias']);
      expect(ops(out)).toEqual(['Conv', 'Relu']);
      const conv = out.nodes[0]!;
      expect(conv.outputs).toEqual(['a']);
      const b = out.initializers.get(conv.inputs[2]!)!;
      expect(b.shape).toEqual([4]);
      const cv = c.toFloat32();
      expect(Array.from(b.toFloat32())).toEqual([0, 1, 2, 3].map((k) => cv[cv.length === 1 ? 0 : k]!));
      expect(out.initializers.has('c')).toBe(false);
      await expectSameInOrt(g, out, [1, 3, 5, 5]);
    });
  }

  it('Add(constant, conv) (constant first) and a Conv with a bias: the constant is added to it (float32 sum)', async () => {
    const g = convThen('Add', f32([1, 4, 1, 1]), { first: true, bias: true });
    const { graph: out } = fuseBias(g);
    expect(ops(out)).toEqual(['Conv', 'Relu']);
    const b0 = g.initializers.get('b')!.toFloat32();
    const c = g.initializers.get('c')!.toFloat32();
    expect(Array.from(out.initializers.get(out.nodes[0]!.inputs[2]!)!.toFloat32())).toEqual(Array.from(b0, (v, k) => Math.fround(v + c[k]!)));
    await expectSameInOrt(g, out, [1, 3, 5, 5]);
  });

  it('Conv - constant: the negated constant', async () => {
    const g = convThen('Sub', f32([4, 1, 1]), { bias: true });
    const { graph: out } = fuseBias(g);
    expect(ops(out)).toEqual(['Conv', 'Relu']);
    const b0 = g.initializers.get('b')!.toFloat32();
    const c = g.initializers.get('c')!.toFloat32();
    expect(Array.from(out.initializers.get(out.nodes[0]!.inputs[2]!)!.toFloat32())).toEqual(Array.from(b0, (v, k) => Math.fround(v - c[k]!)));
    await expectSameInOrt(g, out, [1, 3, 5, 5]);
  });

  it('removes only the constants it used: an unused initializer of the source stays, a Constant node feeding the Add goes', () => {
    const g = convThen('Add', f32([1, 4, 1, 1]));
    const c = g.initializers.get('c')!;
    const inits = new Map(g.initializers);
    inits.delete('c');
    inits.set('unused', f32([3]));
    const withConstant: Graph = { ...g, nodes: [node('k', 'Constant', [], ['c'], { value: { type: 'tensor', value: c } }), ...g.nodes], initializers: inits };
    const { graph: out } = fuseBias(withConstant);
    expect(ops(out)).toEqual(['Conv', 'Relu']);
    expect([...out.initializers.keys()].sort()).toEqual(['c/fused', 'unused', 'w']);
  });

  it('two Adds in a row both fold; the last one may be the graph output (its name is kept)', async () => {
    const g = graph(
      [node('conv', 'Conv', ['x', 'w'], ['z']), node('add1', 'Add', ['z', 'c1'], ['a']), node('add2', 'Sub', ['a', 'c2'], ['y'])],
      { w: f32([4, 3, 1, 1]), c1: f32([1, 4, 1, 1]), c2: f32([]) },
      [1, 3, 5, 5],
    );
    const { graph: out, fused } = fuseBias(g);
    expect(fused).toEqual(['add1', 'add2']);
    expect(out.nodes).toHaveLength(1);
    expect(out.nodes[0]!.outputs).toEqual(['y']);
    await expectSameInOrt(g, out, [1, 3, 5, 5]);
  });

  it('depthwise and grouped ConvTranspose: the channel count is the output channels', async () => {
    const g = graph(
      [
        node('dw', 'Conv', ['x', 'w1'], ['z1'], { group: int(4), pads: ints([1, 1, 1, 1]) }),
        node('add1', 'Add', ['z1', 'c1'], ['a1']),
        node('up', 'ConvTranspose', ['a1', 'w2'], ['z2'], { group: int(2), strides: ints([2, 2]) }),
        node('add2', 'Add', ['c2', 'z2'], ['y']),
      ],
      // ConvTranspose weight (I, O/group, kh, kw): 4 in, 2 groups of 3 out = 6 channels
      { w1: f32([4, 1, 3, 3]), c1: f32([4, 1, 1]), w2: f32([4, 3, 2, 2]), c2: f32([1, 6, 1, 1]) },
      [1, 4, 5, 5],
    );
    const { graph: out, fused } = fuseBias(g);
    expect(fused).toEqual(['add1', 'add2']);
    expect(ops(out)).toEqual(['Conv', 'ConvTranspose']);
    expect(out.initializers.get(out.nodes[1]!.inputs[2]!)!.shape).toEqual([6]);
    await expectSameInOrt(g, out, [1, 4, 5, 5]);
  });

  it('MatMul (2-D) + Add of [N] / [1,N] / Sub: a Gemm with that bias', async () => {
    const g = graph(
      [
        node('fc1', 'MatMul', ['x', 'k1'], ['m1']),
        node('add1', 'Add', ['b1', 'm1'], ['a1']),
        node('relu', 'Relu', ['a1'], ['r']),
        node('fc2', 'MatMul', ['r', 'k2'], ['m2']),
        node('add2', 'Sub', ['m2', 'b2'], ['y']),
      ],
      { k1: f32([6, 5]), b1: f32([5]), k2: f32([5, 3]), b2: f32([1, 3]) },
      [2, 6],
    );
    const { graph: out, fused } = fuseBias(g);
    expect(fused).toEqual(['add1', 'add2']);
    expect(ops(out)).toEqual(['Gemm', 'Relu', 'Gemm']);
    expect(out.initializers.get(out.nodes[2]!.inputs[2]!)!.shape).toEqual([3]);
    await expectSameInOrt(g, out, [2, 6]);
  });

  // ndDense (the TFLite writer): nn.Linear on [batch, tokens, features]
  const ndDense = (x: (number | string)[]): Graph => ({
    ...graph(
      [
        node('fc1', 'MatMul', ['x', 'k1'], ['m1']),
        node('add1', 'Add', ['m1', 'b1'], ['a1']),
        node('relu', 'Relu', ['a1'], ['r']),
        node('fc2', 'MatMul', ['r', 'k2'], ['m2']),
        node('add2', 'Add', ['b2', 'm2'], ['y']),
      ],
      { k1: f32([6, 5]), b1: f32([5]), k2: f32([5, 3]), b2: f32([1, 1, 3]) },
      [],
    ),
    inputs: [{ name: 'x', dtype: 'float32', shape: x }],
  });

  it('ndDense: MatMul (3-D input) + Add of [N] / [1,1,N] (either side): Reshape -> Gemm with that bias -> Reshape back', async () => {
    const g = ndDense([2, 4, 6]);
    const { graph: out, fused } = fuseBias(g, { ndDense: true });
    expect(fused).toEqual(['add1', 'add2']);
    expect(ops(out)).toEqual(['Reshape', 'Gemm', 'Reshape', 'Relu', 'Reshape', 'Gemm', 'Reshape']);
    const shapeOf = (k: number) => out.initializers.get(out.nodes[k]!.inputs[1]!)!.toNumbers();
    expect([shapeOf(0), shapeOf(2), shapeOf(4), shapeOf(6)]).toEqual([[-1, 6], [2, 4, 5], [-1, 5], [2, 4, 3]]);
    expect(out.initializers.get(out.nodes[5]!.inputs[2]!)!.shape).toEqual([3]);
    await expectSameInOrt(g, out, [2, 4, 6]);
    // without the option (the Keras / TF writers): left as it is
    expect(fuseBias(g).fused).toEqual([]);
  });

  it('ndDense: a batch known only at run time is -1 in the Reshape back; onnxruntime runs it at batch 3', async () => {
    const g = ndDense(['batch', 4, 6]);
    const { graph: out } = fuseBias(g, { ndDense: true });
    expect(out.initializers.get(out.nodes[2]!.inputs[1]!)!.toNumbers()).toEqual([-1, 4, 5]);
    await expectSameInOrt(g, out, [3, 4, 6]);
  });
});

describe('fuseBias leaves alone what it cannot prove equal', () => {
  const unchanged = (g: Graph): void => {
    const r = fuseBias(g);
    expect(r.fused).toEqual([]);
    expect(r.graph).toBe(g);
  };

  it('an Add of a full [1,C,H,W] constant, or of [C] (which broadcasts along W, not C)', () => {
    unchanged(convThen('Add', f32([1, 4, 5, 5])));
    unchanged(convThen('Add', f32([5]), { C: 5 }));
    unchanged(convThen('Add', f32([1, 4, 5, 1])));
  });

  it('a constant of higher rank than the output (the Add would add a dim)', () => {
    unchanged(convThen('Add', f32([1, 1, 4, 1, 1])));
  });

  it('constant - conv (would negate the weights)', () => {
    unchanged(convThen('Sub', f32([1, 4, 1, 1]), { first: true }));
  });

  it('a conv output that is also a graph output, or read by another node', () => {
    const g = convThen('Add', f32([1, 4, 1, 1]));
    unchanged({ ...g, outputs: [...g.outputs, { name: 'z', dtype: 'float32' }] });
    unchanged({ ...g, nodes: [...g.nodes, node('other', 'Relu', ['z'], ['z2'])], outputs: [...g.outputs, { name: 'z2', dtype: 'float32' }] });
  });

  it('an operand that is a graph input (an initializer the caller can override) or computed', () => {
    const g = convThen('Add', f32([1, 4, 1, 1]));
    unchanged({ ...g, inputs: [...g.inputs, { name: 'c', dtype: 'float32', shape: [1, 4, 1, 1] }] });
    unchanged({ ...g, inputs: [...g.inputs, { name: 'w', dtype: 'float32', shape: [4, 3, 3, 3] }] });
    unchanged({ ...g, nodes: [node('neg', 'Neg', ['c0'], ['c']), ...g.nodes], initializers: new Map([['w', g.initializers.get('w')!], ['c0', g.initializers.get('c')!]]) });
  });

  it('a computed existing bias, float16 weights, and a QDQ weight', () => {
    const g = convThen('Add', f32([1, 4, 1, 1]), { bias: true });
    unchanged({ ...g, nodes: [node('neg', 'Neg', ['b0'], ['b']), ...g.nodes], initializers: new Map([...g.initializers].map(([k, v]) => [k === 'b' ? 'b0' : k, v])) });
    const half = new Tensor('float16', [4, 3, 3, 3], new Uint16Array(108));
    unchanged({ ...g, initializers: new Map([['w', half], ['c', new Tensor('float16', [1, 4, 1, 1], new Uint16Array(4))]]), nodes: [{ ...g.nodes[0]!, inputs: ['x', 'w'] }, ...g.nodes.slice(1)] });
    const q = convThen('Add', f32([1, 4, 1, 1]));
    const inits = new Map(q.initializers);
    inits.set('wq', new Tensor('int8', [4, 3, 3, 3], new Int8Array(108)));
    inits.set('ws', Tensor.float32([], [0.1]));
    inits.delete('w');
    unchanged({ ...q, nodes: [node('dq', 'DequantizeLinear', ['wq', 'ws'], ['w']), ...q.nodes], initializers: inits });
  });

  it('a MatMul over a batch of matrices (no 2-D Gemm for it), and one with a computed weight', () => {
    const g = graph([node('fc', 'MatMul', ['x', 'k'], ['m']), node('add', 'Add', ['m', 'b'], ['y'])], { k: f32([6, 5]), b: f32([5]) }, [2, 3, 6]);
    unchanged(g);
    unchanged({ ...g, inputs: [...g.inputs, { name: 'k', dtype: 'float32', shape: [6, 5] }] });
  });

  it('ndDense: an Add of [T, N] (not one value per channel), two leading dims known only at run time, a 3-D weight', () => {
    const ndUnchanged = (g: Graph): void => {
      const r = fuseBias(g, { ndDense: true });
      expect(r.fused).toEqual([]);
      expect(r.graph).toBe(g);
    };
    const g = graph([node('fc', 'MatMul', ['x', 'k'], ['m']), node('add', 'Add', ['m', 'b'], ['y'])], { k: f32([6, 5]), b: f32([3, 5]) }, [2, 3, 6]);
    ndUnchanged(g);
    ndUnchanged({ ...g, initializers: new Map([['k', f32([6, 5])], ['b', f32([5])]]), inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 'tokens', 6] }] });
    ndUnchanged({ ...g, initializers: new Map([['k', f32([2, 6, 5])], ['b', f32([5])]]) });
  });

  it("opset < 7's Add with broadcast / axis attributes", () => {
    const g = convThen('Add', f32([4]));
    unchanged({ ...g, nodes: g.nodes.map((n) => (n.opType === 'Add' ? { ...n, attrs: { broadcast: int(1), axis: int(1) } } : n)), opsets: { '': 6 } });
  });
});

describe('fuseBias on channels-last nnport ops', () => {
  const cl = (conv: Node, w: Tensor, c: Tensor, C: number): { g: Graph; C: number } => ({
    g: { ...graph([conv, node('add', 'Add', ['z', 'c'], ['y'])], { w, c }, [1, 5, 5, 3]), opsets: { '': 13, nnport: 1 } },
    C,
  });
  const cases: Array<[string, { g: Graph; C: number }]> = [
    ['Conv HWIO + Add [C]', cl(node('conv', 'Conv', ['x', 'w'], ['z'], {}, 'nnport'), f32([3, 3, 3, 4]), f32([4]), 4)],
    ['Conv HWIO + Add [1,1,1,C]', cl(node('conv', 'Conv', ['x', 'w'], ['z'], {}, 'nnport'), f32([3, 3, 3, 4]), f32([1, 1, 1, 4]), 4)],
    ['Conv OHWI + Add [C]', cl(node('conv', 'Conv', ['x', 'w'], ['z'], { kernel_layout: str('OHWI') }, 'nnport'), f32([4, 3, 3, 3]), f32([4]), 4)],
    ['ConvTranspose HWOI (group 3) + Add [C]', cl(node('up', 'ConvTranspose', ['x', 'w'], ['z'], { group: int(3) }, 'nnport'), f32([2, 2, 2, 3]), f32([6]), 6)],
    ['ConvTranspose OHWI + Add scalar', cl(node('up', 'ConvTranspose', ['x', 'w'], ['z'], { kernel_layout: str('OHWI') }, 'nnport'), f32([5, 2, 2, 3]), f32([]), 5)],
  ];
  for (const [label, { g, C }] of cases) {
    it(`${label}: bias [${C}] with the constant's values`, () => {
      const { graph: out, fused } = fuseBias(g);
      expect(fused).toEqual(['add']);
      expect(out.nodes).toHaveLength(1);
      expect(out.nodes[0]!.outputs).toEqual(['y']);
      const b = out.initializers.get(out.nodes[0]!.inputs[2]!)!;
      const c = g.initializers.get('c')!.toFloat32();
      expect(Array.from(b.toFloat32())).toEqual(Array.from({ length: C }, (_, k) => c[c.length === 1 ? 0 : k]!));
      // a [C] constant is the bias as it is, under its own name (TF's 'conv1/bias' stays that)
      if (g.initializers.get('c')!.rank === 1) expect(out.nodes[0]!.inputs[2]).toBe('c');
      else expect(out.initializers.has('c')).toBe(false);
    });
  }

  it('an [C,1,1] constant after a channels-last conv broadcasts along H, W: left alone', () => {
    const { g } = cl(node('conv', 'Conv', ['x', 'w'], ['z'], {}, 'nnport'), f32([3, 3, 3, 4]), f32([4, 1, 1]), 4);
    expect(fuseBias(g).fused).toEqual([]);
  });
});
