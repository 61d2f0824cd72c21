// Einsum lowered to Transpose / Reshape / MatMul / ReduceSum / Slice / Concat
// (src/passes/lower-einsum.ts): the lowered graph, run by nnport's executor, against
// onnxruntime-node's own Einsum on the original node, over many equations with seeded random
// extents and data; constant operands (weights) and the Keras / TF.js form (batchAxis) too.
import { beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Dim, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { lowerEinsum, type LowerEinsumOptions } from '../../../src/passes/lower-einsum.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';

beforeAll(async () => {
  await initKernels();
});

interface Case {
  eq: string;
  /** each operand's shape: letters take the case's random extents, digits are fixed extents */
  shapes: string[];
  /** operands given as initializers (weights) */
  constants?: number[];
  opset?: number;
}

/** Extents per letter from the seed (2..5), so every case has distinct, non-trivial sizes. */
function extents(seed: number): Map<string, number> {
  const r = rng(seed);
  return new Map([...'abcdefghijklmnopqrstuvwxyz'].map((c) => [c, 2 + Math.floor(r() * 4)]));
}

function shapeOf(spec: string, ext: Map<string, number>): number[] {
  return [...spec].map((c) => (/[0-9]/.test(c) ? Number(c) : ext.get(c)!));
}

function einsumGraph(c: Case, shapes: number[][], data: Tensor[], inputShapes?: Dim[][]): Graph {
  const names = shapes.map((_, i) => `x${i}`);
  const consts = new Set(c.constants ?? []);
  return {
    name: 'einsum',
    nodes: [{ name: 'einsum', opType: 'Einsum', domain: '', inputs: names, outputs: ['y'], attrs: { equation: { type: 'string', value: c.eq } } }],
    inputs: names.flatMap((n, i) => (consts.has(i) ? [] : [{ name: n, dtype: 'float32' as const, shape: inputShapes?.[i] ?? shapes[i]! }])),
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(names.flatMap((n, i) => (consts.has(i) ? [[n, data[i]!] as const] : []))),
    opsets: { '': c.opset ?? 13 },
  };
}

/** Lower the case, run it with nnport, run the original in onnxruntime; the relative error. */
async function check(c: Case, seed: number, options: LowerEinsumOptions = {}, dynamic?: (i: number, shape: number[]) => Dim[]): Promise<{ err: number; ops: string[] }> {
  const ext = extents(seed);
  const shapes = c.shapes.map((s) => shapeOf(s, ext));
  const r = rng(seed + 1000);
  const data = shapes.map((s) => Tensor.float32(s, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1)));
  const g = einsumGraph(c, shapes, data, dynamic ? shapes.map((s, i) => dynamic(i, s)) : undefined);
  const consts = new Set(c.constants ?? []);
  const feeds = new Map(data.flatMap((t, i) => (consts.has(i) ? [] : [[`x${i}`, t] as const])));
  const want = await ortFirst(g, Object.fromEntries(feeds));
  const { graph, lowered } = lowerEinsum(g, options);
  expect(lowered).toEqual(['einsum']);
  const ops = graph.nodes.map((n) => n.opType);
  expect(ops).not.toContain('Einsum');
  const got = (await runGraph(graph, feeds)).outputs.get('y')!;
  expect(got.shape).toEqual(want.shape);
  return { err: relErr(got.toFloat32(), want.toFloat32()), ops };
}

