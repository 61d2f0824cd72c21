// Op codes shared by the kernels (assembly/, which imports this file) and their TS wrappers:
// one definition in the subset of TypeScript that AssemblyScript also compiles, so the two
// sides cannot drift. Plain numeric enums only: no strings, no computed members.

/** Binary float32 ops of binaryF32 (assembly/kernels/elementwise.ts). */
export enum BinaryOp {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
  /** NaN-propagating, +0 > -0 (f32x4.max) */
  Max = 4,
  Min = 5,
  /** a < 0 ? a * b : a */
  PRelu = 6,
}

/** Unary float32 ops of unaryF32; p0 / p1 are the op's parameters. */
export enum UnaryOp {
  Relu = 0,
  /** p0 = alpha */
  LeakyRelu = 1,
  /** p0 = min, p1 = max */
  Clip = 2,
  /** max(0, min(1, p0 * x + p1)) */
  HardSigmoid = 3,
  /** x * hardsigmoid(x; 1/6, 1/2) */
  HardSwish = 4,
  Neg = 5,
  Abs = 6,
  Sqrt = 7,
}

/** Rounding of quantizeLinear / quantizePerAxis. */
export enum RoundingMode {
  /** ONNX QuantizeLinear */
  HalfEven = 0,
  /** TFLite */
  HalfAway = 1,
}

/** Which reduction a pooling kernel does. */
export enum PoolKind {
  Average = 0,
  Max = 1,
}
