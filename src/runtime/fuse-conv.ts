// Plan-time fusion for the reference runtime: a zero Pad before a Conv becomes its pads,
// Conv -> BatchNormalization (inference) is folded into the conv's weights and bias, and a
// following Relu or Clip becomes the conv's clamp epilogue (nnport::FusedConv, applied in the kernels' store). Graph -> Graph on the IR's
// rewriter: the input graph and its tensors are never modified; folded weights are new
// initializers. It lives in the runtime (not passes/) because the executor runs it, and
// passes such as quantize's calibration run the executor.
//
// A value is fused away only when its one reader is the next op of the chain and it is not a
// graph output, so every value the fused graph still has is computed exactly as before
// (up to float rounding of the folded weights).
import { attrFloat, attrInt, attrInts, attrString, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

/** Domain and op type of the fused conv (registered in the runtime as 'nnport::FusedConv'). */
export const FUSED_CONV = { domain: 'nnport', opType: 'FusedConv' } as const;

export interface FuseConvReport {
  /** BatchNormalization nodes folded into a conv */
  batchNorms: number;
  /** Relu / Clip nodes turned into a conv's clamp */
  activations: number;
  /** zero Pads folded into a conv's pads */
  pads?: number;
}

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** A float32 constant (initializer or Constant node output). */
function f32Constant(rw: GraphRewriter, name: string): Tensor | undefined {
  const t = rw.constant(name);
  return t && t.dtype === 'float32' ? t : undefined;
}

/** The clamp [lo, hi] an activation node applies, or undefined when it is not a constant clamp. */
export function clampOf(rw: GraphRewriter, n: Node, opset: number): [number, number] | undefined {
  if (!isOnnx(n) || n.outputs.length !== 1) return undefined;
  if (n.opType === 'Relu') return [0, Infinity];
  if (n.opType !== 'Clip') return undefined;
  // opset < 11: bounds are attributes; from 11 they are optional scalar inputs.
  if (opset < 11) return [attrFloat(n, 'min', -Infinity), attrFloat(n, 'max', Infinity)];
  const bound = (i: number, none: number): number | undefined => {
    const name = n.inputs[i];
    if (!name) return none;
    const t = f32Constant(rw, name);
    return t && t.size === 1 ? (t.data as Float32Array)[0]! : undefined;
  };
  const lo = bound(1, -Infinity);
  const hi = bound(2, Infinity);
  if (lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi)) return undefined;
  return [lo, hi];
}

/** BN parameters [scale, B, mean, var] when `bn` is an inference BatchNormalization over M channels with constant parameters. */
function batchNormParams(rw: GraphRewriter, bn: Node, M: number): Float32Array[] | undefined {
  if (bn.opType !== 'BatchNormalization' || !isOnnx(bn)) return undefined;
  if (bn.outputs.slice(1).some((o) => o) || attrInt(bn, 'training_mode', 0) !== 0) return undefined;
  // opset < 9 spatial = 0 normalizes per activation, not per channel.
  if (attrInt(bn, 'spatial', 1) === 0 || attrInt(bn, 'is_test', 1) === 0) return undefined;
  const params = bn.inputs.slice(1, 5).map((name) => (name ? f32Constant(rw, name) : undefined));
  if (params.length !== 4 || params.some((t) => !t || t.rank !== 1 || t.shape[0] !== M)) return undefined;
  return params.map((t) => t!.data as Float32Array);
}

/** Weights and bias of `W`, `B` with an inference BatchNormalization folded in (per output channel = axis `axis` of W). */
export function foldBatchNorm(W: Tensor, B: Tensor | undefined, bn: Float32Array[], epsilon: number, outAxis = 0): { W: Tensor; B: Tensor } {
  const [scale, beta, mean, variance] = bn as [Float32Array, Float32Array, Float32Array, Float32Array];
  const M = W.shape[outAxis]!;
  const inner = W.shape.slice(outAxis + 1).reduce((p, d) => p * d, 1);
  const w = W.data as Float32Array;
  const b = B?.data as Float32Array | undefined;
  const w2 = new Float32Array(W.size);
  const b2 = new Float32Array(M);
  const s = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    // As the BatchNormalization op computes it: y = x*s + (B - mean*s), s = scale/sqrt(var+eps).
    s[m] = scale[m]! / Math.sqrt(variance[m]! + epsilon);
    b2[m] = (b ? b[m]! : 0) * s[m]! + (beta[m]! - mean[m]! * s[m]!);
  }
  for (let i = 0; i < W.size; i++) w2[i] = w[i]! * s[Math.floor(i / inner) % M]!;
  return { W: new Tensor('float32', W.shape, w2), B: new Tensor('float32', [M], b2) };
}

/**
 * The spatial pads [b1..bk, e1..ek] of a zero-constant Pad on (N, C, d1..dk) data that pads no
 * other axis and crops nothing, or undefined. (An explicit Pad before a conv is how channels-last
 * graphs carry padding TF's 'same' cannot express; folded into the conv's pads it costs no copy.)
 */
