/**
 * `nnport compare model.onnx model.h5 --input x.npy --layers`: the NCHW ONNX model and the
 * channels-last Keras model it was converted to run side by side (the input transposed for the
 * NHWC side), outputs and same-named layers compared. The reference for the numbers is the ONNX
 * model's own run; the check here is that the pairing across layouts finds every layer and that
 * PyTorch's output (output.npy) agrees with the Keras side.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { compare, loadModelFile, readNpy, run } from '../../../src/index.js';
import { permute } from '../../../src/wasm/permute.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { relError } from './tfjs-oracle.js';

const SEG = join(REPO_ROOT, 'test/fixtures/models/seg_head');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-compare-'));

describe('compare across layouts (ONNX NCHW vs Keras NHWC)', () => {
  it('pairs outputs and the layers named after the source modules', { timeout: 60_000 }, async () => {
    const h5 = join(tmp, 'seg.h5');
    expect(await main(['convert', join(SEG, 'model.onnx'), '-o', h5], () => {}, () => {})).toBe(0);
    const x = readNpy(new Uint8Array(readFileSync(join(SEG, 'input.npy'))), 'input.npy');
    const src = await loadModelFile(join(SEG, 'model.onnx'));
    const dst = await loadModelFile(h5);
    const r = await compare(src, dst, { input: x }, { layers: true });
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]!.maxRel).toBeLessThan(1e-5);
    const names = r.layers!.map((d) => d.name.split(' ~ ')[0]);
    expect(names).toEqual(expect.arrayContaining(['stem.0', 'stem.1', 'stem.2', 'd2.0', 'd4.2', 'classifier']));
    for (const d of r.layers!) expect(d.maxRel, d.name).toBeLessThan(1e-5);
    // and the Keras side, run alone on the NHWC input, is PyTorch's output
    const y = (await run(dst, { [dst.kind === 'graph' ? dst.graph.inputs[0]!.name : '']: await permute(x, [0, 2, 3, 1]) })).outputs.values().next().value!;
    const want = readNpy(new Uint8Array(readFileSync(join(SEG, 'output.npy'))), 'output.npy');
    expect(relError(y, permute(want, [0, 2, 3, 1]))).toBeLessThan(1e-4);

    const lines: string[] = [];
    expect(await main(['compare', join(SEG, 'model.onnx'), h5, '--input', join(SEG, 'input.npy'), '--layers'], (s) => lines.push(s), () => {})).toBe(0);
    expect(lines.join('\n')).toMatch(/stem\.0 ~ \/stem\/stem\.0\/Conv_output_0 \[1, 32, 32, 16\]: max abs/);
  });
});
