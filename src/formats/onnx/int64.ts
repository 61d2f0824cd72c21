// protobufjs hands int64 fields over as a long.js `Long` when that package loads (Node) and as
// a plain (possibly inexact) number when it does not (some bundles). Everything that reads an
// int64 goes through these helpers so both cases behave the same.

/** What the generated code gives for an int64/uint64 field. */
export type Int64 = number | { low: number; high: number; unsigned: boolean };

export function int64ToBigInt(v: Int64): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** The value as a JS number; exact up to 2^53, rounded beyond (e.g. INT64_MAX as a Slice end). */
export function int64ToNumber(v: Int64): number {
  if (typeof v === 'number') return v;
  return v.unsigned ? (v.high >>> 0) * 2 ** 32 + (v.low >>> 0) : v.high * 2 ** 32 + (v.low >>> 0);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * A number or bigint as a value protobufjs' writer takes for an int64 field: the number itself
 * when it is a safe integer, else its {low, high} bits. Numbers beyond the int64 range clamp to
 * it: an attribute read as INT64_MAX comes back as 2^63 after the double round trip and must be
 * written as INT64_MAX again, not wrap to INT64_MIN.
 */
export function toInt64(v: number | bigint, unsigned = false): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (!Number.isFinite(v)) b = v > 0 ? INT64_MAX : v < 0 ? INT64_MIN : 0n;
  else {
    const t = BigInt(Math.trunc(v));
    b = unsigned ? t : t > INT64_MAX ? INT64_MAX : t < INT64_MIN ? INT64_MIN : t;
  }
  const u = BigInt.asUintN(64, b);
  const bits = { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned };
  // The writer reads any {low, high} object (LongBits.from); its typings only name long.js' Long.
  return bits as unknown as number;
}
