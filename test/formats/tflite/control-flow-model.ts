// Hand-built TFLite files with several subgraphs (IF / WHILE / CALL_ONCE and the resource
// variable ops), independent of nnport's writer: each subgraph its tensors (constants where `data`
// is given), ops, inputs and outputs; one buffer table and one operator-code table for the file.
import { Builder } from 'flatbuffers';
import { Buffer as FbBuffer } from '../../../src/formats/generated/tflite/buffer.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { CallOnceOptions } from '../../../src/formats/generated/tflite/call-once-options.js';
import { ConcatenationOptions } from '../../../src/formats/generated/tflite/concatenation-options.js';
import { IfOptions } from '../../../src/formats/generated/tflite/if-options.js';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { OperatorCode } from '../../../src/formats/generated/tflite/operator-code.js';
import { ShapeOptions } from '../../../src/formats/generated/tflite/shape-options.js';
import { SubGraph } from '../../../src/formats/generated/tflite/sub-graph.js';
import { VarHandleOptions } from '../../../src/formats/generated/tflite/var-handle-options.js';
import { WhileOptions } from '../../../src/formats/generated/tflite/while-options.js';
import { bytesOf, dataBuffer, operatorOffset, tensorOffset, type FbDType, type OpSpec, type OpTensor } from './op-model.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';

export type CfDType = FbDType;
/** a tensor of a subgraph (op-model.ts's: constants where `data` is given) */
export type CfTensor = Omit<OpTensor, 'dtype'> & { dtype?: CfDType };
export type CfOp = OpSpec;

export interface CfSubgraph {
  name: string;
  tensors: CfTensor[];
  ops: CfOp[];
  inputs: number[];
  outputs: number[];
}

export const ifOptions = (thenIndex: number, elseIndex: number) => (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.IfOptions, IfOptions.createIfOptions(b, thenIndex, elseIndex)];
export const whileOptions = (cond: number, body: number) => (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.WhileOptions, WhileOptions.createWhileOptions(b, cond, body)];
export const callOnceOptions = (init: number) => (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.CallOnceOptions, CallOnceOptions.createCallOnceOptions(b, init)];
export const concatOptions = (axis: number) => (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, axis, 0)];
export const varHandleOptions = (sharedName: string) => (b: Builder): [BuiltinOptions, number] => {
  const container = b.createString('');
  const name = b.createString(sharedName);
  return [BuiltinOptions.VarHandleOptions, VarHandleOptions.createVarHandleOptions(b, container, name)];
};

export function buildControlFlowModel(subgraphs: CfSubgraph[]): Uint8Array {
  const b = new Builder(1024);
  const buffers = [(FbBuffer.startBuffer(b), FbBuffer.endBuffer(b))];
  const codes = [...new Set(subgraphs.flatMap((s) => s.ops.map((o) => o.code)))];
  const sgs = subgraphs.map((s) => {
    const tensors = s.tensors.map((t, i) => tensorOffset(b, `${s.name}_t${i}`, t, t.data ? buffers.push(dataBuffer(b, bytesOf(t))) - 1 : 0));
    const ops = s.ops.map((o) => operatorOffset(b, o, codes));
    const tv = SubGraph.createTensorsVector(b, tensors);
    const iv = SubGraph.createInputsVector(b, s.inputs);
    const ov = SubGraph.createOutputsVector(b, s.outputs);
    const opv = SubGraph.createOperatorsVector(b, ops);
    const name = b.createString(s.name);
    SubGraph.startSubGraph(b);
    SubGraph.addTensors(b, tv);
    SubGraph.addInputs(b, iv);
    SubGraph.addOutputs(b, ov);
    SubGraph.addOperators(b, opv);
    SubGraph.addName(b, name);
    return SubGraph.endSubGraph(b);
  });
  const opcodes = codes.map((c) => {
    OperatorCode.startOperatorCode(b);
    OperatorCode.addDeprecatedBuiltinCode(b, Math.min(c, 127));
    OperatorCode.addBuiltinCode(b, c);
    OperatorCode.addVersion(b, 1);
    return OperatorCode.endOperatorCode(b);
  });
  const cv = Model.createOperatorCodesVector(b, opcodes);
  const sv = Model.createSubgraphsVector(b, sgs);
  const bv = Model.createBuffersVector(b, buffers);
  Model.startModel(b);
  Model.addVersion(b, 3);
  Model.addOperatorCodes(b, cv);
  Model.addSubgraphs(b, sv);
  Model.addBuffers(b, bv);
  b.finish(Model.endModel(b), 'TFL3');
  return b.asUint8Array().slice();
}

const Op = BuiltinOperator;

