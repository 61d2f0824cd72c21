// Op definitions: coverage of the runtime's ops and the channels-last convention, symbolic dims
// through shape subgraphs, typed errors naming the node, and the IR's import boundary.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../../src/ir/errors.js';
import { emptyGraph, type Attr, type Graph, type Node } from '../../../src/ir/graph.js';
import { inferShapes, OP_DEFS } from '../../../src/ir/ops/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ONNX_OPS } from '../../../src/runtime/ops/index.js';
import { REPO_ROOT } from '../../support/corpus.js';

const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): Node => ({ name: outputs[0]!, opType, domain, inputs, outputs, attrs });
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });

function graphOf(nodes: Node[], inputs: Graph['inputs'], init: Record<string, Tensor> = {}, opsets: Record<string, number> = { '': 17 }): Graph {
  const g = emptyGraph('t');
  g.nodes = nodes;
  g.inputs = inputs;
  g.initializers = new Map(Object.entries(init));
  g.outputs = [{ name: nodes[nodes.length - 1]!.outputs[0]!, dtype: 'float32' }];
  g.opsets = opsets;
  return g;
}

describe('op definitions', () => {
  it('define every op the runtime executes', () => {
    const missing = Object.keys(ONNX_OPS).filter((k) => !OP_DEFS[k]);
    expect(missing).toEqual([]);
    expect(Object.keys(ONNX_OPS).length).toBeGreaterThan(120);
  });

  it('are what the runtime kernels parse attributes with', () => {
    // the channels-last kernels wrap their NCHW twins, whose attrs are the definitions'
    const wrapped = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'Resize', 'DepthToSpace', 'SpaceToDepth'].map((o) => `nnport::${o}`));
    const own = Object.keys(ONNX_OPS).filter((k) => !wrapped.has(k) && ONNX_OPS[k]!.attrs !== OP_DEFS[k]?.attrs);
    expect(own).toEqual([]);
  });

  it('define the nnport channels-last ops of the convention', () => {
    const set = ['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LRN', 'Resize', 'DepthToSpace', 'SpaceToDepth'];
    for (const op of set) {
      const def = OP_DEFS[`nnport::${op}`];
      expect(def?.domain, op).toBe('nnport');
      expect(def?.opType, op).toBe(op);
    }
  });

  it('give every definition a layout class', () => {
    for (const [k, d] of Object.entries(OP_DEFS)) expect(['elementwise', 'broadcast', 'channel', 'spatial', 'axis', 'shape', 'matmul', 'source'], k).toContain(d.layout);
  });
});

