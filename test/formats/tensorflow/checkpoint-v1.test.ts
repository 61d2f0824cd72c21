// Legacy V1 TensorFlow checkpoints (SaveSlices tables, TensorFlow before 0.12). The corpus'
// SessionBundle shard (written by TensorFlow 0.12) and the synthetic checkpoints of
// test/fixtures/tf-v1-checkpoint (partitioned variables across and within shards, six dtypes)
// are read as an independent Python decoder reads them (scripts/fixtures/tf_v1_checkpoint.py:
// tf_goldens' table code, its own protobuf decoding, slices placed by each entry's own
// SavedSlice, not its key) and as the arrays the fixtures were written from; damaged tables fail
// with one typed error naming the file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFiles } from '../../../src/index.js';
import { readCheckpointIndex } from '../../../src/formats/tensorflow/checkpoint.js';
import { v1ShardNames } from '../../../src/formats/tensorflow/checkpoint-v1.js';
import { FormatError, NnportError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { loadNpy } from './helpers.js';

const FIX = join(REPO_ROOT, 'test/fixtures/tf-v1-checkpoint');
const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/tf_v1_checkpoint.py');
const CORPUS_SHARD = () => corpusPath('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export-00000-of-00001');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-tfv1-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Manifest = { name: string; file?: string; strings?: string[]; shape?: number[] }[];

/** The Python decoder's tensors for these shard files. */
function pythonRead(files: string[], tag: string): { dir: string; manifest: Manifest } {
  const dir = join(tmp, tag);
  execFileSync('/usr/bin/python3', [SCRIPT, 'read', ...files, '--out', dir]);
  return { dir, manifest: JSON.parse(readFileSync(join(dir, 'vars.json'), 'utf8')) as Manifest };
}

/** Every tensor equals the manifest's, dtype, shape and bytes (strings by value). */
function expectTensors(tensors: Map<string, Tensor>, manifest: Manifest, dir: string) {
  expect([...tensors.keys()].sort()).toEqual(manifest.map((m) => m.name).sort());
  for (const m of manifest) {
    const t = tensors.get(m.name)!;
    if (m.strings) {
      expect([t.dtype, ...t.shape], m.name).toEqual(['string', ...m.shape!]);
      expect(t.data, m.name).toEqual(m.strings);
      continue;
    }
    const want = loadNpy(join(dir, m.file!));
    expect([t.dtype, ...t.shape], m.name).toEqual([want.dtype, ...want.shape]);
    expect(Buffer.from(t.bytes()).equals(Buffer.from(want.bytes)), m.name).toBe(true);
  }
}

function same(a: Tensor, b: Tensor): boolean {
  if (a.dtype === 'string' || b.dtype === 'string') return JSON.stringify([a.dtype, a.shape, a.data]) === JSON.stringify([b.dtype, b.shape, b.data]);
  return a.dtype === b.dtype && a.shape.join() === b.shape.join() && Buffer.from(a.bytes()).equals(Buffer.from(b.bytes()));
}

async function weights(path: string) {
  const m = await loadModelFiles([path]);
  if (m.kind !== 'weights') throw new Error(`${path}: not weights`);
  return m;
}

describe('V1 checkpoint reader', () => {
  it("the corpus SessionBundle's shard (TensorFlow 0.12): a = 0.5, b = 2, as the Python decoder reads them", async () => {
    const m = await weights(CORPUS_SHARD());
    expect(m.format).toBe('tf-checkpoint-index');
    expect(m.metadata?.version).toMatch(/V1/);
    expect(m.tensors.get('a')!.toNumbers()).toEqual([0.5]);
    expect(m.tensors.get('b')!.toNumbers()).toEqual([2]);
    const py = pythonRead([CORPUS_SHARD()], 'corpus');
    expectTensors(m.tensors, py.manifest, join(py.dir, 'vars'));
  });

  it('partitioned variables across two shards reassembled: equal to the written arrays and to the Python decoder', async () => {
    const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as Manifest;
    for (const given of ['part-00000-of-00002', 'part-00001-of-00002']) {
      const m = await weights(join(FIX, given));
      expect(m.metadata?.shards).toBe('2');
      expectTensors(m.tensors, expected, join(FIX, 'expected'));
    }
    const py = pythonRead([join(FIX, 'part-00000-of-00002'), join(FIX, 'part-00001-of-00002')], 'parts');
    expectTensors((await weights(join(FIX, 'part-00000-of-00002'))).tensors, py.manifest, join(py.dir, 'vars'));
  });

  it("inspect's listing marks the partitioned variables", async () => {
    const m = await weights(join(FIX, 'part-00000-of-00002'));
    const rows = new Map(m.listings![0]!.rows.map((r) => [r[0], r]));
    expect(rows.get('emb')![3]).toBe('partitioned');
    expect(rows.get('big')![3]).toBe('partitioned');
    expect(rows.get('scope/d')!.slice(1, 4)).toEqual(['float64', '[2, 2]', '32']);
  });

  it('an unsharded table (model.ckpt)', async () => {
    const m = await weights(join(FIX, 'model.ckpt'));
    expectTensors(m.tensors, JSON.parse(readFileSync(join(FIX, 'expected-single.json'), 'utf8')) as Manifest, join(FIX, 'expected-single'));
  });

  it('the fixtures are what the script writes (deterministic)', () => {
    const dir = join(tmp, 'rewrite');
    execFileSync('/usr/bin/python3', [SCRIPT, 'write', '--out', dir]);
    for (const f of ['part-00000-of-00002', 'part-00001-of-00002', 'model.ckpt', 'hostile/gap']) {
      expect(Buffer.from(readFileSync(join(dir, f))).equals(readFileSync(join(FIX, f))), f).toBe(true);
    }
  });

  it('shard names', () => {
    expect(v1ShardNames('m-00001-of-00003')).toEqual(['m-00000-of-00003', 'm-00001-of-00003', 'm-00002-of-00003']);
    expect(v1ShardNames('model.ckpt-1000')).toEqual(['model.ckpt-1000']);
  });
});

describe('hostile V1 checkpoints', () => {
  const cases: [string, RegExp][] = [
    ['missing-slice', /is listed in the meta but has no entry/],
    ['gap', /slices hold 4 of its 5 elements/],
    ['overlap', /two of its slices overlap/],
    ['count', /holds 4 values for 5 elements/],
    ['outside', /lies outside its size 5/],
    ['other-name', /its entry names tensor 'u'/],
    ['huge', /slices hold 1 of its 1099511627776 elements/],
    ['clash-00000-of-00002', /is int32 \[5\] here, float32 \[5\] in an earlier shard/],
  ];
  for (const [name, message] of cases) {
    it(name, async () => {
      const file = join(FIX, 'hostile', name);
      const err = await loadModelFiles([file]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain(name.replace(/-0000\d-of-00002$/, ''));
    });
  }

  it('a missing shard is named', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIX, 'part-00000-of-00002')));
    const err = await readCheckpointIndex(bytes, { fileName: 'part-00000-of-00002', readSibling: async (n) => Promise.reject(new Error(`no ${n}`)) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/part-00001-of-00002/);
  });

  it('every truncation and every flipped byte: a typed error naming the file, or the same values', async () => {
    const original = new Uint8Array(readFileSync(join(FIX, 'part-00001-of-00002')));
    const other = new Uint8Array(readFileSync(join(FIX, 'part-00000-of-00002')));
    const read = (b: Uint8Array) => readCheckpointIndex(b, { fileName: 'part-00001-of-00002', readSibling: async () => other });
    const good = (await read(original)).tensors;
    for (let n = 0; n < original.length; n += 7) {
      const err = await read(original.subarray(0, n)).catch((e: unknown) => e);
      expect(err, `truncated to ${n}`).toBeInstanceOf(NnportError);
      expect((err as Error).message, `truncated to ${n}`).toContain('part-00001-of-00002');
    }
    for (let i = 0; i < original.length; i += 3) {
      const b = original.slice();
      b[i] = b[i]! ^ 0x5a;
      const r = await read(b).then(
        (m) => m,
        (e: unknown) => e,
      );
      if (r instanceof Error) {
        expect(r, `byte ${i}`).toBeInstanceOf(NnportError);
        expect(r.message, `byte ${i}`).toContain('part-00001-of-00002');
      } else {
        // a flip the CRC-32C does not cover (the footer's padding): the same tensors
        for (const [k, t] of good) expect(same((r as { tensors: Map<string, Tensor> }).tensors.get(k)!, t), `byte ${i}: ${k}`).toBe(true);
      }
    }
  });

  it('a .meta whose V1 checkpoint is damaged: the table error, not "cannot be read"', async () => {
    const dir = mkdtempSync(join(tmp, 'meta-'));
    const d = corpusPath('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt');
    writeFileSync(join(dir, 'export.meta'), readFileSync(join(d, 'export.meta')));
    const shard = new Uint8Array(readFileSync(join(d, 'export-00000-of-00001')));
    shard[20] = shard[20]! ^ 1;
    writeFileSync(join(dir, 'export-00000-of-00001'), shard);
    await expect(loadModelFiles([dir])).rejects.toThrow(/export-00000-of-00001.*CRC-32C|CRC-32C.*export-00000-of-00001/);
  });
});
