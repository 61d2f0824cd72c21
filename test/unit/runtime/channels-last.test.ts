// The channels-last `nnport` ops against onnxruntime-node: ORT runs the ONNX op on the NCHW
// data (weights in ONNX's layout), and the result, moved to channels-last by a plain JS
// transpose, must equal nnport's channels-last op on the same data laid out channels-last
// (weights in HWIO / OHWI / HWOI) — the computation Transpose + ONNX op + Transpose expresses.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { singleNodeModel, type AttrValue } from '../kernels/onnx-single-node.js';
import { randomF32, rng, worstMismatch } from '../kernels/reference.js';
import { irAttr } from '../kernels/run-node.js';

/** A plain scalar transpose: output axis i = input axis perm[i]. */
function transposeJs<T extends { length: number; [i: number]: number | bigint }>(data: T, shape: number[], perm: number[], make: (n: number) => T): { data: T; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = make(data.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += idx[i]! * inStrides[perm[i]!]!;
    out[o] = data[src]!;
    for (let i = outShape.length - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return { data: out, shape: outShape };
}

const nchwToNhwc = (r: number): number[] => [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
const f32 = (n: number) => new Float32Array(n);

interface Case {
  name: string;
  op: string;
  /** NCHW input shape */
  x: number[];
  /** ONNX-layout weight and bias (Conv / ConvTranspose) or per-channel parameters */
  w?: number[];
  b?: number[];
  params?: { shape: number[]; positive?: boolean }[];
  /** permutation from the ONNX weight layout to the channels-last kernel_layout */
  wPerm?: number[];
  kernelLayout?: string;
  attrs?: Record<string, AttrValue>;
  /** Resize: NCHW scales (the channels-last op gets them in NHWC order) */
  scales?: number[];
  indices?: boolean;
}

const r = rng(907);

async function check(c: Case): Promise<void> {
  const rank = c.x.length;
  const xn = randomF32(c.x.reduce((a, b) => a * b, 1), r);
  const consts: { name: string; shape: number[]; data: Float32Array }[] = [];
  if (c.w) consts.push({ name: 'W', shape: c.w, data: randomF32(c.w.reduce((a, b) => a * b, 1), r) });
  if (c.b) consts.push({ name: 'B', shape: c.b, data: randomF32(c.b[0]!, r) });
  (c.params ?? []).forEach((p, i) => {
    const d = randomF32(p.shape[0]!, r);
    if (p.positive) for (let k = 0; k < d.length; k++) d[k] = 0.5 + Math.abs(d[k]!);
    consts.push({ name: `P${i}`, shape: p.shape, data: d });
  });
  if (c.scales) consts.push({ name: 'scales', shape: [c.scales.length], data: Float32Array.from(c.scales) });
  const nodeInputs = c.scales ? ['X', '', 'scales'] : ['X', ...consts.map((t) => t.name)];
  const outputs = c.indices ? ['Y', 'I'] : ['Y'];
  const bytes = singleNodeModel({ opType: c.op, inputs: [{ name: 'X', shape: c.x }], initializers: consts, nodeInputs, outputs, outputTypes: { I: 7 }, attrs: c.attrs });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const want = await session.run({ X: new ort.Tensor('float32', xn, c.x) });
  await session.release();

  // the same computation on channels-last data
  const xl = transposeJs(xn, c.x, nchwToNhwc(rank), f32);
  const initializers = new Map<string, Tensor>();
  for (const t of consts) {
    if (t.name === 'W' && c.wPerm) {
      const wl = transposeJs(t.data, t.shape, c.wPerm, f32);
      initializers.set('W', new Tensor('float32', wl.shape, wl.data));
    } else if (t.name === 'scales') {
      initializers.set('scales', Tensor.float32([rank], nchwToNhwc(rank).map((p) => c.scales![p]!)));
    } else initializers.set(t.name, new Tensor('float32', t.shape, t.data));
  }
  const attrs = Object.fromEntries(Object.entries(c.attrs ?? {}).map(([k, v]) => [k, irAttr(v)]));
  if (c.kernelLayout) attrs.kernel_layout = irAttr(c.kernelLayout);
  const node: Node = { name: 'n0', opType: c.op, domain: 'nnport', inputs: nodeInputs, outputs, attrs };
  const graph: Graph = {
    name: 'g',
    nodes: [node],
    inputs: [{ name: 'X', dtype: 'float32', shape: xl.shape }],
    outputs: outputs.map((name) => ({ name, dtype: name === 'I' ? 'int64' : 'float32' })),
    initializers,
    opsets: { '': 17, nnport: 1 },
  };
  // as the executor runs it by default (lowered to the NCHW kernels: runtime/lower-for-run.ts) and
  // on the permuting channels-last kernels themselves (optimize: false)
  for (const optimize of [true, false]) {
    const got = runGraphSync(graph, { X: new Tensor('float32', xl.shape, xl.data) }, { optimize }).outputs;
    checkOutputs(c, want, got, `${c.name}${optimize ? '' : ' (not lowered)'}`);
  }
}

function checkOutputs(c: Case, want: ort.InferenceSession.ReturnType, got: Map<string, Tensor>, name: string): void {
  const y = want.Y!;
  const yl = transposeJs(y.data as Float32Array, [...y.dims], nchwToNhwc(y.dims.length), f32);
  const mine = got.get('Y')!;
  expect(mine.shape, name).toEqual(yl.shape);
  const bad = worstMismatch(mine.data as Float32Array, yl.data);
  expect(bad.excess, `${name}: element ${bad.index}`).toBeLessThanOrEqual(0);

  if (c.indices) {
    // ORT's Indices are flat NCHW positions; channels-last ones are flat NHWC positions.
    const ind = want.I!;
    const C = c.x[1]!;
    const S = c.x.slice(2).reduce((a, b) => a * b, 1);
    const mapped = (ind.data as BigInt64Array).map((v) => {
      const n = v / BigInt(S * C);
      const ch = (v / BigInt(S)) % BigInt(C);
      const s = v % BigInt(S);
      return (n * BigInt(S) + s) * BigInt(C) + ch;
    });
    const il = transposeJs(mapped, [...ind.dims], nchwToNhwc(ind.dims.length), (n) => new BigInt64Array(n));
    const gi = got.get('I')!;
    expect(gi.shape, name).toEqual(il.shape);
    expect([...(gi.data as BigInt64Array)], name).toEqual([...il.data]);
  }
}

const CASES: Case[] = [
  // Conv: ONNX (O, I/g, kh, kw); HWIO = (kh, kw, I/g, O) via [2,3,1,0]; OHWI via [0,2,3,1]
  { name: 'Conv HWIO 3x3 pads strides bias', op: 'Conv', x: [2, 5, 9, 8], w: [7, 5, 3, 3], b: [7], wPerm: [2, 3, 1, 0], kernelLayout: 'HWIO', attrs: { pads: [1, 0, 2, 1], strides: [2, 1] } },
  { name: 'Conv OHWI dilated', op: 'Conv', x: [1, 4, 10, 11], w: [6, 4, 3, 2], b: [6], wPerm: [0, 2, 3, 1], kernelLayout: 'OHWI', attrs: { dilations: [2, 3], pads: [1, 1, 1, 1] } },
  { name: 'Conv default layout (HWIO) grouped', op: 'Conv', x: [1, 6, 7, 7], w: [4, 3, 3, 3], wPerm: [2, 3, 1, 0], attrs: { group: 2, auto_pad: 'SAME_UPPER' } },
  { name: 'Conv OHWI grouped', op: 'Conv', x: [1, 6, 7, 5], w: [9, 2, 1, 3], b: [9], wPerm: [0, 2, 3, 1], kernelLayout: 'OHWI', attrs: { group: 3 } },
  // depthwise, multiplier 2: HWIO (kh, kw, 1, C·M)
  { name: 'Conv depthwise HWIO', op: 'Conv', x: [1, 8, 9, 9], w: [16, 1, 3, 3], b: [16], wPerm: [2, 3, 1, 0], kernelLayout: 'HWIO', attrs: { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] } },
  { name: 'Conv depthwise OHWI', op: 'Conv', x: [1, 8, 6, 7], w: [8, 1, 3, 3], wPerm: [0, 2, 3, 1], kernelLayout: 'OHWI', attrs: { group: 8, pads: [0, 1, 2, 1] } },
  { name: 'Conv 1-D HWIO', op: 'Conv', x: [2, 3, 17], w: [5, 3, 4], b: [5], wPerm: [2, 1, 0], kernelLayout: 'HWIO', attrs: { strides: [3], pads: [1, 2] } },
  { name: 'Conv 3-D OHWI', op: 'Conv', x: [1, 2, 5, 6, 4], w: [3, 2, 2, 3, 2], wPerm: [0, 2, 3, 4, 1], kernelLayout: 'OHWI' },
  // ConvTranspose: ONNX (I, O/g, kh, kw); HWOI = (kh, kw, O/g, I) via [2,3,1,0]; OHWI = (O, kh, kw, I) via [1,2,3,0]
  { name: 'ConvTranspose HWOI stride 2 output_padding', op: 'ConvTranspose', x: [1, 4, 5, 6], w: [4, 3, 3, 3], b: [3], wPerm: [2, 3, 1, 0], kernelLayout: 'HWOI', attrs: { strides: [2, 2], pads: [1, 1, 0, 1], output_padding: [1, 0] } },
  { name: 'ConvTranspose OHWI', op: 'ConvTranspose', x: [2, 3, 4, 4], w: [3, 5, 4, 4], wPerm: [1, 2, 3, 0], kernelLayout: 'OHWI', attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'ConvTranspose HWOI grouped', op: 'ConvTranspose', x: [1, 4, 5, 5], w: [4, 2, 3, 3], wPerm: [2, 3, 1, 0], attrs: { group: 2, strides: [1, 2] } },
  { name: 'MaxPool ceil_mode pads + Indices', op: 'MaxPool', x: [2, 3, 9, 10], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1], ceil_mode: 1 }, indices: true },
  { name: 'MaxPool 1-D', op: 'MaxPool', x: [1, 4, 13], attrs: { kernel_shape: [3], strides: [2] } },
  { name: 'AveragePool count_include_pad 0', op: 'AveragePool', x: [1, 5, 8, 7], attrs: { kernel_shape: [3, 2], pads: [1, 1, 1, 0], strides: [2, 2] } },
  { name: 'AveragePool count_include_pad 1 ceil', op: 'AveragePool', x: [1, 3, 7, 7], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], count_include_pad: 1, ceil_mode: 1 } },
  { name: 'GlobalAveragePool', op: 'GlobalAveragePool', x: [2, 6, 5, 4] },
  { name: 'GlobalMaxPool', op: 'GlobalMaxPool', x: [1, 7, 3, 5] },
  { name: 'BatchNormalization', op: 'BatchNormalization', x: [2, 5, 4, 3], params: [{ shape: [5] }, { shape: [5] }, { shape: [5] }, { shape: [5], positive: true }], attrs: { epsilon: { float: 1e-3 } } },
  { name: 'InstanceNormalization', op: 'InstanceNormalization', x: [2, 4, 5, 6], params: [{ shape: [4] }, { shape: [4] }], attrs: { epsilon: { float: 1e-5 } } },
  { name: 'LRN size 5', op: 'LRN', x: [1, 9, 4, 5], attrs: { size: 5, alpha: { float: 1e-2 }, beta: { float: 0.75 }, bias: { float: 2 } } },
  { name: 'LRN size 3, defaults', op: 'LRN', x: [2, 6, 3, 3], attrs: { size: 3 } },
  { name: 'Resize linear half_pixel x2', op: 'Resize', x: [1, 3, 4, 5], scales: [1, 1, 2, 2], attrs: { mode: 'linear' } },
  { name: 'Resize nearest x3', op: 'Resize', x: [2, 2, 3, 3], scales: [1, 1, 3, 2], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
  { name: 'DepthToSpace DCR', op: 'DepthToSpace', x: [1, 12, 3, 4], attrs: { blocksize: 2, mode: 'DCR' } },
  { name: 'DepthToSpace CRD', op: 'DepthToSpace', x: [2, 8, 2, 3], attrs: { blocksize: 2, mode: 'CRD' } },
  { name: 'SpaceToDepth', op: 'SpaceToDepth', x: [1, 3, 6, 4], attrs: { blocksize: 2 } },
];

describe('channels-last nnport ops = Transpose + ONNX op (onnxruntime-node) + Transpose', () => {
  for (const c of CASES) it(c.name, () => check(c));
});

describe('channels-last ops: errors', () => {
  it('an unknown kernel_layout is a ShapeError naming it', () => {
    const node: Node = { name: 'c', opType: 'Conv', domain: 'nnport', inputs: ['X', 'W'], outputs: ['Y'], attrs: { kernel_layout: irAttr('IOHW') } };
    const graph: Graph = {
      name: 'g',
      nodes: [node],
      inputs: [{ name: 'X', dtype: 'float32', shape: [1, 3, 3, 2] }],
      outputs: [{ name: 'Y', dtype: 'float32' }],
      initializers: new Map([['W', Tensor.float32([1, 1, 2, 2])]]),
      opsets: { '': 17, nnport: 1 },
    };
    expect(() => runGraphSync(graph, { X: Tensor.float32([1, 3, 3, 2]) })).toThrow(/kernel_layout 'IOHW'/);
  });
});
