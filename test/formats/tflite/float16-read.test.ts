// A float16 .tflite (weights and biases stored as float16 behind DEQUANTIZE, the TF converter's
// float16 mode) read by nnport and written again. The graph read keeps them float16 (a Cast of the
// file's constant), so the file written again -- as it is, or through convert() with no
// --quantize -- holds the same float16 bytes (flatc's JSON view of both files) and the
// interpreter gives it the float16 file's outputs. Another --quantize re-quantizes from the
// float32 values; ONNX keeps the float16 initializers behind a Cast (onnxruntime-node runs it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite, writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-float16-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
let seed = 3;
const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
const t = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand()));

interface FlatcModel {
  subgraphs: { tensors: { type?: string; buffer?: number; shape?: number[] }[] }[];
  buffers: { data?: number[] }[];
}
/** Each tensor type of the file, and its float16 constants as 'shape:bytes' (sorted: names and order may differ). */
function contents(b: Uint8Array, name: string): { types: (string | undefined)[]; halves: string[] } {
  const m = flatcJson<FlatcModel>(b, name, { defaults: true });
  const tensors = m.subgraphs[0]!.tensors;
  const halves = tensors.filter((v) => v.type === 'FLOAT16').map((v) => `${(v.shape ?? []).join('x')}:${(m.buffers[v.buffer!]!.data ?? []).join(',')}`);
  return { types: tensors.map((v) => v.type), halves: halves.sort() };
}

describe('float16 TFLite read and written again', () => {
  const onnx: Graph = {
    name: 'f16',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6] }],
    initializers: new Map([['w1', t([8, 4, 3, 3])], ['b1', t([8])], ['wd', t([8, 1, 3, 3])], ['bd', t([8])], ['w3', t([6, 8, 1, 1])], ['wf', t([6, 6])], ['bf', t([6])]]),
    opsets: { '': 17 },
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], 'c1', { pads: { type: 'ints', value: [1, 1, 1, 1] } }),
      node('Relu', ['c1'], 'r1'),
      node('Conv', ['r1', 'wd', 'bd'], 'cd', { pads: { type: 'ints', value: [1, 1, 1, 1] }, group: { type: 'int', value: 8 } }),
      node('Conv', ['cd', 'w3'], 'c3'),
      node('GlobalAveragePool', ['c3'], 'p'),
      node('Flatten', ['p'], 'f'),
      node('Gemm', ['f', 'wf', 'bf'], 'y', { transB: { type: 'int', value: 1 } }),
    ],
  };
  const x = Tensor.float32([1, 8, 8, 4], Array.from({ length: 256 }, () => rand() * 2));
  const interpret = async (b: Uint8Array) => (await oracle.run(b, [x.data as Float32Array]))[0]!.data as Float32Array;

  it('conv + depthwise + 1x1 conv + dense: the float16 bytes come back, and the interpreter computes the same', async () => {
    const half = serializeTflite((await quantizeGraph(await prepareForTflite(onnx), { mode: 'float16' })).graph);
    const source = contents(half, 'f16');
    // every weight and bias, as TF's converter stores them (the bias-free 1x1 conv's zero bias too)
    expect(source.halves.length).toBe(8);
    const back = await readTflite(half);
    expect(back.nodes.filter((n) => n.opType === 'Cast').length).toBeGreaterThanOrEqual(7);
    const again = serializeTflite(back);
    const written = await writeTflite(back);
    expect(contents(again, 'f16-again').halves).toEqual(source.halves);
    expect(contents(written, 'f16-written').halves).toEqual(source.halves);
    // and the file written from that one again: a fixed point
    expect(contents(await writeTflite(await readTflite(written)), 'f16-third').halves).toEqual(source.halves);
    const theirs = await interpret(half);
    expect(relErr(await interpret(again), theirs)).toBe(0);
    expect(relErr(await interpret(written), theirs)).toBe(0);
    const ours = (await runGraph(back, { [back.inputs[0]!.name]: x })).outputs.get(back.outputs[0]!.name)!.toFloat32();
    expect(relErr(ours, theirs)).toBeLessThanOrEqual(1e-5);
  });

  it('another --quantize starts from the float32 values; ONNX keeps float16 initializers behind a Cast', async () => {
    const half = serializeTflite((await quantizeGraph(await prepareForTflite(onnx), { mode: 'float16' })).graph);
    const theirs = await interpret(half);
    const back = await readTflite(half);
    const dynamic = await writeTflite(back, { quantize: { mode: 'dynamic', minElements: 1 } });
    const d = contents(dynamic, 'f16-dynamic');
    expect(d.types).not.toContain('FLOAT16');
    expect(d.types).toContain('INT8');
    expect(relErr(await interpret(dynamic), theirs)).toBeLessThanOrEqual(5e-2);
    const model = await loadModel(half, { fileName: 'f16.tflite' });
    const { bytes } = await convert(model, 'f16.onnx');
    const g = (await loadModel(bytes, { fileName: 'f16.onnx' })) as { kind: 'graph'; graph: Graph };
    const halfInits = [...g.graph.initializers.values()].filter((v) => v.dtype === 'float16');
    // the 7 weights and biases, and the zero bias nnport's writer gave the bias-free conv
    expect(halfInits.length).toBe(8);
    expect([...g.graph.initializers.values()].filter((v) => v.dtype === 'float32' && v.rank > 0).length).toBe(0);
    // the weights are re-laid as float16 constants, not transposed at run time
    expect(g.graph.nodes.filter((n) => n.opType === 'Transpose').length).toBe(1);
    const out = Object.values(await runOrt(bytes, { [g.graph.inputs[0]!.name]: x }))[0]!;
    const ort = new Float32Array((out.bytes as Uint8Array).buffer);
    expect(relErr(ort, theirs)).toBeLessThanOrEqual(1e-5);
  });

  it('the CLI: convert f16.tflite -o again.tflite (no --quantize) writes the same file; --explain says what other formats do', { timeout: 120_000 }, async () => {
    const onnxPath = join(tmp, 'f16.onnx');
    writeFileSync(onnxPath, writeOnnx(onnx));
    const f16 = join(tmp, 'f16.tflite');
    const again = join(tmp, 'again.tflite');
    const lines: string[] = [];
    const err: string[] = [];
    expect(await main(['convert', onnxPath, '-o', f16, '--quantize', 'float16'], (l) => lines.push(l), (l) => err.push(l))).toBe(0);
    expect(await main(['convert', f16, '-o', again], (l) => lines.push(l), (l) => err.push(l))).toBe(0);
    expect(Buffer.compare(readFileSync(again), readFileSync(f16))).toBe(0);
    expect(await main(['convert', f16, '-o', join(tmp, 'f32.tflite'), '--dequantize', '--explain'], (l) => lines.push(l), (l) => err.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/8 float16 weights written as float32 \(--dequantize makes a float32 model\)/);
    expect(contents(new Uint8Array(readFileSync(join(tmp, 'f32.tflite'))), 'f32').types).not.toContain('FLOAT16');
    expect(err.join('\n')).toBe('');
  });
});
