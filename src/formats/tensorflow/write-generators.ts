// GraphDef writer rows for the ops that make a tensor from a shape or size: Range, ConstantOfShape
// (Fill), EyeLike (a constant) and the Hann / Hamming / Blackman windows.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrTensor } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { floatScalar, indexConst, T, type Row } from './write-context.js';

/**
 * Hann / Hamming / Blackman windows of a size fed at run time: a0 - a1 cos(2πn/N) + a2 cos(4πn/N)
 * over n = Range(0, size), N = size (periodic) or size - 1 (symmetric), in the output dtype.
 */
function windowRow(a: number[]): Row {
  return (w, n, out) => {
    const size = n.inputs[0]!;
    const st = w.dtype(size);
    const dtype = w.dtype(n.outputs[0]!);
    if ((st !== 'int32' && st !== 'int64') || (dtype !== 'float32' && dtype !== 'float64')) throw new UnsupportedError(`${n.opType} of a ${st} size into ${dtype} in a GraphDef`, `node '${n.name}'`);
    const dt = { T: T(dtype) };
    const toFloat = (v: string, tag: string) => w.add(w.fresh(`${n.name}/${tag}`), 'Cast', [v], { SrcT: T(st), DstT: T(dtype), Truncate: { b: false } });
    const count = w.add(w.fresh(`${n.name}/size`), 'Reshape', [w.ref(size), w.int32(`${n.name}/scalar`, [])], { T: T(st), Tshape: T('int32') });
    const k = toFloat(w.add(w.fresh(`${n.name}/range`), 'Range', [indexConst(w, `${n.name}/start`, st, [], [0]), count, indexConst(w, `${n.name}/delta`, st, [], [1])], { Tidx: T(st) }), 'n');
    const periodic = attrInt(n, 'periodic', 1) === 1;
    const denom = toFloat(periodic ? count : w.add(w.fresh(`${n.name}/size_minus_one`), 'Sub', [count, indexConst(w, `${n.name}/one`, st, [], [1])], { T: T(st) }), 'N');
    const phase = w.add(w.fresh(`${n.name}/phase`), 'RealDiv', [w.add(w.fresh(`${n.name}/two_pi_n`), 'Mul', [k, floatScalar(w, `${n.name}/two_pi`, dtype, 2 * Math.PI)], dt), denom], dt);
    let acc = w.add(w.fresh(`${n.name}/term1`), 'Sub', [floatScalar(w, `${n.name}/a0`, dtype, a[0]!), w.add(w.fresh(`${n.name}/a1_cos`), 'Mul', [floatScalar(w, `${n.name}/a1`, dtype, a[1]!), w.add(w.fresh(`${n.name}/cos1`), 'Cos', [phase], dt)], dt)], dt);
    if (a[2]) {
      const cos2 = w.add(w.fresh(`${n.name}/cos2`), 'Cos', [w.add(w.fresh(`${n.name}/phase2`), 'Mul', [phase, floatScalar(w, `${n.name}/two`, dtype, 2)], dt)], dt);
      acc = w.add(w.fresh(`${n.name}/term2`), 'AddV2', [acc, w.add(w.fresh(`${n.name}/a2_cos`), 'Mul', [floatScalar(w, `${n.name}/a2`, dtype, a[2])!, cos2], dt)], dt);
    }
    w.add(out, 'Identity', [acc], dt);
  };
}

export const generatorRows: Record<string, Row> = {
  Range: (w, n, out) => w.add(out, 'Range', n.inputs.map((i) => w.ref(i)), { Tidx: T(w.dtype(n.inputs[0]!)) }),
  ConstantOfShape: (w, n, out) => {
    // TF's Fill takes the shape as a tensor; the value is ONNX's one-element tensor (default float 0)
    const v = attrTensor(n, 'value') ?? Tensor.zeros('float32', [1]);
    if (v.size !== 1 || v.dtype === 'string') throw new UnsupportedError(`ConstantOfShape of a ${v.dtype} value of ${v.size} elements in a GraphDef`, `node '${n.name}'`);
    w.add(out, 'Fill', [w.ref(n.inputs[0]!), w.const(`${n.name}/value`, v.reshape([]))], { T: T(v.dtype), index_type: T(w.dtype(n.inputs[0]!)) });
  },
  // the output depends on the input's shape only: a constant
  EyeLike: (w, n, out) => {
    const shape = w.shape(n.inputs[0]!);
    const dtype = w.dtype(n.outputs[0]!);
    if (!shape || shape.length !== 2 || shape.some((d) => typeof d !== 'number') || dtype === 'string') throw new UnsupportedError('EyeLike of a value of unknown shape in a GraphDef', `node '${n.name}'`);
    const [rows, cols] = shape as [number, number];
    const k = attrInt(n, 'k', 0);
    const eye = Tensor.zeros(dtype, [rows, cols]);
    const data = eye.data as unknown as { [i: number]: number | bigint };
    const one = typeof data[0] === 'bigint' ? 1n : dtype === 'float16' ? 0x3c00 : dtype === 'bfloat16' ? 0x3f80 : 1;
    for (let i = 0; i < rows; i++) if (i + k >= 0 && i + k < cols) data[i * cols + i + k] = one;
    const name = w.const(`${n.name}/eye`, eye);
    w.add(out, 'Identity', [name], { T: T(dtype) });
  },
  HannWindow: windowRow([0.5, 0.5]),
  HammingWindow: windowRow([25 / 46, 21 / 46]),
  BlackmanWindow: windowRow([0.42, 0.5, 0.08]),
};
