// torchvision nets of the 2026-11 sweep that showed a bug, at small sizes (scripts/fixtures/
// torchvision_sweep.py, .fixtures-cache/torchvision-sweep/), each checked against PyTorch's output.
//
// mvit_tiny: torchvision's MViT code (mvit_v2_s's blocks) with 3 small blocks. torch 1.13 exports
// pool_skip's squeeze(1) as an If whose then-branch output is declared with dims it never had
// ([1, 287, 32] for [1, 33, 32]); shape inference filled the If's unknown token dim from that
// declaration, so constant folding baked 287 into the next block's Reshape targets and the .pb /
// TF.js graph writers (and the .tflite one) failed ("cannot reshape [1, 33, 96] to [1, 287, 3, 2, 16]").
// A subgraph's outputs are now inferred from its nodes, their declared dims not filled in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../src/index.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { permuteTensor } from '../../src/passes/layout.js';
import { REPO_ROOT } from '../support/corpus.js';
import { relErr } from '../support/error-metrics.js';
import { ensureScriptFixtures } from '../support/fixture-script.js';
import { loadWrittenGraphModel, runGraphModel } from './tfjs/graph-oracle.js';
import { registerAllFormats } from '../../src/formats/all.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/torchvision-sweep');
const npy = (name: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, name, f))), f);
/** the .pb / TF.js graph model take the video channels-last (N, T, H, W, C) */
const ndhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 4, 1]);
const onnx = (name: string): Uint8Array => new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx')));

beforeAll(() => {
  registerAllFormats();
  ensureScriptFixtures('torchvision_sweep.py', 'torchvision-sweep', ['mvit_tiny']);
}, 300_000);

describe('torchvision MViT (mvit_v2_s blocks): an If branch declared with dims it never had', () => {
  it('nnport runs the ONNX file as PyTorch does', async () => {
    const m = await loadModel(onnx('mvit_tiny'), { fileName: 'mvit_tiny.onnx' });
    const y = [...(await run(m, { x: npy('mvit_tiny', 'input.npy') })).outputs.values()][0]!;
    expect(relErr(y.toFloat32(), npy('mvit_tiny', 'output.npy').toFloat32())).toBeLessThanOrEqual(1e-5);
  });

  it('.pb: written (the shape computations after the If keep the token count it computes), read back and run', async () => {
    const m = await loadModel(onnx('mvit_tiny'), { fileName: 'mvit_tiny.onnx' });
    const { bytes } = await convert(m, 'mvit.pb');
    const back = await loadModel(bytes, { fileName: 'mvit.pb' });
    if (back.kind !== 'graph') throw new Error('not a graph');
    const y = [...(await run(back, { [back.graph.inputs[0]!.name]: ndhwc(npy('mvit_tiny', 'input.npy')) })).outputs.values()][0]!;
    expect(relErr(y.toFloat32(), npy('mvit_tiny', 'output.npy').toFloat32())).toBeLessThanOrEqual(1e-5);
  });

  it('TF.js graph model: run by TF.js', async () => {
    const m = await loadModel(onnx('mvit_tiny'), { fileName: 'mvit_tiny.onnx' });
    const r = await convert(m, 'web/model.json', { tfjsFormat: 'graph' });
    const gm = await loadWrittenGraphModel({ json: r.bytes, sidecars: r.sidecars });
    const [y] = await runGraphModel(gm, [ndhwc(npy('mvit_tiny', 'input.npy'))]);
    expect(relErr(y!.toFloat32(), npy('mvit_tiny', 'output.npy').toFloat32())).toBeLessThanOrEqual(1e-5);
  });

  // (.tflite: its depthwise 3-D pooling convs are lowered to DEPTHWISE_CONV_2D taps, run by the interpreter in tflite/grouped-conv3d.test.ts)
  it('.h5: refused, naming what the format lacks (an Einsum over batch labels with a constant)', async () => {
    const m = await loadModel(onnx('mvit_tiny'), { fileName: 'mvit_tiny.onnx' });
    await expect(convert(m, 'mvit.h5')).rejects.toThrow(/Einsum .* in a keras-h5 file/);
  });
});
