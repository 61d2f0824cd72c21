// Cast and CastLike between every numeric dtype, bool, float16/bfloat16 and string.
// Float -> integer truncates toward zero (C cast); -> bool is "non-zero".
import { allocArray, isBigIntDType, type DType } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { castDefs, dtypeFromOnnxEnum } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { f32ToHalf, isHalf, need } from './args.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

export { dtypeFromOnnxEnum };

const INT64_MIN = -(2n ** 63n);

/** The shortest decimal that reads back as the same float32 (numpy's str of a float32). */
function float32ToString(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'INF' : '-INF';
  let s = String(v);
  for (let p = 1; p <= 9; p++) {
    const t = v.toPrecision(p);
    if (Math.fround(Number(t)) === v) {
      s = String(Number(t));
      break;
    }
  }
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function stringToNumber(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'nan' || t === '+nan' || t === '-nan') return NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  const v = Number(t);
  if (t === '' || Number.isNaN(v)) throw new ShapeError(`Cast: '${s}' is not a number`);
  return v;
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  const n = x.size;
  if (to === 'string') {
    const vals = x.toNumbers();
    const out = new Array<string>(n);
    const fmt = x.dtype === 'float32' || isHalf(x.dtype) ? float32ToString : x.dtype === 'float64' ? (v: number) => (Number.isNaN(v) ? 'NaN' : !Number.isFinite(v) ? (v > 0 ? 'INF' : '-INF') : String(v)) : (v: number) => String(v);
    if (isBigIntDType(x.dtype)) for (let i = 0; i < n; i++) out[i] = String((x.data as BigInt64Array)[i]);
    else for (let i = 0; i < n; i++) out[i] = fmt(vals[i]!);
    return new Tensor('string', x.shape, out);
  }
  // Source values as numbers, or bigints where exactness matters (int64 -> int64/uint64).
  const src: ArrayLike<any> =
    x.dtype === 'string' ? (x.data as string[]).map(stringToNumber) : isHalf(x.dtype) ? Float64Array.from(x.toNumbers()) : (x.data as ArrayLike<any>);
  const srcBig = isBigIntDType(x.dtype);
  if (isHalf(to)) {
    const f = new Float64Array(n);
    for (let i = 0; i < n; i++) f[i] = Number(src[i]);
    return new Tensor(to, x.shape, f32ToHalf(to, f));
  }
  const out: any = allocArray(to, n);
  if (to === 'bool') {
    for (let i = 0; i < n; i++) out[i] = srcBig ? (src[i] !== 0n ? 1 : 0) : src[i] !== 0 ? 1 : 0;
  } else if (isBigIntDType(to)) {
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (srcBig) out[i] = v;
      else out[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : INT64_MIN; // NaN/inf: what x86 cvttsd2si gives
    }
  } else if (to === 'float32' || to === 'float64') {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  } else {
    // Narrower integers: truncate toward zero, then the typed array wraps like a C cast.
    for (let i = 0; i < n; i++) {
      const v = srcBig ? Number(BigInt.asIntN(64, src[i])) : src[i];
      out[i] = Number.isFinite(v) ? Math.trunc(v) : 0;
    }
    if (srcBig && (to === 'int32' || to === 'uint32' || to === 'int16' || to === 'uint16' || to === 'int8' || to === 'uint8')) {
      // exact low bits for int64 values beyond 2^53
      for (let i = 0; i < n; i++) out[i] = Number(BigInt.asIntN(32, src[i]));
    }
  }
  return new Tensor(to, x.shape, out);
}

export const castOps: OpTable = {
  Cast: defineOp<{ to: DType }>({
    attrs: castDefs.Cast.attrs,
    run: (inputs, a) => [cast(need(inputs, 0, 'input'), a.to)],
  }),
  CastLike: defineOp({
    attrs: castDefs.CastLike.attrs,
    run: (inputs) => [cast(need(inputs, 0, 'input'), need(inputs, 1, 'target_type').dtype)],
  }),
};
