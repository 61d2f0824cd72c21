// TensorFlow Serving's SessionBundle half_plus_two (TensorFlow 0.12: export.meta + a legacy V1
// checkpoint) and the TF1 SavedModel's tf.Example signatures: the legacy serving_signatures
// up-converted as TF Serving's bundle shim does, the serialized tf.Example input cut at its
// ParseExample's dense feature, the variables from the checkpoint. The oracle is TF Serving's
// own test expectation, y = 0.5·x + 2 for x = 0, 1, 2, 3 (y2 = 0.5·x + 3 for regress_x_to_y2),
// checked in nnport, onnxruntime on the .onnx and the TFLite interpreter on the .tflite.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { convert, freeze, loadModel, loadModelFiles, run, type LoadedModel } from '../../../src/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { encodeGraphDef, freezeGraphDef } from '../../../src/formats/tensorflow/freeze-graph.js';
import { decodeMetaGraph } from '../../../src/formats/tensorflow/meta-graph.js';
import { UsageError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const BUNDLE = () => corpusPath('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt');
const SAVED = () => corpusPath('tf-checkpoint/serving-half-plus-two-savedmodel-tf1');
const X = [0, 1, 2, 3];
const half = (c: number) => X.map((x) => 0.5 * x + c);
const oracle = useTfliteOracle();

async function nnport(m: LoadedModel, x = X): Promise<{ inputs: string[]; outputs: Map<string, number[]> }> {
  if (m.kind !== 'graph') throw new Error('not a graph');
  const input = m.graph.inputs[0]!.name;
  const r = await run(m, { [input]: Tensor.float32([x.length, 1], x) });
  return { inputs: m.graph.inputs.map((i) => i.name), outputs: new Map([...r.outputs].map(([k, v]) => [k, Array.from(v.toFloat32())])) };
}

async function onnxruntime(m: LoadedModel): Promise<number[]> {
  const { bytes } = await convert(m, 'model.onnx');
  const out = await ortRun(bytes, [Tensor.float32([X.length, 1], X)]);
  return Array.from([...out.values()][0]!.toFloat32());
}

describe('SessionBundle export (TensorFlow 0.12, V1 checkpoint)', () => {
  it('loads with no flags: serving_default (the regression signature) cut at ParseExample, x -> Identity', async () => {
    const m = await loadModelFiles([BUNDLE()]);
    expect(m.format).toBe('tf-checkpoint-meta');
    if (m.kind !== 'graph') throw new Error('not a graph');
    expect(m.graph.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([['x', 'float32', [null, 1]]]);
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['Identity']);
    const sigs = m.listings!.find((l) => l.title === 'signatures')!.rows;
    expect(sigs.map((r) => [r[0], r[1]])).toEqual([
      ['serving_default', 'tensorflow/serving/regress'],
      ['serving_default_from_named', 'tensorflow/serving/predict'],
    ]);
    expect(sigs[0]![2]).toMatch(/^inputs=tf_example:0 string/);
    expect((await nnport(m)).outputs.get('Identity')).toEqual(half(2));
  });

  it('the .onnx in onnxruntime and the .tflite in the TFLite interpreter: y = 0.5 x + 2', async () => {
    const m = await loadModelFiles([join(BUNDLE(), 'export.meta')]);
    expect(await onnxruntime(m)).toEqual(half(2));
    const fixed = await loadModelFiles([BUNDLE()], { inputShapes: { x: [X.length, 1] } });
    const { bytes } = await convert(fixed, 'model.tflite');
    const [y] = await oracle.run(bytes, [new Float32Array(X)]);
    expect(Array.from(y!.data as Float32Array)).toEqual(half(2));
  });

  it('--signature serving_default_from_named (the generic inputs/outputs): x -> y', async () => {
    const m = await loadModelFiles([BUNDLE()], { signature: 'serving_default_from_named' });
    const r = await nnport(m);
    expect(r.inputs).toEqual(['x']);
    expect(r.outputs.get('y')).toEqual(half(2));
    expect(await onnxruntime(m)).toEqual(half(2));
  });

  it('freezes: the variables a, b become constants 0.5 and 2 read from the V1 checkpoint', async () => {
    const d = BUNDLE();
    const frozen = await freeze(new Uint8Array(readFileSync(join(d, 'export.meta'))), {
      fileName: join(d, 'export.meta'),
      readSibling: async (n) => new Uint8Array(readFileSync(join(d, n))),
    });
    expect(frozen.signature).toBe('serving_default');
    expect(frozen.inputs).toEqual(['x:0']);
    const nodes = decodeGraphDef(frozen.bytes, 'frozen.pb').node!;
    const value = (name: string) => {
      const t = nodes.find((n) => n.name === name)!;
      expect(t.op).toBe('Const');
      const c = t.attr!.value!.tensor!;
      return Buffer.from(c.tensor_content!).readFloatLE(0);
    };
    expect([value('a'), value('b')]).toEqual([0.5, 2]);
    expect(nodes.map((n) => n.op)).not.toContain('ParseExample');
  });

  it('a ParseExample output read by other ops than one Identity: a Placeholder named by the feature key takes its place', async () => {
    const d = BUNDLE();
    const meta = decodeMetaGraph(new Uint8Array(readFileSync(join(d, 'export.meta'))), 'export.meta');
    // Mul reads the ParseExample output itself; the Identity 'x' is gone, so the key 'x' is free
    const nodes = meta.graph_def!.node!.filter((n) => n.name !== 'x').map((n) => (n.name === 'Mul' ? { ...n, input: ['a/read', 'ParseExample/ParseExample'] } : n));
    const bytes = tensorflow.MetaGraphDef.encode({ ...meta, graph_def: { ...meta.graph_def, node: nodes } }).finish();
    const m = await loadModel(bytes, { fileName: 'export.meta', readSibling: async (n) => new Uint8Array(readFileSync(join(d, n))) });
    const r = await nnport(m);
    expect(r.inputs).toEqual(['x']);
    expect(r.outputs.get('Identity')).toEqual(half(2));
  });
});

describe('serving graphs without a signature', () => {
  it('--outputs y on the SessionBundle: the tf.Example placeholder cut all the same', async () => {
    const r = await nnport(await loadModelFiles([BUNDLE()], { outputs: ['y'] }));
    expect(r.inputs).toEqual(['x']);
    expect(r.outputs.get('y')).toEqual(half(2));
  });

  it('a frozen GraphDef that still holds tf_example -> ParseExample: read with x as its input', async () => {
    const meta = decodeMetaGraph(new Uint8Array(readFileSync(join(BUNDLE(), 'export.meta'))), 'export.meta');
    const values: Record<string, number> = { a: 0.5, b: 2 };
    const gd = await freezeGraphDef(meta.graph_def!, { file: 'export.meta', outputs: ['Identity'], variable: async (n) => Tensor.float32([], [values[n]!]) });
    expect(gd.node!.map((n) => n.op)).toContain('ParseExample');
    const m = await loadModel(encodeGraphDef(gd), { fileName: 'serving.pb' });
    expect(m.format).toBe('tf-graphdef');
    const r = await nnport(m);
    expect(r.inputs).toEqual(['x']);
    expect(r.outputs.get('Identity')).toEqual(half(2));
    expect(await onnxruntime(m)).toEqual(half(2));
  });
});

describe('nnport convert on the command line', () => {
  it('a .meta named apart from its V1 checkpoint: --checkpoint by prefix or by shard; without it the error says what was looked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnport-bundle-cli-'));
    try {
      copyFileSync(join(BUNDLE(), 'export.meta'), join(dir, 'model.meta'));
      for (const ck of ['export', 'export-00000-of-00001']) {
        const out = join(dir, `${ck}.onnx`);
        const log: string[] = [];
        expect(await main(['convert', join(dir, 'model.meta'), '--checkpoint', join(BUNDLE(), ck), '-o', out], (s) => log.push(s), (s) => log.push(s)), log.join('\n')).toBe(0);
        const y = await ortRun(new Uint8Array(readFileSync(out)), [Tensor.float32([X.length, 1], X)]);
        expect(Array.from([...y.values()][0]!.toFloat32())).toEqual(half(2));
      }
      const errs: string[] = [];
      expect(await main(['convert', join(dir, 'model.meta'), '-o', join(dir, 'none.onnx')], () => {}, (s) => errs.push(s))).toBe(1);
      expect(errs.join('\n')).toMatch(/'model\.index' cannot be read, nor a V1 checkpoint 'model' or 'model-NNNNN-of-NNNNN' \(give --checkpoint PREFIX\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the TF1 SavedModel's tf.Example signatures (ParseExample cut)", () => {
  const cases: [string, string, number][] = [
    ['regress_x_to_y', 'y', 2],
    ['regress_x_to_y2', 'y2', 3],
    ['classify_x_to_y', 'y', 2],
  ];
  for (const [signature, output, c] of cases) {
    it(`${signature}: ${output} = 0.5 x + ${c} in nnport and onnxruntime`, async () => {
      const m = await loadModelFiles([SAVED()], { signature });
      const r = await nnport(m);
      expect(r.inputs).toEqual(['x']);
      expect(r.outputs.get(output)).toEqual(half(c));
      expect(await onnxruntime(m)).toEqual(half(c));
    });
  }

  it('several signatures and no serving_default: the error names them', async () => {
    const d = SAVED();
    const sm = tensorflow.SavedModel.decode(new Uint8Array(readFileSync(join(d, 'saved_model.pb'))));
    delete sm.meta_graphs[0]!.signature_def!.serving_default;
    const bytes = tensorflow.SavedModel.encode(sm).finish();
    const p = loadModel(bytes, { fileName: 'saved_model.pb', readSibling: async (n) => new Uint8Array(readFileSync(join(d, n))) });
    await expect(p).rejects.toThrow(UsageError);
    await expect(
      loadModel(bytes, { fileName: 'saved_model.pb', readSibling: async (n) => new Uint8Array(readFileSync(join(d, n))) }),
    ).rejects.toThrow(/4 signatures, none of them serving_default: give --signature NAME \(.*regress_x_to_y2.*\)/);
  });
});
