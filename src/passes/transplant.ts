// Transplant: fill an existing graph's weights from another framework's named tensors (a
// PyTorch state dict, safetensors, ...), matching names and fixing layouts per layer type.
// ONNX shares PyTorch's layouts, so for ONNX targets the only fixes are a MatMul's transposed
// weight and broadcastable reshapes; the Keras rules in LAYOUT_RULES are for the Keras writer.
import { isFloatDType, type DType } from '../ir/dtypes.js';
import { ShapeError } from '../ir/errors.js';
import { attrInt, producersOf, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { TensorKernels } from '../ir/tensor-kernels.js';
import { applyLayoutChange, depthwiseOihwToKeras, iohwToHwoi, oihwToHwio, reorderDenseRowsNchwToNhwc, transposeDense } from './layout-permutations.js';
import { inferShapes } from '../ir/ops/index.js';
import { NameMatcher, splitParamName, type MatchVia, type ParamRole } from './name-mapping.js';

/** The kind of layer a weight belongs to, which decides its layout fix. */
export type LayerKind = 'conv' | 'depthwise-conv' | 'conv-transpose' | 'dense' | 'dense-matmul' | 'batchnorm' | 'embedding' | 'other';

/** Target conventions with layout rules. */
export type TargetConvention = 'onnx' | 'keras';

/** A named layout change from PyTorch's layout to the target's. */
export type LayoutFix = 'transpose2d' | 'oihwToHwio' | 'depthwiseOihwToKeras' | 'iohwToHwoi';

/**
 * Per target, per layer kind, per parameter role: the layout change from PyTorch's layout.
 * Missing entries mean "same layout". (pth2keras-style rules; ONNX needs almost none.)
 */
export const LAYOUT_RULES: Readonly<Record<TargetConvention, Partial<Record<LayerKind, Partial<Record<ParamRole, LayoutFix>>>>>> = {
  onnx: {
    // torch exports some Linear layers as MatMul with the weight stored (in, out)
    'dense-matmul': { weight: 'transpose2d' },
  },
  keras: {
    conv: { weight: 'oihwToHwio' },
    'depthwise-conv': { weight: 'depthwiseOihwToKeras' },
    // PyTorch ConvTranspose2d is (in, out, kh, kw); Keras Conv2DTranspose is (kh, kw, out, in)
    'conv-transpose': { weight: 'iohwToHwoi' },
    dense: { weight: 'transpose2d' },
    // Keras Dense is read as MatMul with its kernel (in, out): PyTorch's Linear (out, in) transposed
    'dense-matmul': { weight: 'transpose2d' },
  },
};

/**
 * Apply a layout fix (the tables of layout-permutations.ts, run by `kernels`). `targetShape`
 * settles what the source shape cannot (a depthwise multiplier).
 */
export async function applyLayoutFix(kernels: TensorKernels, t: Tensor, fix: LayoutFix, targetShape?: readonly number[]): Promise<Tensor> {
  switch (fix) {
    case 'transpose2d':
      return t.rank === 2 ? applyLayoutChange(kernels, t, transposeDense(t.shape)) : t;
    case 'oihwToHwio':
      return applyLayoutChange(kernels, t, oihwToHwio(t.shape));
    case 'depthwiseOihwToKeras':
      return applyLayoutChange(kernels, t, depthwiseOihwToKeras(t.shape, targetShape?.[2] ?? t.shape[0]!)); // Keras (H, W, C, M)
    case 'iohwToHwoi':
      return applyLayoutChange(kernels, t, iohwToHwoi(t.shape));
  }
}

export interface TransplantOptions {
  /** who permutes and casts the tensors (the public API passes the inline WASM kernels) */
  kernels: TensorKernels;
  /** explicit source name -> target name (a JSON mapping file's contents); applied before name matching */
  mapping?: Record<string, string>;
  /** report shape mismatches instead of throwing */
  allowPartial?: boolean;
  /** the target's layout convention (default 'onnx') */
  convention?: TargetConvention;
  /** the source's layout convention (default 'onnx': PyTorch / ONNX layouts); fixes apply only across conventions */
  sourceConvention?: TargetConvention;
}

export interface TransplantMatch {
  source: string;
  /** the initializer that was filled */
  target: string;
  /** the name matched, when it reaches the initializer through an Identity node */
  alias?: string;
  via: MatchVia;
  kind: LayerKind;
  shape: number[];
  layout?: LayoutFix | 'reshape' | 'transpose2d+flatten-rows';
  /** source dtype, when it was converted to the target's */
  convertedFrom?: DType;
}

export interface TransplantReport {
  matched: TransplantMatch[];
  /** source tensors that found no target (with why) */
  unmatchedSource: { source: string; reason: string }[];
  /** float target initializers (not scalars) left with their old values */
  unmatchedTarget: string[];
  shapeMismatched: { source: string; target: string; sourceShape: number[]; targetShape: number[]; reason: string }[];
  /** source tensors deliberately not transplanted (BatchNorm's num_batches_tracked) */
  skipped: { source: string; reason: string }[];
}

/** Thrown when shapes do not fit and `allowPartial` is off; carries the full report. */
export class TransplantError extends ShapeError {
  constructor(
    message: string,
    readonly report: TransplantReport,
  ) {
    super(message);
  }
}

/** Which layer kind each initializer feeds (by the first node that reads it, through Identity). */
function layerKinds(graph: Graph, alias: Map<string, string>, convention: TargetConvention): Map<string, LayerKind> {
  const kinds = new Map<string, LayerKind>();
  const kindOf = (n: Node, inputIndex: number): LayerKind => {
    switch (n.opType) {
      case 'Conv': {
        if (inputIndex !== 1) return 'conv';
        const w = graph.initializers.get(alias.get(n.inputs[1]!) ?? n.inputs[1]!);
        const group = attrInt(n, 'group', 1);
        if (group <= 1 || !w || w.rank !== 4) return 'conv';
        // depthwise: ONNX/PyTorch (C*M, 1, kh, kw); Keras DepthwiseConv2D (kh, kw, C, M) with C = group
        const depthwise = convention === 'keras' ? w.shape[2] === group : w.shape[1] === 1 && w.shape[0]! % group === 0;
        return depthwise ? 'depthwise-conv' : 'conv';
      }
      case 'ConvTranspose':
        return 'conv-transpose';
      case 'Gemm':
        return 'dense';
      case 'MatMul':
        return 'dense-matmul';
      case 'BatchNormalization':
        return 'batchnorm';
      case 'Gather':
        return 'embedding';
      default:
        return 'other';
    }
  };
  for (const n of graph.nodes) {
    if (n.opType === 'Identity') continue; // an alias, not a use
    n.inputs.forEach((input, i) => {
      const init = alias.get(input) ?? input;
      if (graph.initializers.has(init) && !kinds.has(init)) kinds.set(init, kindOf(n, i));
    });
  }
  return kinds;
}

/**
 * Fill `target`'s initializers from `source` by name. Returns a new graph (the input is not
 * changed) and a report of matched / unmatched / shape-mismatched names.
 */
export async function transplant(source: ReadonlyMap<string, Tensor>, target: Graph, options: TransplantOptions): Promise<{ graph: Graph; report: TransplantReport }> {
  const convention = options.convention ?? 'onnx';
  const rules = LAYOUT_RULES[convention];
  // Names that reach an initializer only through Identity nodes (tied or renamed weights).
  const alias = new Map<string, string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of target.nodes) {
      if (n.opType !== 'Identity' || n.inputs.length !== 1 || !n.outputs[0] || alias.has(n.outputs[0])) continue;
      const root = target.initializers.has(n.inputs[0]!) ? n.inputs[0]! : alias.get(n.inputs[0]!);
      if (root !== undefined && !target.initializers.has(n.outputs[0])) {
        alias.set(n.outputs[0], root);
        changed = true;
      }
    }
  }
  const kinds = layerKinds(target, alias, convention);
  const flattenedFrom = convention === 'keras' ? denseAfterFlatten(target) : new Map<string, [number, number, number]>();
  const matcher = new NameMatcher([...target.initializers.keys(), ...alias.keys()], options.mapping);
  const initializers = new Map(target.initializers);
  const report: TransplantReport = { matched: [], unmatchedSource: [], unmatchedTarget: [], shapeMismatched: [], skipped: [] };
  const filled = new Set<string>();

  for (const [name, tensor] of source) {
    const { role } = splitParamName(name);
    const m = matcher.match(name);
    if (m.target === undefined) {
      if (role === 'num_batches_tracked') report.skipped.push({ source: name, reason: 'BatchNorm step counter: not a weight' });
      else report.unmatchedSource.push({ source: name, reason: m.reason });
      continue;
    }
    const initName = alias.get(m.target) ?? m.target;
    const old = target.initializers.get(initName)!;
    const kind = kinds.get(initName) ?? 'other';
    let t: Tensor = tensor;
    let layout: TransplantMatch['layout'];
    const fix = convention === 'keras' && options.sourceConvention === 'keras' ? undefined : rules[kind]?.[role];
    // Keras layouts differ from PyTorch's even where the shapes agree (a square Dense, a 1x1 conv
    // with C_in = C_out): across conventions the fix always applies
    if (fix && (convention === 'keras' || !sameShape(t.shape, old.shape))) {
      const fixed = await applyLayoutFix(options.kernels, t, fix, old.shape);
      if (sameShape(fixed.shape, old.shape)) {
        t = fixed;
        layout = fix;
        const hwc = flattenedFrom.get(initName);
        if (hwc && role === 'weight' && t.rank === 2) {
          // a Dense after a Flatten of (H, W, C) data: PyTorch's rows are in C·H·W order
          t = await applyLayoutChange(options.kernels, t, reorderDenseRowsNchwToNhwc(t.shape, hwc[2], hwc[0], hwc[1]));
          layout = 'transpose2d+flatten-rows';
        }
      }
    }
    if (!sameShape(t.shape, old.shape)) {
      if (t.size === old.size && squeezed(t.shape) === squeezed(old.shape)) {
        t = t.reshape(old.shape); // e.g. a bias stored as [C] vs [1, C, 1, 1]: same elements, same order
        layout = 'reshape';
      } else {
        report.shapeMismatched.push({ source: name, target: m.target, sourceShape: [...tensor.shape], targetShape: [...old.shape], reason: 'shape' });
        continue;
      }
    }
    let convertedFrom: DType | undefined;
    if (t.dtype !== old.dtype) {
      if (!isFloatDType(t.dtype) || !isFloatDType(old.dtype)) {
        report.shapeMismatched.push({ source: name, target: m.target, sourceShape: [...tensor.shape], targetShape: [...old.shape], reason: `dtype ${t.dtype} vs ${old.dtype}` });
        continue;
      }
      convertedFrom = t.dtype;
      t = await castFloat(options.kernels, t, old.dtype);
    }
    initializers.set(initName, t);
    filled.add(initName);
    report.matched.push({
      source: name,
      target: initName,
      ...(initName !== m.target ? { alias: m.target } : {}),
      via: m.via,
      kind,
      shape: [...t.shape],
      ...(layout ? { layout } : {}),
      ...(convertedFrom ? { convertedFrom } : {}),
    });
  }
  // scalars are the model's own constants (a ReLU6's clip bounds, an exponent), not weights
  for (const [k, v] of target.initializers) if (!filled.has(k) && isFloatDType(v.dtype) && v.rank > 0) report.unmatchedTarget.push(k);

  // a source none of whose names the target knows is the wrong file (or needs --mapping)
  if (!report.matched.length && report.unmatchedSource.length && !options.allowPartial) {
    const names = report.unmatchedSource.slice(0, 5).map((u) => u.source).join(', ');
    throw new TransplantError(`no source tensor matched a target weight (source has ${names}${report.unmatchedSource.length > 5 ? ', ...' : ''}; give --mapping FILE, or --allow-partial to write the model unchanged)`, report);
  }
  if (report.shapeMismatched.length && !options.allowPartial) {
    const list = report.shapeMismatched
      .slice(0, 5)
      .map((s) => `${s.source} [${s.sourceShape.join(', ')}] -> ${s.target} [${s.targetShape.join(', ')}]${s.reason === 'shape' ? '' : ` (${s.reason})`}`)
      .join('; ');
    throw new TransplantError(`${report.shapeMismatched.length} tensor(s) do not fit their target: ${list}${report.shapeMismatched.length > 5 ? '; ...' : ''} (use --allow-partial to keep going)`, report);
  }
  return { graph: { ...target, initializers }, report };
}

