// TensorFlow 2 SavedModels: the signature's traced function (StatefulPartitionedCall of the
// function library, nested calls, captured resource variables bound to checkpoint keys through
// SavedObjectGraph) inlined into one graph. The model is TensorFlow Serving's own
// saved_model_half_plus_two_tf2_cpu (test/fixtures/tf2-half-plus-two/README.md), whose producer
// documents a = 0.5, b = 2, c = 3: serving_default is y = a·x + b, regress_x2_to_y3 is y = a·x + c.
// Frozen, the same graph runs in OpenCV dnn. A library that calls itself is a typed error.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { ModelSummary } from '../../../src/api/summary.js';
import { freeze, loadModelFiles, run, writeNpy } from '../../../src/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { decodeGraphDef, NodeAttrs } from '../../../src/formats/tensorflow/graph-def.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { FormatError, GraphError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { npyTensor } from './helpers.js';

const DIR = join(REPO_ROOT, 'test/fixtures/tf2-half-plus-two');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-tf2-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function runSignature(signature: string | undefined, x: number[]): Promise<number[]> {
  const model = await loadModelFiles([DIR], signature ? { signature } : {});
  if (model.kind !== 'graph') throw new Error('expected a graph');
  const g = model.graph;
  expect(g.nodes.some((n) => /Call/.test(n.opType))).toBe(false);
  const r = await run(g, { [g.inputs[0]!.name]: Tensor.float32([x.length], x) });
  return Array.from(r.outputs.get(g.outputs[0]!.name)!.toFloat32());
}

describe('TensorFlow 2 SavedModel', () => {
  it('inspect lists the function library: each function with its arguments, results and callees', async () => {
    const out: string[] = [];
    expect(await main(['inspect', DIR, '--json'], (s) => out.push(s), (s) => out.push(s))).toBe(0);
    const s = JSON.parse(out.join('\n')) as ModelSummary;
    const fns = s.listings!.find((l) => l.title === 'functions')!;
    expect(fns.rows.length).toBe(14);
    expect(fns.rows.find((r) => r[0] === '__inference_signature_wrapper_predict_245')).toEqual([
      '__inference_signature_wrapper_predict_245', 'x:float32 unknown:resource unknown_0:resource', 'identity:float32', '3', '__inference_predict_235',
    ]);
    expect(s.inputs.map((i) => [i.name, i.shape])).toEqual([['serving_default_x', [1]]]);
  });

  it('serving_default (a call of a call of the traced predict, variables a and b captured) gives y = x/2 + 2', async () => {
    for (const x of [1, -4, 3]) expect(await runSignature(undefined, [x])).toEqual([x / 2 + 2]);
  });

  it('--signature regress_x2_to_y3 binds the other captured variable: y = x/2 + 3', async () => {
    expect(await runSignature('regress_x2_to_y3', [1])).toEqual([3.5]);
    expect(await runSignature('classify_x2_to_y3', [-4])).toEqual([1]);
  });

  it('frozen, the inlined graph holds the checkpoint values as Consts and runs in OpenCV dnn with the same result', async () => {
    const bytes = new Uint8Array(readFileSync(join(DIR, 'saved_model.pb')));
    const frozen = await freeze(bytes, { fileName: join(DIR, 'saved_model.pb'), readSibling: async (n) => new Uint8Array(readFileSync(join(DIR, n))) });
    expect(frozen.signature).toBe('serving_default');
    expect(frozen.variables).toBe(2);
    const nodes = decodeGraphDef(frozen.bytes, 'frozen.pb').node!;
    expect(nodes.some((n) => /Call|VarHandle|ReadVariable/.test(n.op!))).toBe(false);
    const consts = nodes.filter((n) => n.op === 'Const').map((n) => [n.name, new NodeAttrs(n, 'frozen.pb').tensor('value').toFloat32()[0]]);
    expect(Object.fromEntries(consts)).toEqual({ a: 0.5, b: 2 });
    const pb = join(tmp, 'hp2.pb');
    writeFileSync(pb, frozen.bytes);
    writeFileSync(join(tmp, 'x.npy'), writeNpy(Tensor.float32([3, 1], [1, 2, -4])));
    execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py'), pb, join(tmp, 'x.npy'), join(tmp, 'y.npy')]);
    expect(Array.from(npyTensor(join(tmp, 'y.npy')).toFloat32())).toEqual([2.5, 3, 0]);
  });

  it('the tf.Example signatures (ParseExampleV2 in the traced function) cut at their dense feature x: classify_x_to_y y = x/2 + 2, regress_x_to_y2 y = x/2 + 3; inspect shows the cut input', async () => {
    for (const [sig, c] of [['classify_x_to_y', 2], ['regress_x_to_y', 2], ['regress_x_to_y2', 3]] as const) {
      const m = await loadModelFiles([DIR], { signature: sig });
      if (m.kind !== 'graph') throw new Error('expected a graph');
      expect(m.graph.inputs.map((i) => [i.name, i.shape])).toEqual([['x', [null, 1]]]);
      const r = await run(m.graph, { x: Tensor.float32([3, 1], [1, -4, 3]) });
      expect(Array.from(r.outputs.get(m.graph.outputs[0]!.name)!.toFloat32()), sig).toEqual([1, -4, 3].map((x) => x / 2 + c));
    }
    const out: string[] = [];
    expect(await main(['inspect', DIR, '--signature', 'classify_x_to_y', '--json'], (s) => out.push(s), (s) => out.push(s))).toBe(0);
    const s = JSON.parse(out.join('\n')) as ModelSummary;
    expect(s.metadata?.['not convertible']).toBeUndefined();
    expect(s.inputs.map((i) => [i.name, i.shape])).toEqual([['x', [null, 1]]]);
    expect(s.listings!.map((l) => [l.title, l.rows.length])).toEqual([['signatures', 7], ['checkpoint variables', 4], ['ops outside the inference subgraph', 9], ['functions', 14]]);
  });
});

/** A GraphDef whose node `call` calls function F of the library; F's body is `body`. */
function graphWithLibrary(body: tensorflow.NodeDef.$Properties[], ret: string): Uint8Array {
  const f: tensorflow.FunctionDef.$Properties = {
    signature: { name: 'F', input_arg: [{ name: 'a', type: 1 }], output_arg: [{ name: 'out', type: 1 }] },
    node_def: body,
    ret: { out: ret },
  };
  return tensorflow.GraphDef.encode({
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: { dim: [{ size: 2 }] } } } },
      { name: 'call', op: 'PartitionedCall', input: ['x'], attr: { f: { func: { name: 'F' } }, Tin: { list: { type: [1] } }, Tout: { list: { type: [1] } } } },
    ],
    library: { function: [f] },
  }).finish();
}

