// Run-time control flow written into a frozen GraphDef (.pb) and a TF.js graph model as
// StatelessIf / StatelessWhile over FunctionDefs of the library (src/formats/tensorflow/
// write-functions.ts): torch.jit.script modules exported to ONNX (scripts/fixtures/
// onnx_run_time_control_flow.py) whose `if` is on the data and whose `for` runs an input's number
// of times, an `if` inside such a loop (functions calling functions), a `while` on the data (a Loop
// of no trip count), a Python list appended to in the loop and stacked after it (the Loop's scan
// output, a StatelessWhile accumulator) and convolutions inside the branches (bodies laid out
// channels-last). The TF.js graph model runs in TensorFlow.js 4.9 itself (executeAsync: its executor runs
// the functions), the .pb is read back by nnport's TensorFlow reader (functions -> ONNX If / Loop)
// and run; both against PyTorch's outputs, for inputs taking either branch and several trip counts
// (0 included).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/run-time-control-flow');
const NETS = {
  data_if: { inputs: ['x'], outputs: ['y'], cases: ['_pos', '_neg'], functions: 2 },
  count_loop: { inputs: ['x', 'n'], outputs: ['y'], cases: ['_3', '_0', '_7'], functions: 2 },
  nested: { inputs: ['x', 'n'], outputs: ['y'], cases: ['_5', '_2'], functions: 4 },
  // hs.append(h) / torch.stack(hs): a sequence carried by the Loop, made its scan output (src/passes/sequence-scan-outputs.ts)
  scan_loop: { inputs: ['x', 'n'], outputs: ['y', 'z'], cases: ['_4', '_1'], functions: 2 },
  // the loop's `and` is PyTorch's short-circuit: an If inside the body
  while_loop: { inputs: ['x'], outputs: ['y'], cases: ['_small', '_big'], functions: 4 },
} as const;

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  ensureScriptFixtures('onnx_run_time_control_flow.py', 'run-time-control-flow', [...Object.keys(NETS), 'conv_if']);
  ensureScriptFixtures('onnx_control_flow.py', 'control-flow', ['branch_loop']);
}, 300_000);

const nhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 1]);
const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, net, `${f}.npy`))), f);
const onnx = (net: string): ReturnType<typeof loadModel> => loadModel(new Uint8Array(readFileSync(join(CACHE, net, 'model.onnx'))), { fileName: `${net}.onnx` });

