// Freezing the corpus checkpoint and SavedModels: the frozen GraphDef's constants equal the
// checkpoint as the independent Python reader read it, and nnport and OpenCV dnn (on the
// frozen file) compute the same outputs: y = W·x + b, y = 0.5·x + 2, the MNIST CNN.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeze, run } from '../../../src/index.js';
import { main } from '../../../src/cli/main.js';
import { writeNpy } from '../../../src/formats/numpy/index.js';
import { decodeGraphDef, NodeAttrs } from '../../../src/formats/tensorflow/graph-def.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { UsageError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { loadNpy, maxAbsDiff, npyTensor, tfGoldens } from './helpers.js';

let cache = '';
const tmp = mkdtempSync(join(tmpdir(), 'nnport-freeze-'));
beforeAll(() => {
  cache = tfGoldens();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const siblings = (dir: string) => async (name: string) => new Uint8Array(readFileSync(join(dir, name)));

/** OpenCV dnn's output for a GraphDef file and an input (scripts/fixtures/tf_opencv_run.py). */
function opencv(pb: Uint8Array, x: Tensor, tag: string): Tensor {
  const model = join(tmp, `${tag}.pb`);
  const input = join(tmp, `${tag}-x.npy`);
  const output = join(tmp, `${tag}-y.npy`);
  writeFileSync(model, pb);
  writeFileSync(input, writeNpy(x));
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py'), model, input, output]);
  return npyTensor(output);
}

async function nnportRun(pb: Uint8Array, x: Tensor): Promise<Tensor> {
  const g = await readGraphDef(pb, { fileName: 'frozen.pb' });
  const r = await run(g, { [g.inputs[0]!.name]: x });
  return r.outputs.get(g.outputs[0]!.name)!;
}

function constOf(pb: Uint8Array, name: string): Tensor {
  const n = decodeGraphDef(pb, 'frozen.pb').node!.find((x) => x.name === name)!;
  expect(n.op).toBe('Const');
  return new NodeAttrs(n, 'frozen.pb').tensor('value');
}

describe('freeze', () => {
  const dir = () => corpusPath('tf-checkpoint/tf2onnx-regression-ckpt');

  it('the regression checkpoint with --outputs pred: constants equal the checkpoint, nnport and OpenCV give W·x + b', async () => {
    const meta = new Uint8Array(readFileSync(join(dir(), 'model.meta')));
    const frozen = await freeze(meta, { fileName: join(dir(), 'model.meta'), readSibling: siblings(dir()), outputs: ['pred'] });
    expect(frozen.variables).toBe(2);
    const ops = decodeGraphDef(frozen.bytes, 'frozen.pb').node!.map((n) => n.op);
    expect(ops.every((op) => !/Assign|Save|Restore|Apply|NoOp|Variable/.test(op!))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(cache, 'ckpt-tf2onnx-regression-ckpt/vars.json'), 'utf8')) as { name: string; file: string }[];
    const vars: Record<string, number> = {};
    for (const m of manifest) {
      const want = loadNpy(join(cache, 'ckpt-tf2onnx-regression-ckpt', m.file));
      const got = constOf(frozen.bytes, m.name);
      expect(Buffer.from(got.bytes()).equals(Buffer.from(want.bytes))).toBe(true);
      vars[m.name] = new Float32Array(want.bytes.buffer, want.bytes.byteOffset, 1)[0]!;
    }
    const x = Tensor.float32([4], [0, 0.5, -1.25, 3]);
    const mine = (await nnportRun(frozen.bytes, x)).toFloat32();
    const theirs = opencv(frozen.bytes, Tensor.float32([1, 4], x.data), 'regression').toFloat32();
    const expected = Array.from(x.data, (v) => Math.fround(Math.fround(v * vars.W!) + vars.b!));
    expect(maxAbsDiff(mine, expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(theirs, expected)).toBeLessThan(1e-6);
  });

  it('without outputs, the error lists the candidate outputs', async () => {
    const meta = new Uint8Array(readFileSync(join(dir(), 'model.meta')));
    const p = freeze(meta, { fileName: join(dir(), 'model.meta'), readSibling: siblings(dir()) });
    await expect(p).rejects.toThrow(UsageError);
    await expect(freeze(meta, { fileName: join(dir(), 'model.meta'), readSibling: siblings(dir()) })).rejects.toThrow(/candidates.*truediv/);
  });

  it('the TF1 half-plus-two SavedModel through its serving signature: y = 0.5 x + 2 in nnport and OpenCV', async () => {
    const d = corpusPath('tf-checkpoint/serving-half-plus-two-savedmodel-tf1');
    const frozen = await freeze(new Uint8Array(readFileSync(join(d, 'saved_model.pb'))), { fileName: join(d, 'saved_model.pb'), readSibling: siblings(d) });
    expect(frozen.signature).toBe('serving_default');
    const x = Tensor.float32([3, 1], [1, 2, -4]);
    expect(Array.from((await nnportRun(frozen.bytes, x)).toFloat32())).toEqual([2.5, 3, 0]);
    expect(Array.from(opencv(frozen.bytes, x, 'half').toFloat32())).toEqual([2.5, 3, 0]);
  });

  it('the tensorspace MNIST SavedModel (training graph with Adam slots): nnport and OpenCV agree on the frozen CNN', async () => {
    const d = corpusPath('tf-checkpoint/tensorspace-mnist-savedmodel');
    const frozen = await freeze(new Uint8Array(readFileSync(join(d, 'saved_model.pb'))), { fileName: join(d, 'saved_model.pb'), readSibling: siblings(d) });
    expect(frozen.variables).toBe(10);
    const x = npyTensor(join(cache, 'tensorspace-mnist-conv/input.npy'));
    const mine = (await nnportRun(frozen.bytes, x)).toFloat32();
    const theirs = opencv(frozen.bytes, x, 'mnist').toFloat32();
    expect(maxAbsDiff(mine, theirs)).toBeLessThan(1e-5);
  });

  it('nnport freeze on the command line: checkpoint by folder, outputs, written atomically', async () => {
    const out = join(tmp, 'cli.pb');
    const lines: string[] = [];
    const code = await main(['freeze', join(dir(), 'model.meta'), '--checkpoint', dir(), '--outputs', 'pred', '-o', out], (s) => lines.push(s), (s) => lines.push(s));
    expect(code).toBe(0);
    expect(lines.join('\n')).toMatch(/2 variables frozen/);
    expect(decodeGraphDef(new Uint8Array(readFileSync(out)), out).node!.some((n) => n.name === 'W' && n.op === 'Const')).toBe(true);
    const errs: string[] = [];
    expect(await main(['freeze', join(dir(), 'model.meta'), '-o', join(tmp, 'none.pb')], () => {}, (s) => errs.push(s))).toBe(1);
    expect(errs.join('\n')).toMatch(/^nnport freeze: .*candidates/);
  });

  it('nnport convert/run take the same TF flags: a .meta with --checkpoint and --outputs to .pb, the LSTM run with --set keep_prob=1.0', async () => {
    const out = join(tmp, 'converted.pb');
    const log: string[] = [];
    expect(await main(['convert', join(dir(), 'model.meta'), '--checkpoint', join(dir(), 'model'), '--outputs', 'pred', '-o', out], (s) => log.push(s), (s) => log.push(s))).toBe(0);
    const y = opencv(new Uint8Array(readFileSync(out)), Tensor.float32([1, 2], [1, 2]), 'converted').toFloat32();
    const w = constOf(new Uint8Array(readFileSync(out)), 'W').toNumbers()[0]!;
    const b = constOf(new Uint8Array(readFileSync(out)), 'b').toNumbers()[0]!;
    expect(maxAbsDiff(y, [Math.fround(w + b), Math.fround(2 * w + b)])).toBeLessThan(1e-6);
    const yOut = join(tmp, 'lstm-y.npy');
    const lstm = corpusPath('tf-graphdef/tf2onnx-lstm/frozen.pb');
    expect(await main(['run', lstm, '--input', join(cache, 'tf2onnx-lstm/input.npy'), '--set', 'keep_prob=1.0', '-o', yOut], (s) => log.push(s), (s) => log.push(s))).toBe(0);
    expect(maxAbsDiff(npyTensor(yOut).toFloat32(), npyTensor(join(cache, 'tf2onnx-lstm/lstm_numpy.npy')).toFloat32())).toBeLessThan(1e-4);
  });
});
