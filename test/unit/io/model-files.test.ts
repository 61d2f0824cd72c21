// Multi-file models and the guarded reader: files generated here, in a temporary folder.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelFile, loadModelFiles, NnportError, Tensor } from '../../../src/index.js';
import { emptyGraph } from '../../../src/ir/graph.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { blobFileSet, nodeFileSet } from '../../../src/io/model-files.js';
import { cli } from '../../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-files-'));

/** y = x + w with w (64 floats) kept in external data `<name>.data`. */
function externalModel(dir: string, name = 'model.onnx'): { model: string; data: string } {
  const g = emptyGraph('ext');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [64] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [64] });
  g.initializers.set('w', Tensor.float32([64], Array.from({ length: 64 }, (_, i) => i)));
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'w'], outputs: ['y'], attrs: {} });
  const sidecars = new Map<string, Uint8Array>();
  const bytes = writeOnnx(g, { fileName: name, externalDataThreshold: 16, sidecars });
  writeFileSync(join(dir, name), bytes);
  const [[dataName, data]] = [...sidecars];
  writeFileSync(join(dir, dataName!), data!);
  return { model: join(dir, name), data: join(dir, dataName!) };
}

function folder(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('ModelFileSet from paths', () => {
  it('keeps the given order, reads given files and siblings, lists the folder', async () => {
    const d = folder('pair');
    writeFileSync(join(d, 'deploy.prototxt'), 'name: "x"');
    writeFileSync(join(d, 'weights.caffemodel'), Uint8Array.of(1, 2, 3));
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub/shard1.bin'), Uint8Array.of(9));
    const set = nodeFileSet([join(d, 'deploy.prototxt'), join(d, 'weights.caffemodel')]);
    expect(set.given).toEqual([join(d, 'deploy.prototxt'), join(d, 'weights.caffemodel')]);
    expect([...(await set.read('weights.caffemodel'))]).toEqual([1, 2, 3]);
    expect([...(await set.read('sub/shard1.bin'))]).toEqual([9]);
    expect(await set.list()).toEqual(['deploy.prototxt', 'sub/shard1.bin', 'weights.caffemodel']);
    expect(set.unused()).toEqual([join(d, 'deploy.prototxt')]);
  });

  it('a folder gives its model file first, then companions; ambiguous folders are refused', async () => {
    const sm = folder('saved');
    writeFileSync(join(sm, 'saved_model.pb'), Uint8Array.of(8, 1));
    mkdirSync(join(sm, 'variables'));
    writeFileSync(join(sm, 'variables/variables.index'), Uint8Array.of(0));
    const set = nodeFileSet([sm]);
    expect(set.given).toEqual([join(sm, 'saved_model.pb')]);
    expect(await set.list()).toContain('variables/variables.index');

    const caffe = folder('caffe-folder');
    writeFileSync(join(caffe, 'w.caffemodel'), Uint8Array.of(1));
    writeFileSync(join(caffe, 'deploy.prototxt'), 'name: "x"');
    expect(nodeFileSet([caffe]).given).toEqual([join(caffe, 'deploy.prototxt'), join(caffe, 'w.caffemodel')]);

    const two = folder('two');
    writeFileSync(join(two, 'a.onnx'), Uint8Array.of(1));
    writeFileSync(join(two, 'b.onnx'), Uint8Array.of(1));
    expect(() => nodeFileSet([two])).toThrow(/several model files \(a\.onnx, b\.onnx\)/);
    expect(() => nodeFileSet([folder('empty')])).toThrow(/no model file found/);
  });

  it('sibling reads refuse .., absolute paths and symlinks leaving the folder, naming the path', async () => {
    const outside = join(tmp, 'secret.txt');
    writeFileSync(outside, 'secret');
    const d = folder('escape');
    writeFileSync(join(d, 'm.onnx'), Uint8Array.of(1));
    symlinkSync(outside, join(d, 'link.data'));
    const set = nodeFileSet([join(d, 'm.onnx')]);
    await expect(set.read('../secret.txt')).rejects.toThrow(/must be a relative path inside the model's folder/);
    await expect(set.read(outside)).rejects.toThrow(/must be a relative path/);
    const e = await errorOf(set.read('link.data'));
    expect(e).toBeInstanceOf(NnportError);
    expect(e.message).toContain(outside);
    expect(e.message).toMatch(/outside the model's folder/);
    await expect(set.read('nope.bin')).rejects.toThrow(/missing file 'nope\.bin'/);
  });

  it('ONNX external data through a symlink to a file outside the folder is refused with the path', async () => {
    const d = folder('onnx-link');
    const { model, data } = externalModel(d);
    expect((await loadModelFile(model)).kind).toBe('graph');
    const outside = join(tmp, 'outside.data');
    writeFileSync(outside, new Uint8Array(4096));
    execFileSync('rm', [data]);
    symlinkSync(outside, data);
    const r = await cli('inspect', model);
    expect(r.code).toBe(1);
    expect(r.err).toContain(outside);
    expect(r.err).not.toMatch(/internal error/);
  });

  it('FIFOs, devices and folders are refused at once, for models and for external data', async () => {
    const d = folder('fifo');
    const fifo = join(d, 'model.onnx');
    execFileSync('mkfifo', [fifo]);
    let t = Date.now();
    let r = await cli('inspect', fifo);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FIFO .*not a regular file/);

    t = Date.now();
    r = await cli('inspect', '/dev/zero');
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.err).toMatch(/\/dev\/zero: is a character device, not a regular file/);

    const e = folder('fifo-data');
    const { data } = externalModel(e);
    execFileSync('rm', [data]);
    execFileSync('mkfifo', [data]);
    t = Date.now();
    r = await cli('inspect', join(e, 'model.onnx'));
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FIFO/);

    const dev = folder('dev-link');
    const m = externalModel(dev);
    execFileSync('rm', [m.data]);
    symlinkSync('/dev/zero', m.data);
    r = await cli('inspect', m.model);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/dev\/zero/);
    for (const x of [r.err]) expect(x).not.toMatch(/internal error/);
  });

  it('a given file the format does not use is an error, not ignored', async () => {
    const d = folder('unused');
    const { model } = externalModel(d);
    const other = join(d, 'other.bin');
    writeFileSync(other, Uint8Array.of(1));
    await expect(loadModelFiles([model, other])).rejects.toThrow(/did not use '.*other\.bin'/);
    const r = await cli('inspect', model, other);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/did not use/);
  });

  it('fs errors are one typed line naming the path', async () => {
    const f = join(tmp, 'plain.txt');
    writeFileSync(f, 'x');
    const r = await cli('inspect', join(f, 'model.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/plain\.txt\/model\.onnx: a part of the path is not a folder/);
    expect(r.err).not.toMatch(/internal error/);
  });
});