describe('function libraries in a GraphDef', () => {
  it('a body using "node:out_arg:i" references and attribute placeholders is inlined', async () => {
    const pb = graphWithLibrary(
      [
        { name: 'two', op: 'Const', attr: { dtype: { type: 1 }, value: { tensor: { dtype: 1, tensor_shape: {}, float_val: [2] } } } },
        { name: 'mul', op: 'Mul', input: ['a', 'two:output:0'], attr: { T: { placeholder: 'T' } } },
        { name: 'relu', op: 'Relu', input: ['mul:z:0'], attr: { T: { type: 1 } } },
      ],
      'relu:activations:0',
    );
    const g = tensorflow.GraphDef.decode(pb);
    g.node[1]!.attr!.f!.func!.attr = { T: { type: 1 } };
    const graph = await readGraphDef(tensorflow.GraphDef.encode(g).finish(), { fileName: 'lib.pb', outputs: ['call'] });
    const r = await run(graph, { x: Tensor.float32([2], [1.5, -3]) });
    expect(Array.from(r.outputs.get('call')!.toFloat32())).toEqual([3, 0]);
  });

  it('a call of a function the library lacks, or with the wrong number of inputs, is a FormatError naming both', async () => {
    const g = tensorflow.GraphDef.decode(graphWithLibrary([], 'a'));
    g.node[1]!.attr!.f!.func!.name = 'Missing';
    const missing = readGraphDef(tensorflow.GraphDef.encode(g).finish(), { fileName: 'missing.pb', outputs: ['call'] });
    await expect(missing).rejects.toThrow(FormatError);
    await expect(readGraphDef(tensorflow.GraphDef.encode(g).finish(), { fileName: 'missing.pb', outputs: ['call'] })).rejects.toThrow(/node 'call' \(PartitionedCall\) calls function 'Missing', which the graph's library does not define/);
    const h = tensorflow.GraphDef.decode(graphWithLibrary([], 'a'));
    h.node[1]!.input = ['x', 'x'];
    await expect(readGraphDef(tensorflow.GraphDef.encode(h).finish(), { fileName: 'arity.pb', outputs: ['call'] })).rejects.toThrow(/passes 2 inputs to 'F', which takes 1/);
  });

  it('a function returning its argument directly inlines to an Identity of the caller input', async () => {
    const graph = await readGraphDef(graphWithLibrary([], 'a'), { fileName: 'id.pb', outputs: ['call'] });
    const r = await run(graph, { x: Tensor.float32([2], [4, -1]) });
    expect(Array.from(r.outputs.get('call')!.toFloat32())).toEqual([4, -1]);
  });

  it('a library that calls itself is a GraphError naming the cycle', async () => {
    const pb = graphWithLibrary([{ name: 'again', op: 'StatefulPartitionedCall', input: ['a'], attr: { f: { func: { name: 'F' } } } }], 'again:output:0');
    const p = readGraphDef(pb, { fileName: 'self.pb', outputs: ['call'] });
    await expect(p).rejects.toThrow(GraphError);
    await expect(readGraphDef(pb, { fileName: 'self.pb', outputs: ['call'] })).rejects.toThrow(/calls itself: F -> F/);
  });
});

describe('graphs with ops nnport cannot convert', () => {
  const pb = tensorflow.GraphDef.encode({
    node: [
      { name: 'x', op: 'Placeholder', device: '/device:CPU:0', attr: { dtype: { type: 1 } } },
      { name: 'w', op: 'Const', attr: { dtype: { type: 1 }, value: { tensor: { dtype: 1, tensor_shape: { dim: [{ size: 3 }] }, float_val: [1, 2, 3] } } } },
      { name: 'fancy', op: 'MyFancyOp', input: ['x', 'w'], attr: { alpha: { f: 0.25 } } },
      { name: 'relu', op: 'Relu', input: ['fancy'] },
      { name: 'odd', op: 'AnotherOddOp', input: ['relu', '^x'] },
    ],
  }).finish();

  it('convert raises one UnsupportedError listing every unsupported op with a node each', async () => {
    const file = join(tmp, 'odd.pb');
    writeFileSync(file, pb);
    const p = loadModelFiles([file]);
    await expect(p).rejects.toThrow(UnsupportedError);
    await expect(loadModelFiles([file])).rejects.toThrow(/MyFancyOp \(node 'fancy'\), AnotherOddOp \(node 'odd'\)/);
  });

  it('inspect lists every node (name, op, inputs, device, attrs) and the Const weights', async () => {
    const file = join(tmp, 'odd-inspect.pb');
    writeFileSync(file, pb);
    const out: string[] = [];
    expect(await main(['inspect', file, '--json'], (s) => out.push(s), (s) => out.push(s))).toBe(0);
    const s = JSON.parse(out.join('\n')) as ModelSummary;
    const l = s.listings!.find((x) => x.title === 'TensorFlow nodes')!;
    expect(l.rows.map((r) => [r[0], r[1], r[2], r[3]])).toEqual([
      ['x', 'Placeholder', '', '/device:CPU:0'],
      ['w', 'Const', '', ''],
      ['fancy', 'MyFancyOp', 'x w', ''],
      ['relu', 'Relu', 'fancy', ''],
      ['odd', 'AnotherOddOp', 'relu ^x', ''],
    ]);
    expect(l.rows[2]![l.columns.indexOf('attrs')]).toBe('alpha=0.25');
    expect(s.weights.map((w) => [w.name, w.shape])).toEqual([['w', [3]]]);
    expect(s.metadata?.['not convertible']).toMatch(/MyFancyOp.*AnotherOddOp/);
  });
});
