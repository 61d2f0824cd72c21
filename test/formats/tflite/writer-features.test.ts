// TFLite writer features, each file run by the real TFLite interpreter (tfjs-tflite in headless
// Chromium) and compared with PyTorch's own outputs (test/fixtures/tflite-writer/, made by
// scripts/fixtures/tflite_writer_models.py), and checked by flatc with the schema:
//   GELU       nn.GELU() (erf form) and nn.GELU(approximate='tanh') become one GELU op;
//   dynamic    a dynamic batch (x.view(x.size(0), -1) exported with dynamic_axes) keeps -1 in
//              shape_signature and in RESHAPE's new_shape; the file runs at batch 1 and, with its
//              input's stored shape set to 3 (tfjs-tflite has no resize call), at batch 3;
//   op list    one model over the writer's op list (TRANSPOSE_CONV, PADV2, SLICE, SQUEEZE,
//              GATHER, BATCH_MATMUL, HARD_SWISH, ...) within 1e-4 of PyTorch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { flatcJson, opNameOf, opNamesOf, useTfliteOracle } from '../../support/tflite-test.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/tflite-writer');

const oracle = useTfliteOracle();

interface FlatcModel {
  operator_codes: { builtin_code: string }[];
  subgraphs: { tensors: { name: string; shape: number[]; shape_signature?: number[] }[]; inputs: number[]; outputs: number[]; operators: { opcode_index: number; builtin_options?: Record<string, unknown> }[] }[];
}

/** flatc's JSON of a written file, fields at their defaults included (verified by flatc). */
const flatc = (bytes: Uint8Array, name: string): FlatcModel => flatcJson<FlatcModel>(bytes, name, { defaults: true });

const opNames = opNamesOf;

async function fixture(name: string): Promise<{ graph: Graph; input: Float32Array; outputs: Float32Array[] }> {
  const dir = join(FIXTURES, name);
  const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
  const x = readNpy(readFileSync(join(dir, 'input.npy')));
  const outs = ['output.npy', 'output0.npy', 'output1.npy'].flatMap((f) => {
    try {
      return [readNpy(readFileSync(join(dir, f))).toFloat32()];
    } catch {
      return [];
    }
  });
  return { graph: (m as { graph: Graph }).graph, input: permuteTensor(x, [0, 2, 3, 1]).toFloat32(), outputs: outs };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
};

describe('GELU', () => {
  for (const [name, approximate] of [
    ['gelu_erf', false],
    ['gelu_tanh', true],
  ] as const) {
    it(`${name}: PyTorch's spelled-out GELU becomes one GELU op (approximate ${approximate}), within 1e-4 of PyTorch`, async () => {
      const f = await fixture(name);
      const bytes = await writeTflite(f.graph);
      const json = flatc(bytes, name);
      const ops = opNames(json);
      expect(ops.filter((o) => o === 'GELU')).toHaveLength(2);
      expect(ops).not.toContain('TANH');
      expect(ops).not.toContain('MUL');
      const gelu = json.subgraphs[0]!.operators.find((o) => opNameOf(json, o) === 'GELU')!;
      expect(gelu.builtin_options).toEqual({ approximate });
      const [y] = await oracle.run(bytes, [f.input]);
      expect(maxAbs(y!.data, f.outputs[0]!)).toBeLessThanOrEqual(1e-4);
    });
  }
  for (const approximate of ['none', 'tanh']) {
    it(`ONNX's Gelu op (opset 20, approximate '${approximate}') is GELU; the interpreter and nnport's runtime give PyTorch's F.gelu`, async () => {
      const dir = join(FIXTURES, 'gelu_ref');
      const x = readNpy(readFileSync(join(dir, 'input.npy')));
      const want = readNpy(readFileSync(join(dir, `output_${approximate}.npy`))).toFloat32();
      const g: Graph = {
        name: 'gelu',
        inputs: [{ name: 'x', dtype: 'float32', shape: [...x.shape] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [...x.shape] }],
        nodes: [{ name: 'gelu', opType: 'Gelu', domain: '', inputs: ['x'], outputs: ['y'], attrs: { approximate: { type: 'string', value: approximate } } }],
        initializers: new Map(),
        opsets: { '': 20 },
      };
      const bytes = await writeTflite(g);
      expect(opNames(flatc(bytes, `gelu_${approximate}`))).toEqual(['GELU']);
      const [y] = await oracle.run(bytes, [x.toFloat32()]);
      expect(maxAbs(y!.data, want)).toBeLessThanOrEqual(1e-5);
      const mine = (await runGraph(g, new Map([['x', x]]))).outputs.get('y')!.toFloat32();
      expect(maxAbs(mine, want)).toBeLessThanOrEqual(1e-5);
    });
  }
});

/**
 * The file with its input tensor's stored batch set to `batch` (what ResizeInputTensor does
 * before AllocateTensors): the interpreter then sizes every other tensor from its ops.
 */