const CASES: Case[] = [
  // attention
  { eq: 'bhqd,bhkd->bhqk', shapes: ['bhqd', 'bhkd'] },
  { eq: 'bhqk,bhkd->bhqd', shapes: ['bhqk', 'bhkd'] },
  { eq: 'bqhd,bkhd->bhqk', shapes: ['bqhd', 'bkhd'] },
  // bilinear (weight in the middle), projections, weights on the left
  { eq: 'bi,oij,bj->bo', shapes: ['bi', 'oij', 'bj'], constants: [1] },
  { eq: 'bnc,cd->bnd', shapes: ['bnc', 'cd'], constants: [1] },
  { eq: 'dc,bnc->bnd', shapes: ['dc', 'bnc'], constants: [0] },
  { eq: 'bnc,cd->bnd', shapes: ['bnc', 'cd'] },
  { eq: 'bchw,oc->bohw', shapes: ['bchw', 'oc'], constants: [1] },
  { eq: 'abcde,ef->abcdf', shapes: ['abcde', 'ef'], constants: [1] },
  // products without a sum, sums, transposes, diagonals
  { eq: 'bi,bj->bij', shapes: ['bi', 'bj'] },
  { eq: 'i,j->ij', shapes: ['i', 'j'] },
  { eq: 'ij,ij->ij', shapes: ['ij', 'ij'] },
  { eq: 'abcd,abcd->abcd', shapes: ['abcd', 'abcd'] },
  { eq: 'ij,ij->i', shapes: ['ij', 'ij'] },
  { eq: 'i,i->', shapes: ['i', 'i'] },
  { eq: 'ij->', shapes: ['ij'] },
  { eq: 'bij->bj', shapes: ['bij'] },
  { eq: 'ijk->jik', shapes: ['ijk'] },
  { eq: 'ij->ji', shapes: ['ij'] },
  { eq: 'ij->ij', shapes: ['ij'] },
  { eq: 'ii->i', shapes: ['ii'] },
  { eq: 'ii->', shapes: ['ii'] },
  { eq: 'bii->bi', shapes: ['bii'] },
  { eq: 'iij->j', shapes: ['iij'] },
  { eq: 'iii->i', shapes: ['iii'] },
  { eq: 'ij,jj->i', shapes: ['ij', 'jj'] },
  { eq: 'jj,ij->i', shapes: ['jj', 'ij'], constants: [0] },
  // matmuls, chains, implicit output, a weight summed over its own label
  { eq: 'ij,jk->ik', shapes: ['ij', 'jk'] },
  { eq: 'ij,jk', shapes: ['ij', 'jk'] },
  { eq: 'ba,ca', shapes: ['ba', 'ca'] },
  { eq: 'ij,jk,kl->il', shapes: ['ij', 'jk', 'kl'] },
  { eq: 'ijk,ikl,ilm->jm', shapes: ['ijk', 'ikl', 'ilm'] },
  { eq: 'bij,bjk->bik', shapes: ['bij', 'bjk'] },
  { eq: 'bij,jk->bik', shapes: ['bij', 'jk'], constants: [1] },
  { eq: 'bi,ij,jk->bk', shapes: ['bi', 'ij', 'jk'], constants: [1, 2] },
  { eq: 'bi,ijz->bj', shapes: ['bi', 'ijz'], constants: [1] },
  { eq: 'abcde,aecf->bdf', shapes: ['abcde', 'aecf'] },
  { eq: 'abcde,abcde->abcd', shapes: ['abcde', 'abcde'] },
  { eq: 'bxi,bxj->xij', shapes: ['bxi', 'bxj'] },
  // ellipses, broadcasting ones
  { eq: '...ij,...jk->...ik', shapes: ['aij', 'ajk'] },
  { eq: '...ij,...jk->...ik', shapes: ['a1ij', 'abjk'] },
  { eq: 'b...d,b...d->b...', shapes: ['bxyd', 'bxyd'] },
  { eq: '...i,...i', shapes: ['abi', '1bi'] },
  { eq: 'i...->...', shapes: ['iab'] },
  // opset 12 (ReduceSum's axes an attribute)
  { eq: 'ij->j', shapes: ['ij'], opset: 12 },
  { eq: 'bhqd,bhkd->bhqk', shapes: ['bhqd', 'bhkd'], opset: 12 },
];

