// GraphDef writer rows for the matrix ops: MatMul / BatchMatMulV2, Gemm (MatMul, scaled, plus
// BiasAdd or Add), Einsum, Det (MatrixDeterminant) and Trilu.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { floatScalar, isFloat, s, T, type GraphDefWriter, type Row } from './write-context.js';

/** Trilu with a constant k over a value of known shape: SelectV2 of a constant mask (zeros, not x * 0, where x is inf). */
function trilu(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const where = `node '${n.name}'`;
  const k = n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers()[0] : 0;
  if (!shape || shape.length < 2 || shape.slice(-2).some((d) => typeof d !== 'number')) throw new UnsupportedError('Trilu of a value of unknown shape in a GraphDef', where);
  const [rows, cols] = shape.slice(-2) as [number, number];
  const upper = attrInt(n, 'upper', 1) === 1;
  if (k === undefined) {
    // k fed at run time: the mask compares a constant (column - row) matrix with it
    const kt = w.dtype(n.inputs[1]!);
    const diff = Array.from({ length: rows * cols }, (_, i) => (i % cols) - Math.floor(i / cols));
    const d = w.const(`${n.name}/column_minus_row`, kt === 'int32' ? new Tensor('int32', [rows, cols], Int32Array.from(diff)) : Tensor.int64([rows, cols], diff));
    const mask = w.add(w.fresh(`${n.name}/mask`), upper ? 'GreaterEqual' : 'LessEqual', [d, w.ref(n.inputs[1]!)], { T: T(kt) });
    w.add(out, 'SelectV2', [mask, w.ref(x), w.const(`${n.name}/zero`, Tensor.zeros(w.dtype(x), []))], { T: T(w.dtype(x)) });
    return;
  }
  const mask = new Uint8Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mask[i * cols + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
  const dtype = w.dtype(x);
  const zero = w.const(`${n.name}/zero`, Tensor.zeros(dtype, []));
  w.add(out, 'SelectV2', [w.const(`${n.name}/mask`, new Tensor('bool', [rows, cols], mask)), w.ref(x), zero], { T: T(dtype) });
}

/** Einsum as TF's Einsum, whose equation must name its output: ONNX's implicit form gets the labels used once, in alphabetical order. */
function einsum(w: GraphDefWriter, n: Node, out: string): void {
  let eq = (attrString(n, 'equation', '') ?? '').replace(/\s+/g, '');
  const where = `node '${n.name}'`;
  if (!eq.includes('->')) {
    if (eq.includes('.')) throw new UnsupportedError('Einsum with an ellipsis and no output in a GraphDef', where);
    const counts = new Map<string, number>();
    for (const ch of eq.replace(/,/g, '')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    eq = `${eq}->${[...counts].filter(([, c]) => c === 1).map(([ch]) => ch).sort().join('')}`;
  }
  w.add(out, 'Einsum', n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)), N: { i: n.inputs.length }, equation: s(eq) });
}

export const matrixRows: Record<string, Row> = {
  MatMul: (w, n, out) => {
    const rank = w.shape(n.inputs[0]!)?.length;
    w.add(out, rank === 2 ? 'MatMul' : 'BatchMatMulV2', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)) });
  },
  Gemm: (w, n, out) => {
    const alpha = attrFloat(n, 'alpha', 1);
    const beta = attrFloat(n, 'beta', 1);
    const c = n.inputs[2] || undefined;
    const dtype = w.dtype(n.inputs[0]!);
    if ((alpha !== 1 || beta !== 1) && !isFloat(dtype)) throw new UnsupportedError(`Gemm of ${dtype} with alpha/beta other than 1 in a GraphDef`, `node '${n.name}'`);
    const product = c || alpha !== 1 ? w.fresh(`${n.name}/matmul`) : out;
    const mm = alpha !== 1 && c ? w.fresh(`${n.name}/scaled`) : alpha !== 1 ? out : product;
    const dt = T(dtype);
    // a constant transposed B is written transposed: OpenCV's importer ignores transpose_b
    let b = w.ref(n.inputs[1]!);
    let transB = !!attrInt(n, 'transB', 0);
    const bt = w.g.initializers.get(n.inputs[1]!);
    if (transB && bt && bt.rank === 2 && bt.dtype === 'float32') {
      const [r, k] = bt.shape as [number, number];
      const src = bt.data as Float32Array;
      const t = new Float32Array(r * k);
      for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) t[j * r + i] = src[i * k + j]!;
      b = w.const(`${n.inputs[1]}/transposed`, new Tensor('float32', [k, r], t));
      transB = false;
    }
    w.add(product, 'MatMul', [w.ref(n.inputs[0]!), b], { T: dt, transpose_a: { b: !!attrInt(n, 'transA', 0) }, transpose_b: { b: transB } });
    if (alpha !== 1) w.add(mm, 'Mul', [product, floatScalar(w, `${n.name}/alpha`, dtype, alpha)], { T: dt });
    if (!c) return;
    const ct = w.g.initializers.get(c);
    // beta scales C: a constant C is written scaled
    const cRef =
      beta === 1 ? w.ref(c) : ct && (ct.dtype === 'float32' || ct.dtype === 'float64') ? w.const(`${c}/scaled`, new Tensor(ct.dtype, ct.shape, ct.dtype === 'float64' ? Float64Array.from(ct.toNumbers(), (v) => v * beta) : Float32Array.from(ct.toNumbers(), (v) => v * beta))) : w.add(w.fresh(`${n.name}/beta_c`), 'Mul', [w.ref(c), floatScalar(w, `${n.name}/beta`, dtype, beta)], { T: dt });
    // BiasAdd takes a bias as long as the last dim only (a [1] or scalar C broadcasts with Add)
    const cs = w.shape(c);
    const ys = w.shape(n.outputs[0]!);
    w.add(out, cs?.length === 1 && cs[0] === ys?.[ys.length - 1] ? 'BiasAdd' : 'Add', [mm, cRef], { T: dt });
  },
  Einsum: einsum,
  Det: (w, n, out) => w.add(out, 'MatrixDeterminant', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) }),
  Trilu: trilu,
};