/** IF on a bool input: then x * x + 0.5, else tanh(x - 1); x [2, 3]. Inputs (cond, x). */
export function ifFile(): Uint8Array {
  const x = { shape: [2, 3] };
  return buildControlFlowModel([
    { name: 'main', tensors: [{ shape: [], dtype: 'bool' }, x, x], ops: [{ code: Op.IF, inputs: [0, 1], outputs: [2], options: ifOptions(1, 2) }], inputs: [0, 1], outputs: [2] },
    { name: 'then', tensors: [x, x, { shape: [], data: [0.5] }, x], ops: [{ code: Op.MUL, inputs: [0, 0], outputs: [1] }, { code: Op.ADD, inputs: [1, 2], outputs: [3] }], inputs: [0], outputs: [3] },
    { name: 'else', tensors: [x, { shape: [], data: [1] }, x, x], ops: [{ code: Op.SUB, inputs: [0, 1], outputs: [2] }, { code: Op.TANH, inputs: [2], outputs: [3] }], inputs: [0], outputs: [3] },
  ]);
}

/** cond (i, n, x) -> i < n, for a loop carrying (i, n, x). */
function lessCond(name: string, x: CfTensor): CfSubgraph {
  return { name, tensors: [{ shape: [], dtype: 'int32' }, { shape: [], dtype: 'int32' }, x, { shape: [], dtype: 'bool' }], ops: [{ code: Op.LESS, inputs: [0, 1], outputs: [3] }], inputs: [0, 1, 2], outputs: [3] };
}

/** body (i, n, x) -> (i + 1, n, x * 1.5 + 0.25). */
function stepBody(name: string, x: CfTensor): CfSubgraph {
  const i32: CfTensor = { shape: [], dtype: 'int32' };
  return {
    name,
    tensors: [i32, i32, x, { ...i32, data: [1] }, i32, { shape: [], data: [1.5] }, x, { shape: [], data: [0.25] }, x],
    ops: [
      { code: Op.ADD, inputs: [0, 3], outputs: [4] },
      { code: Op.MUL, inputs: [2, 5], outputs: [6] },
      { code: Op.ADD, inputs: [6, 7], outputs: [8] },
    ],
    inputs: [0, 1, 2],
    outputs: [4, 1, 8],
  };
}

/** WHILE i < n (n a run-time input): x = x * 1.5 + 0.25; inputs (n, x [2, 3]), outputs (i, x). */
export function whileFile(): Uint8Array {
  const x = { shape: [2, 3] };
  const i32: CfTensor = { shape: [], dtype: 'int32' };
  return buildControlFlowModel([
    { name: 'main', tensors: [i32, x, { ...i32, data: [0] }, i32, i32, x], ops: [{ code: Op.WHILE, inputs: [2, 0, 1], outputs: [3, 4, 5], options: whileOptions(1, 2) }], inputs: [0, 1], outputs: [3, 5] },
    lessCond('cond', x),
    stepBody('body', x),
  ]);
}

/** IF whose then branch is the WHILE of whileFile and whose else branch negates x; inputs (cond, n, x), outputs x. */
export function nestedFile(): Uint8Array {
  const x = { shape: [2, 3] };
  const i32: CfTensor = { shape: [], dtype: 'int32' };
  return buildControlFlowModel([
    { name: 'main', tensors: [{ shape: [], dtype: 'bool' }, i32, x, x], ops: [{ code: Op.IF, inputs: [0, 1, 2], outputs: [3], options: ifOptions(1, 2) }], inputs: [0, 1, 2], outputs: [3] },
    { name: 'then', tensors: [i32, x, { ...i32, data: [0] }, i32, i32, x], ops: [{ code: Op.WHILE, inputs: [2, 0, 1], outputs: [3, 4, 5], options: whileOptions(3, 4) }], inputs: [0, 1], outputs: [5] },
    { name: 'else', tensors: [i32, x, x], ops: [{ code: Op.NEG, inputs: [1], outputs: [2] }], inputs: [0, 1], outputs: [2] },
    lessCond('cond', x),
    stepBody('body', x),
  ]);
}

