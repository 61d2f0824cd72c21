// Single-precision expm1 and tanh as the C library of the TFLite interpreter's WebAssembly build
// computes them (Emscripten's musl, itself FreeBSD's msun: every step rounded to float32). TFLite's
// int8 TANH builds its 256-entry table from tanhf, and a table entry whose value lies within an ulp
// of a rounding tie (k + 1/2 output steps) comes out of tanhf on the other side of the tie than
// from the correctly rounded Math.tanh; the integer runtime builds the same table from these.
const f = Math.fround;
const word = new Float32Array(1);
const bits = new Uint32Array(word.buffer);

const bitsOf = (x: number): number => {
  word[0] = x;
  return bits[0]!;
};
const fromBits = (b: number): number => {
  bits[0] = b >>> 0;
  return word[0]!;
};

const LN2_HI = f(6.9313812256e-1);
const LN2_LO = f(9.0580006145e-6);
const INV_LN2 = f(1.4426950216);
const Q1 = f(-3.3333212137e-2);
const Q2 = f(1.5807170421e-3);
const O_THRESHOLD = f(8.8721679688e1);

/** exp(x) − 1 in float32 arithmetic (argument reduction by k·ln2, a rational correction on the rest). */
export function expm1f(x: number): number {
  x = f(x);
  const hx = bitsOf(x) & 0x7fffffff;
  const negative = x < 0 || Object.is(x, -0);
  if (hx >= 0x4195b844) {
    if (hx > 0x7f800000) return x;
    if (negative) return -1;
    if (x > O_THRESHOLD) return Infinity;
  }
  let k = 0;
  let c = 0;
  if (hx > 0x3eb17218) {
    let hi: number;
    let lo: number;
    if (hx < 0x3f851592) {
      hi = negative ? f(x + LN2_HI) : f(x - LN2_HI);
      lo = negative ? -LN2_LO : LN2_LO;
      k = negative ? -1 : 1;
    } else {
      k = Math.trunc(f(f(INV_LN2 * x) + (negative ? -0.5 : 0.5)));
      const t = k;
      hi = f(x - f(t * LN2_HI));
      lo = f(t * LN2_LO);
    }
    x = f(hi - lo);
    c = f(f(hi - x) - lo);
  } else if (hx < 0x33000000) {
    return x;
  }
  const hfx = f(0.5 * x);
  const hxs = f(x * hfx);
  const r1 = f(1 + f(hxs * f(Q1 + f(hxs * Q2))));
  const t = f(3 - f(r1 * hfx));
  let e = f(hxs * f(f(r1 - t) / f(6 - f(x * t))));
  if (k === 0) return f(x - f(f(x * e) - hxs));
  e = f(f(x * f(e - c)) - c);
  e = f(e - hxs);
  if (k === -1) return f(f(0.5 * f(x - e)) - 0.5);
  if (k === 1) {
    if (x < -0.25) return f(-2 * f(e - f(x + 0.5)));
    return f(1 + f(2 * f(x - e)));
  }
  const twopk = fromBits((0x7f + k) << 23);
  if (k < 0 || k > 56) {
    let y = f(f(x - e) + 1);
    y = k === 128 ? f(f(y * 2) * 2 ** 127) : f(y * twopk);
    return f(y - 1);
  }
  const twomk = fromBits((0x7f - k) << 23);
  const y = k < 23 ? f(f(f(x - e) + f(1 - twomk)) * twopk) : f(f(f(f(x - f(e + twomk)) + 1)) * twopk);
  return y;
}

/** tanh(x) in float32 arithmetic, by expm1f of 2|x| on three ranges of |x|. */
export function tanhf(x: number): number {
  x = f(x);
  const negative = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  const w = bitsOf(ax);
  let t: number;
  if (w > 0x3f0c9f54) {
    // |x| > log(3)/2
    if (w > 0x41200000) t = 1;
    else {
      t = expm1f(f(2 * ax));
      t = f(1 - f(2 / f(t + 2)));
    }
  } else if (w > 0x3e82c578) {
    // |x| > log(5/3)/2
    t = expm1f(f(2 * ax));
    t = f(t / f(t + 2));
  } else if (w >= 0x00800000) {
    t = expm1f(f(-2 * ax));
    t = f(-t / f(t + 2));
  } else t = ax;
  return negative ? -t : t;
}
