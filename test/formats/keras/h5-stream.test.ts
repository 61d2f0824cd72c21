// The Keras .h5 written straight to disk as each weight is converted (the CLI's path; h5wasm's
// Node build), a slice of rows at a time, against independent oracles: h5py reading it and
// comparing every dataset with what NumPy transposes of the ONNX weights give
// (scripts/bench/onnx_to_keras_h5.py, the peer of npm run bench:convert), and TensorFlow.js
// running it against PyTorch's output. Small models are cut into many slices here (a tiny
// slice budget) so that they take the path vgg16's 411 MB dense kernel takes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareForKeras } from '../../../src/api/to-keras.js';
import { writeKerasH5File } from '../../../src/formats/keras/write.js';
import { readNpy } from '../../../src/formats/numpy/npy-read.js';
import { loadModelFile } from '../../../src/index.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { predict, relError, tfjsModelFromH5 } from './tfjs-oracle.js';

const ROOT = join(__dirname, '../../..');
const PYTHON = '/usr/bin/python3';
const PEER = join(ROOT, 'scripts/bench/onnx_to_keras_h5.py');
const SAME = join(ROOT, 'scripts/bench/h5_same.py');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nnport-h5-stream-'));
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: ROOT, stdio: 'ignore' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** h5py: both files hold the same datasets, every value equal. */
function expectSameWeights(a: string, b: string): string {
  const r = spawnSync(PYTHON, [SAME, a, b], { encoding: 'utf8' });
  expect(r.stderr + r.stdout).toMatch(/^same: /);
  expect(r.status).toBe(0);
  return r.stdout;
}

function numpyPeer(name: string): string {
  const out = join(dir, `${name}.numpy.h5`);
  const r = spawnSync(PYTHON, [PEER, join(torchvisionDir(name), 'model.onnx'), out], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return out;
}

describe('Keras .h5 streamed to disk', () => {
  it('the CLI writes LeNet (conv kernels OIHW->HWIO, the dense after the flatten with its rows in H·W·C order) as NumPy does; TF.js gives PyTorch\'s output', async () => {
    const fixture = torchvisionDir('lenet');
    const out = join(dir, 'lenet.cli.h5');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nnport.js'), 'convert', join(fixture, 'model.onnx'), '-o', out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`wrote ${out}`);
    expect(expectSameWeights(out, numpyPeer('lenet'))).toMatch(/10 datasets in 5 layers/);

    const model = await tfjsModelFromH5(new Uint8Array(readFileSync(out)));
    const x = readNpy(readFileSync(join(fixture, 'input.npy')));
    const nhwc = x.permute([0, 2, 3, 1]);
    const [y] = predict(model, [nhwc]);
    expect(relError(y!, readNpy(readFileSync(join(fixture, 'output.npy'))))).toBeLessThan(1e-4);
  });

  it.each([
    ['lenet', 7],
    ['squeezenet1_1', 1000],
  ])('%s cut into slices of at most %i elements equals NumPy\'s conversion', async (name, slice) => {
    const model = await loadModelFile(join(torchvisionDir(name), 'model.onnx'));
    if (model.kind !== 'graph') throw new Error('expected a graph');
    const prepared = { ...model, graph: (await prepareForKeras(model.graph)).graph };
    const out = join(dir, `${name}.sliced.h5`);
    await writeKerasH5File(prepared, out, {}, slice);
    expectSameWeights(out, numpyPeer(name));
  });
});
