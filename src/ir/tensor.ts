import { checkRank } from './budget.js';
import { allocArray, DTYPES, isBigIntDType, type DType, type NumericArray, type TensorData } from './dtypes.js';
import { ShapeError } from './errors.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from './float16.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * A dense, C-ordered tensor: a dtype, a shape and a typed-array view over its elements.
 * The data may be a view into a model file's bytes or WASM memory; treat it as read-only
 * unless you created it.
 */
export class Tensor<D extends TensorData = TensorData> {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: D;

  constructor(dtype: DType, shape: Shape, data: D) {
    checkRank(shape.length, `a ${dtype} tensor`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    }
    const n = shapeSize(shape);
    if (data.length !== n) throw new ShapeError(`tensor of shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  static zeros(dtype: DType, shape: Shape): Tensor {
    return new Tensor(dtype, shape, allocArray(dtype, shapeSize(shape)));
  }

  static float32(shape: Shape, values?: ArrayLike<number>): Tensor<Float32Array> {
    const data = new Float32Array(shapeSize(shape));
    if (values) data.set(values);
    return new Tensor('float32', shape, data);
  }

  static int64(shape: Shape, values: ArrayLike<number | bigint>): Tensor<BigInt64Array> {
    const data = new BigInt64Array(shapeSize(shape));
    for (let i = 0; i < data.length; i++) data[i] = BigInt(values[i]!);
    return new Tensor('int64', shape, data);
  }

  static scalar(dtype: DType, value: number | bigint): Tensor {
    const t = Tensor.zeros(dtype, []);
    (t.data as NumericArray)[0] = (isBigIntDType(dtype) ? BigInt(value) : Number(value)) as never;
    return t;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * DTYPES[this.dtype].bytes;
  }

  /** Same data, new shape (no copy). */
  reshape(shape: Shape): Tensor<D> {
    return new Tensor(this.dtype, shape, this.data);
  }

  /** The raw little-endian bytes of the elements (a view, no copy). */
  bytes(): Uint8Array {
    if (Array.isArray(this.data)) throw new TypeError('string tensors have no raw bytes');
    const d = this.data as NumericArray;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }

  /** Elements as JS numbers (float16/bfloat16 decoded, int64 converted); copies. */
  toNumbers(): number[] {
    const out = new Array<number>(this.size);
    const d = this.data as ArrayLike<number | bigint>;
    if (this.dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(d[i] as number);
    else if (this.dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bfloat16BitsToFloat32(d[i] as number);
    else for (let i = 0; i < out.length; i++) out[i] = Number(d[i]);
    return out;
  }

  /** Elements as a Float32Array (copies unless already float32). */
  toFloat32(): Float32Array {
    if (this.dtype === 'float32') return this.data as Float32Array;
    return Float32Array.from(this.toNumbers());
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(', ')}]`;
  }
}
