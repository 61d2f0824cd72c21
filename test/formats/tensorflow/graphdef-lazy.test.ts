// GraphDefs read lazily (what a .pb over protobuf's 2 GiB limit gets): the threshold and the
// "large field" size are lowered so that the corpus' small graphs take the lazy path in every
// node, and every Const must still equal the independent wire-format decoder's .npy
// (scripts/fixtures/tf_goldens.py); a file read by positioned reads runs like OpenCV.
// Writing refuses a GraphDef over the limit (lowered here) before encoding anything.
//
// A real run over the limit (not in CI: it writes 2.25 GiB): `node --import tsx scripts/large-graphdef.mjs`
// streams a 2.25 GiB GraphDef (three 768 MiB Const tensors), reads it back both from memory
// (readGraphDefModel, lazy above 2 GiB) and by positioned reads (readGraphDefFile), checks
// every tensor's pattern and deletes the file. Recorded 2026-11-26 on the 2-core build machine
// (bench/RESULTS.md, "GraphDef over 2 GiB"): 2,415,919,460 bytes; positioned reads 8.7 s, rss
// 2.40 GiB; the CLI's in-memory path (since replaced by positioned reads, readGraphDefPath) 28.7 s,
// rss 4.65 GiB; all 603,979,776 elements equal. The CLI over 2 GiB: test/cli/graphdef-large.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { bytesSource, decodeGraphDefLazily } from '../../../src/formats/tensorflow/graph-def-lazy.js';
import { readGraphDefFile, readGraphDefModel } from '../../../src/formats/tensorflow/read.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { CORPUS_GRAPHS, expectConstsEqualGoldens } from './corpus-graphs.js';
import { maxAbsDiff, npyTensor, tfGoldens } from './helpers.js';

let cache = '';
beforeAll(() => {
  cache = tfGoldens();
});

const GRAPHS = CORPUS_GRAPHS;

describe('GraphDef read lazily', () => {
  for (const [name, rel] of Object.entries(GRAPHS)) {
    it(`${name}: every node scanned, every Const equals the wire-format decoder's`, () => {
      const file = corpusPath(rel);
      // every field counts as large: each NodeDef is scanned down to its tensor_content
      expectConstsEqualGoldens(decodeGraphDefLazily(bytesSource(new Uint8Array(readFileSync(file))), file, { largeField: 0 }), file, cache, name);
    });
  }

  it('a file read by positioned reads (never whole) runs like OpenCV; the in-memory lazy path gives the same graph', async () => {
    const file = corpusPath(GRAPHS['tf2onnx-fc-layers']!);
    const x = npyTensor(join(cache, 'tf2onnx-fc-layers/input.npy'));
    const want = npyTensor(join(cache, 'tf2onnx-fc-layers/opencv.npy'));
    for (const model of [await readGraphDefFile(file, { lazyLargeField: 0 }), await readGraphDefModel(new Uint8Array(readFileSync(file)), { fileName: file, lazyAbove: 0, lazyLargeField: 0 })]) {
      if (model.kind !== 'graph') throw new Error('not read as a graph');
      const r = await run(model.graph, { X: x });
      const y = r.outputs.get(model.graph.outputs[0]!.name)!;
      expect(y.shape).toEqual([1, 10]);
      expect(maxAbsDiff(y.toFloat32(), want.toFloat32())).toBeLessThan(1e-4);
    }
  });

  it('a truncated or corrupt file is a FormatError naming it', async () => {
    const file = corpusPath(GRAPHS['tf2onnx-fc-layers']!);
    const bytes = new Uint8Array(readFileSync(file));
    expect(() => decodeGraphDefLazily(bytesSource(bytes.subarray(0, bytes.length - 7)), 'cut.pb', { largeField: 0 })).toThrow(FormatError);
    const bad = bytes.slice();
    bad[0] = 0x0b; // field 1 with wire type 3 (a group)
    expect(() => decodeGraphDefLazily(bytesSource(bad), 'bad.pb')).toThrow(/bad\.pb.*|wire type 3/);
  });
});

describe('GraphDef writer size limit', () => {
  it('a graph over the limit is refused before encoding, naming the formats that can hold it', async () => {
    const model = await loadModelFiles([join(REPO_ROOT, 'test/fixtures/models/lenet/model.onnx')]);
    if (model.kind !== 'graph') throw new Error('lenet is not a graph');
    const write = writeGraphDef(model.graph, { fileName: 'big.pb', maxBytes: 100_000 });
    await expect(write).rejects.toThrow(UnsupportedError);
    await expect(writeGraphDef(model.graph, { fileName: 'big.pb', maxBytes: 100_000 })).rejects.toThrow(/GraphDef of .* GiB.*'big\.pb'.*\.onnx.*external data/);
    // under the limit it is written
    const { bytes } = await convert(model, 'model.pb');
    expect(bytes.length).toBeGreaterThan(100_000);
  });
});