/** WHILE i < n appending a row of (x's last row + 1) to x [-1, 3] each time; inputs (n, x [1, 3]), outputs (i, x). */
export function growingFile(): Uint8Array {
  const x = { shape: [1, 3], signature: [-1, 3] };
  const i32: CfTensor = { shape: [], dtype: 'int32' };
  const i32v = (data: number[]) => ({ shape: [data.length], dtype: 'int32' as const, data });
  return buildControlFlowModel([
    { name: 'main', tensors: [i32, x, { ...i32, data: [0] }, i32, i32, x], ops: [{ code: Op.WHILE, inputs: [2, 0, 1], outputs: [3, 4, 5], options: whileOptions(1, 2) }], inputs: [0, 1], outputs: [3, 5] },
    lessCond('cond', x),
    {
      name: 'body',
      // last row: x[-1:] by STRIDED_SLICE would need options; SLICE of begin (SHAPE(x)[0] - 1, 0), size (1, 3)
      tensors: [i32, i32, x, { ...i32, data: [1] }, i32, { shape: [2], dtype: 'int32' }, i32v([0]), i32v([1]), i32v([1]), { shape: [1], dtype: 'int32' }, { shape: [1], dtype: 'int32' }, { shape: [1], dtype: 'int32' }, i32v([0]), { shape: [2], dtype: 'int32' }, i32v([1, 3]), { shape: [1, 3] }, { shape: [], data: [1] }, { shape: [1, 3] }, x],
      ops: [
        { code: Op.ADD, inputs: [0, 3], outputs: [4] },
        { code: Op.SHAPE, inputs: [2], outputs: [5], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] },
        { code: Op.SLICE, inputs: [5, 6, 7], outputs: [9] },
        { code: Op.SUB, inputs: [9, 8], outputs: [10] },
        { code: Op.CONCATENATION, inputs: [10, 12], outputs: [13], options: concatOptions(0) },
        { code: Op.SLICE, inputs: [2, 13, 14], outputs: [15] },
        { code: Op.ADD, inputs: [15, 16], outputs: [17] },
        { code: Op.CONCATENATION, inputs: [2, 17], outputs: [18], options: concatOptions(0) },
      ],
      inputs: [0, 1, 2],
      outputs: [4, 1, 18],
    },
  ]);
}

/** CALL_ONCE assigning a constant [3] to variable 'w', then y = x + READ_VARIABLE(w); input x [2, 3]. */
export function callOnceFile(w: number[] = [0.5, -1, 2]): Uint8Array {
  const x = { shape: [2, 3] };
  const res: CfTensor = { shape: [], dtype: 'resource' };
  return buildControlFlowModel([
    {
      name: 'main',
      tensors: [x, res, { shape: [3] }, x],
      ops: [
        { code: Op.CALL_ONCE, inputs: [], outputs: [], options: callOnceOptions(1) },
        { code: Op.VAR_HANDLE, inputs: [], outputs: [1], options: varHandleOptions('w') },
        { code: Op.READ_VARIABLE, inputs: [1], outputs: [2] },
        { code: Op.ADD, inputs: [0, 2], outputs: [3] },
      ],
      inputs: [0],
      outputs: [3],
    },
    {
      name: 'init',
      tensors: [res, { shape: [3], data: w }],
      ops: [
        { code: Op.VAR_HANDLE, inputs: [], outputs: [0], options: varHandleOptions('w') },
        { code: Op.ASSIGN_VARIABLE, inputs: [0, 1], outputs: [] },
      ],
      inputs: [],
      outputs: [],
    },
  ]);
}

/**
 * int8 control flow: IF (then x + c, else x * x) and, after it, a WHILE i < n doubling the IF's
 * result (x + x, saturating); inputs (cond, n, x int8 [2, 3]), outputs (the IF's, the WHILE's).
 */
export function int8File(): Uint8Array {
  const qx = { scale: 0.05, zeroPoint: -3 };
  const qy = { scale: 0.08, zeroPoint: 2 };
  const x: CfTensor = { shape: [2, 3], dtype: 'int8', quant: qx };
  const y: CfTensor = { shape: [2, 3], dtype: 'int8', quant: qy };
  const i32: CfTensor = { shape: [], dtype: 'int32' };
  return buildControlFlowModel([
    {
      name: 'main',
      tensors: [{ shape: [], dtype: 'bool' }, i32, x, y, { ...i32, data: [0] }, i32, i32, y],
      ops: [
        { code: Op.IF, inputs: [0, 2], outputs: [3], options: ifOptions(1, 2) },
        { code: Op.WHILE, inputs: [4, 1, 3], outputs: [5, 6, 7], options: whileOptions(3, 4) },
      ],
      inputs: [0, 1, 2],
      outputs: [3, 7],
    },
    { name: 'then', tensors: [x, { shape: [3], dtype: 'int8', quant: qx, data: [40, -100, 7] }, y], ops: [{ code: Op.ADD, inputs: [0, 1], outputs: [2] }], inputs: [0], outputs: [2] },
    { name: 'else', tensors: [x, y], ops: [{ code: Op.MUL, inputs: [0, 0], outputs: [1] }], inputs: [0], outputs: [1] },
    lessCond('cond', y),
    {
      name: 'body',
      tensors: [i32, i32, y, { ...i32, data: [1] }, i32, y],
      ops: [
        { code: Op.ADD, inputs: [0, 3], outputs: [4] },
        { code: Op.ADD, inputs: [2, 2], outputs: [5] },
      ],
      inputs: [0, 1, 2],
      outputs: [4, 1, 5],
    },
  ]);
}
