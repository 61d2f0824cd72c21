// 6-D Transposes (MaxViT's block / grid partitions) written as TRANSPOSEs of at most 5 dims: TRANSPOSE
// version 6 (6-D) needs TFLite 2.12, and the interpreter here refuses it ("Didn't find op for builtin
// opcode 'TRANSPOSE' version '6'"). Each file is run by that interpreter against onnxruntime-node on
// the ONNX Transpose; the file must hold no TRANSPOSE over 5 dims.
import { describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle, withStoredDim, type FlatcOps } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

function transposeGraph(shape: (number | string)[], perm: number[]): Graph {
  return {
    name: 'transpose6d',
    nodes: [{ name: 't', domain: '', opType: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: { type: 'ints', value: perm } } }],
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': 13 },
  };
}

interface Flat extends FlatcOps<{ opcode_index?: number; inputs: number[] }> {
  subgraphs: { operators: { opcode_index?: number; inputs: number[] }[]; tensors: { shape?: number[] }[] }[];
  operator_codes: { builtin_code?: string; version?: number }[];
}

/** the rank of every TRANSPOSE's input in the file */
function transposeRanks(bytes: Uint8Array): number[] {
  const json = flatcJson<Flat>(bytes, 'transpose6d');
  const sg = json.subgraphs[0]!;
  return sg.operators.filter((o) => json.operator_codes[o.opcode_index ?? 0]!.builtin_code === 'TRANSPOSE').map((o) => (sg.tensors[o.inputs[0]!]!.shape ?? []).length);
}

const CASES: [string, number[], number[]][] = [
  // MaxViT's window partition after the layout pass: [B, H/p, p, W/p, p, C] -> [B, H/p, W/p, p, p, C]
  ['partition (batch 1 and C merge away)', [1, 2, 3, 4, 5, 6], [0, 1, 3, 2, 4, 5]],
  // all six dims > 1 and no two kept together: moves of one dim at a time
  ['reversal', [2, 3, 2, 4, 3, 2], [5, 4, 3, 2, 1, 0]],
  ['interleave', [2, 3, 4, 2, 3, 2], [1, 3, 5, 0, 2, 4]],
  ['two pairs kept', [2, 3, 4, 2, 3, 2], [4, 5, 0, 1, 3, 2]],
];

describe('6-D Transpose -> TRANSPOSEs of at most 5 dims, run by the interpreter vs onnxruntime', () => {
  it.each(CASES)('%s', async (_name, shape, perm) => {
    const g = transposeGraph(shape, perm);
    const r = rng(shape.reduce((a, b) => a * b, 1));
    const x = Tensor.float32(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
    const want = (await ortRun(g, { x })).get('y')!;
    const bytes = await writeTflite(g, { fileName: 'transpose6d.tflite', keepNchwIo: true });
    const ranks = transposeRanks(bytes);
    expect(ranks.length).toBeGreaterThan(0);
    expect(Math.max(...ranks)).toBeLessThanOrEqual(5);
    const [got] = await oracle.run(bytes, [x.toFloat32()]);
    expect(got!.shape).toEqual([...want.shape]);
    // pure data movement: equal, not close
    expect(Array.from(got!.data as Float32Array)).toEqual(Array.from(want.toFloat32()));
  });

  it('a dynamic batch stays one -1 through the reshapes (stored as 1, run at 3)', async () => {
    const perm = [5, 4, 3, 2, 1, 0];
    const g = transposeGraph(['N', 3, 2, 4, 3, 2], perm);
    const bytes = withStoredDim(await writeTflite(g, { fileName: 'transpose6d.tflite', keepNchwIo: true }), 0, 3);
    expect(Math.max(...transposeRanks(bytes))).toBeLessThanOrEqual(5);
    const shape = [3, 3, 2, 4, 3, 2];
    const r = rng(7);
    const x = Tensor.float32(shape, Float32Array.from({ length: 432 }, () => r() * 2 - 1));
    const want = (await ortRun(transposeGraph(shape, perm), { x })).get('y')!;
    const [got] = await oracle.run(bytes, [x.toFloat32()]);
    expect(got!.shape).toEqual([...want.shape]);
    expect(Array.from(got!.data as Float32Array)).toEqual(Array.from(want.toFloat32()));
  });
});