describe('If / Loop of run-time condition and trip count as StatelessIf / StatelessWhile', () => {
  for (const [net, spec] of Object.entries(NETS)) {
    it(`${net}: the TF.js graph model (TF.js executeAsync) matches PyTorch`, async () => {
      const files = await convert(await onnx(net), 'out/model.json', { tfjsFormat: 'graph' });
      const json = JSON.parse(new TextDecoder().decode(files.bytes));
      const ops = (json.modelTopology.node as Array<{ op: string }>).map((n) => n.op);
      expect(ops).toContain(net === 'data_if' ? 'StatelessIf' : 'StatelessWhile');
      expect(json.modelTopology.library.function.length).toBe(spec.functions);
      expect(files.notes.join('\n')).toMatch(/kept as tfjs-graph control flow[\s\S]*GraphModel\.executeAsync, not execute/);
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      for (const c of spec.cases) {
        const ys = await runGraphModel(m, spec.inputs.map((i) => npy(net, i + c)), spec.inputs.map((i) => i), spec.outputs.map((o) => o));
        spec.outputs.forEach((o, k) => {
          const want = npy(net, o + c);
          expect(ys[k]!.shape, `${o}${c}`).toEqual(want.shape);
          const err = maxAbsDiff(ys[k]!.toFloat32(), want.toFloat32());
          console.log(`${net} ${o}${c}: TF.js vs PyTorch max abs ${err.toExponential(2)}`);
          expect(err, `${o}${c}`).toBeLessThanOrEqual(1e-5);
        });
      }
      m.dispose();
    });

    it(`${net}: the .pb holds the functions and, read back by nnport, matches PyTorch`, async () => {
      const { bytes } = await convert(await onnx(net), `${net}.pb`);
      const gd = tensorflow.GraphDef.decode(bytes);
      expect(gd.node.map((n) => n.op)).toContain(net === 'data_if' ? 'StatelessIf' : 'StatelessWhile');
      expect(gd.library?.function?.length).toBe(spec.functions);
      const back = await loadModel(bytes, { fileName: `${net}.pb` });
      for (const c of spec.cases) {
        const feeds = Object.fromEntries(spec.inputs.map((i) => [i, npy(net, i + c)]));
        const ys = (await run(back, feeds)).outputs;
        spec.outputs.forEach((o) => {
          const want = npy(net, o + c);
          const y = ys.get(o)!;
          expect(y.shape, `${o}${c}`).toEqual(want.shape);
          const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
          console.log(`${net} ${o}${c}: .pb read back vs PyTorch max abs ${err.toExponential(2)}`);
          expect(err, `${o}${c}`).toBeLessThanOrEqual(1e-5);
        });
      }
    });
  }

  it('branch_loop (onnx_control_flow.py) with x fixed at [2, 5, 4]: the Loop over the time dim unrolls, the If on x.sum() stays a StatelessIf; TF.js and the .pb read back match PyTorch on both branches', async () => {
    const dir = join(REPO_ROOT, '.fixtures-cache/control-flow/branch_loop');
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'branch_loop.onnx', inputShapes: { x: [2, 5, 4] } });
    const read = (f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, `${f}.npy`))), f);
    const files = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    const back = await loadModel((await convert(model, 'branch_loop.pb')).bytes, { fileName: 'branch_loop.pb' });
    for (const c of ['_pos', '_neg']) {
      const want = read(`output${c}`);
      const [y] = await runGraphModel(m, [read(`input${c}`)]);
      const pb = (await run(back, { x: read(`input${c}`) })).outputs.values().next().value!;
      const errs = [maxAbsDiff(y!.toFloat32(), want.toFloat32()), maxAbsDiff(pb.toFloat32(), want.toFloat32())];
      console.log(`branch_loop${c}: TF.js vs PyTorch max abs ${errs[0]!.toExponential(2)}, .pb read back ${errs[1]!.toExponential(2)}`);
      expect(y!.shape).toEqual(want.shape);
      expect(Math.max(...errs), c).toBeLessThanOrEqual(1e-5);
    }
    m.dispose();
  });

  it('conv_if: convolutions around and inside the branches (bodies laid out channels-last): TF.js and the .pb read back match PyTorch on both branches', async () => {
    const model = await onnx('conv_if');
    const files = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    const back = await loadModel((await convert(model, 'conv_if.pb')).bytes, { fileName: 'conv_if.pb' });
    for (const c of ['_pos', '_neg']) {
      const x = nhwc(npy('conv_if', `x${c}`));
      const want = npy('conv_if', `y${c}`);
      const [y] = await runGraphModel(m, [x]);
      const pb = (await run(back, { x })).outputs.values().next().value!;
      // the input is NHWC (the conv before the If); the If's result is the branches' in their boundary layout, NCHW
      expect(y!.shape).toEqual(want.shape);
      expect(pb.shape).toEqual(want.shape);
      const errs = [maxAbsDiff(y!.toFloat32(), want.toFloat32()), maxAbsDiff(pb.toFloat32(), want.toFloat32())];
      console.log(`conv_if${c}: TF.js vs PyTorch max abs ${errs[0]!.toExponential(2)}, .pb read back ${errs[1]!.toExponential(2)}`);
      expect(Math.max(...errs), c).toBeLessThanOrEqual(1e-5);
    }
    m.dispose();
  });


  it('a Loop scan output whose element shape changes per iteration (Range(0, i)) is refused by name, not written', async () => {
    const body: Graph = {
      ...emptyGraph('body'),
      inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }],
      initializers: new Map([['zero', Tensor.int64([], [0])], ['one', Tensor.int64([], [1])]]),
      nodes: [
        { name: 'keep', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attrs: {} },
        { name: 'range', opType: 'Range', domain: '', inputs: ['zero', 'i', 'one'], outputs: ['r'], attrs: {} },
      ],
      outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'r', dtype: 'int64' }],
    };
    const graph: Graph = {
      ...emptyGraph('grows'),
      inputs: [{ name: 'n', dtype: 'int64', shape: [] }, { name: 'cond', dtype: 'bool', shape: [] }],
      nodes: [{ name: 'loop', opType: 'Loop', domain: '', inputs: ['n', 'cond'], outputs: ['scan'], attrs: { body: { type: 'graph', value: body } } }],
      outputs: [{ name: 'scan', dtype: 'int64' }],
    };
    for (const out of ['m.pb', 'out/model.json']) {
      await expect(convert({ kind: 'graph', format: 'onnx', graph }, out, out.endsWith('.json') ? { tfjsFormat: 'graph' } : {}), out).rejects.toThrow(/unsupported: a Loop scan output whose element shape may change from one iteration to the next in a GraphDef.*node 'loop', scan output 0/);
    }
  });
});
