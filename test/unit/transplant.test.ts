import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnx, writeOnnx } from '../../src/formats/onnx/index.js';
import { readPytorch } from '../../src/formats/pytorch/index.js';
import { emptyGraph, type Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { normalizeName, parseNameMapping } from '../../src/passes/name-mapping.js';
import { inlineKernels as kernels } from '../../src/wasm/tensor-kernels.js';
import { transplant, TransplantError } from '../../src/passes/transplant.js';
import { CACHE, ensureCache, parseNpy } from '../formats/pytorch/helpers.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { ortFirst } from '../support/ort.js';

function npyFloat32(path: string): { shape: number[]; data: Float32Array } {
  const a = parseNpy(new Uint8Array(readFileSync(path)));
  expect(a.descr).toBe('<f4');
  const copy = a.data.slice();
  return { shape: a.shape, data: new Float32Array(copy.buffer, 0, copy.byteLength / 4) };
}

async function runOrt(model: Uint8Array, input: { shape: number[]; data: Float32Array }): Promise<Float32Array> {
  return (await ortFirst(model, [Tensor.float32(input.shape, input.data)])).toFloat32();
}

describe('transplant a .pth into an ONNX export of the same architecture', () => {
  for (const name of ['resnet18', 'mobilenet_v2']) {
    it(`${name}: filled graph run by onnxruntime matches PyTorch with the transplanted weights`, async (ctx) => {
      if (!ensureCache('transplant', `transplant-${name}/output.npy`)) return ctx.skip();
      const dir = join(CACHE, `transplant-${name}`);
      const structure = await readOnnx(new Uint8Array(readFileSync(join(dir, 'structure.onnx'))), { fileName: 'structure.onnx' });
      const weights = readPytorch(new Uint8Array(readFileSync(join(dir, 'weights.pth'))), { fileName: 'weights.pth' });
      const { graph, report } = await transplant(weights.tensors, structure, { kernels });
      const bn = [...weights.tensors.keys()].filter((k) => k.endsWith('num_batches_tracked')).length;
      expect(report.unmatchedSource).toEqual([]);
      expect(report.unmatchedTarget).toEqual([]);
      expect(report.shapeMismatched).toEqual([]);
      expect(report.skipped.length).toBe(bn);
      expect(report.matched.length).toBe(weights.tensors.size - bn);
      expect(structure.initializers.get(report.matched[0]!.target)).not.toBe(graph.initializers.get(report.matched[0]!.target));

      const input = npyFloat32(join(dir, 'input.npy'));
      const want = npyFloat32(join(dir, 'output.npy')).data;
      const got = await runOrt(writeOnnx(graph), input);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // and the untouched structure computes something else: the weights really changed
      const before = await runOrt(writeOnnx(structure), input);
      expect(maxAbsDiff(before, want)).toBeGreaterThan(1e-2);
    });
  }

  it('a renamed and a reshaped tensor show up in the report; shape mismatch is an error unless allowPartial', async (ctx) => {
    if (!ensureCache('transplant', 'transplant-resnet18/output.npy')) return ctx.skip();
    const dir = join(CACHE, 'transplant-resnet18');
    const structure = await readOnnx(new Uint8Array(readFileSync(join(dir, 'structure.onnx'))));
    const src = new Map(readPytorch(new Uint8Array(readFileSync(join(dir, 'weights.pth')))).tensors);
    src.set('head.weight', src.get('fc.weight')!);
    src.delete('fc.weight');
    src.set('conv1.weight', Tensor.zeros('float32', [64, 3, 5, 5]));
    await expect(transplant(src, structure, { kernels })).rejects.toThrow(TransplantError);
    await expect(transplant(src, structure, { kernels })).rejects.toThrow(/conv1\.weight \[64, 3, 5, 5\] -> conv1\.weight \[64, 3, 7, 7\].*--allow-partial/);
    const { report } = await transplant(src, structure, { kernels, allowPartial: true });
    expect(report.unmatchedSource).toEqual([{ source: 'head.weight', reason: 'no target of that name' }]);
    expect(report.unmatchedTarget).toEqual(['conv1.weight', 'fc.weight']);
    expect(report.shapeMismatched).toEqual([{ source: 'conv1.weight', target: 'conv1.weight', sourceShape: [64, 3, 5, 5], targetShape: [64, 3, 7, 7], reason: 'shape' }]);
    // a mapping file fixes the rename
    src.set('conv1.weight', Tensor.zeros('float32', [64, 3, 7, 7]));
    const mapped = await transplant(src, structure, { kernels, mapping: parseNameMapping('{"head.weight": "fc.weight"}') });
    expect(mapped.report.matched.find((m) => m.source === 'head.weight')).toMatchObject({ target: 'fc.weight', via: 'mapping', kind: 'dense' });
    expect(mapped.report.unmatchedTarget).toEqual([]);
  });
});

describe('transplant: name matching and layouts on small graphs', () => {
  function convGraph(): Graph {
    const g = emptyGraph('g');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 2, 4, 4] });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    g.initializers.set('onnx::Conv_7', Tensor.zeros('float32', [3, 2, 1, 1]));
    g.initializers.set('bias', Tensor.zeros('float32', [1, 3, 1, 1]));
    g.initializers.set('proj.weight', Tensor.zeros('float32', [3, 5]));
    g.initializers.set('shape_const', Tensor.int64([1], [2]));
    g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: ['onnx::Conv_7'], outputs: ['conv.weight'], attrs: {} });
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'conv.weight'], outputs: ['c'], attrs: {} });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['c', 'bias'], outputs: ['d'], attrs: {} });
    g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['d', 'proj.weight'], outputs: ['y'], attrs: {} });
    return g;
  }

  it('follows Identity to the initializer, strips DataParallel prefixes, reshapes broadcast biases, transposes MatMul weights, casts float16', async () => {
    const w = Tensor.float32([3, 2, 1, 1], [1, 2, 3, 4, 5, 6]);
    const src = new Map<string, Tensor>([
      ['module.conv.weight', new Tensor('float16', [3, 2, 1, 1], Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]))],
      ['module.bias', Tensor.float32([3], [7, 8, 9])],
      ['proj.weight', Tensor.float32([5, 3], Array.from({ length: 15 }, (_, i) => i))],
      ['bn.num_batches_tracked', Tensor.int64([], [3])],
    ]);
    const g = convGraph();
    const { graph, report } = await transplant(src, g, { kernels });
    expect(graph.initializers.get('onnx::Conv_7')!.toNumbers()).toEqual(w.toNumbers());
    expect(graph.initializers.get('onnx::Conv_7')!.dtype).toBe('float32');
    expect(report.matched[0]).toMatchObject({ source: 'module.conv.weight', target: 'onnx::Conv_7', alias: 'conv.weight', via: 'normalized', kind: 'conv', convertedFrom: 'float16' });
    expect(graph.initializers.get('bias')!.shape).toEqual([1, 3, 1, 1]);
    expect(report.matched[1]).toMatchObject({ layout: 'reshape' });
    const proj = graph.initializers.get('proj.weight')!;
    expect(proj.shape).toEqual([3, 5]);
    expect(proj.toNumbers().slice(0, 5)).toEqual([0, 3, 6, 9, 12]);
    expect(report.matched[2]).toMatchObject({ kind: 'dense-matmul', layout: 'transpose2d' });
    expect(report.skipped).toEqual([{ source: 'bn.num_batches_tracked', reason: 'BatchNorm step counter: not a weight' }]);
    expect(report.unmatchedTarget).toEqual([]);
    // the input graph is untouched
    expect(g.initializers.get('bias')!.toNumbers()).toEqual([0, 0, 0]);
  });

  it('normalizes names across frameworks', () => {
    expect(normalizeName('bn1/moving_variance:0')).toBe('bn1.running_var');
    expect(normalizeName('layer1.0.bn1.running_var')).toBe('layer1.0.bn1.running_var');
    expect(normalizeName('bn1/gamma:0')).toBe('bn1.weight');
    expect(normalizeName('bn1/beta:0')).toBe('bn1.bias');
    expect(normalizeName('conv1/kernel:0')).toBe('conv1.weight');
    expect(normalizeName('module._orig_mod.fc.bias')).toBe('fc.bias');
    expect(() => parseNameMapping('[1]', 'm.json')).toThrow(/m\.json: name mapping must be an object/);
  });
});
