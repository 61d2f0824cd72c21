// ONNX's SequenceProto and OptionalProto (onnx/onnx-data.proto): the serialized sequence and
// optional values of the ONNX backend tests' input_N.pb / output_N.pb files. Not in the
// generated schema (proto/onnx.proto has the model only), so read field by field here.
import $protobuf from 'protobufjs/minimal.js';
import type { DType } from '../../ir/dtypes.js';
import { FormatError, NnportError, UnsupportedError } from '../../ir/errors.js';
import type { ValueKind } from '../../ir/graph.js';
import { OptionalValue, TensorSequence } from '../../ir/seq-values.js';
import type { Tensor } from '../../ir/tensor.js';
import { onnx } from '../generated/onnx.js';
import { guardProtobufDecode, type WireSchema } from '../protobuf-peek.js';
import { isExternal, tensorFromProto } from './tensor-proto.js';
import { TENSOR } from './wire-schema.js';

const { Reader } = $protobuf;

// elem_type of SequenceProto / OptionalProto (DataType)
const TENSOR_ELEM = 1;
const SEQUENCE_ELEM = 3;
const OPTIONAL_ELEM = 5;

const BYTES = { kind: 'bytes' } as const;
const SEQUENCE: WireSchema = { 1: BYTES, 2: { kind: 'scalars', width: 0 }, 3: { kind: 'message', schema: () => TENSOR }, 4: BYTES, 5: { kind: 'message', schema: () => SEQUENCE }, 6: BYTES, 7: { kind: 'message', schema: () => OPTIONAL } };
const OPTIONAL: WireSchema = SEQUENCE;

interface Fields {
  elemType: number;
  tensors: Uint8Array[];
  sequences: Uint8Array[];
  other: number[];
}

function fields(bytes: Uint8Array, file: string, what: string): Fields {
  const out: Fields = { elemType: 0, tensors: [], sequences: [], other: [] };
  try {
    const r = Reader.create(bytes);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const f = tag >>> 3;
      if (f === 2 && (tag & 7) === 0) out.elemType = r.int32();
      else if (f === 3 && (tag & 7) === 2) out.tensors.push(r.bytes());
      else if (f === 5 && (tag & 7) === 2) out.sequences.push(r.bytes());
      else {
        if (f !== 1) out.other.push(f);
        r.skipType(tag & 7);
      }
    }
  } catch (e) {
    if (e instanceof NnportError) throw e;
    throw new FormatError(`not a valid ONNX ${what} (protobuf decoding failed: ${e instanceof Error ? e.message : String(e)})`, { file }, { cause: e });
  }
  if (out.other.some((f) => f === 4 || f === 6 || f === 7)) throw new UnsupportedError(`ONNX ${what} of sparse tensors, maps or optionals`, `in '${file}'`);
  return out;
}

function tensorOf(bytes: Uint8Array, file: string, where: string): Tensor {
  const proto = onnx.TensorProto.decode(bytes);
  if (isExternal(proto)) throw new UnsupportedError('external data in a standalone TensorProto', `${where} in '${file}'`);
  return tensorFromProto(proto, where, file);
}

function sequenceOf(bytes: Uint8Array, file: string, expected: DType): TensorSequence {
  const f = fields(bytes, file, 'SequenceProto');
  if (f.sequences.length || f.elemType === SEQUENCE_ELEM) throw new UnsupportedError('ONNX sequences of sequences', `in '${file}'`);
  if (f.elemType && f.elemType !== TENSOR_ELEM) throw new UnsupportedError(`ONNX SequenceProto elem_type ${f.elemType}`, `in '${file}'`);
  const ts = f.tensors.map((b, i) => tensorOf(b, file, `element ${i}`));
  // an empty sequence says nothing of its dtype: the graph's declared one
  return new TensorSequence(ts[0]?.dtype ?? expected, ts);
}

/**
 * A serialized SequenceProto or OptionalProto (by `kind`, as the graph declares the value) as
 * the runtime's value; `dtype` is the declared element dtype (an empty one carries none).
 */
export function readValueProto(bytes: Uint8Array, kind: ValueKind, dtype: DType, fileName = '<bytes>'): Tensor {
  const what = kind === 'sequence' ? 'SequenceProto' : 'OptionalProto';
  guardProtobufDecode(bytes, kind === 'sequence' ? SEQUENCE : OPTIONAL, fileName, `ONNX ${what}`);
  if (kind === 'sequence') return sequenceOf(bytes, fileName, dtype);
  const f = fields(bytes, fileName, what);
  const holdsSequence = kind === 'optional-sequence';
  if (f.elemType === OPTIONAL_ELEM) throw new UnsupportedError('ONNX optionals of optionals', `in '${fileName}'`);
  if (f.tensors.length + f.sequences.length > 1) throw new FormatError(`an ${what} with ${f.tensors.length + f.sequences.length} values`, { file: fileName });
  if (f.sequences[0]) return new OptionalValue(dtype, sequenceOf(f.sequences[0], fileName, dtype), true);
  if (f.tensors[0]) return new OptionalValue(dtype, tensorOf(f.tensors[0], fileName, 'value'), false);
  return new OptionalValue(dtype, undefined, holdsSequence);
}
