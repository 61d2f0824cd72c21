import { checkRank } from './budget.js';
import { allocArray, DTYPES, isBigIntDType, type DType, type NumericArray, type TensorData } from './dtypes.js';
import { ShapeError, UsageError } from './errors.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from './float16.js';
import { materializeView, permuteView, type PermutedView } from './permuted-view.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Element count of a valid shape (non-negative integer dims), else ShapeError. */
function checkShape(shape: Shape): number {
  checkRank(shape.length, 'a tensor');
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
  }
  return shapeSize(shape);
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
 * Where a tensor's elements live when they are not (only) in a host typed array: a GPU buffer,
 * a worker's memory. The backend that made it implements this; the runtime calls `read` when a
 * kernel that needs host data (or the caller) asks for the elements.
 */
export interface TensorStorage {
  /** the backend holding the data, e.g. 'webgpu'; a kernel of that backend takes it as is */
  readonly location: string;
  /** copy the elements to the host (a GPU readback, a worker round-trip) */
  read(): Promise<TensorData>;
  /** free the device memory (after which read() may fail) */
  dispose?(): void;
}

/**
 * A dense, C-ordered tensor: a dtype, a shape and its elements. The elements are a typed-array
 * view on the host (which may be a view into a model file's bytes or WASM memory; treat it as
 * read-only unless you created it), or live in a backend's memory (`storage`) until `download()`
 * brings them over. `data` of a tensor that is not on the host yet throws.
 */
export class Tensor<D extends TensorData = TensorData> {
  readonly dtype: DType;
  readonly shape: Shape;
  /** the device copy, for tensors a backend made (undefined for host tensors) */
  readonly storage?: TensorStorage;
  private host: D | undefined;
  /** elements not copied yet: a permutation of another tensor's (see `permute`) */
  private pending: PermutedView | undefined;
  private readonly count: number;

  /** `storage` only for a tensor a backend made; then `data` may be undefined (not on the host yet). */
  constructor(dtype: DType, shape: Shape, data: D, storage?: TensorStorage, view?: PermutedView) {
    const n = checkShape(shape);
    if (data === undefined) {
      if (view) {
        if (view.source.length !== n) throw new ShapeError(`a view of ${view.source.length} elements cannot be a tensor of shape [${shape.join(', ')}]`);
      } else if (!storage) throw new UsageError('a tensor needs its data or a device storage');
    } else if (data.length !== n) throw new ShapeError(`tensor of shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.storage = storage;
    this.host = data;
    this.pending = data === undefined ? view : undefined;
    this.count = n;
  }

  /** A tensor whose elements live in a backend's memory (see TensorStorage). */
  static onDevice<D extends TensorData = TensorData>(dtype: DType, shape: Shape, storage: TensorStorage): Tensor<D> {
    return new Tensor<D>(dtype, shape, undefined as unknown as D, storage);
  }

  /** The elements on the host. Throws for a device tensor not yet downloaded (await download()). */
  get data(): D {
    if (this.host === undefined && this.pending) {
      this.host = materializeView(this.pending) as D;
      this.pending = undefined;
    }
    const d = this.host;
    if (d === undefined) throw new UsageError(`${this.toString()} lives in ${this.storage!.location} memory: await tensor.download() before reading its data`);
    return d;
  }

  /** Whether `data` can be read now (always, except for device tensors not yet downloaded). */
  get onHost(): boolean {
    return this.host !== undefined || this.pending !== undefined;
  }

  /** The permutation of another tensor's elements this tensor still is (nothing copied yet), else undefined. */
  get deferred(): PermutedView | undefined {
    return this.host === undefined ? this.pending : undefined;
  }

  /**
   * The tensor with its axes permuted (output axis i = axis perm[i]). Deferred: no element is
   * copied until `data` is read, and a permutation of a deferred tensor composes with it, so a
   * writer can copy it out in slices (`deferred`) without the whole result ever in memory.
   */
  permute(perm: readonly number[]): Tensor<D> {
    if (perm.length !== this.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ShapeError(`[${perm.join(', ')}] is not a permutation of the ${this.rank} axes of ${this.toString()}`);
    if (perm.every((p, i) => p === i)) return this;
    const shape = perm.map((p) => this.shape[p]!);
    const identity = this.shape.map((_, i) => i);
    const base: PermutedView = this.pending && this.host === undefined ? this.pending : { source: this.data, shape: this.shape, perm: identity };
    const view = permuteView(base, this.shape, perm) ?? { source: materializeView(base), shape: this.shape, perm };
    return new Tensor<D>(this.dtype, shape, undefined as unknown as D, undefined, view);
  }

  /** Bring a device tensor's elements to the host (once; later calls return the same data). */
  async download(): Promise<D> {
    if (this.pending) return this.data;
    if (this.host === undefined) {
      const d = (await this.storage!.read()) as D;
      if (d.length !== this.count) throw new ShapeError(`${this.storage!.location} returned ${d.length} elements for ${this.toString()}`);
      this.host = d;
    }
    return this.host;
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
    return this.count;
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * DTYPES[this.dtype].bytes;
  }

  /** Same data, new shape (no copy; a device tensor stays on its device). */
  reshape(shape: Shape): Tensor<D> {
    if (this.host === undefined && this.pending) {
      if (checkShape(shape) !== this.count) throw new ShapeError(`cannot reshape ${this.toString()} to [${shape.join(', ')}]`);
      return new Tensor<D>(this.dtype, shape, undefined as unknown as D, undefined, this.pending);
    }
    if (this.host === undefined) {
      if (checkShape(shape) !== this.count) throw new ShapeError(`cannot reshape ${this.toString()} to [${shape.join(', ')}]`);
      return Tensor.onDevice(this.dtype, shape, this.storage!);
    }
    return new Tensor(this.dtype, shape, this.host, this.storage);
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
