// TensorFlow's NonMaxSuppression (V1-V5), Einsum, ReverseSequence and MatrixDeterminant read by
// nnport where the GraphDef writer's round trip does not reach them (the ONNX backend read-back,
// test/conformance/graphdef-readback.test.ts, covers unpadded V5 per batch x class and the ONNX-shaped
// forms): padded V4 / V5 with valid_outputs and V5's selected_scores, V1's iou_threshold attribute,
// V2 without a score threshold, ReverseSequence on axes beyond 0 and 1, Einsum with ellipses and
// three operands. Oracle: the NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py: TF's
// DoNonMaxSuppressionOp, np.einsum, its reverse_sequence, np.linalg.det) on a hand-made .pb; a
// V1-V4 graph is compared with the runner's answer for the same selection written as V5, which
// TF documents as the same op plus soft-NMS and the scores output. Soft-NMS is refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { rng } from '../../support/rng.js';
import { pythonRun } from './python-runs.js';

beforeAll(async () => {
  await initKernels();
});

const DT = { float32: 1, int32: 3 } as const;
const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
const bytes = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);

function constNode(name: string, t: Tensor): tensorflow.NodeDef.$Properties {
  const type = t.dtype === 'int32' ? DT.int32 : DT.float32;
  return { name, op: 'Const', attr: { dtype: { type }, value: { tensor: { dtype: type, tensor_shape: shape(...t.shape), tensor_content: bytes(t.data as Float32Array) } } } };
}
const i32 = (v: number) => new Tensor('int32', [], Int32Array.from([v]));
const f32 = (v: number) => Tensor.float32([], [v]);

const r = rng(907);
const N = 60;
// corners in either diagonal order, a few of zero area; scores on a 0.05 grid so that many tie
const BOXES = Tensor.float32(
  [N, 4],
  Array.from({ length: N }, (_, i) => {
    const y = r() * 10;
    const x = r() * 10;
    const h = i % 17 === 3 ? 0 : 0.5 + r() * 3.5;
    const w = 0.5 + r() * 3.5;
    return i % 5 === 1 ? [y + h, x + w, y, x] : [y, x, y + h, x + w];
  }).flat(),
);
const SCORES = Tensor.float32([N], Array.from({ length: N }, () => Math.round(r() * 20) / 20));

interface Nms {
  version: 1 | 2 | 3 | 4 | 5;
  max: number;
  iou: number;
  score?: number;
  pad?: boolean;
  sigma?: number;
}

/** A .pb with scores fed (Placeholder 'x') and a NonMaxSuppression node 'nms' over constant boxes. */
function nmsGraph(n: Nms): Uint8Array {
  const op = n.version === 1 ? 'NonMaxSuppression' : `NonMaxSuppressionV${n.version}`;
  const inputs = ['boxes', 'x', 'max'];
  const nodes: tensorflow.NodeDef.$Properties[] = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: DT.float32 }, shape: { shape: shape(N) } } },
    constNode('boxes', BOXES),
    constNode('max', i32(n.max)),
  ];
  const attr: Record<string, tensorflow.AttrValue.$Properties> = { T: { type: DT.float32 } };
  if (n.version === 1) attr.iou_threshold = { f: n.iou };
  else {
    nodes.push(constNode('iou', f32(n.iou)));
    inputs.push('iou');
    attr.T_threshold = { type: DT.float32 };
  }
  if (n.version >= 3) {
    nodes.push(constNode('score', f32(n.score ?? -Infinity)));
    inputs.push('score');
  }
  if (n.version === 5) {
    nodes.push(constNode('sigma', f32(n.sigma ?? 0)));
    inputs.push('sigma');
  }
  if (n.version >= 4) attr.pad_to_max_output_size = { b: !!n.pad };
  nodes.push({ name: 'nms', op, input: inputs, attr });
  return enc({ node: nodes });
}

const LOWEST_F32 = -3.4028234663852886e38;

/** The NumPy runner's answer for the selection of `n` written as V5: indices, scores, valid count. */
function runnerAnswer(n: Nms, tag: string): Tensor[] {
  const v5: Nms = { ...n, version: 5, score: n.version >= 3 ? n.score : LOWEST_F32, pad: n.version >= 4 && n.pad, sigma: 0 };
  if (n.version === 1 || n.version === 2) v5.score = LOWEST_F32;
  const got = pythonRun('numpy', `read-nms-${tag}`, nmsGraph(v5), SCORES, ['nms:0', 'nms:1', 'nms:2']);
  return ['nms:0', 'nms:1', 'nms:2'].map((o) => got.get(o)!);
}

async function ours(n: Nms, outputs: string[]): Promise<Tensor[]> {
  const graph = await readGraphDef(nmsGraph(n), { fileName: 'nms.pb', outputs });
  const outs = (await runGraph(graph, new Map([['x', SCORES]]))).outputs;
  return outputs.map((o) => outs.get(o)!);
}

