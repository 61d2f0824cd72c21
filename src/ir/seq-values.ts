// The values of ONNX's sequence and optional types as the runtime holds them: a sequence of
// tensors and an optional tensor / sequence. They are Tensors to the executor (which stores,
// feeds and frees values without looking inside), as empty tensors of their element dtype whose
// `data` throws: a kernel that is handed one where a tensor belongs fails naming it, never
// computes on an empty tensor.
import { allocArray, type DType } from './dtypes.js';
import { ShapeError } from './errors.js';
import type { ValueKind } from './graph.js';
import { Tensor } from './tensor.js';

/** A sequence of tensors of one dtype (their shapes may differ). */
export class TensorSequence extends Tensor {
  readonly kind = 'sequence' as const;
  /** the tensors, shared with the sequences appended to this one (only the first `held` are this one's) */
  private readonly items: Tensor[];
  private readonly held: number;

  /** `shared`: appended() only (the array of the sequence appended to, already checked). */
  constructor(dtype: DType, elements: readonly Tensor[], shared?: Tensor[]) {
    super(dtype, [0], allocArray(dtype, 0));
    if (!shared) elements.forEach((t, i) => checkElement(t, dtype, i));
    this.items = shared ?? [...elements];
    this.held = shared ? shared.length : elements.length;
  }

  get elements(): readonly Tensor[] {
    return this.items.length === this.held ? this.items : this.items.slice(0, this.held);
  }

  /** How many tensors it holds. */
  get length(): number {
    return this.held;
  }

  /** Its tensor at `i` (0 <= i < length). */
  at(i: number): Tensor {
    if (!(i >= 0 && i < this.held)) throw new ShapeError(`no tensor ${i} in a ${this.describe()}`);
    return this.items[i]!;
  }

  /**
   * This sequence with `t` appended. The first append to a sequence shares its array (a list
   * built one append per Loop iteration costs one step per append, not a copy of all so far).
   */
  appended(t: Tensor): TensorSequence {
    checkElement(t, this.dtype, this.held);
    if (this.items.length !== this.held) return new TensorSequence(this.dtype, [...this.elements, t]);
    this.items.push(t);
    return new TensorSequence(this.dtype, [], this.items);
  }

  override get data(): never {
    throw new ShapeError(`a ${this.describe()} is not a tensor`);
  }

  describe(): string {
    return `sequence of ${this.held} ${this.dtype} tensor${this.held === 1 ? '' : 's'}`;
  }

  override toString(): string {
    return `TensorSequence<${this.dtype}>(${this.elements.map((t) => `[${t.shape.join(', ')}]`).join(', ')})`;
  }
}

function checkElement(t: Tensor, dtype: DType, i: number): void {
  if (t instanceof TensorSequence || t instanceof OptionalValue) throw new ShapeError(`element ${i} of a sequence is ${describeValue(t)}: a sequence holds tensors`);
  if (t.dtype !== dtype) throw new ShapeError(`element ${i} of a sequence of ${dtype} is ${t.dtype}`);
}

/** An optional value: a tensor or a sequence, or none (then only its type is known). */
export class OptionalValue extends Tensor {
  readonly kind: 'optional' | 'optional-sequence';
  constructor(
    dtype: DType,
    /** what it holds: a tensor or a sequence ('optional-sequence'); undefined when empty */
    readonly value: Tensor | undefined,
    holdsSequence = value instanceof TensorSequence,
  ) {
    super(dtype, [0], allocArray(dtype, 0));
    if (value instanceof OptionalValue) throw new ShapeError('an optional cannot hold an optional');
    if (value && (value instanceof TensorSequence) !== holdsSequence) throw new ShapeError(`an optional ${holdsSequence ? 'sequence' : 'tensor'} given a ${value instanceof TensorSequence ? value.describe() : 'tensor'}`);
    if (value && value.dtype !== dtype) throw new ShapeError(`an optional of ${dtype} given a ${value.dtype} value`);
    this.kind = holdsSequence ? 'optional-sequence' : 'optional';
  }

  override get data(): never {
    throw new ShapeError(`an ${this.describe()} is not a tensor`);
  }

  describe(): string {
    return `optional ${this.kind === 'optional-sequence' ? 'sequence' : 'tensor'} of ${this.dtype} (${this.value ? 'holding a value' : 'empty'})`;
  }

  override toString(): string {
    return `OptionalValue<${this.dtype}>(${this.value ? this.value.toString() : 'none'})`;
  }
}

/** The kind of a runtime value (undefined: a tensor). */
export function valueKind(t: Tensor): ValueKind | undefined {
  return t instanceof TensorSequence || t instanceof OptionalValue ? t.kind : undefined;
}

/** What a value is, for errors: 'a tensor float32 [2, 3]', 'a sequence of 3 float32 tensors', ... */
export function describeValue(t: Tensor): string {
  if (t instanceof TensorSequence) return `a ${t.describe()}`;
  if (t instanceof OptionalValue) return `an ${t.describe()}`;
  return `a tensor ${t.dtype} [${t.shape.join(', ')}]`;
}

/** How a ValueKind reads in messages. */
export const KIND_WORDS: Readonly<Record<ValueKind | 'tensor', string>> = { tensor: 'a tensor', sequence: 'a sequence', optional: 'an optional tensor', 'optional-sequence': 'an optional sequence' };
