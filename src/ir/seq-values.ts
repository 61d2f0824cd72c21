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
  constructor(
    dtype: DType,
    readonly elements: readonly Tensor[],
  ) {
    super(dtype, [0], allocArray(dtype, 0));
    for (const [i, t] of elements.entries()) {
      if (t instanceof TensorSequence || t instanceof OptionalValue) throw new ShapeError(`element ${i} of a sequence is ${describeValue(t)}: a sequence holds tensors`);
      if (t.dtype !== dtype) throw new ShapeError(`element ${i} of a sequence of ${dtype} is ${t.dtype}`);
    }
  }

  override get data(): never {
    throw new ShapeError(`a ${this.describe()} is not a tensor`);
  }

  describe(): string {
    return `sequence of ${this.elements.length} ${this.dtype} tensor${this.elements.length === 1 ? '' : 's'}`;
  }

  override toString(): string {
    return `TensorSequence<${this.dtype}>(${this.elements.map((t) => `[${t.shape.join(', ')}]`).join(', ')})`;
  }
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
