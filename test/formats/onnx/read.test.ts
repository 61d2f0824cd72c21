// What readOnnx / readTensorProto give, checked against onnx's own decoding (numpy_helper
// values written by scripts/fixtures/make_onnx_typed_tensors.py) and onnxruntime-node.
import { corpusPath } from '../../support/corpus.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnx, readTensorProto } from '../../../src/formats/onnx/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { runOrt } from './ort-helpers.js';

const FIXTURES = new URL('../../fixtures/onnx-typed/', import.meta.url);
const CORPUS = corpusPath('onnx');
// golden tensors of models whose opset-6 kernels onnxruntime no longer has: skipped by name, any other onnxruntime error fails
const ORT_LACKS: Record<string, string> = {
  'onnx-backend-avgpool2d-stride': 'AveragePool-1',
  'onnx-backend-batchnorm2d-eval': 'BatchNormalization-6',
  'onnx-backend-prelu-2d-multiparam': 'PRelu-6',
};

function values(data: unknown): (string | number)[] {
  const a = Array.from(data as ArrayLike<number | bigint | string>);
  return a.map((v) => (typeof v === 'bigint' ? v.toString() : v));
}

describe('readOnnx: tensors in every TensorProto field', async () => {
  const bytes = new Uint8Array(readFileSync(new URL('typed-fields.onnx', FIXTURES)));
  const expected = JSON.parse(readFileSync(new URL('expected.json', FIXTURES), 'utf8')) as Record<string, { dims: number[]; values: (string | number)[] }>;
  const graph = await readOnnx(bytes, { fileName: 'typed-fields.onnx' });

  it.each(Object.keys(expected))('%s equals numpy_helper.to_array', (name) => {
    const t = graph.initializers.get(name)!;
    expect(t.shape).toEqual(expected[name]!.dims);
    const want = expected[name]!.values;
    const got = values(t.data);
    if (t.dtype === 'float32') expect(got).toEqual(want.map((v) => Math.fround(v as number)));
    else if (['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'].includes(t.dtype)) expect(got.map(String)).toEqual(want);
    else expect(got).toEqual(want);
  });

  it('has the dtypes onnx declares', () => {
    const dtypes = Object.fromEntries([...graph.initializers].map(([k, t]) => [k, t.dtype]));
    expect(dtypes).toMatchObject({ f16: 'float16', bf16: 'bfloat16', b: 'bool', i64: 'int64', u64: 'uint64', u32: 'uint32', f64: 'float64', str: 'string' });
  });

  it('keeps symbolic dims, opsets and metadata', () => {
    expect(graph.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', 3] }]);
    expect(graph.opsets).toEqual({ '': 13 });
    expect(graph.metadata).toMatchObject({ producerName: 'make_onnx_typed_tensors', props: { author: 'nnport tests' } });
  });

  it('writes them back so that onnxruntime and onnx agree', async () => {
    const ours = writeOnnx(graph, {});
    const again = await readOnnx(ours, { fileName: 'ours.onnx' });
    for (const [name, t] of graph.initializers) expect(values(again.initializers.get(name)!.data), name).toEqual(values(t.data));
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const feeds = { x: new Tensor('float32', [2, 3], x) };
    const a = await runOrt(bytes, feeds);
    const b = await runOrt(ours, feeds);
    expect(b.y!.bytes).toEqual(a.y!.bytes);
  });
});

describe('readOnnx: raw_data stays a view over the file', () => {
  it('aligned float32 initializers share the file buffer', async () => {
    const file = corpusPath('onnx/burn-mnist-torch2-opset16/mnist.onnx');
    const bytes = new Uint8Array(readFileSync(file));
    const graph = await readOnnx(bytes, { fileName: file });
    const tensors = [...graph.initializers.values()].filter((t) => t.dtype === 'float32');
    const views = tensors.filter((t) => (t.data as Float32Array).buffer === bytes.buffer);
    expect(views.length).toBeGreaterThan(0);
    // the unaligned rest are one aligned copy each, never a different value
    for (const t of tensors) {
      const d = t.data as Float32Array;
      if (d.buffer === bytes.buffer) expect(d.byteOffset % 4).toBe(0);
    }
  });
});

describe('readTensorProto: the backend tests golden tensors', () => {
  const all = readdirSync(CORPUS).filter((d) => existsSync(join(CORPUS, d, 'test_data_set_0/output_0.pb')));
  const dirs = all.filter((d) => !ORT_LACKS[d]);
  it('the corpus has them', () => expect(dirs.length).toBeGreaterThan(3));
  for (const d of all.filter((x) => ORT_LACKS[x])) it.skip(`${d} [onnxruntime lacks ${ORT_LACKS[d]}]`, () => {});
  it.each(dirs)('%s: onnxruntime on input_0.pb gives output_0.pb', async (d) => {
    const model = new Uint8Array(readFileSync(join(CORPUS, d, 'model.onnx')));
    const graph = await readOnnx(model, { fileName: d });
    const input = readTensorProto(new Uint8Array(readFileSync(join(CORPUS, d, 'test_data_set_0/input_0.pb'))), 'input_0.pb');
    const golden = readTensorProto(new Uint8Array(readFileSync(join(CORPUS, d, 'test_data_set_0/output_0.pb'))), 'output_0.pb');
    expect(input.shape).toEqual(graph.inputs[0]!.shape);
    const out = await runOrt(model, { [graph.inputs[0]!.name]: input });
    const y = Object.values(out)[0]!;
    expect(y.dims).toEqual(golden.shape);
    const got = new Float32Array((y.bytes as Uint8Array).buffer);
    const want = golden.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 + 1e-4 * Math.abs(want[i]!));
  });
});