function zeroPadOf(rw: GraphRewriter, pad: Node, rank: number, opset: number): number[] | undefined {
  if (pad.opType !== 'Pad' || !isOnnx(pad) || pad.outputs.length !== 1 || attrString(pad, 'mode', 'constant') !== 'constant') return undefined;
  let pads: number[] | undefined;
  if (opset < 11) {
    if (attrFloat(pad, 'value', 0) !== 0) return undefined;
    pads = attrInts(pad, 'pads');
  } else {
    const p = pad.inputs[1] ? rw.constant(pad.inputs[1]) : undefined;
    const value = pad.inputs[2] ? rw.constant(pad.inputs[2]) : undefined;
    if (!p || (pad.inputs[2] && (!value || value.size !== 1 || Number(value.toNumbers()[0]) !== 0)) || pad.inputs[3]) return undefined;
    pads = p.toNumbers();
  }
  if (!pads || pads.length !== 2 * rank || pads.some((v) => v < 0)) return undefined;
  if (pads[0] || pads[1] || pads[rank] || pads[rank + 1]) return undefined;
  return [...pads.slice(2, rank), ...pads.slice(rank + 2)];
}

/**
 * Fold a zero Pad before a Conv into its pads and BatchNormalization after it into its weights,
 * and fuse a following Relu / Clip into a clamp epilogue. Returns a new graph (sharing untouched nodes and tensors with `graph`), or
 * `graph` itself when there was nothing to fuse. `padsOnly`: the Pads alone (every value a
 * conv reads or writes stays; the int8 range search runs node by node on them).
 */
export function fuseConv(graph: Graph, report?: FuseConvReport, options: { padsOnly?: boolean } = {}): Graph {
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  const rw = new GraphRewriter(graph);
  let fused = false;

  for (const conv of graph.nodes) {
    if (conv.opType !== 'Conv' || !isOnnx(conv) || conv.outputs.length !== 1) continue;
    let out = conv.outputs[0]!;
    let inputs = conv.inputs;
    let attrs = conv.attrs;
    const W = f32Constant(rw, conv.inputs[1] ?? '');
    const B = conv.inputs[2] ? f32Constant(rw, conv.inputs[2]) : undefined;
    let next = rw.soleConsumer(out);
    const removed: Node[] = [];

    const pad = rw.producer(conv.inputs[0] ?? '');
    const autoPad = attrString(conv, 'auto_pad', 'NOTSET');
    if (pad && W && W.rank >= 3 && (autoPad === 'NOTSET' || autoPad === 'VALID') && rw.soleConsumer(conv.inputs[0]!) === conv) {
      const k = W.rank - 2;
      const extra = zeroPadOf(rw, pad, W.rank, opset);
      const own = autoPad === 'VALID' ? new Array<number>(2 * k).fill(0) : attrInts(conv, 'pads') ?? new Array<number>(2 * k).fill(0);
      if (extra && own.length === 2 * k) {
        inputs = [pad.inputs[0]!, ...inputs.slice(1)];
        const { auto_pad: _, ...rest } = attrs;
        attrs = { ...rest, pads: { type: 'ints', value: own.map((v, i) => v + extra[i]!) } };
        removed.push(pad);
        if (report) report.pads = (report.pads ?? 0) + 1;
      }
    }

    if (next && W && W.rank >= 3 && (!conv.inputs[2] || B) && !options.padsOnly) {
      const bn = batchNormParams(rw, next, W.shape[0]!);
      if (bn && next.inputs[0] === out) {
        const folded = foldBatchNorm(W, B, bn, attrFloat(next, 'epsilon', 1e-5));
        const base = conv.name || out;
        inputs = [inputs[0]!, rw.addInitializer(`${base}/bn_folded_W`, folded.W), rw.addInitializer(`${base}/bn_folded_B`, folded.B)];
        removed.push(next);
        out = next.outputs[0]!;
        next = rw.soleConsumer(out);
        if (report) report.batchNorms++;
      }
    }

    const clamp = next && next.inputs[0] === out && !options.padsOnly ? clampOf(rw, next, opset) : undefined;
    if (clamp) {
      removed.push(next!);
      out = next!.outputs[0]!;
      if (report) report.activations++;
    }
    if (!removed.length) continue;
    fused = true;
    for (const n of removed) rw.removeNode(n);
    rw.replaceNode(
      conv,
      clamp
        ? {
            domain: FUSED_CONV.domain,
            opType: FUSED_CONV.opType,
            inputs,
            outputs: [out],
            attrs: { ...attrs, activation_min: { type: 'float', value: clamp[0] }, activation_max: { type: 'float', value: clamp[1] } },
          }
        : { inputs, outputs: [out], attrs },
    );
  }
  if (!fused) return graph;
  // Constant nodes and initializers that only fed fused bounds or parameters are no longer read.
  rw.sweepDeadNodes();
  rw.sweepDeadInitializers();
  return rw.toGraph();
}
