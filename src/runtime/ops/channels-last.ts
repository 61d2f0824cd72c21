// The `nnport`-domain channels-last ops (src/ir/README.md): the ONNX op of the same name and
// attributes on data laid out (N, d1..dk, C). Correctness first: the data is permuted to NCHW,
// the ONNX kernel runs, and the result is permuted back. The executor runs most channels-last
// graphs lowered to NCHW instead (runtime/lower-for-run.ts: a transpose only at the edges of a
// chain); these kernels run what it cannot lower exactly, and everything with optimize: false. Weights are
// re-laid to ONNX's layout once per weight tensor and cached, so the NCHW conv's packed-weight
// cache (keyed by tensor) keeps working across runs.
import { ShapeError } from '../../ir/errors.js';
import type { Node } from '../../ir/graph.js';
import { CHANNELS_LAST_ONNX_OPSET, channelsLastDefs, poolDefs, type ConvKernelLayout, type ConvTransposeKernelLayout, type LrnAttrs } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { permute } from '../../wasm/permute.js';
import { defineOp, runNow, type OpKernel, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf, need } from './args.js';
import { CONV_OPS } from './conv.js';
import { indexingOps } from './indexing.js';
import { normalizationOps } from './normalization.js';
import { POOL_OPS } from './pool.js';
import { resizeOps } from './resize.js';

// The ONNX opset whose semantics the nnport ops follow, their kernel layouts and their
// attributes: from the IR's op definitions (src/ir/ops/channels-last.ts).
export { CHANNELS_LAST_ONNX_OPSET, type ConvKernelLayout, type ConvTransposeKernelLayout };

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/** (N, d1..dk, C) -> (N, C, d1..dk) */
export const nhwcToNchwPerm = (rank: number): number[] => (rank < 3 ? range(0, rank) : [0, rank - 1, ...range(1, rank - 1)]);
/** (N, C, d1..dk) -> (N, d1..dk, C) */
export const nchwToNhwcPerm = (rank: number): number[] => (rank < 3 ? range(0, rank) : [0, ...range(2, rank), 1]);

const isIdentity = (perm: readonly number[]): boolean => perm.every((p, i) => p === i);
const permuted = (t: Tensor, perm: readonly number[]): Tensor => (isIdentity(perm) ? t : permute(t, perm));


/** Permutation taking a Conv weight in `layout` (k1..kk, I/g, O) or (O, k1..kk, I/g) to ONNX's (O, I/g, k1..kk). */
export function convWeightToOnnxPerm(layout: ConvKernelLayout, rank: number): number[] {
  const r = rank - 2;
  return layout === 'HWIO' ? [r + 1, r, ...range(0, r)] : [0, rank - 1, ...range(1, rank - 1)];
}

/** Permutation taking a ConvTranspose weight in `layout` (k1..kk, O/g, I) or (O, k1..kk, I) to ONNX's (I, O/g, k1..kk). */
export function convTransposeWeightToOnnxPerm(layout: ConvTransposeKernelLayout, rank: number): number[] {
  const r = rank - 2;
  return layout === 'HWOI' ? [r + 1, r, ...range(0, r)] : [rank - 1, 0, ...range(1, rank - 1)];
}

// Weights re-laid to ONNX's layout, per source tensor and permutation.
const relaid = new WeakMap<Tensor, Map<string, Tensor>>();

function relaidWeight(w: Tensor, perm: readonly number[]): Tensor {
  if (isIdentity(perm)) return w;
  const key = perm.join(',');
  let m = relaid.get(w);
  if (!m) relaid.set(w, (m = new Map()));
  let t = m.get(key);
  if (!t) m.set(key, (t = permute(w, perm)));
  return t;
}

interface Wrapped<A> {
  base: A;
  /** permutation of input 1 (the weight) to the ONNX layout, from its rank */
  weightPerm?: (rank: number) => number[];
}

/**
 * The channels-last twin of an ONNX kernel: input 0 is permuted to channels-first, the weight
 * (when `weightLayout` names one) to ONNX's layout, and output 0 back to channels-last.
 */
function channelsLast<A>(base: OpKernel<A>, weightPerm?: (node: Node) => (rank: number) => number[]): OpKernel<Wrapped<A>> {
  return defineOp<Wrapped<A>>({
    attrs: (node) => ({ base: base.attrs(node, CHANNELS_LAST_ONNX_OPSET), weightPerm: weightPerm?.(node) }),
    run(inputs, a, ctx) {
      const x = need(inputs, 0, 'X');
      const ins = inputs.slice();
      ins[0] = permuted(x, nhwcToNchwPerm(x.rank));
      if (a.weightPerm && inputs[1]) {
        const w = inputs[1];
        if (w.rank !== x.rank) throw new ShapeError(`weight of shape [${w.shape.join(', ')}] must have the input's rank ${x.rank}`);
        ins[1] = relaidWeight(w, a.weightPerm(w.rank));
      }
      const outs = runNow(base, ins, a.base, { ...ctx, opset: CHANNELS_LAST_ONNX_OPSET });
      return outs.map((t, i) => (i === 0 ? permuted(t, nchwToNhwcPerm(t.rank)) : t));
    },
  });
}

const conv = channelsLast(CONV_OPS.Conv!, (node) => {
  const { kernelLayout } = channelsLastDefs['nnport::Conv'].attrs(node, CHANNELS_LAST_ONNX_OPSET);
  return (rank) => convWeightToOnnxPerm(kernelLayout, rank);
});

