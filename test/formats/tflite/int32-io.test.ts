// Token-id models (scripts/fixtures/token_models.py: a GPT-2-style causal decoder and a BERT-style
// encoder with a padding mask, exported by PyTorch with int64 inputs) written to .tflite with
// int32Io (`--int32-io`): the file's inputs and its argmax output are int32, as TFLite deployments
// and the browser interpreter feed them (the interpreter in the browser cannot take an int64
// input at all). The real TFLite interpreter runs each file on PyTorch's ids: logits and pooled
// outputs within 1e-5 of PyTorch, the next token equal.
import { mkdtempSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { int64IoAsInt32 } from '../../../src/passes/int32-io.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const NETS = ['gpt', 'bert'] as const;
let dir = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('token_models.py', 'tokens', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const load = async (net: string) => loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });

describe('int64 token-id inputs as int32 in .tflite (--int32-io), run by the TFLite interpreter vs PyTorch', () => {
  it('GPT-style decoder: int32 ids in, logits = PyTorch, the int32 next token = PyTorch argmax', async () => {
    const model = await load('gpt');
    // without it the file takes int64 ids, a type the browser interpreter has no name for ('unknown') and cannot be given
    const plain = (await convert(model, 'gpt.tflite')).bytes;
    expect((await oracle.inputs(plain)).map((t) => t.dtype)).not.toEqual(['int32']);
    const file = (await convert(model, 'gpt.tflite', { int32Io: true })).bytes;
    const ins = await oracle.inputs(file);
    expect(ins.map((t) => [t.dtype, t.shape])).toEqual([['int32', [1, 16]]]);
    const [logits, next] = await oracle.run(file, [Int32Array.from(npy('gpt', 'input_0').toNumbers())]);
    expect(next!.dtype).toBe('int32');
    expect([...next!.data]).toEqual(npy('gpt', 'output_1').toNumbers());
    const err = relErr(logits!.data as Float32Array, npy('gpt', 'output_0').toFloat32());
    console.log(`gpt .tflite (int32 ids) vs PyTorch: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('BERT-style encoder: ids, token types and padding mask as int32; pooled output = PyTorch', async () => {
    const file = (await convert(await load('bert'), 'bert.tflite', { int32Io: true })).bytes;
    const ins = await oracle.inputs(file);
    expect(ins.map((t) => t.dtype)).toEqual(['int32', 'int32', 'int32']);
    const byName = new Map(['ids', 'token_type_ids', 'attention_mask'].map((n, k) => [n, Int32Array.from(npy('bert', `input_${k}`).toNumbers())]));
    const [pooled] = await oracle.run(file, ins.map((t) => byName.get(t.name)!));
    const err = relErr(pooled!.data as Float32Array, npy('bert', 'output_0').toFloat32());
    console.log(`bert .tflite (int32 ids, mask) vs PyTorch: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('quantized: dynamic range runs in the interpreter near float; full int8 is refused by name on the -inf causal mask', async () => {
    const model = await load('gpt');
    const ids = [Int32Array.from(npy('gpt', 'input_0').toNumbers())];
    const f32 = (await convert(model, 'gpt.tflite', { int32Io: true })).bytes;
    const dyn = (await convert(model, 'gpt.tflite', { int32Io: true, quantize: { mode: 'dynamic' } })).bytes;
    const want = (await oracle.run(f32, ids))[0]!.data as Float32Array;
    const got = (await oracle.run(dyn, ids))[0]!.data as Float32Array;
    const snr = pooledSnrDb([want], [got]);
    console.log(`gpt dynamic-range .tflite vs float in the interpreter: ${snr.toFixed(1)} dB`);
    expect(snr).toBeGreaterThan(30);
    const calibration = Array.from({ length: 4 }, (_, k) => [new Tensor('int32', [1, 16], Int32Array.from({ length: 16 }, (_, i) => (i * 7 + k * 13) % 100))]);
    await expect(convert(model, 'gpt.tflite', { int32Io: true, quantize: { mode: 'int8', calibration } })).rejects.toThrow(/int8 activations of value .*-Infinity .*--quantize dynamic/);
  });

  it('the pass keeps names, casts at the edges, and leaves a graph without int64 I/O alone', async () => {
    const g = ((await load('gpt')) as { graph: Parameters<typeof int64IoAsInt32>[0] }).graph;
    const r = int64IoAsInt32(g);
    expect(r.inputs).toEqual(['ids']);
    expect(r.outputs).toEqual(['next_token']);
    expect(r.graph.inputs.map((v) => [v.name, v.dtype])).toEqual([['ids', 'int32']]);
    expect(r.graph.outputs.map((v) => [v.name, v.dtype])).toEqual([['logits', 'float32'], ['next_token', 'int32']]);
    expect(r.graph.nodes.filter((n) => n.opType === 'Cast' && n.name.startsWith('ids/') || n.name.startsWith('next_token/')).length).toBe(2);
    expect(int64IoAsInt32(r.graph).graph).toBe(r.graph);
  });

  it('CLI: --int32-io writes the .tflite; on another output it is a usage error', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nnport-int32-')), 'gpt.tflite');
    const lines: string[] = [];
    const errors: string[] = [];
    expect(await main(['convert', join(dir, 'gpt', 'model.onnx'), '-o', out, '--int32-io'], (s) => lines.push(s), (s) => errors.push(s))).toBe(0);
    expect(errors).toEqual([]);
    expect((await oracle.inputs(new Uint8Array(readFileSync(out)))).map((t) => t.dtype)).toEqual(['int32']);
    expect(await main(['convert', join(dir, 'gpt', 'model.onnx'), '-o', out.replace('.tflite', '.onnx'), '--int32-io'], () => {}, (s) => errors.push(s))).not.toBe(0);
    expect(errors.join('\n')).toMatch(/--int32-io applies to a \.tflite output/);
  });

  it('CLI: --keep-nchw-io keeps a conv model\'s NCHW input and output (the ResNeXt / RegNet blocks fixture)', async () => {
    const onnx = join(REPO_ROOT, 'test/fixtures/models/resnext_regnet/model.onnx');
    const out = join(mkdtempSync(join(tmpdir(), 'nnport-nchw-')), 'rr.tflite');
    expect(await main(['convert', onnx, '-o', out, '--keep-nchw-io'], () => {}, () => {})).toBe(0);
    const file = new Uint8Array(readFileSync(out));
    expect((await oracle.inputs(file)).map((t) => t.shape)).toEqual([[1, 3, 32, 32]]);
    const x = readNpy(new Uint8Array(readFileSync(join(REPO_ROOT, 'test/fixtures/models/resnext_regnet/input.npy'))));
    const [y] = await oracle.run(file, [x.toFloat32()], 1, 1);
    const want = readNpy(new Uint8Array(readFileSync(join(REPO_ROOT, 'test/fixtures/models/resnext_regnet/output.npy')))).toFloat32();
    expect(relErr(y!.data as Float32Array, want)).toBeLessThan(1e-5);
  });
});
