/** Keras files that are not what they claim: one typed, one-line error each, nothing written. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { buildH5Bytes } from '../../../src/formats/keras/hdf5.js';
import { readKerasH5, readTfjsLayers, writeKerasH5 } from '../../../src/index.js';
import { FormatError, ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import { readFileSync } from 'node:fs';
import { corpusPath } from '../../support/corpus.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-bad-'));
const MNIST = corpusPath('keras-h5/tensorspace-mnist-seq-keras216/keras_model.h5');

function denseModel(kernelShape: number[], cls = 'Dense'): Promise<Uint8Array> {
  const config = { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 4] } }, { class_name: cls, config: { name: 'fc', units: 3 } }] } };
  return buildH5Bytes((f) => {
    f.create_attribute('model_config', JSON.stringify(config));
    const mw = f.create_group('model_weights');
    mw.create_attribute('layer_names', ['in', 'fc']);
    const g = mw.create_group('fc');
    g.create_attribute('weight_names', ['fc/kernel:0', 'fc/bias:0']);
    const inner = g.create_group('fc');
    inner.create_dataset({ name: 'kernel:0', data: new Float32Array(kernelShape.reduce((a, b) => a * b, 1)), shape: kernelShape });
    inner.create_dataset({ name: 'bias:0', data: new Float32Array(3), shape: [3] });
  });
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(Error);
  return e as Error;
}

describe('bad Keras input', () => {
  it('an .h5 without model_config', async () => {
    const bytes = await buildH5Bytes((f) => void f.create_group('something'));
    const e = await errorOf(readKerasH5(bytes, { fileName: 'x.h5' }));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/^x\.h5: .*no model_config/);
  });

  it('a weights-only .h5 says to give the config', async () => {
    const bytes = await buildH5Bytes((f) => f.create_attribute('layer_names', ['a']));
    const e = await errorOf(readKerasH5(bytes, { fileName: 'w.h5' }));
    expect(e.message).toMatch(/weights-only.*model config/);
  });

  it('a weights-only .h5 with its config given beside it reads', async () => {
    const config = JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 4] } }, { class_name: 'Dense', config: { name: 'fc', units: 3 } }] } });
    const weightsOnly = await buildH5Bytes((f) => {
      f.create_attribute('layer_names', ['fc']);
      const g = f.create_group('fc');
      g.create_attribute('weight_names', ['fc/kernel:0', 'fc/bias:0']);
      const inner = g.create_group('fc');
      inner.create_dataset({ name: 'kernel:0', data: new Float32Array(12).fill(1), shape: [4, 3] });
      inner.create_dataset({ name: 'bias:0', data: new Float32Array(3), shape: [3] });
    });
    const files = { given: ['w.h5', 'config.json'], read: async (n: string) => (n === 'config.json' ? new TextEncoder().encode(config) : weightsOnly), list: async () => ['w.h5', 'config.json'] };
    const m = await readKerasH5(weightsOnly, { fileName: 'w.h5', files });
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Add']);
  });

  it('a config naming an unknown layer class', async () => {
    const e = await errorOf(readKerasH5(await denseModel([4, 3], 'FancyLayer'), { fileName: 'u.h5' }));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/'FancyLayer'.*layer 'fc'/);
  });

  it('a weight whose shape disagrees with the config', async () => {
    const e = await errorOf(readKerasH5(await denseModel([5, 3]), { fileName: 's.h5' }));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/layer 'fc' \(Dense\): weight 'kernel' has shape \[5, 3\], the config implies \[4, 3\]/);
  });

  it('a truncated HDF5 file', async () => {
    const whole = new Uint8Array(readFileSync(MNIST));
    for (const cut of [100, 4096, whole.length >> 1, whole.length - 1000]) {
      const e = await errorOf(readKerasH5(whole.subarray(0, cut), { fileName: 't.h5' }));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message.split('\n')).toHaveLength(1);
    }
  });

  it('a TF.js model.json whose shard is missing names it', async () => {
    const json = new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 2] } }] }, weightsManifest: [{ paths: ['w.bin'], weights: [] }] }));
    const e = await errorOf(readTfjsLayers(json, { fileName: 'model.json' }));
    expect(e.message).toMatch(/'w\.bin'/);
  });

  it('the CLI prints one line and writes nothing', async () => {
    const bad = join(tmp, 'bad.h5');
    writeFileSync(bad, new Uint8Array(readFileSync(MNIST)).subarray(0, 5000));
    const out = join(tmp, 'out.h5');
    const err: string[] = [];
    const code = await main(['convert', bad, '-o', out], () => {}, (s) => err.push(s));
    expect(code).not.toBe(0);
    expect(err.join('\n').trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the .h5 nnport writes, as h5py sees it', () => {
  it('has the groups and attributes model.save() writes', async () => {
    const model = await readKerasH5(new Uint8Array(readFileSync(MNIST)), { fileName: MNIST });
    const file = join(tmp, 'mnist.h5');
    writeFileSync(file, await writeKerasH5(model));
    const r = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts/fixtures/h5_layout.py'), file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const seen = JSON.parse(r.stdout);
    expect(seen.root_attrs).toEqual(['backend', 'keras_version', 'model_config']);
    expect(seen.backend).toBe('tensorflow');
    expect(seen.model_weights_attrs).toEqual(['backend', 'keras_version', 'layer_names']);
    expect(seen.model_config.class_name).toBe('Functional');
    expect(seen.layer_names).toEqual(seen.model_config.config.layers.map((l: { name: string }) => l.name));
    expect(seen.weight_names.Conv2D_1).toEqual(['Conv2D_1/kernel:0', 'Conv2D_1/bias:0']);
    expect(seen.weight_names.flatten_1).toEqual([]);
    expect(seen.datasets['Conv2D_1/Conv2D_1/kernel:0']).toEqual([5, 5, 1, 6]);
    expect(seen.datasets['Dense_1/Dense_1/bias:0']).toBeDefined();
  });
});
