// Hand-built TFLite flatbuffers with quantized and variable tensors, builtin options and
// intermediates: the SVDF and integer LSTM files the interpreter runs in svdf / lstm-int8 tests
// (the corpus' SVDF model has an int8 state, which only TFLite Micro runs).
import { Builder } from 'flatbuffers';
import type { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Buffer as FbBuffer } from '../../../src/formats/generated/tflite/buffer.js';
import { Operator } from '../../../src/formats/generated/tflite/operator.js';
import { QuantizationParameters } from '../../../src/formats/generated/tflite/quantization-parameters.js';
import { Tensor } from '../../../src/formats/generated/tflite/tensor.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { finishModel } from './tiny-model.js';

export interface BuiltTensor {
  name: string;
  shape: number[];
  type: TensorType;
  /** constant data (little-endian bytes of `type`) */
  data?: ArrayBufferView;
  quant?: { scale: number[]; zeroPoint: number[]; axis?: number };
  variable?: boolean;
  /** shape_signature (-1 for a dynamic dim), when given */
  signature?: number[];
}

export interface BuiltOperator {
  opcode: number;
  inputs: number[];
  outputs: number[];
  intermediates?: number[];
  options?: (b: Builder) => { type: BuiltinOptions; offset: number };
}

export interface BuiltModel {
  tensors: BuiltTensor[];
  /** builtin codes, one per operator code */
  opcodes: number[];
  operators: BuiltOperator[];
  inputs: number[];
  outputs: number[];
}

export function buildModel(m: BuiltModel): Uint8Array {
  const b = new Builder(4096);
  // buffer 0 is the empty one; each constant gets its own
  const buffers = [FbBuffer.createBuffer(b, 0, 0n, 0n)];
  const bufferOf = m.tensors.map((t) => {
    if (!t.data) return 0;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    b.startVector(1, bytes.length, 16);
    for (let i = bytes.length - 1; i >= 0; i--) b.addInt8(bytes[i]!);
    const data = b.endVector();
    FbBuffer.startBuffer(b);
    FbBuffer.addData(b, data);
    buffers.push(FbBuffer.endBuffer(b));
    return buffers.length - 1;
  });
  const tensors = m.tensors.map((t, i) => {
    const name = b.createString(t.name);
    const shape = Tensor.createShapeVector(b, t.shape);
    const signature = t.signature ? Tensor.createShapeSignatureVector(b, t.signature) : 0;
    let quant = 0;
    if (t.quant) {
      const scale = QuantizationParameters.createScaleVector(b, t.quant.scale);
      const zp = QuantizationParameters.createZeroPointVector(b, t.quant.zeroPoint.map(BigInt));
      QuantizationParameters.startQuantizationParameters(b);
      QuantizationParameters.addScale(b, scale);
      QuantizationParameters.addZeroPoint(b, zp);
      if (t.quant.axis !== undefined) QuantizationParameters.addQuantizedDimension(b, t.quant.axis);
      quant = QuantizationParameters.endQuantizationParameters(b);
    }
    Tensor.startTensor(b);
    Tensor.addName(b, name);
    Tensor.addShape(b, shape);
    if (signature) Tensor.addShapeSignature(b, signature);
    Tensor.addType(b, t.type);
    Tensor.addBuffer(b, bufferOf[i]!);
    if (quant) Tensor.addQuantization(b, quant);
    if (t.variable) Tensor.addIsVariable(b, true);
    return Tensor.endTensor(b);
  });
  const ops = m.operators.map((o) => {
    const inputs = Operator.createInputsVector(b, o.inputs);
    const outputs = Operator.createOutputsVector(b, o.outputs);
    const inter = o.intermediates ? Operator.createIntermediatesVector(b, o.intermediates) : 0;
    const options = o.options?.(b);
    Operator.startOperator(b);
    Operator.addOpcodeIndex(b, o.opcode);
    Operator.addInputs(b, inputs);
    Operator.addOutputs(b, outputs);
    if (inter) Operator.addIntermediates(b, inter);
    if (options) {
      Operator.addBuiltinOptionsType(b, options.type);
      Operator.addBuiltinOptions(b, options.offset);
    }
    return Operator.endOperator(b);
  });
  return finishModel(b, { tensors, inputs: m.inputs, outputs: m.outputs, operators: ops, opcodes: m.opcodes, buffers });
}

/** Uniform integers in [lo, hi] from `r`. */
export function randomInts<T extends Int8Array | Int16Array | Int32Array>(Arr: new (n: number) => T, n: number, lo: number, hi: number, r: () => number): T {
  const a = new Arr(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor(r() * (hi - lo + 1));
  return a;
}

export { TensorType };
