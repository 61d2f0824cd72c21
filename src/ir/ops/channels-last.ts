// The `nnport`-domain channels-last ops: the ONNX op of the same name with the same attributes,
// on data laid out (N, d1..dk, C). Conv weights follow `kernel_layout` (HWIO by default, OHWI
// for TFLite CONV_2D); ConvTranspose weights HWOI (Keras) or OHWI (TFLite TRANSPOSE_CONV).
// Shapes are inferred by viewing the data as NCHW and asking the ONNX definition.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrInt, attrString, type Dim, type Node } from '../graph.js';
import { convDefs, type ConvAttrs, type ConvTransposeAttrs } from './conv.js';
import { indexingDefs } from './indexing.js';
import { normalizationDefs } from './normalization.js';
import { defineOpDef, type InferContext, type OpDef, type OpDefTable, type ValueType } from './op-def.js';
import { poolDefs } from './pool.js';
import { resizeDefs } from './resize.js';

/**
 * The ONNX opset whose semantics the nnport ops (domain version 1) follow: the graph's opset
 * for the `nnport` domain versions the convention, not the ONNX op inside it.
 */
export const CHANNELS_LAST_ONNX_OPSET = 18;

export type ConvKernelLayout = 'HWIO' | 'OHWI';
export type ConvTransposeKernelLayout = 'HWOI' | 'OHWI';

export interface ChannelsLastConvAttrs extends ConvAttrs {
  kernelLayout: ConvKernelLayout;
}
export interface ChannelsLastConvTransposeAttrs extends ConvTransposeAttrs {
  kernelLayout: ConvTransposeKernelLayout;
}

/** (N, d1..dk, C) -> (N, C, d1..dk) */
export function nhwcToNchwDims(s: readonly Dim[]): Dim[] {
  return s.length < 2 ? [...s] : [s[0]!, s[s.length - 1]!, ...s.slice(1, -1)];
}

/** (N, C, d1..dk) -> (N, d1..dk, C) */
export function nchwToNhwcDims(s: readonly Dim[]): Dim[] {
  return s.length < 2 ? [...s] : [s[0]!, ...s.slice(2), s[1]!];
}

/** A Conv weight in `layout` as ONNX's (M, C/group, k1..kk). */
function convWeightToOihw(s: readonly Dim[], layout: ConvKernelLayout): Dim[] {
  const r = s.length - 2;
  // HWIO: (k..., C/group, M);  OHWI: (M, k..., C/group)
  return layout === 'HWIO' ? [s[r + 1]!, s[r]!, ...s.slice(0, r)] : [s[0]!, s[s.length - 1]!, ...s.slice(1, -1)];
}

/** A ConvTranspose weight in `layout` as ONNX's (C, M/group, k1..kk). */
function convTransposeWeightToOnnx(s: readonly Dim[], layout: ConvTransposeKernelLayout): Dim[] {
  const r = s.length - 2;
  // HWOI: (k..., M/group, C);  OHWI: (M, k..., C), no groups
  return layout === 'HWOI' ? [s[r + 1]!, s[r]!, ...s.slice(0, r)] : [s[s.length - 1]!, s[0]!, ...s.slice(1, -1)];
}

const view = (v: ValueType | undefined, f: (s: readonly Dim[]) => Dim[]): ValueType | undefined => (v ? { ...v, shape: v.shape && f(v.shape), data: undefined } : undefined);

/**
 * The channels-last twin of an ONNX op: input 0 (and, via `weight`, input 1) viewed as NCHW,
 * every output's shape turned back to channels-last.
 */
function channelsLast<A, B extends A>(
  base: OpDef<A>,
  attrs: (node: Node, opset: number) => B = base.attrs as (node: Node, opset: number) => B,
  weight?: (s: readonly Dim[], a: B) => Dim[],
): OpDef<B> {
  return defineOpDef<B>({
    opType: base.opType,
    domain: 'nnport',
    layout: base.layout,
    attrs,
    infer: (ctx: InferContext<B>) => {
      const inputs = ctx.inputs.map((v, i) => (i === 0 ? view(v, nhwcToNchwDims) : i === 1 && weight ? view(v, (s) => weight(s, ctx.attrs)) : v));
      const outs = base.infer({ ...ctx, inputs });
      return outs.map((o) => ({ ...o, shape: o.shape && nchwToNhwcDims(o.shape), data: undefined }));
    },
  });
}

function kernelLayout<L extends string>(node: Node, allowed: readonly L[]): L {
  const v = attrString(node, 'kernel_layout', allowed[0]!);
  if (!allowed.includes(v as L)) throw new ShapeError(`kernel_layout '${v}' is not one of ${allowed.join(', ')}`);
  return v as L;
}

const conv = convDefs.Conv as OpDef<ConvAttrs>;
const convT = convDefs.ConvTranspose as OpDef<ConvTransposeAttrs>;

export const channelsLastDefs = {
  'nnport::Conv': channelsLast<ConvAttrs, ChannelsLastConvAttrs>(
    conv,
    (node, opset) => ({ ...conv.attrs(node, opset), kernelLayout: kernelLayout(node, ['HWIO', 'OHWI'] as const) }),
    (s, a) => convWeightToOihw(s, a.kernelLayout),
  ),
  'nnport::ConvTranspose': channelsLast<ConvTransposeAttrs, ChannelsLastConvTransposeAttrs>(
    convT,
    (node, opset) => {
      const a = convT.attrs(node, opset);
      const layout = kernelLayout(node, ['HWOI', 'OHWI'] as const);
      // TFLite's TRANSPOSE_CONV layout has no groups
      if (layout === 'OHWI' && a.group !== 1) throw new UnsupportedError('ConvTranspose with kernel_layout OHWI and group > 1', `node '${node.name}'`);
      return { ...a, kernelLayout: layout };
    },
    (s, a) => convTransposeWeightToOnnx(s, a.kernelLayout),
  ),
  'nnport::MaxPool': channelsLast(poolDefs.MaxPool, (node, opset) => {
    // Indices are re-expressed as channels-last flat positions (TF's argmax), which has no column-major form
    if (node.outputs[1] && attrInt(node, 'storage_order', 0) !== 0) throw new UnsupportedError('channels-last MaxPool Indices with storage_order 1', `node '${node.name}'`);
    return poolDefs.MaxPool.attrs(node, opset);
  }),
  'nnport::AveragePool': channelsLast(poolDefs.AveragePool!),
  'nnport::GlobalAveragePool': channelsLast(poolDefs.GlobalAveragePool!),
  'nnport::GlobalMaxPool': channelsLast(poolDefs.GlobalMaxPool!),
  'nnport::BatchNormalization': channelsLast(normalizationDefs.BatchNormalization!),
  'nnport::InstanceNormalization': channelsLast(normalizationDefs.InstanceNormalization!),
  'nnport::GroupNormalization': channelsLast(normalizationDefs.GroupNormalization!),
  'nnport::LRN': channelsLast(poolDefs.LRN!),
  // scales / sizes / axes index the data as it is laid out (N, d1..dk, C): no view needed
  'nnport::Resize': { ...resizeDefs.Resize!, domain: 'nnport' },
  'nnport::DepthToSpace': channelsLast(indexingDefs.DepthToSpace!),
  'nnport::SpaceToDepth': channelsLast(indexingDefs.SpaceToDepth!),
} satisfies OpDefTable;
