// Hand-built TFLite flatbuffers for the bad-input tests: one subgraph, the tensors, buffers,
// operator codes and operators given, nothing else (so each test breaks exactly one thing).
import { Builder } from 'flatbuffers';
import { Buffer as FbBuffer } from '../../../src/formats/generated/tflite/buffer.js';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { Operator } from '../../../src/formats/generated/tflite/operator.js';
import { OperatorCode } from '../../../src/formats/generated/tflite/operator-code.js';
import { SubGraph } from '../../../src/formats/generated/tflite/sub-graph.js';
import { Tensor } from '../../../src/formats/generated/tflite/tensor.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';

export interface TinyModel {
  tensors: { name: string; shape: number[]; type?: TensorType; buffer: number }[];
  /** inline data, or an offset/size pair (the >2 GB layout) */
  buffers: ({ data?: Uint8Array; offset?: number; size?: number })[];
  opcodes: number[];
  operators: { opcode: number; inputs: number[]; outputs: number[] }[];
  inputs: number[];
  outputs: number[];
}

export function buildTinyModel(m: TinyModel): Uint8Array {
  const b = new Builder(1024);
  const buffers = m.buffers.map((buf) => {
    const data = buf.data ? FbBuffer.createDataVector(b, buf.data) : 0;
    FbBuffer.startBuffer(b);
    if (data) FbBuffer.addData(b, data);
    if (buf.offset !== undefined) FbBuffer.addOffset(b, BigInt(buf.offset));
    if (buf.size !== undefined) FbBuffer.addSize(b, BigInt(buf.size));
    return FbBuffer.endBuffer(b);
  });
  const tensors = m.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = Tensor.createShapeVector(b, t.shape);
    Tensor.startTensor(b);
    Tensor.addName(b, name);
    Tensor.addShape(b, shape);
    Tensor.addType(b, t.type ?? TensorType.FLOAT32);
    Tensor.addBuffer(b, t.buffer);
    return Tensor.endTensor(b);
  });
  const ops = m.operators.map((o) => {
    const inputs = Operator.createInputsVector(b, o.inputs);
    const outputs = Operator.createOutputsVector(b, o.outputs);
    Operator.startOperator(b);
    Operator.addOpcodeIndex(b, o.opcode);
    Operator.addInputs(b, inputs);
    Operator.addOutputs(b, outputs);
    return Operator.endOperator(b);
  });
  return finishModel(b, { tensors, inputs: m.inputs, outputs: m.outputs, operators: ops, opcodes: m.opcodes, buffers });
}

/** One subgraph of the given tensors and operators (offsets in `b`), the operator codes (builtin
 * numbers) and buffers, finished as a TFLite model; the bytes. */
export function finishModel(b: Builder, p: { tensors: number[]; inputs: number[]; outputs: number[]; operators: number[]; opcodes: number[]; buffers: number[]; versions?: number[] }): Uint8Array {
  const tv = SubGraph.createTensorsVector(b, p.tensors);
  const iv = SubGraph.createInputsVector(b, p.inputs);
  const ov = SubGraph.createOutputsVector(b, p.outputs);
  const opv = SubGraph.createOperatorsVector(b, p.operators);
  SubGraph.startSubGraph(b);
  SubGraph.addTensors(b, tv);
  SubGraph.addInputs(b, iv);
  SubGraph.addOutputs(b, ov);
  SubGraph.addOperators(b, opv);
  const sg = SubGraph.endSubGraph(b);
  const codes = p.opcodes.map((c, i) => {
    OperatorCode.startOperatorCode(b);
    OperatorCode.addDeprecatedBuiltinCode(b, Math.min(c, 127));
    OperatorCode.addBuiltinCode(b, c);
    OperatorCode.addVersion(b, p.versions?.[i] ?? 1);
    return OperatorCode.endOperatorCode(b);
  });
  const cv = Model.createOperatorCodesVector(b, codes);
  const sv = Model.createSubgraphsVector(b, [sg]);
  const bv = Model.createBuffersVector(b, p.buffers);
  Model.startModel(b);
  Model.addVersion(b, 3);
  Model.addOperatorCodes(b, cv);
  Model.addSubgraphs(b, sv);
  Model.addBuffers(b, bv);
  b.finish(Model.endModel(b), 'TFL3');
  return b.asUint8Array().slice();
}
