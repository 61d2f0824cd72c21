// TF1 dataflow control flow (tf.cond's Switch / Merge, tf.while_loop's Enter / Merge / LoopCond /
// Switch / NextIteration / Exit frames) read from frozen GraphDefs and TF.js graph models as
// functional If / While: graphs written node by node as TF1 emits them (tf1-graphs.ts), run by
// nnport's runtime (from the TF.js JSON and from the binary GraphDef), by onnxruntime on the .onnx
// nnport writes and, for counted loops, by the TFLite interpreter on the unrolled .tflite, all
// against TensorFlow.js' own graph-model executor (executeAsync runs TF1 control flow itself).
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { maxAbsDiff } from './helpers.js';
import { f32, nnportRun, scalarF, scalarI, useTfGraphHarness } from './tf-graph-spec.js';
import { tf1, tfjsRun, type NodeSpec, type Tf1Model } from './tf1-graphs.js';
import { accumulateModel, condInWhileModel, condModel, dropoutModel, dynamicRnnModel, growingModel, nestedInCondModel, rnnModel, whileInWhileModel } from './tf1-models.js';

const oracle = useTfliteOracle();
const { nnportGraph, pbGraph, check, checkTflite } = useTfGraphHarness('nnport-tf1cf-', 'tf1.pb', oracle);
const ops = (g: Graph) => g.nodes.map((n) => n.opType);