describe('lowerEinsum vs onnxruntime-node Einsum', () => {
  it('computes what Einsum does over attention, bilinear, projection, outer-product, sum, transpose, diagonal and ellipsis equations', async () => {
    let worst = 0;
    for (const [k, c] of CASES.entries()) {
      for (const seed of [1, 2]) {
        const { err, ops } = await check(c, 17 * k + seed).catch((e: Error) => {
          throw new Error(`${c.eq}: ${e.message}`);
        });
        if (err > 1e-5) throw new Error(`${c.eq} (seed ${seed}): ${err} (${ops.join(' ')})`);
        worst = Math.max(worst, err);
      }
    }
    console.log(`${CASES.length} equations x 2 seeds, worst relative error vs onnxruntime ${worst.toExponential(2)}`);
  });

  it('writes a weight operand as a 2-D MatMul weight (FULLY_CONNECTED / Dense) and keeps attention at rank 4', async () => {
    const proj = lowerEinsum(einsumGraph({ eq: 'bnc,cd->bnd', shapes: [], constants: [1] }, [[2, 3, 4], [4, 5]], [Tensor.float32([2, 3, 4]), Tensor.float32([4, 5])]));
    const mm = proj.graph.nodes.find((n) => n.opType === 'MatMul')!;
    expect(proj.graph.initializers.get(mm.inputs[1]!)?.shape).toEqual([4, 5]);
    expect(proj.graph.nodes.map((n) => n.opType)).toEqual(['MatMul']);
    const att = lowerEinsum(einsumGraph({ eq: 'bhqd,bhkd->bhqk', shapes: [] }, [[2, 4, 5, 8], [2, 4, 6, 8]], []));
    expect(att.graph.nodes.map((n) => n.opType)).toEqual(['Transpose', 'MatMul']);
  });

  it('keeps a dynamic batch dim as -1 (one unknown dim per Reshape) and refuses two by name', async () => {
    const dyn = (i: number, s: number[]): Dim[] => ['N', ...s.slice(1)];
    for (const c of [
      { eq: 'bhqd,bhkd->bhqk', shapes: ['bhqd', 'bhkd'] },
      { eq: 'bnc,cd->bnd', shapes: ['bnc', 'cd'], constants: [1] },
      { eq: 'bi,oij,bj->bo', shapes: ['bi', 'oij', 'bj'], constants: [1] },
      { eq: 'bxi,bxj->xij', shapes: ['bxi', 'bxj'] },
    ]) {
      const { err } = await check(c, 5, {}, (i, s) => ((c.constants ?? []).includes(i) ? s : dyn(i, s)));
      expect(err, c.eq).toBeLessThanOrEqual(1e-5);
    }
    const two = einsumGraph({ eq: 'abc,cd->abd', shapes: [], constants: [1] }, [[2, 3, 4], [4, 5]], [Tensor.float32([2, 3, 4]), Tensor.float32([4, 5])], [['N', 'T', 4]]);
    // a [N*T, 4] x [4, 5] product is fine with the free axes kept...
    expect(() => lowerEinsum(two)).not.toThrow();
    // ...but merging them into one batch, with a third operand, needs two unknowns in one Reshape
    const g3 = einsumGraph({ eq: 'abcd,abcd->abcd', shapes: [] }, [[2, 3, 4, 5], [2, 3, 4, 5]], [], [['N', 'T', 4, 5], ['N', 'T', 4, 5]]);
    expect(() => lowerEinsum(g3)).toThrow(/Einsum 'abcd,abcd->abcd'.*more than one dim of unknown size/);
  });

  it('batchAxis (Keras / TF.js): axis 0 never moves, sums are Dense with ones, extra batch labels unrolled; computes the same', async () => {
    const keras: Case[] = [
      { eq: 'bhqd,bhkd->bhqk', shapes: ['bhqd', 'bhkd'] },
      { eq: 'bhqk,bhkd->bhqd', shapes: ['bhqk', 'bhkd'] },
      { eq: 'bqhd,bkhd->bhqk', shapes: ['bqhd', 'bkhd'] },
      { eq: 'bi,oij,bj->bo', shapes: ['bi', 'oij', 'bj'], constants: [1] },
      { eq: 'bnc,cd->bnd', shapes: ['bnc', 'cd'], constants: [1] },
      { eq: 'dc,bnc->bnd', shapes: ['dc', 'bnc'], constants: [0] },
      { eq: 'bi,bj->bij', shapes: ['bi', 'bj'] },
      { eq: 'bij->bj', shapes: ['bij'] },
      { eq: 'bij->bji', shapes: ['bij'] },
      { eq: 'bij,bjk->bik', shapes: ['bij', 'bjk'] },
      { eq: 'bij,bij->b', shapes: ['bij', 'bij'] },
    ];
    for (const [k, c] of keras.entries()) {
      const { err, ops } = await check(c, 300 + k, { batchAxis: true });
      expect(err, c.eq).toBeLessThanOrEqual(1e-5);
      expect(ops, c.eq).not.toContain('ReduceSum');
    }
    // the heads of 'bhqd,bhkd->bhqk': one rank-3 MatMul per head
    const g = einsumGraph({ eq: 'bhqd,bhkd->bhqk', shapes: [] }, [[2, 4, 5, 8], [2, 4, 6, 8]], [], [[null, 4, 5, 8], [null, 4, 6, 8]]);
    const { graph } = lowerEinsum(g, { batchAxis: true });
    expect(graph.nodes.filter((n) => n.opType === 'MatMul')).toHaveLength(4);
    for (const n of graph.nodes.filter((x) => x.opType === 'Transpose')) expect((n.attrs.perm!.value as number[])[0]).toBe(0);
  });

  it('refuses by name what a layers model cannot hold, and unknown shapes', () => {
    const refused = (eq: string, shapes: number[][], options: LowerEinsumOptions, re: RegExp) => {
      const g = einsumGraph({ eq, shapes: [] }, shapes, []);
      expect(() => lowerEinsum(g, { format: 'keras-h5', ...options })).toThrow(UnsupportedError);
      expect(() => lowerEinsum(g, { format: 'keras-h5', ...options })).toThrow(re);
    };
    refused('bii->bi', [[2, 3, 3]], { batchAxis: true }, /Einsum 'bii->bi' in a keras-h5 file.*repeated within one operand/);
    refused('ij,jk->ik', [[2, 3], [3, 4]], { batchAxis: true }, /first axes carry different labels/);
    refused('bij->ijb', [[2, 3, 4]], { batchAxis: true }, /does not keep label 'b'/);
    refused('bhqd,bhkd->bhqk', [[2, 9, 3, 4], [2, 9, 5, 4]], { batchAxis: true, maxUnroll: 8 }, /9 products, more than the 8/);
    const g = einsumGraph({ eq: 'ij,jk->ik', shapes: [] }, [[2, 3], [3, 4]], []);
    g.inputs[0]!.shape = undefined;
    expect(() => lowerEinsum(g)).toThrow(/operand 'x0' has an unknown shape/);
  });
});
