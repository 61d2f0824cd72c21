// Hand-built TFLite files of a few builtin ops (any tensor types, constant data, quantization,
// options), for the op-coverage tests: independent of nnport's writer.
import { Builder } from 'flatbuffers';
import type { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import type { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Buffer as FbBuffer } from '../../../src/formats/generated/tflite/buffer.js';
import { Operator } from '../../../src/formats/generated/tflite/operator.js';
import { QuantizationParameters } from '../../../src/formats/generated/tflite/quantization-parameters.js';
import { Tensor as FbTensor } from '../../../src/formats/generated/tflite/tensor.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { finishModel } from './tiny-model.js';

export type OpDType = 'float32' | 'int32' | 'int64' | 'bool' | 'int8' | 'uint8' | 'int16';
/** the dtypes a built tensor may have: OpDType, and resource handles (variables) for hand-built control-flow files */
export type FbDType = OpDType | 'resource';

export interface OpTensor {
  shape: number[];
  /** shape_signature (-1 for a dynamic dim), when given */
  signature?: number[];
  dtype?: OpDType;
  /** constant values (else a graph input when no op writes it) */
  data?: number[];
  /** per-tensor, or per-channel on `axis` (scale and zero point one per channel) */
  quant?: { scale: number | number[]; zeroPoint: number | number[]; axis?: number };
}

export interface OpSpec {
  code: BuiltinOperator;
  /** tensor indices (-1: an omitted optional input) */
  inputs: number[];
  outputs: number[];
  options?: (b: Builder) => [BuiltinOptions, number];
  /** the operator code's version (default 1) */
  version?: number;
}

const TYPES: Record<FbDType, TensorType> = {
  float32: TensorType.FLOAT32,
  int32: TensorType.INT32,
  int64: TensorType.INT64,
  bool: TensorType.BOOL,
  int8: TensorType.INT8,
  uint8: TensorType.UINT8,
  int16: TensorType.INT16,
  resource: TensorType.RESOURCE,
};

/** A constant tensor's values as the little-endian bytes of its dtype. */
export function bytesOf(t: Pick<OpTensor, 'data'> & { dtype?: FbDType }): Uint8Array {
  const v = t.data!;
  switch (t.dtype ?? 'float32') {
    case 'float32':
      return new Uint8Array(Float32Array.from(v).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(v).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(v.map((x) => BigInt(x))).buffer);
    case 'int16':
      return new Uint8Array(Int16Array.from(v).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from(v).buffer);
    default:
      return Uint8Array.from(v);
  }
}

/**
 * One subgraph: the tensors (constants where `data` is given), the ops in order; graph inputs are
 * the tensors nothing writes and that hold no data, outputs are `outputs` (default: the last op's).
 */
export function buildOpModel(tensors: OpTensor[], ops: OpSpec[], outputs?: number[]): Uint8Array {
  const b = new Builder(1024);
  let next = 1;
  const bufferOf = tensors.map((t) => (t.data ? next++ : 0));
  const buffers = [
    (FbBuffer.startBuffer(b), FbBuffer.endBuffer(b)),
    ...tensors
      .filter((t) => t.data)
      .map((t) => dataBuffer(b, bytesOf(t))),
  ];
  const tensorOffsets = tensors.map((t, i) => tensorOffset(b, `t${i}`, t, bufferOf[i]!));
  const codes = [...new Set(ops.map((o) => o.code))];
  const opOffsets = ops.map((o) => operatorOffset(b, o, codes));
  const written = new Set(ops.flatMap((o) => o.outputs));
  const inputs = tensors.flatMap((t, i) => (!t.data && !written.has(i) && ops.some((o) => o.inputs.includes(i)) ? [i] : []));
  return finishModel(b, { tensors: tensorOffsets, inputs, outputs: outputs ?? ops[ops.length - 1]!.outputs, operators: opOffsets, opcodes: codes, buffers, versions: codes.map((c) => ops.find((o) => o.code === c)!.version ?? 1) });
}

/** A Buffer holding `bytes` (16-byte aligned). */
export function dataBuffer(b: Builder, bytes: Uint8Array): number {
  b.startVector(1, bytes.byteLength, 16);
  for (let k = bytes.length - 1; k >= 0; k--) b.addInt8(bytes[k]!);
  const data = b.endVector();
  FbBuffer.startBuffer(b);
  FbBuffer.addData(b, data);
  return FbBuffer.endBuffer(b);
}

/** A Tensor table: name, shape (and signature), dtype, buffer index, quantization. */
export function tensorOffset(b: Builder, tensorName: string, t: Omit<OpTensor, 'dtype'> & { dtype?: FbDType }, buffer: number): number {
  const name = b.createString(tensorName);
  const shape = FbTensor.createShapeVector(b, t.shape);
  const signature = t.signature ? FbTensor.createShapeSignatureVector(b, t.signature) : 0;
  let quant = 0;
  if (t.quant) {
    const scale = QuantizationParameters.createScaleVector(b, ([] as number[]).concat(t.quant.scale));
    const zp = QuantizationParameters.createZeroPointVector(b, ([] as number[]).concat(t.quant.zeroPoint).map((z) => BigInt(z)));
    QuantizationParameters.startQuantizationParameters(b);
    QuantizationParameters.addScale(b, scale);
    QuantizationParameters.addZeroPoint(b, zp);
    if (t.quant.axis !== undefined) QuantizationParameters.addQuantizedDimension(b, t.quant.axis);
    quant = QuantizationParameters.endQuantizationParameters(b);
  }
  FbTensor.startTensor(b);
  FbTensor.addName(b, name);
  FbTensor.addShape(b, shape);
  if (signature) FbTensor.addShapeSignature(b, signature);
  FbTensor.addType(b, TYPES[t.dtype ?? 'float32']);
  FbTensor.addBuffer(b, buffer);
  if (quant) FbTensor.addQuantization(b, quant);
  return FbTensor.endTensor(b);
}

/** An Operator table for `o`, its opcode index into `codes`. */
export function operatorOffset(b: Builder, o: OpSpec, codes: readonly BuiltinOperator[]): number {
  const opts = o.options?.(b);
  const ins = Operator.createInputsVector(b, o.inputs);
  const outs = Operator.createOutputsVector(b, o.outputs);
  Operator.startOperator(b);
  Operator.addOpcodeIndex(b, codes.indexOf(o.code));
  Operator.addInputs(b, ins);
  Operator.addOutputs(b, outs);
  if (opts) {
    Operator.addBuiltinOptionsType(b, opts[0]);
    Operator.addBuiltinOptions(b, opts[1]);
  }
  return Operator.endOperator(b);
}
