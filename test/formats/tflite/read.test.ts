// The TFLite reader on the real corpus files and on broken ones. Outputs are compared with the
// TFLite interpreter in oracle.test.ts; here: structure, unsupported ops, typed errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { corpusPath } from '../../support/corpus.js';
import { buildTinyModel, type TinyModel } from './tiny-model.js';

const read = (rel: string) => readTflite(readFileSync(corpusPath(`tflite/${rel}`)), { fileName: rel });
const opCounts = (nodes: { opType: string; domain: string }[]) => {
  const out: Record<string, number> = {};
  for (const n of nodes) out[(n.domain ? `${n.domain}.` : '') + n.opType] = (out[(n.domain ? `${n.domain}.` : '') + n.opType] ?? 0) + 1;
  return out;
};

describe('TFLite reader: corpus', () => {
  it('magic wand (float CNN): channels-last nnport ops, OHWI conv and HWIO depthwise weights', async () => {
    const g = await read('tflm-magic-wand-float/magic_wand.tflite');
    expect(g.inputs).toEqual([{ name: 'conv2d_input', dtype: 'float32', shape: [1, 128, 3, 1] }]);
    expect(opCounts(g.nodes)).toMatchObject({ 'nnport.Conv': 2, 'nnport.MaxPool': 2, Gemm: 2, Softmax: 1 });
    const convs = g.nodes.filter((n) => n.opType === 'Conv');
    const layouts = convs.map((n) => (n.attrs.kernel_layout as { value: string }).value).sort();
    expect(layouts).toEqual(['HWIO', 'OHWI']);
    for (const n of convs) expect(g.initializers.get(n.inputs[1]!)?.rank).toBe(4);
    expect(g.opsets.nnport).toBe(1);
  });

  it('person detect (int8): per-channel QDQ on conv weights, int32 biases, int8 I/O', async () => {
    const g = await read('tflm-person-detect-int8/person_detect.tflite');
    expect(g.inputs[0]).toMatchObject({ dtype: 'int8', shape: [1, 96, 96, 1] });
    expect(g.outputs[0]!.dtype).toBe('int8');
    const counts = opCounts(g.nodes);
    expect(counts['nnport.Conv']).toBe(28);
    const perAxis = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && n.attrs.axis);
    expect(perAxis.length).toBeGreaterThanOrEqual(56);
    const biasDq = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && g.initializers.get(n.inputs[0]!)?.dtype === 'int32');
    expect(biasDq.length).toBe(28);
  });

  it('seanet conv0 (16x8): int16 activations, int8 per-channel weights, int64 bias kept exactly', async () => {
    const g = await read('tflm-seanet-conv0-int16x8/conv0.tflite');
    expect(g.inputs[0]).toMatchObject({ dtype: 'int16', shape: [1, 8, 166, 2] });
    expect(g.outputs[0]!.dtype).toBe('int16');
    expect(opCounts(g.nodes)).toEqual({ DequantizeLinear: 3, 'nnport.Conv': 1, QuantizeLinear: 1 });
  });

  it('mobilenet-v2 from PyTorch (int8, NCHW input + TRANSPOSE, explicit PADs) reads', async () => {
    const g = await read('tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite');
    expect(g.inputs[0]).toMatchObject({ dtype: 'int8', shape: [1, 3, 224, 224] });
    expect(opCounts(g.nodes)).toMatchObject({ Transpose: 1, Pad: 18, 'nnport.Conv': 52, Add: 10, ReduceMean: 1, Gemm: 1 });
  });

  // SVDF (svdf.test.ts), the integer LSTM (lstm-int8.test.ts) and the float LSTM (lstm-float*.test.ts) are read
  it('SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM files read', async () => {
    for (const f of ['tflm-keyword-scrambled-int8-svdf/keyword_scrambled_8bit.tflite', 'tflm-mnist-lstm-float/trained_lstm.tflite', 'tflm-mnist-lstm-int8/trained_lstm_int8.tflite']) {
      expect((await read(f)).nodes.length).toBeGreaterThan(0);
    }
  });
});

describe('TFLite reader: bad input is a one-line typed error', () => {
  const good: TinyModel = {
    tensors: [
      { name: 'x', shape: [1, 2], buffer: 0 },
      { name: 'w', shape: [2, 2], buffer: 1 },
      { name: 'y', shape: [1, 2], buffer: 0 },
    ],
    buffers: [{}, { data: new Uint8Array(16) }],
    opcodes: [BuiltinOperator.FULLY_CONNECTED],
    operators: [{ opcode: 0, inputs: [0, 1, -1], outputs: [2] }],
    inputs: [0],
    outputs: [2],
  };
  const expectOneLine = async (bytes: Uint8Array, type: typeof FormatError, pattern: RegExp) => {
    const err = await readTflite(bytes, { fileName: 'bad.tflite' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).toMatch(/bad\.tflite/);
    expect((err as Error).message).not.toContain('\n');
  };

  it('the hand-built good model reads', async () => {
    const g = await readTflite(buildTinyModel(good), { fileName: 'good.tflite' });
    expect(g.nodes.map((n) => n.opType)).toEqual(['Gemm']);
  });

  it('a truncated flatbuffer', async () => {
    const bytes = readFileSync(corpusPath('tflite/tflm-hello-world-float/hello_world_float.tflite'));
    for (const n of [9, 64, 1000, bytes.length - 100]) await expectOneLine(bytes.subarray(0, n), FormatError, /past the end|outside the file|corrupt/);
    await expectOneLine(bytes.subarray(0, 4), FormatError, /too short/);
  });

  it('a buffer offset past the end of the file', async () => {
    const bytes = buildTinyModel({ ...good, buffers: [{}, { offset: 1 << 20, size: 16 }] });
    await expectOneLine(bytes, FormatError, /buffer 1 at offset 1048576 \+ 16 bytes runs past the end/);
  });

  it('a tensor whose buffer size disagrees with its shape', async () => {
    const bytes = buildTinyModel({ ...good, buffers: [{}, { data: new Uint8Array(12) }] });
    await expectOneLine(bytes, FormatError, /tensor 1 'w': buffer holds 12 bytes, but shape \[2, 2\] of float32 needs 16/);
  });

  it('an opcode index out of range', async () => {
    const bytes = buildTinyModel({ ...good, operators: [{ opcode: 3, inputs: [0, 1, -1], outputs: [2] }] });
    await expectOneLine(bytes, FormatError, /operator 0: opcode index 3 is out of range \(1 operator codes\)/);
  });

  it('a tensor index and a buffer index out of range', async () => {
    await expectOneLine(buildTinyModel({ ...good, operators: [{ opcode: 0, inputs: [0, 7, -1], outputs: [2] }] }), FormatError, /tensor index 7 is out of range/);
    await expectOneLine(buildTinyModel({ ...good, tensors: [good.tensors[0]!, { name: 'w', shape: [2, 2], buffer: 9 }, good.tensors[2]!] }), FormatError, /buffer index 9 is out of range/);
  });
});
