// Ceil-mode max pooling over a height / width known only at run time, for the NHWC writers (TFLite,
// TF, Keras), which size ceil mode's overhang from a static input size. ONNX / PyTorch ceil mode gives
// ceil((in + pb + pe − k_eff) / s) + 1 windows, dropping a last window that would start in the end
// padding. Where pe + s ≤ k_eff no window can start there (the last starts before in + pb for any
// in), and the same windows are floor mode's over end pads of pe + s − 1, which a MaxPool ignores:
// the same result for every size (torchvision's squeezenet / GoogLeNet pools). Left as they are (the
// writers refuse them by name): a possible dropped window, auto_pad, and average pools (no writer
// averages over the real cells of explicit pads of a run-time size); pools of a known size too (the
// writers pad them exactly as they are).
import { attrInt, attrInts, attrString, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';

const isCeilPool = (n: Node): boolean => n.opType === 'MaxPool' && (n.domain === '' || n.domain === 'ai.onnx') && attrInt(n, 'ceil_mode', 0) === 1;

export function ceilPoolAsPads(g: Graph): Graph {
  if (!g.nodes.some(isCeilPool)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  let changed = false;
  const nodes = g.nodes.map((n) => {
    if (!isCeilPool(n) || attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') return n;
    const xs = shapes.get(n.inputs[0]!)?.shape;
    const k = attrInts(n, 'kernel_shape');
    if (!xs || !k || xs.length !== k.length + 2 || xs.slice(2).every((d) => typeof d === 'number')) return n;
    const r = k.length;
    const s = attrInts(n, 'strides', new Array<number>(r).fill(1));
    const d = attrInts(n, 'dilations', new Array<number>(r).fill(1));
    const pads = attrInts(n, 'pads', new Array<number>(2 * r).fill(0));
    const end = pads.slice(r);
    if (!end.every((pe, i) => pe + s[i]! <= (k[i]! - 1) * d[i]! + 1)) return n;
    changed = true;
    return { ...n, attrs: { ...n.attrs, ceil_mode: { type: 'int' as const, value: 0 }, pads: { type: 'ints' as const, value: [...pads.slice(0, r), ...end.map((pe, i) => pe + s[i]! - 1)] } } };
  });
  return changed ? { ...g, nodes } : g;
}