describe('TF1 control flow (frozen GraphDef, TF.js graph model)', () => {
  it('tf.cond on a data-dependent predicate, two outputs (an outer tensor passed on, a Const of the false branch): one If; both branches = TensorFlow.js, onnxruntime', async () => {
    const m = condModel();
    for (const g of [await nnportGraph(m), await pbGraph(m)]) {
      expect(ops(g).filter((o) => o === 'If')).toHaveLength(1);
      expect(ops(g)).not.toContain('Switch');
    }
    const x = f32([2, 3], 5);
    await check(m, [{ x, s: scalarF(1.5) }, { x, s: scalarF(-0.5) }]);
  });

  it("a branch's Const without the control input that puts it there (freezing a .meta drops them) is the other branch's value: = TensorFlow.js on the same cond passing an outer Const in", async () => {
    const bare = (m: Tf1Model, z: NodeSpec[]): Tf1Model => ({ ...m, nodes: [...m.nodes.filter((n) => !n.name.startsWith('cond/sub_1') && n.name !== 'cond/Const' && n.name !== 'cond/Merge_1'), ...z] });
    const mine = bare(condModel(), [tf1.cst('cond/Const', 'float32', [2, 3], [6, 5, 4, 3, 2, 1]), tf1.merge('cond/Merge_1', 'cond/Const', 'cond/Switch_1:1')]);
    const theirs = bare(condModel(), [
      tf1.cst('c', 'float32', [2, 3], [6, 5, 4, 3, 2, 1]),
      tf1.sw('cond/Switch_2', 'c', 'cond/pred_id'),
      tf1.merge('cond/Merge_1', 'cond/Switch_2', 'cond/Switch_1:1'),
    ]);
    const x = f32([2, 3], 8);
    for (const s of [2, -2]) {
      const want = await tfjsRun(theirs, { x, s: scalarF(s) });
      for (const g of [await nnportGraph(mine), await pbGraph(mine)]) {
        const got = await nnportRun(g, { x, s: scalarF(s) });
        for (const [i, w] of want.entries()) expect(maxAbsDiff(got[i]!.toFloat32(), w.toFloat32())).toBeLessThan(1e-5);
      }
    }
  });

  it('tf.while_loop counting to n (fed): a Loop; 5, 0 and 17 iterations = TensorFlow.js, onnxruntime', async () => {
    const m = accumulateModel();
    const g = await nnportGraph(m);
    const loop = g.nodes.find((n) => n.opType === 'Loop')!;
    expect(loop.inputs[0]).toBe('');
    const x = f32([4], 9);
    await check(m, [{ x, n: scalarI(5) }, { x, n: scalarI(0) }, { x, n: scalarI(17) }]);
  });

  it('a loop variable the body grows (concat, no output_shapes in TF1): its shape left unknown, not the initial one; values and Shape = TensorFlow.js, onnxruntime', async () => {
    const m = growingModel();
    const g = await nnportGraph(m);
    expect(g.outputs[0]!.shape).toEqual([null]);
    const x = f32([2], 19);
    await check(m, [{ x, n: scalarI(3) }, { x, n: scalarI(0) }]);
  });

  it('an RNN-like MatMul recurrence over 6 steps: a trip count; runtimes and the unrolled .tflite = TensorFlow.js', async () => {
    const m = rnnModel();
    const g = await nnportGraph(m);
    const loop = g.nodes.find((n) => n.opType === 'Loop')!;
    expect(g.initializers.get(loop.inputs[0]!)?.toNumbers()).toEqual([6]);
    const x = f32([1, 4], 12);
    await check(m, [{ x }, { x: f32([1, 4], 13) }]);
    const { ops: names } = await checkTflite(m, { x });
    expect(names.filter((o) => o === 'TANH')).toHaveLength(6);
    expect(names).not.toContain('WHILE');
  });

  it('a cond in a while body, and a while in a while body: runtimes and .tflite = TensorFlow.js', async () => {
    for (const [m, x] of [
      [condInWhileModel(), f32([3], 3)],
      [whileInWhileModel(), f32([2, 2], 4)],
    ] as const) {
      await check(m, [{ x }]);
      expect((await checkTflite(m, { x })).ops).not.toContain('WHILE');
    }
  });

  it('a cond and a while in the branches of a cond: each s (three paths) = TensorFlow.js, onnxruntime', async () => {
    const m = nestedInCondModel();
    const x = f32([3], 11);
    await check(m, [{ x, s: scalarF(2) }, { x, s: scalarF(0.5) }, { x, s: scalarF(-1) }]);
  });

  it('tf.nn.dynamic_rnn (TensorArrays scattered, read and written at time, gathered after; maximum_iterations): runtimes and the unrolled .tflite = TensorFlow.js', async () => {
    const m = dynamicRnnModel();
    const g = await nnportGraph(m);
    const loop = g.nodes.find((n) => n.opType === 'Loop')!;
    expect(g.initializers.get(loop.inputs[0]!)?.toNumbers()).toEqual([4]);
    const x = f32([1, 4, 2], 17);
    await check(m, [{ x }, { x: f32([1, 4, 2], 18) }]);
    const { ops: names } = await checkTflite(m, { x });
    expect(names.filter((o) => o === 'TANH')).toHaveLength(4);
    expect(names).not.toContain('WHILE');
  });

  it('a constant predicate (--set is_training=0, a folded comparison) takes its branch in line: no If, the dead branch (RandomUniform) never read', async () => {
    const m = dropoutModel();
    const x = f32([2, 4], 7);
    const [want] = await tfjsRun(m, { x, is_training: new Tensor('bool', [], Uint8Array.of(0)) });
    for (const g of [await nnportGraph(m, { is_training: 0 }), await pbGraph(m, { is_training: 0 })]) {
      expect(ops(g)).not.toContain('If');
      expect(ops(g).some((o) => /Random/.test(o))).toBe(false);
      const [got] = await nnportRun(g, { x });
      expect(maxAbsDiff(got!.toFloat32(), want!.toFloat32())).toBeLessThan(1e-5);
    }
    // the same cond on s > 0 with s a Const: folded while reading
    const c = condModel();
    c.nodes = c.nodes.map((n) => (n.name === 's' ? tf1.cst('s', 'float32', [], [-2]) : n));
    const g = await nnportGraph(c);
    expect(ops(g)).not.toContain('If');
    const xs = f32([2, 3], 6);
    const got = await nnportRun(g, { x: xs });
    const wantC = await tfjsRun(c, { x: xs });
    for (const [i, w] of wantC.entries()) expect(maxAbsDiff(got[i]!.toFloat32(), w.toFloat32())).toBeLessThan(1e-5);
  });
});