const convTranspose = channelsLast(CONV_OPS.ConvTranspose!, (node) => {
  const { kernelLayout } = channelsLastDefs['nnport::ConvTranspose'].attrs(node, CHANNELS_LAST_ONNX_OPSET);
  return (rank) => convTransposeWeightToOnnxPerm(kernelLayout, rank);
});

/**
 * MaxPool: Y back to channels-last, and the optional Indices (flat positions in the NCHW input)
 * re-expressed as flat positions in the channels-last input, as TF's max_pool_with_argmax
 * with include_batch_in_index gives them.
 */
const maxPoolBase = channelsLast(POOL_OPS.MaxPool!);
const maxPool = defineOp<Wrapped<unknown>>({
  attrs(node, opset) {
    channelsLastDefs['nnport::MaxPool'].attrs(node, CHANNELS_LAST_ONNX_OPSET); // validates what the NCHW attrs cannot see
    return maxPoolBase.attrs(node, opset);
  },
  run(inputs, a, ctx) {
    const outs = runNow(maxPoolBase, inputs, a, ctx);
    if (outs.length < 2 || !outs[1]) return outs;
    const x = need(inputs, 0, 'X');
    const C = x.shape[x.rank - 1]!;
    const S = x.shape.slice(1, -1).reduce((p, d) => p * d, 1);
    const ind = permuted(outs[1], nchwToNhwcPerm(outs[1].rank));
    const src = ind.data as BigInt64Array;
    const dst = new BigInt64Array(src.length);
    const bS = BigInt(S);
    const bC = BigInt(C);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      const s = v % bS;
      const nc = v / bS;
      dst[i] = ((nc / bC) * bS + s) * bC + (nc % bC);
    }
    return [outs[0]!, new Tensor('int64', ind.shape, dst)];
  },
});

/**
 * Local response normalization across channels, for the channel axis at `channelAxis`:
 * y = x / (bias + alpha/size * sum of x² over channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
 */
export function lrn(x: Tensor, a: LrnAttrs, channelAxis: number): Tensor {
  if (x.rank < 2) throw new ShapeError(`LRN input must have rank >= 2, got [${x.shape.join(', ')}]`);
  if (!['float32', 'float16', 'bfloat16', 'float64'].includes(x.dtype)) throw new ShapeError(`LRN input must be a float tensor, got ${x.dtype}`);
  const xs = isHalf(x.dtype) ? halfToF32(x) : (x.data as Float32Array | Float64Array);
  const C = x.shape[channelAxis]!;
  const inner = x.shape.slice(channelAxis + 1).reduce((p, d) => p * d, 1);
  const outer = x.size / Math.max(1, C * inner);
  const lo = Math.floor((a.size - 1) / 2);
  const hi = Math.ceil((a.size - 1) / 2);
  const k = a.alpha / a.size;
  const y = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const c0 = Math.max(0, c - lo);
      const c1 = Math.min(C - 1, c + hi);
      for (let i = 0; i < inner; i++) {
        let sq = 0;
        for (let j = c0; j <= c1; j++) {
          const v = xs[(o * C + j) * inner + i]!;
          sq += v * v;
        }
        const at = (o * C + c) * inner + i;
        y[at] = xs[at]! / Math.pow(a.bias + k * sq, a.beta);
      }
    }
  }
  return isHalf(x.dtype) ? new Tensor(x.dtype, x.shape, f32ToHalf(x.dtype, y)) : new Tensor(x.dtype, x.shape, y);
}

/** ONNX LRN (channel axis 1); the runtime had none. */
export const LRN_OPS: OpTable = {
  LRN: defineOp<LrnAttrs>({ attrs: poolDefs.LRN.attrs, run: (inputs, a) => [lrn(need(inputs, 0, 'X'), a, 1)] }),
};

/** The channels-last ops, keyed 'nnport::<ONNX op type>'. */
export const CHANNELS_LAST_OPS: OpTable = {
  'nnport::Conv': conv,
  'nnport::ConvTranspose': convTranspose,
  'nnport::MaxPool': maxPool,
  'nnport::AveragePool': channelsLast(POOL_OPS.AveragePool!),
  'nnport::GlobalAveragePool': channelsLast(POOL_OPS.GlobalAveragePool!),
  'nnport::GlobalMaxPool': channelsLast(POOL_OPS.GlobalMaxPool!),
  'nnport::BatchNormalization': channelsLast(normalizationOps.BatchNormalization!),
  'nnport::InstanceNormalization': channelsLast(normalizationOps.InstanceNormalization!),
  'nnport::GroupNormalization': channelsLast(normalizationOps.GroupNormalization!),
  // the channel axis is already innermost: no permutation needed
  'nnport::LRN': defineOp<LrnAttrs>({ attrs: poolDefs.LRN.attrs, run: (inputs, a) => { const x = need(inputs, 0, 'X'); return [lrn(x, a, x.rank - 1)]; } }),
  // scales / sizes / roi / axes index the data as it is laid out (N, d1..dk, C): ONNX's Resize as is
  'nnport::Resize': defineOp<unknown>({
    attrs: (node) => resizeOps.Resize!.attrs(node, CHANNELS_LAST_ONNX_OPSET),
    run: (inputs, a, ctx) => resizeOps.Resize!.run(inputs, a, { ...ctx, opset: CHANNELS_LAST_ONNX_OPSET }),
  }),
  'nnport::DepthToSpace': channelsLast(indexingOps.DepthToSpace!),
  'nnport::SpaceToDepth': channelsLast(indexingOps.SpaceToDepth!),
};
