// protobufjs gives int64 fields as long.js `Long` objects in Node (plain numbers in some
// bundles); every int64 the TensorFlow reader uses goes through here.
export type Int64 = number | { low: number; high: number; unsigned: boolean };

/** The value as a JS number; exact up to 2^53. */
export function int64ToNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  return v.unsigned ? (v.high >>> 0) * 2 ** 32 + (v.low >>> 0) : v.high * 2 ** 32 + (v.low >>> 0);
}

export function int64ToBigInt(v: Int64): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** A number or bigint as protobufjs' writer takes it for an int64 field. */
export function toInt64(v: number | bigint): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  const u = BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false } as unknown as number;
}
