// Ceil-mode pooling over a height / width known only at run time, for the NHWC writers (TFLite, TF,
// Keras), which size ceil mode's overhang from a static input size. ONNX / PyTorch ceil mode gives
// ceil((in + pb + pe − k_eff) / s) + 1 windows, less a last window that would start in the end
// padding (at or past in + pb), i.e. at most floor((in + pb − 1) / s) + 1. Floor mode over end pads
// of P = min(pe + s − 1, k_eff − 1) gives floor((in + pb + P − k_eff) / s) + 1 windows, the lesser
// of those two counts, at the same starts, for every size:
// - a MaxPool ignores the pads: floor mode over end pads of P is the pool (torchvision's squeezenet /
//   GoogLeNet pools; where pe + s ≤ k_eff, P = pe + s − 1, what this pass wrote before it took P);
// - an AveragePool (count_include_pad 0) divides by the real cells of each window: the average over
//   zero pads (pb, P) counting them, divided by the same average of ones over the input (Clip(x, 0, 0)
//   + 1), which is each window's real cells / its size (at a known size: times a constant of the
//   inverse). Of count_include_pad 1, PyTorch's and the runtime's divisor is the window clipped to
//   the explicitly padded input [−pb, in + pe) (not the ceil overhang): the same over the input
//   zero-padded by (pb, pe) first, taken as real, with end pads P − pe. Keras has no layer that
//   divides one tensor by another: there (averages 'layers') the average over pads is multiplied by
//   each window's size over its real cells, found by layers (windowOverRealCells).
// Average pools of a known size too, where their last window runs past the padded input: of
// count_include_pad 1 always (the writers' counted zero pads would count that overhang as well), of
// count_include_pad 0 with `staticAverages` where those pads are not TF's SAME (the GraphDef writer and
// Keras, which refuse them otherwise; TFLite divides by a constant of real cells itself). Left as they
// are (the writers refuse them by name): auto_pad, dilated average pools, average pools of non-float32
// data or of an unknown channel count (Keras); other pools of a known size (the writers pad those
// exactly as they are).
import { attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../ir/graph.js';
import { forwardAxis } from '../ir/ops/conv.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
const isCeilPool = (n: Node): boolean => (n.opType === 'MaxPool' || n.opType === 'AveragePool') && isOnnx(n) && attrInt(n, 'ceil_mode', 0) === 1;
const ints = (value: number[]) => ({ type: 'ints' as const, value });
const int = (value: number) => ({ type: 'int' as const, value });

export interface CeilPoolOptions {
  /**
   * ceil-mode average pools: the average over pads divided by that of ones ('divide', the default), the
   * same by layers that divide no tensor by another ('layers', Keras: windowOverRealCells), or left as
   * they are (false)
   */
  averages?: 'divide' | 'layers' | false;
  /** and those of a known size whose last window runs past the padded input, of count_include_pad 0 too */
  staticAverages?: boolean;
}

/** Per axis of a ceil-mode pool of known size: the end pads its windows reach (at least its own). */
function ceilEndPads(xs: readonly number[], k: number[], s: number[], pads: number[]): number[] {
  const r = k.length;
  return xs.map((size, i) => {
    const [o] = forwardAxis(size, k[i]!, s[i]!, 1, pads[i]!, pads[i + r]!, 'NOTSET', true);
    return Math.max(pads[i + r]!, (o - 1) * s[i]! + k[i]! - size - pads[i]!);
  });
}

/** Whether pads (begin, end) are TF's SAME pads of each axis (TF's SAME averages real cells only: written as they are). */
function tfSame(xs: readonly number[], k: number[], s: number[], begin: number[], end: number[]): boolean {
  return xs.every((size, i) => {
    const [, b, e] = forwardAxis(size, k[i]!, s[i]!, 1, 0, 0, 'SAME_UPPER');
    return begin[i] === b && end[i] === e;
  });
}

export function ceilPoolAsPads(g: Graph, options: CeilPoolOptions = {}): Graph {
  if (!g.nodes.some(isCeilPool)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 13;
  const rw = new GraphRewriter(g);
  let changed = false;
  for (const n of g.nodes) {
    if (!isCeilPool(n) || attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') continue;
    const x = n.inputs[0]!;
    const info = shapes.get(x);
    const xs = info?.shape;
    const k = attrInts(n, 'kernel_shape');
    if (!xs || !k || xs.length !== k.length + 2) continue;
    const r = k.length;
    const s = attrInts(n, 'strides', new Array<number>(r).fill(1));
    const d = attrInts(n, 'dilations', new Array<number>(r).fill(1));
    const pads = attrInts(n, 'pads', new Array<number>(2 * r).fill(0));
    const sizes = xs.slice(2);
    if (sizes.every((v): v is number => typeof v === 'number')) {
      if (n.opType !== 'AveragePool' || d.some((v) => v !== 1)) continue;
      const reach = ceilEndPads(sizes, k, s, pads);
      if (reach.every((e, i) => e === pads[r + i])) continue;
      // (of count_include_pad 0 where the writer would refuse it: not TF's SAME pads, which average real cells)
      if (attrInt(n, 'count_include_pad', 0) !== 1 && (!options.staticAverages || tfSame(sizes, k, s, pads.slice(0, r), reach))) continue;
    }
    const begin = pads.slice(0, r);
    const end = pads.slice(r);
    const kEff = k.map((v, i) => (v - 1) * d[i]! + 1);
    // (a pad of a whole window or more: a window could lie in the padding alone)
    if (pads.some((p, i) => p >= kEff[i % r]!)) continue;
    const P = end.map((pe, i) => Math.min(pe + s[i]! - 1, kEff[i]! - 1));
    if (n.opType === 'MaxPool') {
      rw.replaceNode(n, { attrs: { ...n.attrs, ceil_mode: int(0), pads: ints([...begin, ...P]) } });
      changed = true;
      continue;
    }
    // averages: Pad and Clip of their input forms (opset 11)
    if (options.averages === false || d.some((v) => v !== 1) || info.dtype !== 'float32' || opset < 11 || n.outputs.length !== 1) continue;
    // (Keras' layers: the ones' 1x1 conv takes a known channel count)
    if (options.averages === 'layers' && typeof xs[1] !== 'number') continue;
    const where = n.name || n.outputs[0]!;
    let src = x;
    let lead = begin;
    let tail = P;
    if (attrInt(n, 'count_include_pad', 0) === 1) {
      // the explicit pads are counted: real zeros of a padded input, its ceil overhang the only pads left
      if (pads.some((p) => p !== 0)) {
        const all = [0, 0, ...begin, 0, 0, ...end];
        src = rw.add({ opType: 'Pad', name: `${where}/counted_pads`, inputs: [x, rw.addInitializer(`${where}/counted_pads`, Tensor.int64([all.length], all))], attrs: { mode: { type: 'string', value: 'constant' } } });
      }
      lead = new Array<number>(r).fill(0);
      tail = P.map((p, i) => p - end[i]!);
    }
    // an average over whole windows (zeros of the pads counted): the sum over the real cells / the window size
    const attrs = { kernel_shape: ints(k), strides: ints(s), pads: ints([...lead, ...tail]), count_include_pad: int(1) };
    const sum = rw.add({ opType: 'AveragePool', name: `${where}/over_pads`, inputs: [src], attrs });
    if (options.averages === 'layers') {
      rw.replaceNode(n, { opType: 'Mul', domain: '', inputs: [sum, windowOverRealCells(rw, where, src, xs[1] as number, k, attrs)], attrs: {} });
      changed = true;
      continue;
    }
    if (sizes.every((v): v is number => typeof v === 'number')) {
      // of a known size: times a constant, each window's size over its real cells
      const lengths = sizes.map((v, i) => v + (src === x ? 0 : begin[i]! + end[i]!));
      rw.replaceNode(n, { opType: 'Mul', domain: '', inputs: [sum, rw.addInitializer(`${where}/window_over_real`, windowOverRealConstant(lengths, k, s, lead, tail))], attrs: {} });
    } else {
      // of a run-time size: divided by the same average of ones, Clip(x, 0, 0) + 1 (1 for every value but NaN, where
      // the sum is NaN too), not a FILL of its shape: a dynamic-sized tensor, for which the TFLite interpreter
      // would run the whole file without its XNNPACK delegate
      const zero = scalarOf(rw, where, 'zero', 0);
      const zeros = rw.add({ opType: 'Clip', name: `${where}/zeros`, inputs: [src, zero, zero] });
      const ones = rw.add({ opType: 'Add', name: `${where}/ones`, inputs: [zeros, scalarOf(rw, where, 'one', 1)] });
      rw.replaceNode(n, { opType: 'Div', domain: '', inputs: [sum, rw.add({ opType: 'AveragePool', name: `${where}/real_cells`, inputs: [ones], attrs })], attrs: {} });
    }
    changed = true;
  }
  return changed ? rw.toGraph() : g;
}

/** [1, 1, ...out]: each floor-mode window's size over its cells inside [0, length) (pads lead / tail around it). */
function windowOverRealConstant(lengths: number[], k: number[], s: number[], lead: number[], tail: number[]): Tensor {
  const per = lengths.map((len, i) =>
    Array.from({ length: Math.floor((len + lead[i]! + tail[i]! - k[i]!) / s[i]!) + 1 }, (_, j) => {
      const start = j * s[i]! - lead[i]!;
      return k[i]! / (Math.min(start + k[i]!, len) - Math.max(start, 0));
    }),
  );
  let values = [1];
  for (const axis of per) values = values.flatMap((v) => axis.map((a) => v * a));
  return Tensor.float32([1, 1, ...per.map((a) => a.length)], values);
}

const scalarOf = (rw: GraphRewriter, where: string, name: string, v: number): string => rw.addInitializer(`${where}/${name}`, Tensor.float32([], [v]));

/**
 * Each window's size over its real cells, [N, 1, ...out], from layers alone (Keras): ones over the
 * input (Clip(x, 0, 0) is 0 for every value but NaN, a 1x1 conv of zero weights and bias 1 makes it one
 * channel of ones), each window's taps of them (a conv of one-hot kernels over the same zero pads: 1 where
 * the tap is a real cell, 0 in the pads), a softmax over the taps of 100·(tap − 1), which is 1 / count
 * on the count real taps and 0 (e^−100) on the others, and the sum of its squares, count / count² =
 * 1 / count, times the window size (the weights of that last 1x1 conv).
 */
function windowOverRealCells(rw: GraphRewriter, where: string, x: string, channels: number, k: number[], pool: { strides: Attr; pads: Attr }): string {
  const r = k.length;
  const taps = k.reduce((a, v) => a * v, 1);
  const unit = new Array<number>(r).fill(1);
  const scalar = (name: string, v: number) => scalarOf(rw, where, name, v);
  const zero = scalar('zero', 0);
  const zeros = rw.add({ opType: 'Clip', name: `${where}/zeros`, inputs: [x, zero, zero] });
  const ones = rw.add({
    opType: 'Conv',
    name: `${where}/ones`,
    inputs: [zeros, rw.addInitializer(`${where}/ones_weight`, Tensor.zeros('float32', [1, channels, ...unit])), rw.addInitializer(`${where}/ones_bias`, Tensor.float32([1], [1]))],
    attrs: { kernel_shape: ints(unit) },
  });
  const oneHot = new Float32Array(taps * taps);
  for (let t = 0; t < taps; t++) oneHot[t * taps + t] = 1;
  const real = rw.add({ opType: 'Conv', name: `${where}/real_taps`, inputs: [ones, rw.addInitializer(`${where}/one_hot`, Tensor.float32([taps, 1, ...k], oneHot))], attrs: { kernel_shape: ints(k), strides: pool.strides, pads: pool.pads } });
  const logits = rw.add({ opType: 'Add', name: `${where}/tap_logits`, inputs: [rw.add({ opType: 'Mul', name: `${where}/tap_scaled`, inputs: [real, scalar('hundred', 100)] }), scalar('minus_hundred', -100)] });
  const weights = rw.add({ opType: 'Softmax', name: `${where}/tap_weights`, inputs: [logits], attrs: { axis: int(1) } });
  const squares = rw.add({ opType: 'Mul', name: `${where}/tap_weights_squared`, inputs: [weights, weights] });
  return rw.add({ opType: 'Conv', name: `${where}/window_over_real`, inputs: [squares, rw.addInitializer(`${where}/window_size`, Tensor.float32([1, taps, ...unit], new Array<number>(taps).fill(taps)))], attrs: { kernel_shape: ints(unit) } });
}