describe('inferShapes', () => {
  it('carries a symbolic batch through Shape -> Gather -> Unsqueeze -> Concat -> Reshape', () => {
    const g = graphOf(
      [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'zero'], ['b'], { axis: int(0) }),
        node('Unsqueeze', ['b', 'axes'], ['b1']),
        node('Concat', ['b1', 'minus1'], ['spec'], { axis: int(0) }),
        node('Reshape', ['x', 'spec'], ['y']),
      ],
      [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 4, 5] }],
      { zero: Tensor.int64([], [0]), axes: Tensor.int64([1], [0]), minus1: Tensor.int64([1], [-1]) },
    );
    const { values } = inferShapes(g);
    expect(values.get('spec')).toMatchObject({ dtype: 'int64', shape: [2], data: ['batch', -1] });
    expect(values.get('y')).toMatchObject({ dtype: 'float32', shape: ['batch', 60] });
    expect(g.valueInfo?.find((v) => v.name === 'y')).toBeUndefined(); // a graph output, not value_info
    expect(g.valueInfo?.find((v) => v.name === 'spec')).toEqual({ name: 'spec', dtype: 'int64', shape: [2] });
  });

  it('keeps symbolic dims through Flatten, Slice, Split, Resize-to-Shape and Transpose', () => {
    const x = { name: 'x', dtype: 'float32' as const, shape: ['n', 4, 6, 8] as Array<number | string> };
    const g = graphOf(
      [
        node('Flatten', ['x'], ['f'], { axis: int(1) }),
        node('Slice', ['x', 'st', 'en', 'ax'], ['s']),
        node('Split', ['x'], ['p0', 'p1'], { axis: int(1), split: ints([1, 3]) }),
        node('Shape', ['x'], ['shp']),
        node('Slice', ['shp', 'zero1', 'two1', 'zero1'], ['nc']),
        node('Concat', ['nc', 'hw'], ['sizes'], { axis: int(0) }),
        node('Resize', ['x', '', '', 'sizes'], ['r'], { mode: { type: 'string', value: 'linear' } }),
        node('Transpose', ['r'], ['t'], { perm: ints([0, 2, 3, 1]) }),
      ],
      [x],
      { st: Tensor.int64([2], [0, 1]), en: Tensor.int64([2], [2 ** 62, -1]), ax: Tensor.int64([2], [0, 2]), zero1: Tensor.int64([1], [0]), two1: Tensor.int64([1], [2]), hw: Tensor.int64([2], [12, 16]) },
      { '': 12 },
    );
    const { values } = inferShapes(g);
    expect(values.get('f')?.shape).toEqual(['n', 192]);
    expect(values.get('s')?.shape).toEqual(['n', 4, 4, 8]);
    expect([values.get('p0')?.shape, values.get('p1')?.shape]).toEqual([['n', 1, 6, 8], ['n', 3, 6, 8]]);
    expect(values.get('sizes')?.data).toEqual(['n', 4, 12, 16]);
    expect(values.get('t')).toMatchObject({ dtype: 'float32', shape: ['n', 12, 16, 4] });
  });

  it('keeps what it can when an input has no shape', () => {
    const g = graphOf([node('Conv', ['x', 'w'], ['y']), node('Relu', ['y'], ['z'])], [{ name: 'x', dtype: 'float32' }], { w: Tensor.zeros('float32', [8, 3, 3, 3]) });
    const { values } = inferShapes(g);
    expect(values.get('y')).toEqual({ dtype: 'float32', shape: [null, 8, null, null] });
    expect(values.get('z')?.shape).toEqual([null, 8, null, null]);
  });

  it('leaves data-dependent dims unknown', () => {
    const g = graphOf([node('NonZero', ['x'], ['i'])], [{ name: 'x', dtype: 'float32', shape: [2, 3] }]);
    expect(inferShapes(g).values.get('i')).toMatchObject({ dtype: 'int64', shape: [2, null] });
  });

  it('infers nnport channels-last Conv (HWIO and OHWI) and ConvTranspose (HWOI) shapes', () => {
    const x = { name: 'x', dtype: 'float32' as const, shape: [1, 32, 30, 3] };
    const pads = { pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) };
    const hwio = graphOf([node('Conv', ['x', 'w'], ['y'], pads, 'nnport')], [x], { w: Tensor.zeros('float32', [3, 3, 3, 8]) }, { '': 17, nnport: 1 });
    expect(inferShapes(hwio).values.get('y')?.shape).toEqual([1, 16, 15, 8]);
    const ohwi = graphOf([node('Conv', ['x', 'w'], ['y'], { ...pads, kernel_layout: { type: 'string', value: 'OHWI' } }, 'nnport')], [x], { w: Tensor.zeros('float32', [8, 3, 3, 3]) }, { '': 17, nnport: 1 });
    expect(inferShapes(ohwi).values.get('y')?.shape).toEqual([1, 16, 15, 8]);
    const dw = graphOf([node('Conv', ['x', 'w'], ['y'], { group: int(3) }, 'nnport')], [x], { w: Tensor.zeros('float32', [3, 3, 1, 6]) }, { '': 17, nnport: 1 });
    expect(inferShapes(dw).values.get('y')?.shape).toEqual([1, 30, 28, 6]);
    const ct = graphOf([node('ConvTranspose', ['x', 'w'], ['y'], { strides: ints([2, 2]) }, 'nnport')], [x], { w: Tensor.zeros('float32', [3, 3, 5, 3]) }, { '': 17, nnport: 1 });
    expect(inferShapes(ct).values.get('y')?.shape).toEqual([1, 65, 61, 5]);
    const pool = graphOf([node('MaxPool', ['x'], ['y'], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }, 'nnport')], [x], {}, { '': 17, nnport: 1 });
    expect(inferShapes(pool).values.get('y')?.shape).toEqual([1, 16, 15, 3]);
  });

  it('throws a ShapeError naming the node when shapes do not fit', () => {
    const g = graphOf([node('Add', ['a', 'b'], ['sum'])], [
      { name: 'a', dtype: 'float32', shape: [2, 3] },
      { name: 'b', dtype: 'float32', shape: [4, 3] },
    ]);
    expect(() => inferShapes(g)).toThrow(ShapeError);
    expect(() => inferShapes(g)).toThrow(/node 'sum' \(Add\)/);
    const soft = inferShapes(g, { onError: 'unknown' });
    expect(soft.errors[0]).toMatch(/node 'sum' \(Add\).*do not broadcast/);
    expect(soft.values.get('sum')).toEqual({ dtype: 'float32', shape: undefined });
  });

  it('reports ops without a definition and leaves their outputs unknown', () => {
    const g = graphOf([node('Frobnicate', ['x'], ['y'], {}, 'com.example')], [{ name: 'x', dtype: 'float32', shape: [1] }]);
    const r = inferShapes(g);
    expect(r.unknownOps).toEqual(['com.example.Frobnicate']);
    expect(r.values.get('y')).toEqual({ dtype: 'float32', shape: undefined });
  });
});

it('src/ir imports nothing outside src/ir', () => {
  const root = resolve(REPO_ROOT, 'src/ir');
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  const outside: string[] = [];
  const files = walk(root).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      if (relative(root, resolve(f, '..', m[1]!)).startsWith('..')) outside.push(`${relative(REPO_ROOT, f)}: ${m[1]}`);
    }
  }
  expect(files.length).toBeGreaterThan(10);
  expect(outside).toEqual([]);
});

describe('inspect summary', () => {
  it('notes ops without shape inference and keeps going', async () => {
    const { summarize, formatSummary } = await import('../../../src/api/summary.js');
    const g = graphOf([node('Frobnicate', ['x'], ['y'], {}, 'com.example'), node('Relu', ['y'], ['z'])], [{ name: 'x', dtype: 'float32', shape: [1, 2] }]);
    const s = summarize({ kind: 'graph', format: 'onnx', graph: g } as never, 'm.onnx');
    expect(s.values).toEqual([
      { name: 'x', dtype: 'float32', shape: [1, 2], op: 'input' },
      { name: 'y', dtype: null, shape: null, op: 'com.example.Frobnicate' },
      { name: 'z', dtype: 'float32', shape: null, op: 'Relu' }, // the declared output's dtype
    ]);
    expect(s.shapeNotes).toEqual(['no shape inference for com.example.Frobnicate']);
    expect(formatSummary(s)).toMatch(/y\s+com.example.Frobnicate\s+\?\s+\[\?\]/);
    expect(formatSummary(s)).toMatch(/shapes: no shape inference for com.example.Frobnicate/);
  });
});
