// Tensor-bundle checkpoints of the corpus: every variable equals what the independent Python
// reader (scripts/fixtures/tf_goldens.py: its own table/Snappy/CRC code) read from the data
// shard at the offset the index gives; the legacy V1 checkpoint is read (checkpoint-v1.test.ts); hostile
// indexes fail with one typed line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFiles } from '../../../src/index.js';
import { readCheckpointIndex } from '../../../src/formats/tensorflow/checkpoint.js';
import { crc32c, maskCrc } from '../../../src/formats/tensorflow/crc32c.js';
import { FormatError } from '../../../src/ir/errors.js';
import { corpusPath } from '../../support/corpus.js';
import { loadNpy, tfGoldens } from './helpers.js';

let cache = '';
beforeAll(() => {
  cache = tfGoldens();
});

const CHECKPOINTS: Record<string, string> = {
  'tf2onnx-regression-ckpt': 'tf-checkpoint/tf2onnx-regression-ckpt/model.index',
  'serving-half-plus-two': 'tf-checkpoint/serving-half-plus-two-savedmodel-tf1/variables/variables.index',
  'tensorspace-mnist-savedmodel': 'tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.index',
};

function siblings(file: string) {
  const dir = file.replace(/[^/]*$/, '');
  return async (name: string) => new Uint8Array(readFileSync(join(dir, name)));
}

async function readIndex(file: string, bytes?: Uint8Array) {
  return readCheckpointIndex(bytes ?? new Uint8Array(readFileSync(file)), { fileName: file, readSibling: siblings(file) });
}

describe('checkpoint (tensor bundle V2)', () => {
  for (const [name, rel] of Object.entries(CHECKPOINTS)) {
    it(`${name}: every variable equals the Python reader's`, async () => {
      const file = corpusPath(rel);
      const model = await readIndex(file);
      const manifest = JSON.parse(readFileSync(join(cache, `ckpt-${name}`, 'vars.json'), 'utf8')) as { name: string; file: string }[];
      expect([...model.tensors.keys()].sort()).toEqual(manifest.map((m) => m.name).sort());
      for (const m of manifest) {
        const t = model.tensors.get(m.name)!;
        const want = loadNpy(join(cache, `ckpt-${name}`, m.file));
        expect([t.dtype, ...t.shape], m.name).toEqual([want.dtype, ...want.shape]);
        expect(Buffer.from(t.bytes()).equals(Buffer.from(want.bytes)), m.name).toBe(true);
      }
    });
  }

  it('marks the optimizer slots of the MNIST SavedModel variables (Adam)', async () => {
    const model = await readIndex(corpusPath(CHECKPOINTS['tensorspace-mnist-savedmodel']!));
    const slots = model.metadata!['optimizer slots']!.split(', ');
    expect(slots.length).toBeGreaterThan(0);
    expect(slots.every((s) => /Adam|beta[12]_power/.test(s))).toBe(true);
  });

  it('reads through a ModelFileSet: the .index given, the data shard found beside it', async () => {
    const model = await loadModelFiles([corpusPath(CHECKPOINTS['tf2onnx-regression-ckpt']!)]);
    expect(model.kind).toBe('weights');
    if (model.kind === 'weights') expect([...model.tensors.keys()].sort()).toEqual(['b', 'W'].sort());
  });

  it('reads the legacy V1 checkpoint too (checkpoint-v1.test.ts checks it against the Python decoder)', async () => {
    const file = corpusPath('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export-00000-of-00001');
    const model = await loadModelFiles([file]);
    expect(model.kind === 'weights' && [...model.tensors.keys()].sort()).toEqual(['a', 'b']);
  });

  it('without the data shard, names the missing companion file', async () => {
    const file = corpusPath(CHECKPOINTS['tf2onnx-regression-ckpt']!);
    await expect(readCheckpointIndex(new Uint8Array(readFileSync(file)), { fileName: file })).rejects.toThrow(/model\.data-00000-of-00001/);
  });
});

describe('hostile checkpoint indexes', () => {
  const file = () => corpusPath(CHECKPOINTS['tensorspace-mnist-savedmodel']!);
  const original = () => new Uint8Array(readFileSync(file()));

  /** Rewrite the footer's index handle and keep everything else. */
  function withIndexHandle(bytes: Uint8Array, offset: number, size: number): Uint8Array {
    const varint = (v: number) => {
      const out: number[] = [];
      while (v >= 0x80) {
        out.push((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
      }
      out.push(v);
      return out;
    };
    const footer = bytes.subarray(bytes.length - 48);
    // skip the metaindex handle (two varints), then write the new index handle
    let p = 0;
    for (let k = 0; k < 2; k++) while (footer[p++]! & 0x80);
    const out = bytes.slice();
    const h = [...varint(offset), ...varint(size)];
    out.set(h, bytes.length - 48 + p);
    return out;
  }

  it('an index block outside the file', async () => {
    const b = withIndexHandle(original(), 1 << 30, 100);
    await expect(readIndex(file(), b)).rejects.toThrow(FormatError);
    await expect(readIndex(file(), b)).rejects.toThrow(/outside the file/);
  });

  it('a bad block CRC-32C', async () => {
    const b = original();
    b[10] = b[10]! ^ 0xff;
    await expect(readIndex(file(), b)).rejects.toThrow(/CRC-32C/);
  });

  it('a bad footer magic', async () => {
    const b = original();
    b[b.length - 1] = 0;
    await expect(readIndex(file(), b)).rejects.toThrow(/magic/);
  });

  it('a data shard whose bytes do not match the entry CRC', async () => {
    const f = file();
    const data = new Uint8Array(readFileSync(f.replace(/\.index$/, '.data-00000-of-00001')));
    data[100] = data[100]! ^ 0x55;
    const b = original();
    const read = async (name: string) => (name.includes('.data-') ? data : new Uint8Array(readFileSync(join(f.replace(/[^/]*$/, ''), name))));
    await expect(readCheckpointIndex(b, { fileName: f, readSibling: read })).rejects.toThrow(/fails its CRC-32C check/);
  });

  it('crc32c matches the known check value and masking', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(maskCrc(0)).toBe(0xa282ead8);
  });
});

describe('Snappy blocks', () => {
  it('inflates literals and overlapping copies (hand-assembled per the format description)', async () => {
    const { snappyUncompress } = await import('../../../src/formats/tensorflow/snappy.js');
    // 12 bytes: literal "abc" (tag 2<<2), then copy-1 of 9 bytes from 3 back (tag (9-4)<<2 | 1)
    const block = new Uint8Array([12, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03]);
    expect(new TextDecoder().decode(snappyUncompress(block, { file: 'x', offset: 0 }))).toBe('abcabcabcabc');
    // a copy reaching before the start of the output
    expect(() => snappyUncompress(new Uint8Array([4, 0x15, 0x03]), { file: 'x', offset: 0 })).toThrow(FormatError);
    // a declared size beyond the limit is refused before allocating
    expect(() => snappyUncompress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), { file: 'x', offset: 0 })).toThrow(/limit/);
  });
});