function withInputBatch(bytes: Uint8Array, batch: number): Uint8Array {
  const out = bytes.slice();
  const bb = new ByteBuffer(out);
  const sg = Model.getRootAsModel(bb).subgraphs(0)!;
  const t = sg.tensors(sg.inputs(0)!)!;
  // Tensor.shape is field 0: vtable slot 4; the vector's first int32 is the batch
  const at = bb.__vector(t.bb_pos + bb.__offset(t.bb_pos, 4));
  bb.writeInt32(at, batch);
  return out;
}

describe('dynamic batch', () => {
  it('a flatten computed from x.size(0) keeps -1 (shape_signature, RESHAPE new_shape) and runs at batch 1 and 3 within 1e-4 of PyTorch', async () => {
    const f = await fixture('flatten_dyn');
    const bytes = await writeTflite(f.graph);
    const json = flatc(bytes, 'flatten_dyn');
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape).toEqual([1, 8, 8, 3]);
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, 8, 8, 3]);
    expect(sg.tensors[sg.outputs[0]!]!.shape_signature).toEqual([-1, 5]);
    const reshape = sg.operators.find((o) => opNameOf(json, o) === 'RESHAPE')!;
    expect(reshape.builtin_options).toEqual({ new_shape: [-1, 64] });
    const [y1] = await oracle.run(bytes, [f.input]);
    expect(y1!.shape).toEqual([1, 5]);
    expect(maxAbs(y1!.data, f.outputs[0]!)).toBeLessThanOrEqual(1e-4);
    const dir = join(FIXTURES, 'flatten_dyn');
    const x3 = permuteTensor(readNpy(readFileSync(join(dir, 'input_b3.npy'))), [0, 2, 3, 1]).toFloat32();
    const [y3] = await oracle.run(withInputBatch(bytes, 3), [x3]);
    expect(y3!.shape).toEqual([3, 5]);
    expect(maxAbs(y3!.data, readNpy(readFileSync(join(dir, 'output_b3.npy'))).toFloat32())).toBeLessThanOrEqual(1e-4);
  });
  it("seg_head's Resize with sizes from a Shape subgraph keeps the batch dynamic: at batch 3 (its input three times) each item is PyTorch's output", async () => {
    const dir = torchvisionDir('seg_head');
    const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'seg_head.onnx' });
    const bytes = await writeTflite((m as { graph: Graph }).graph);
    const json = flatc(bytes, 'seg_head');
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, 64, 64, 3]);
    expect(sg.tensors[sg.outputs[0]!]!.shape_signature).toEqual([-1, 64, 64, 5]);
    const x = permuteTensor(readNpy(readFileSync(join(dir, 'input.npy'))), [0, 2, 3, 1]).toFloat32();
    const want = permuteTensor(readNpy(readFileSync(join(dir, 'output.npy'))), [0, 2, 3, 1]).toFloat32();
    const x3 = new Float32Array(3 * x.length);
    for (let b = 0; b < 3; b++) x3.set(x, b * x.length);
    const [y] = await oracle.run(withInputBatch(bytes, 3), [x3]);
    expect(y!.shape).toEqual([3, 64, 64, 5]);
    for (let b = 0; b < 3; b++) expect(maxAbs(y!.data.subarray(b * want.length, (b + 1) * want.length), want)).toBeLessThanOrEqual(1e-4);
  });
});

describe('writer op list', () => {
  it('one model over CONV_2D, TRANSPOSE_CONV, PADV2, SLICE, SQUEEZE, GATHER, BATCH_MATMUL, HARD_SWISH, ... runs within 1e-4 of PyTorch', async () => {
    const f = await fixture('ops');
    const bytes = await writeTflite(f.graph);
    const ops = new Set(opNames(flatc(bytes, 'ops')));
    for (const op of ['CONV_2D', 'TRANSPOSE_CONV', 'RELU6', 'LEAKY_RELU', 'PRELU', 'ELU', 'HARD_SWISH', 'LOGISTIC', 'ADD', 'DIV', 'PADV2', 'SLICE', 'RESIZE_BILINEAR', 'TANH', 'MAXIMUM', 'MINIMUM', 'MEAN', 'SQUEEZE', 'BATCH_MATMUL', 'SOFTMAX', 'SUM', 'REDUCE_MAX', 'CONCATENATION', 'GATHER', 'FULLY_CONNECTED']) {
      expect({ op, present: ops.has(op) }).toEqual({ op, present: true });
    }
    const got = await oracle.run(bytes, [f.input]);
    expect(got).toHaveLength(2);
    expect(maxAbs(got[0]!.data, f.outputs[0]!)).toBeLessThanOrEqual(1e-4);
    expect(got[1]!.shape).toEqual([1, 2, 3, 7]);
    expect(maxAbs(got[1]!.data, f.outputs[1]!)).toBeLessThanOrEqual(1e-4);
  });
});