/**
 * Dense kernels (MatMul weights) fed by a Flatten / Reshape of channels-last (N, H, W, C) data
 * with H·W > 1: their rows follow H·W·C order, PyTorch's Linear after a flatten C·H·W.
 */
function denseAfterFlatten(graph: Graph): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  const producer = producersOf(graph.nodes);
  let shapes: ReturnType<typeof inferShapes> | undefined;
  for (const n of graph.nodes) {
    if (n.opType !== 'MatMul' || !graph.initializers.has(n.inputs[1]!)) continue;
    const p = producer.get(n.inputs[0]!);
    if (!p || (p.opType !== 'Flatten' && p.opType !== 'Reshape')) continue;
    shapes ??= inferShapes(graph, { onError: 'unknown' });
    const s = shapes.values.get(p.inputs[0]!)?.shape;
    if (!s || s.length !== 4 || !s.slice(1).every((d) => typeof d === 'number')) continue;
    const [h, w, c] = s.slice(1) as number[];
    if (h! * w! > 1) out.set(n.inputs[1]!, [h!, w!, c!]);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function squeezed(s: readonly number[]): string {
  return s.filter((d) => d !== 1).join(',');
}

async function castFloat(kernels: TensorKernels, t: Tensor, to: DType): Promise<Tensor> {
  const half = (d: DType): d is 'float32' | 'float16' | 'bfloat16' => d === 'float32' || d === 'float16' || d === 'bfloat16';
  if (half(t.dtype) && half(to)) {
    const out = await kernels.castFloat(t, to);
    // the target owns its weights: never a view of the source's (float32 to float32 returns it)
    return out === t ? new Tensor(to, t.shape, (t.data as Float32Array).slice()) : out;
  }
  if (to === 'float64') return new Tensor('float64', t.shape, Float64Array.from(t.toFloat32()));
  if (half(to)) return kernels.castFloat(new Tensor('float32', t.shape, t.toFloat32()), to);
  throw new ShapeError(`cannot cast ${t.dtype} to ${to}`);
}