describe('ModelFileSet from File/Blob lists', () => {
  it('reads given files and siblings by name; nothing outside the list', async () => {
    const set = blobFileSet([
      { name: 'deploy.prototxt', bytes: Uint8Array.of(1) },
      new File([Uint8Array.of(2, 3)], 'weights.caffemodel'),
    ]);
    expect(set.given).toEqual(['deploy.prototxt', 'weights.caffemodel']);
    expect([...(await set.read('weights.caffemodel'))]).toEqual([2, 3]);
    await expect(set.read('../x')).rejects.toThrow(/relative path inside/);
    await expect(set.read('missing.bin')).rejects.toThrow(/missing file 'missing\.bin'/);
    expect(await set.list()).toEqual(['deploy.prototxt', 'weights.caffemodel']);
  });

  it('a picked folder (webkitRelativePath) finds its model file and resolves shards beside it', async () => {
    const f = (path: string, bytes: number[]) => {
      const file = new File([Uint8Array.from(bytes)], path.slice(path.lastIndexOf('/') + 1));
      Object.defineProperty(file, 'webkitRelativePath', { value: path });
      return file;
    };
    const set = blobFileSet([f('web/group1-shard1of1.bin', [7]), f('web/model.json', [123, 125])]);
    expect(set.given).toEqual(['web/model.json']);
    expect([...(await set.read('group1-shard1of1.bin'))]).toEqual([7]);
    expect(await set.list()).toEqual(['group1-shard1of1.bin', 'model.json']);
  });

  it('loadModelFiles reads an ONNX model with external data from memory', async () => {
    const d = folder('mem');
    const { model, data } = externalModel(d);
    const { readFileSync } = await import('node:fs');
    const m = await loadModelFiles([
      { name: 'model.onnx', bytes: new Uint8Array(readFileSync(model)) },
      { name: 'model.onnx.data', bytes: new Uint8Array(readFileSync(data)) },
    ]);
    expect(m.kind).toBe('graph');
  });
});
