// Scalar twin of assembly/kernels/permute.ts: the plain definition of a permutation, used as the
// reference by the tests (and for string tensors, which have no bytes to move).

/** out[j0..jr] = in[i] where the output axis k is input axis perm[k]; works on any array-like. */
export function permuteScalar<A extends { length: number; [i: number]: unknown }>(
  data: A,
  shape: readonly number[],
  perm: readonly number[],
  make: (n: number) => A,
): A {
  const rank = shape.length;
  const n = data.length;
  const out = make(n);
  if (n === 0) return out;
  const inStrides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i]!;
  }
  const outShape = perm.map((p) => shape[p]!);
  const srcStride = perm.map((p) => inStrides[p]!);
  const idx = new Array<number>(rank).fill(0);
  let s = 0;
  for (let d = 0; d < n; d++) {
    out[d] = data[s];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outShape[k]!) {
        s += srcStride[k]!;
        break;
      }
      s -= srcStride[k]! * (outShape[k]! - 1);
      idx[k] = 0;
    }
  }
  return out;
}
