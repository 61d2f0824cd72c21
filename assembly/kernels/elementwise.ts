// Float32 elementwise kernels: broadcasting binary arithmetic, cheap activations and the
// per-channel affine of BatchNormalization. Scalar twins live in src/wasm/scalar/elementwise.ts
// and are the reference in tests. The op codes are the enums of src/wasm/opcodes.ts.

import { BinaryOp, UnaryOp } from '../../src/wasm/opcodes';

@inline
function binS(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case BinaryOp.Add: return a + b;
    case BinaryOp.Sub: return a - b;
    case BinaryOp.Mul: return a * b;
    case BinaryOp.Div: return a / b;
    case BinaryOp.Max: return max<f32>(a, b);
    case BinaryOp.Min: return min<f32>(a, b);
    default: return a < 0 ? a * b : a; // BinaryOp.PRelu
  }
}

@inline
function binV(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case BinaryOp.Add: return f32x4.add(a, b);
    case BinaryOp.Sub: return f32x4.sub(a, b);
    case BinaryOp.Mul: return f32x4.mul(a, b);
    case BinaryOp.Div: return f32x4.div(a, b);
    case BinaryOp.Max: return f32x4.max(a, b);
    case BinaryOp.Min: return f32x4.min(a, b);
    default: return v128.bitselect(f32x4.mul(a, b), a, f32x4.lt(a, f32x4.splat(0))); // BinaryOp.PRelu
  }
}

/** One contiguous output row of n elements; sa/sb are 1 (walk) or 0 (broadcast). */
function binRow(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV(op, v128.load(a + o), v128.load(b + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, binS(op, load<f32>(a + o), load<f32>(b + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const bs = load<f32>(b);
    const bv = f32x4.splat(bs);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV(op, v128.load(a + o), bv));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, binS(op, load<f32>(a + o), bs));
    }
  } else if (sa == 0 && sb == 1) {
    const as = load<f32>(a);
    const av = f32x4.splat(as);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV(op, av, v128.load(b + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, binS(op, as, load<f32>(b + o)));
    }
  } else {
    for (; i < n; i++) {
      store<f32>(out + (<usize>i << 2), binS(op, load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
    }
  }
}

/**
 * out[i0,i1,i2,i3] = a[...] op b[...] over a broadcast plan of (up to) four merged dims
 * d0..d3; as0..as3 and bs0..bs3 are element strides of a and b per dim (0 where broadcast).
 */
export function binaryF32(
  op: i32,
  a: usize,
  b: usize,
  out: usize,
  d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32,
  bs0: i32, bs1: i32, bs2: i32, bs3: i32,
): void {
  let o: usize = out;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        const ao = i0 * as0 + i1 * as1 + i2 * as2;
        const bo = i0 * bs0 + i1 * bs1 + i2 * bs2;
        binRow(op, a + (<usize>ao << 2), as3, b + (<usize>bo << 2), bs3, o, d3);
        o += <usize>d3 << 2;
      }
    }
  }
}

@inline
function unS(op: i32, x: f32, p0: f32, p1: f32): f32 {
  switch (op) {
    case UnaryOp.Relu: return max<f32>(x, 0);
    case UnaryOp.LeakyRelu: return x < 0 ? x * p0 : x;
    case UnaryOp.Clip: return min<f32>(max<f32>(x, p0), p1);
    case UnaryOp.HardSigmoid: return max<f32>(0, min<f32>(1, p0 * x + p1));
    case UnaryOp.HardSwish: return x * max<f32>(0, min<f32>(1, x * (<f32>1 / <f32>6) + <f32>0.5));
    case UnaryOp.Neg: return -x;
    case UnaryOp.Abs: return abs<f32>(x);
    default: return sqrt<f32>(x); // UnaryOp.Sqrt
  }
}

@inline
function unV(op: i32, x: v128, p0: v128, p1: v128): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  switch (op) {
    case UnaryOp.Relu: return f32x4.max(x, zero);
    case UnaryOp.LeakyRelu: return v128.bitselect(f32x4.mul(x, p0), x, f32x4.lt(x, zero));
    case UnaryOp.Clip: return f32x4.min(f32x4.max(x, p0), p1);
    case UnaryOp.HardSigmoid: return f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.mul(p0, x), p1)));
    case UnaryOp.HardSwish: return f32x4.mul(x, f32x4.max(zero, f32x4.min(one, f32x4.add(f32x4.mul(x, f32x4.splat(<f32>1 / <f32>6)), f32x4.splat(0.5)))));
    case UnaryOp.Neg: return f32x4.neg(x);
    case UnaryOp.Abs: return f32x4.abs(x);
    default: return f32x4.sqrt(x); // UnaryOp.Sqrt
  }
}

/** out[i] = op(x[i]) for n elements (out may equal x). */
export function unaryF32(op: i32, x: usize, out: usize, n: i32, p0: f32, p1: f32): void {
  const v0 = f32x4.splat(p0);
  const v1 = f32x4.splat(p1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, unV(op, v128.load(x + o), v0, v1));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, unS(op, load<f32>(x + o), p0, p1));
  }
}

/** out[o,c,i] = x[o,c,i] * scale[c] + bias[c] over [outer, channels, inner] (BatchNormalization). */
export function channelAffineF32(x: usize, scale: usize, bias: usize, out: usize, outer: i32, channels: i32, inner: i32): void {
  let p: usize = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = load<f32>(scale + (<usize>c << 2));
      const b = load<f32>(bias + (<usize>c << 2));
      const sv = f32x4.splat(s);
      const bv = f32x4.splat(b);
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const q = p + (<usize>i << 2);
        v128.store(out + q, f32x4.add(f32x4.mul(v128.load(x + q), sv), bv));
      }
      for (; i < inner; i++) {
        const q = p + (<usize>i << 2);
        store<f32>(out + q, load<f32>(x + q) * s + b);
      }
      p += <usize>inner << 2;
    }
  }
}
