// Ceil-mode pooling over a height / width known only at run time, for the NHWC writers (TFLite, TF,
// Keras), which size ceil mode's overhang from a static input size. ONNX / PyTorch ceil mode gives
// ceil((in + pb + pe − k_eff) / s) + 1 windows, less a last window that would start in the end
// padding (at or past in + pb), i.e. at most floor((in + pb − 1) / s) + 1. Floor mode over end pads
// of P = min(pe + s − 1, k_eff − 1) gives floor((in + pb + P − k_eff) / s) + 1 windows, the lesser
// of those two counts, at the same starts, for every size:
// - a MaxPool ignores the pads: floor mode over end pads of P is the pool (torchvision's squeezenet /
//   GoogLeNet pools; where pe + s ≤ k_eff, P = pe + s − 1, what this pass wrote before it took P);
// - an AveragePool (count_include_pad 0) divides by the real cells of each window: the average over
//   zero pads (pb, P) counting them, divided by the same average of ones over the input (Shape ->
//   ConstantOfShape, of one sample and channel), which is each window's real cells / its size. Of
//   count_include_pad 1, PyTorch's and the runtime's divisor is the window clipped to the explicitly
//   padded input [−pb, in + pe) (not the ceil overhang): the same over the input zero-padded by
//   (pb, pe) first, taken as real, with end pads P − pe.
// Left as they are (the writers refuse them by name): auto_pad, dilated average pools, average pools of
// non-float32 data or that `averages: false` leaves (Keras: no layer divides one tensor by another);
// pools of a known size (the writers pad those exactly as they are).
import { attrInt, attrInts, attrString, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
const isCeilPool = (n: Node): boolean => (n.opType === 'MaxPool' || n.opType === 'AveragePool') && isOnnx(n) && attrInt(n, 'ceil_mode', 0) === 1;
const ints = (value: number[]) => ({ type: 'ints' as const, value });
const int = (value: number) => ({ type: 'int' as const, value });

export interface CeilPoolOptions {
  /** rewrite ceil-mode average pools too (default true) */
  averages?: boolean;
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
    if (!xs || !k || xs.length !== k.length + 2 || xs.slice(2).every((d) => typeof d === 'number')) continue;
    const r = k.length;
    const s = attrInts(n, 'strides', new Array<number>(r).fill(1));
    const d = attrInts(n, 'dilations', new Array<number>(r).fill(1));
    const pads = attrInts(n, 'pads', new Array<number>(2 * r).fill(0));
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
    // averages: Pad / Slice / ConstantOfShape of their input forms (opset 11, 10, 9)
    if (options.averages === false || d.some((v) => v !== 1) || info.dtype !== 'float32' || opset < 11 || n.outputs.length !== 1) continue;
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
    // both pools average over whole windows (zeros of the pads counted), so their ratio is the sum over the real cells / their count
    const attrs = { kernel_shape: ints(k), strides: ints(s), pads: ints([...lead, ...tail]), count_include_pad: int(1) };
    const sum = rw.add({ opType: 'AveragePool', name: `${where}/over_pads`, inputs: [src], attrs });
    const size = rw.add({ opType: 'Shape', name: `${where}/input_shape`, inputs: [src] });
    const spatial = rw.add({
      opType: 'Slice',
      name: `${where}/input_size`,
      inputs: [size, rw.addInitializer(`${where}/size_from`, Tensor.int64([1], [2])), rw.addInitializer(`${where}/size_to`, Tensor.int64([1], [2 + r]))],
    });
    const one = rw.add({ opType: 'Concat', name: `${where}/ones_shape`, inputs: [rw.addInitializer(`${where}/one_sample_channel`, Tensor.int64([2], [1, 1])), spatial], attrs: { axis: int(0) } });
    const ones = rw.add({ opType: 'ConstantOfShape', name: `${where}/ones`, inputs: [one], attrs: { value: { type: 'tensor', value: Tensor.float32([1], [1]) } } });
    const count = rw.add({ opType: 'AveragePool', name: `${where}/real_cells`, inputs: [ones], attrs });
    rw.replaceNode(n, { opType: 'Div', domain: '', inputs: [sum, count], attrs: {} });
    changed = true;
  }
  return changed ? rw.toGraph() : g;
}
