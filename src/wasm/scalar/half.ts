// Scalar twin of assembly/kernels/half.ts on raw bits, so NaN payloads can be compared too
// (a JS number would canonicalise them). Values agree with src/ir/float16.ts.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function asFloat(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

function asBits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** float32 bits -> float16 bits, round to nearest even; NaN -> quiet NaN keeping the top payload. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const f = (x & 0x7fffffff) >>> 0;
  let r: number;
  if (f > 0x477fffff) r = f > 0x7f800000 ? 0x7e00 | ((f >>> 13) & 0x3ff) : 0x7c00;
  else if (f < 0x38800000) r = (asBits(asFloat(f) + 0.5) - 0x3f000000) >>> 0;
  else r = (f + 0xc8000fff + ((f >>> 13) & 1)) % 2 ** 32 >>> 13;
  return (r | sign) & 0xffff;
}

/** float16 bits -> float32 bits (exact; NaN payload kept). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  let r: number;
  if (e === 0x1f) r = 0x7f800000 | (m << 13);
  else if (e === 0) r = asBits(m * 2 ** -24);
  else r = ((e + 112) << 23) | (m << 13);
  return (r | sign) >>> 0;
}

/** float32 bits -> bfloat16 bits, round to nearest even; NaN -> quiet NaN. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) >>> 0 > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return (((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) % 2 ** 32 >>> 16) & 0xffff;
}

export function bf16BitsToF32Bits(b: number): number {
  return ((b & 0xffff) << 16) >>> 0;
}

export function float32ToFloat16Scalar(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  return Uint16Array.from(bits, f32BitsToF16Bits);
}

export function float16ToFloat32Scalar(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = f16BitsToF32Bits(src[i]!);
  return out;
}

export function float32ToBfloat16Scalar(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  return Uint16Array.from(bits, f32BitsToBf16Bits);
}

export function bfloat16ToFloat32Scalar(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = bf16BitsToF32Bits(src[i]!);
  return out;
}
