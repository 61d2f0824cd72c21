// A dense layer over a batch of rows reaches the writer as RESHAPE [..., K] -> [rows, K], a
// FULLY_CONNECTED with its bias, RESHAPE back to [..., N]: the form fuse-bias.ts gives an N-D MatMul
// + Add (ONNX has no N-D Gemm) and the TFLite reader gives a FULLY_CONNECTED with keep_num_dims.
// TF's converter writes one FULLY_CONNECTED with keep_num_dims = true, which reads the N-D input and
// writes the N-D output itself (a batch known only at run time included): the two RESHAPEs go.
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import type { TfliteQuantParams, WOp, WTensor } from './write.js';

const sameQuant = (a: TfliteQuantParams | undefined, b: TfliteQuantParams | undefined): boolean =>
  a === b || (!!a && !!b && a.axis === b.axis && a.scale.join() === b.scale.join() && a.zeroPoint.join() === b.zeroPoint.join());

/** `a` and `b` hold the same values: one dtype, one quantization (a RESHAPE of int8 bytes between them copies them). */
const sameValues = (a: WTensor, b: WTensor): boolean => a.dtype === b.dtype && sameQuant(a.quant, b.quant);

/** Dims of `t` as stored, -1 where known only at run time. */
const dims = (t: WTensor): number[] => t.signature ?? t.shape;

/** RESHAPE -> FULLY_CONNECTED -> RESHAPE of an N-D input's rows, as one FULLY_CONNECTED with keep_num_dims (in place). */
export function keepDenseDims(tensors: ReadonlyMap<string, WTensor>, ops: WOp[], outputs: ReadonlySet<string>): void {
  const readers = new Map<string, WOp[]>();
  for (const op of ops) for (const i of new Set(op.inputs)) if (i) readers.set(i, [...(readers.get(i) ?? []), op]);
  const producer = new Map<string, WOp>();
  for (const op of ops) for (const o of op.outputs) producer.set(o, op);
  const only = (v: string): WOp | undefined => (readers.get(v)?.length === 1 && !outputs.has(v) ? readers.get(v)![0] : undefined);
  const gone = new Set<WOp>();
  for (const fc of ops) {
    if (fc.code !== BuiltinOperator.FULLY_CONNECTED || fc.keepNumDims !== false) continue;
    const rows = fc.inputs[0]!;
    const flatten = producer.get(rows);
    const product = fc.outputs[0]!;
    const unflatten = only(product);
    if (!flatten || flatten.code !== BuiltinOperator.RESHAPE || unflatten?.code !== BuiltinOperator.RESHAPE || unflatten.inputs[0] !== product || !only(rows)) continue;
    const [x, r, p, y] = [flatten.inputs[0]!, rows, product, unflatten.outputs[0]!].map((v) => tensors.get(v));
    if (!x || !r || !p || !y || !sameValues(x, r) || !sameValues(p, y)) continue;
    // [..., K] -> [rows, K] and [rows, N] -> [..., N] with the same leading dims: what keep_num_dims computes
    const [xd, rd, pd, yd] = [x, r, p, y].map(dims) as [number[], number[], number[], number[]];
    // (at most one of them known only at run time: the rows then fix it)
    if (xd.length < 3 || rd.length !== 2 || pd.length !== 2 || yd.length !== xd.length || xd.filter((d) => d < 0).length > 1) continue;
    if (xd[xd.length - 1] !== rd[1] || yd[yd.length - 1] !== pd[1] || xd.slice(0, -1).join() !== yd.slice(0, -1).join()) continue;
    fc.inputs = [x.name, ...fc.inputs.slice(1)];
    fc.outputs = [y.name];
    fc.keepNumDims = true;
    gone.add(flatten).add(unflatten);
  }
  if (gone.size) ops.splice(0, ops.length, ...ops.filter((op) => !gone.has(op)));
}
