import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPytorch } from '../../../src/formats/pytorch/index.js';
import { loadModelFile } from '../../../src/index.js';
import { detectFormat } from '../../../src/formats/registry.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { CACHE, CORPUS, ensureCache, FIXTURES, loadExpected, TORCH_DTYPE } from './helpers.js';

function read(path: string, key?: string) {
  return readPytorch(new Uint8Array(readFileSync(path)), { fileName: path, key });
}

function expectBitIdentical(tensors: Map<string, Tensor>, expectedFolder: string): number {
  const expected = loadExpected(expectedFolder);
  expect([...tensors.keys()]).toEqual(expected.map((e) => e.name));
  for (const e of expected) {
    const t = tensors.get(e.name)!;
    expect(t.dtype, e.name).toBe(TORCH_DTYPE[e.dtype]);
    expect([...t.shape], e.name).toEqual(e.shape);
    expect(Buffer.from(t.bytes()).equals(Buffer.from(e.data)), `${e.name} bytes`).toBe(true);
  }
  return expected.length;
}

describe('PyTorch reader: generated fixtures, bit-identical to PyTorch', () => {
  for (const c of ['dtypes', 'views', 'nested']) {
    for (const fmt of ['zip', 'legacy']) {
      it(`${c} (${fmt})`, () => {
        const m = read(join(FIXTURES, `${c}.${fmt}.pt`), '');
        expect(m.format).toBe(fmt === 'zip' ? 'pytorch-zip' : 'pytorch-legacy');
        expect(expectBitIdentical(m.tensors, join(FIXTURES, `${c}.expected`))).toBeGreaterThan(3);
      });
    }
  }

  it('views of one storage and non-contiguous tensors come out as PyTorch shows them', () => {
    const m = read(join(FIXTURES, 'views.zip.pt'));
    expect(m.tensors.get('t')!.shape).toEqual([6, 4]);
    expect(m.tensors.get('t')!.toNumbers().slice(0, 5)).toEqual([0, 6, 12, 18, 1]);
    expect(m.tensors.get('col')!.toNumbers()).toEqual([2, 8, 14, 20]);
    expect(m.tensors.get('block')!.toNumbers()).toEqual([8, 9, 10, 14, 15, 16]);
    // contiguous views share the file's bytes: no copy
    const base = m.tensors.get('base')!.data as Float32Array;
    const row = m.tensors.get('row')!.data as Float32Array;
    expect(row.buffer).toBe(base.buffer);
    expect(row.byteOffset).toBe(base.byteOffset + 6 * 4);
  });

  it('nested checkpoint: containers by path, the model selected, scalars kept, --key selects', () => {
    for (const fmt of ['zip', 'legacy']) {
      const path = join(FIXTURES, `nested.${fmt}.pt`);
      const m = read(path);
      expect(m.selected).toBe('model');
      expect(m.containers).toEqual(['model', 'optimizer.state.0', 'optimizer.state.1', 'optimizer.state.2', 'optimizer.state.3', 'optimizer.state.4', 'optimizer.state.5']);
      expect([...m.tensors.keys()]).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'fc.weight', 'fc.bias']);
      expect(m.scalars).toMatchObject({ epoch: '7', best_acc: '0.875', arch: 'tinynet', np_loss: '0.25', 'optimizer.param_groups.0.lr': '0.1' });
      const opt = read(path, 'optimizer.state');
      expect([...opt.tensors.keys()][0]).toBe('0.momentum_buffer');
      expect(() => read(path, 'nope')).toThrow(/no tensors under 'nope'.*model, optimizer\.state\.0/);
    }
  });

  it('loadModelFile (the product path bench:pytorch measures) gives the same tensors', async () => {
    for (const f of ['views.zip.pt', 'views.legacy.pt', 'nested.zip.pt']) {
      const path = join(FIXTURES, f);
      const a = await loadModelFile(path);
      const b = read(path);
      if (a.kind !== 'weights') throw new Error(`${f} read as a ${a.kind} model`);
      expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
      for (const [k, t] of a.tensors) expect(Buffer.from(t.bytes()).equals(Buffer.from(b.tensors.get(k)!.bytes()))).toBe(true);
      expect(a.selected).toBe(b.selected);
    }
    await expect(loadModelFile(join(FIXTURES, 'whole_module.pt'))).rejects.toThrow(/whole nn\.Module/);
  });

  it('detects both formats from their bytes', () => {
    registerAllFormats();
    expect(detectFormat(new Uint8Array(readFileSync(join(FIXTURES, 'dtypes.zip.pt'))), 'x.bin').id).toBe('pytorch-zip');
    expect(detectFormat(new Uint8Array(readFileSync(join(FIXTURES, 'dtypes.legacy.pt'))), 'weights').id).toBe('pytorch-legacy');
  });

  it('refuses a pickled whole nn.Module, explaining to save the state dict', () => {
    expect(() => read(join(FIXTURES, 'whole_module.pt'))).toThrow(
      /refusing to load global '__main__\.TinyNet' from data\.pkl: this file pickles a whole nn\.Module.*torch\.save\(model\.state_dict\(\), path\)/,
    );
  });
});