describe('TF NonMaxSuppression read, against the NumPy runner (TF kernel semantics)', () => {
  const cases: [string, Nms][] = [
    ['V5 padded', { version: 5, max: 40, iou: 0.3, score: 0.2, pad: true }],
    ['V5 unpadded', { version: 5, max: 40, iou: 0.3, score: 0.2 }],
    ['V5 padded, max below the selected count', { version: 5, max: 4, iou: 0.5, score: 0, pad: true }],
    ['V4 padded', { version: 4, max: 45, iou: 0.45, score: 0.35, pad: true }],
    ['V4 unpadded', { version: 4, max: 45, iou: 0.45, score: 0.35 }],
    ['V3', { version: 3, max: 30, iou: 0.25, score: 0.5 }],
    ['V2 (no score threshold)', { version: 2, max: 50, iou: 0.6 }],
    ['V1 (iou_threshold attribute)', { version: 1, max: 50, iou: 0.4 }],
  ];
  it.each(cases)('%s', async (tag, n) => {
    const [wantIdx, wantScores, wantValid] = runnerAnswer(n, tag.replace(/[^A-Za-z0-9]+/g, '-'));
    const outputs = n.version === 5 ? ['nms', 'nms:1', 'nms:2'] : n.version === 4 ? ['nms', 'nms:1'] : ['nms'];
    const got = await ours(n, outputs);
    const idx = got[0]!;
    expect(idx.dtype).toBe('int32');
    expect(idx.toNumbers()).toEqual(wantIdx!.toNumbers());
    // the case selects boxes and (when padded) pads
    expect(wantValid!.toNumbers()[0]).toBeGreaterThan(0);
    if (n.pad) expect(idx.shape).toEqual([n.max]);
    if (n.version === 5) {
      expect(got[1]!.dtype).toBe('float32');
      expect(got[1]!.toNumbers()).toEqual(wantScores!.toNumbers());
    }
    if (n.version >= 4) {
      const valid = got[n.version === 5 ? 2 : 1]!;
      expect([valid.dtype, valid.shape, valid.toNumbers()]).toEqual(['int32', [], wantValid!.toNumbers()]);
    }
  });

  it('the padded cases pad: fewer boxes survive than max_output_size', () => {
    const [, , valid] = runnerAnswer({ version: 5, max: 40, iou: 0.3, score: 0.2, pad: true }, 'V5-padded');
    expect(valid!.toNumbers()[0]).toBeLessThan(40);
  });

  it('refuses soft-NMS (soft_nms_sigma != 0) by name', async () => {
    const read = readGraphDef(nmsGraph({ version: 5, max: 10, iou: 0.5, score: 0, sigma: 0.5 }), { fileName: 'soft-nms.pb', outputs: ['nms'] });
    await expect(read).rejects.toThrow(UnsupportedError);
    await expect(readGraphDef(nmsGraph({ version: 5, max: 10, iou: 0.5, score: 0, sigma: 0.5 }), { fileName: 'soft-nms.pb', outputs: ['nms'] })).rejects.toThrow(/soft_nms_sigma 0.5/);
  });
});

describe('TF Einsum / ReverseSequence / MatrixDeterminant read, against the NumPy runner', () => {
  /** One op over Placeholder 'x' (the fed input) and constants. */
  function graph(op: string, x: Tensor, consts: Tensor[], attr: Record<string, tensorflow.AttrValue.$Properties>, first = true): Uint8Array {
    const names = consts.map((_, i) => `c${i}`);
    return enc({
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: DT.float32 }, shape: { shape: shape(...x.shape) } } },
        ...consts.map((t, i) => constNode(names[i]!, t)),
        { name: 'z', op, input: first ? ['x', ...names] : [...names, 'x'], attr: { T: { type: DT.float32 }, ...attr } },
      ],
    });
  }
  const rand = (shp: number[]) => Tensor.float32(shp, Array.from({ length: shp.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));

  async function check(tag: string, pb: Uint8Array, x: Tensor): Promise<void> {
    const want = pythonRun('numpy', `read-${tag}`, pb, x, ['z']).get('z')!;
    const g = await readGraphDef(pb, { fileName: `${tag}.pb`, outputs: ['z'] });
    const got = (await runGraph(g, new Map([['x', x]]))).outputs.get('z')!;
    expect(got.shape).toEqual(want.shape);
    const w = want.toNumbers();
    got.toNumbers().forEach((v, i) => expect(v, `${tag} element ${i}`).toBeCloseTo(w[i]!, 4));
  }

  it('Einsum with a broadcast ellipsis, and with three operands', async () => {
    const x = rand([2, 3, 4, 5]);
    await check('einsum-ellipsis', graph('Einsum', x, [rand([1, 3, 5, 2])], { equation: { s: new TextEncoder().encode('...ij,...jk->...ik') }, N: { i: 2 } }), x);
    const y = rand([3, 4]);
    await check('einsum-three', graph('Einsum', y, [rand([4, 5]), rand([5, 2])], { equation: { s: new TextEncoder().encode('ab,bc,cd->ad') }, N: { i: 3 } }), y);
  });

  it('ReverseSequence with the time and batch axes beyond 0 and 1, and int32 lengths', async () => {
    const x = rand([2, 3, 5, 4]);
    const lens = new Tensor('int32', [4], Int32Array.from([5, 0, 2, 3]));
    await check('reverse-sequence-2-3', graph('ReverseSequence', x, [lens], { seq_dim: { i: 2 }, batch_dim: { i: 3 }, Tlen: { type: DT.int32 } }), x);
    const lens3 = new Tensor('int32', [3], Int32Array.from([1, 4, 2]));
    await check('reverse-sequence-3-1', graph('ReverseSequence', x, [lens3], { seq_dim: { i: 3 }, batch_dim: { i: 1 }, Tlen: { type: DT.int32 } }), x);
  });

  it('MatrixDeterminant of a batch', async () => {
    const x = rand([2, 3, 4, 4]);
    await check('matrix-determinant', graph('MatrixDeterminant', x, [], {}), x);
  });
});
