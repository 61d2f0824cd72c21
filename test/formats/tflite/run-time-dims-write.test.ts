// Ops over several dims known only at run time, as a two-stage detector's box decoder has them after
// its RPN's NMS (the box count and, through a computed Reshape, the class count): Unsqueeze (EXPAND_DIMS),
// Flatten (RESHAPE to the products of the run-time SHAPE), a strided Slice (`rel_codes[:, 0::4]`:
// STRIDED_SLICE with the end mask) and reversed ones (`x[::-1]`, `x[-2::-2]`, `x[:1:-1]`), Expand to a run-time shape (`labels.expand_as(scores)`:
// BROADCAST_ARGS then BROADCAST_TO), NonZero of a score vector, none of it non-zero included (WHERE,
// then a TRANSPOSE of the [count, 1] coordinates, count 0). Each a one-node .tflite run by the real TFLite interpreter with
// its input's stored dims set for the run, against onnxruntime-node on the same node; exact.
import { describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Attr, Dim, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const node = (opType: string, inputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: opType, opType, domain: '', inputs, outputs: ['y'], attrs });
const ints = (value: number[]): Attr => ({ type: 'ints', value });

interface Case {
  what: string;
  nodes: Node[];
  /** the input's declared shape (symbolic dims are dynamic in the file) and the fed one */
  declared: Dim[];
  fed: number[];
  initializers?: Array<[string, Tensor]>;
  /** the fed values (else random in [-1, 1)) */
  values?: number[];
  /** a second input 's' (int32): the shape an Expand takes, fed at run time */
  shapeInput?: number[];
  op: string;
}

const CASES: Case[] = [
  { what: 'Unsqueeze of two run-time dims', nodes: [node('Unsqueeze', ['x', 'axes'])], declared: ['k', 'c'], fed: [6, 5], initializers: [['axes', Tensor.int64([1], [2])]], op: 'EXPAND_DIMS' },
  { what: 'Unsqueeze of two run-time dims, two new axes', nodes: [node('Unsqueeze', ['x', 'axes'])], declared: ['k', 'c'], fed: [3, 2], initializers: [['axes', Tensor.int64([2], [0, -1])]], op: 'EXPAND_DIMS' },
  { what: 'Flatten axis 1 of two run-time dims', nodes: [node('Flatten', ['x'], { axis: { type: 'int', value: 1 } })], declared: ['k', 'c', 4], fed: [6, 5, 4], op: 'REDUCE_PROD' },
  { what: 'Flatten axis 2 of two run-time dims', nodes: [node('Flatten', ['x'], { axis: { type: 'int', value: 2 } })], declared: ['k', 'c', 2, 'd'], fed: [3, 5, 2, 2], op: 'REDUCE_PROD' },
  // (NonZero's int64 coordinates cast to float: the Web API returns no int64)
  ...[[0, 0.5, 0, -2, 0], [0, 0, 0, 0, 0]].map((values): Case => ({
    what: `NonZero of a 1-D input of run-time length, ${values.filter(Boolean).length} non-zero`,
    nodes: [{ ...node('NonZero', ['x']), outputs: ['nz'] }, node('Cast', ['nz'], { to: { type: 'int', value: 1 } })],
    declared: ['k'],
    fed: [5],
    values,
    op: 'WHERE',
  })),
  {
    what: 'Slice [:, 1::4] of a run-time dim',
    nodes: [node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'])],
    declared: ['k', 'c'],
    fed: [6, 22],
    initializers: [['starts', Tensor.int64([1], [1])], ['ends', Tensor.int64([1], [2n ** 63n - 1n])], ['axes', Tensor.int64([1], [1])], ['steps', Tensor.int64([1], [4])]],
    op: 'STRIDED_SLICE',
  },
  // (x[::-1] of a run-time length: before, sliced from the stored size 1, one row)
  ...[
    [-1, -(2n ** 63n), -1],
    [-2, -(2n ** 63n), -2],
    [2n ** 63n - 1n, 1, -1],
  ].map(([start, end, step]): Case => ({
    what: `Slice [${start}:${end}:${step}] of a run-time dim`,
    nodes: [node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'])],
    declared: ['k', 3],
    fed: [7, 3],
    initializers: [['starts', Tensor.int64([1], [start!])], ['ends', Tensor.int64([1], [end!])], ['axes', Tensor.int64([1], [0])], ['steps', Tensor.int64([1], [step!])]],
    op: 'STRIDED_SLICE',
  })),
  {
    what: 'Expand of a row to the run-time shape of another value',
    // (x's first row, expanded to a shape fed at run time, as an NMS-made count is known: [7, 5])
    nodes: [{ ...node('Cast', ['s'], { to: { type: 'int', value: 7 } }), outputs: ['shape'] }, { ...node('Slice', ['x', 'zero', 'one', 'zero']), outputs: ['row'] }, node('Expand', ['row', 'shape'])],
    declared: ['k', 5],
    fed: [7, 5],
    shapeInput: [7, 5],
    initializers: [['zero', Tensor.int64([1], [0])], ['one', Tensor.int64([1], [1])]],
    op: 'BROADCAST_ARGS',
  },
];

describe('ops over several run-time dims: .tflite in the interpreter vs onnxruntime-node', () => {
  for (const c of CASES) {
    it(c.what, { timeout: 60_000 }, async () => {
      const g: Graph = {
        name: c.what,
        nodes: c.nodes,
        inputs: [{ name: 'x', dtype: 'float32', shape: c.declared }, ...(c.shapeInput ? [{ name: 's', dtype: 'int32' as const, shape: [c.shapeInput.length] }] : [])],
        outputs: [{ name: 'y', dtype: 'float32' }],
        initializers: new Map(c.initializers ?? []),
        opsets: { '': 13 },
      } as Graph;
      const r = rng(7);
      const x = Tensor.float32(c.fed, c.values ?? Float32Array.from({ length: c.fed.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
      const s = c.shapeInput ? new Tensor('int32', [c.shapeInput.length], Int32Array.from(c.shapeInput)) : undefined;
      const want = [...(await ortRun(g, s ? { x, s } : { x })).values()][0]!;
      const bytes = await writeTflite(g, { fileName: 'dims.tflite' });
      expect(tfliteOpNames(bytes, 'dims.tflite')).toContain(c.op);
      let file = bytes;
      c.declared.forEach((d, axis) => typeof d === 'string' && (file = withStoredDim(file, axis, c.fed[axis]!)));
      const inputs = await oracle.inputs(file);
      const [y] = await oracle.run(file, inputs.map((i) => (i.name.startsWith('s') ? (s!.data as Int32Array) : (x.data as Float32Array))), 1, 1);
      expect(y!.shape).toEqual(want.shape);
      expect(maxAbsDiff(y!.data as Float32Array, want.toFloat32())).toBe(0);
    });
  }
});