describe('PyTorch reader: torchvision state dicts (generated)', () => {
  for (const name of ['resnet18', 'mobilenet_v2']) {
    for (const fmt of ['zip', 'legacy']) {
      it(`${name} (${fmt}) reads bit-identically`, (ctx) => {
        if (!ensureCache('models', `${name}.expected/index.json`)) return ctx.skip();
        const m = read(join(CACHE, `${name}.${fmt}.pt`));
        expect(expectBitIdentical(m.tensors, join(CACHE, `${name}.expected`))).toBeGreaterThan(100);
      });
    }
  }
});

describe('PyTorch reader: real files from the corpus', () => {
  const corpus = (p: string) => join(CORPUS, p);

  it('every corpus file reads', () => {
    let n = 0;
    for (const dir of readdirSync(CORPUS)) {
      for (const f of readdirSync(join(CORPUS, dir)).filter((x) => x.endsWith('.pt'))) {
        const m = read(join(CORPUS, dir, f));
        expect(m.tensors.size, `${dir}/${f}`).toBeGreaterThan(0);
        n++;
      }
    }
    expect(n).toBe(15);
  });

  it('mps-tagged MNIST state dict', () => {
    const m = read(corpus('burn-mnist-state-dict-zip/mnist.pt'));
    expect(m.format).toBe('pytorch-zip');
    expect(m.tensors.get('conv1.weight')!.shape).toEqual([8, 1, 3, 3]);
    expect(m.tensors.get('fc1.weight')!.shape).toEqual([32, 11616]);
    expect(m.tensors.get('norm1.num_batches_tracked')!.dtype).toBe('int64');
    expect(m.tensors.get('norm1.num_batches_tracked')!.shape).toEqual([]);
    expect(m.tensors.get('conv1.weight')!.toNumbers()[0]).toBeCloseTo(0.16227687895298004, 7);
  });

  it('dtype files', () => {
    const one = (f: string) => read(corpus(`burn-dtypes-zip/${f}`)).tensors.get('tensor')!;
    expect(one('bfloat16.pt').dtype).toBe('bfloat16');
    expect(one('bfloat16.pt').toNumbers()).toEqual([1.5, -2.5, 3.5]);
    expect(one('float16.pt').toNumbers()).toEqual([1.5, -2.25, 3.125]);
    expect(one('float64.pt').toNumbers()).toEqual([1.1, 2.2, 3.3]);
    expect(one('int64.pt').toNumbers()).toEqual([100, -200, 300, 0]);
    expect(one('int8.pt').toNumbers()).toEqual([127, -128, 0, 50]);
    expect(one('bool.pt').dtype).toBe('bool');
    expect(one('bool.pt').toNumbers()).toEqual([1, 0, 1, 1, 0]);
  });

  it('nested training checkpoint', () => {
    const m = read(corpus('burn-checkpoint-nested-zip/checkpoint.pt'));
    expect(m.selected).toBe('model_state_dict');
    expect([...m.tensors.keys()]).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(m.containers).toContain('optimizer_state_dict.state.0');
    expect(Object.keys(m.scalars!).length).toBeGreaterThan(0);
  });

  it('legacy files: shared storages, offsets, uncloned views', () => {
    const views = read(corpus('burn-legacy-state-dicts/legacy_uncloned_views.pt'));
    expect(views.format).toBe('pytorch-legacy');
    expect(views.tensors.get('tensor1')!.toNumbers()).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(views.tensors.get('tensor2')!.toNumbers()).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
    const off = read(corpus('burn-legacy-state-dicts/legacy_with_offsets.pt'));
    expect(off.tensors.get('tensor2')!.toNumbers()[1]).toBeCloseTo(2.1, 6);
    const shared = read(corpus('burn-legacy-state-dicts/legacy_shared_storage.pt'));
    expect([...shared.tensors.keys()]).toEqual(['view1', 'view2', 'view3']);
  });
});
