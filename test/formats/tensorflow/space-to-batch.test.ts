// SpaceToBatchND / BatchToSpaceND read back: nnport's own .pb of the dilated seg_head (the
// GraphDef writer emits each dilated conv as SpaceToBatchND -> Conv2D VALID -> BatchToSpaceND,
// tf.nn.atrous_conv2d's form) is read as dilated convs again and runs with PyTorch's output;
// with the pattern broken (a Relu between the conv and BatchToSpaceND) the general reshuffle
// runs, and OpenCV dnn's output of the same edited .pb is the oracle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { writeNpy } from '../../../src/formats/numpy/index.js';
import { decodeGraphDef, type NodeDef } from '../../../src/formats/tensorflow/graph-def.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { convert, loadModelFiles, run } from '../../../src/index.js';
import { attrInts, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { relError } from '../keras/tfjs-oracle.js';
import { npyTensor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-s2b-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let pb: Uint8Array;
let x: Tensor;
let want: Tensor;
beforeAll(async () => {
  registerAllFormats();
  await initKernels();
  const dir = torchvisionDir('seg_head');
  const model = await loadModelFiles([join(dir, 'model.onnx')]);
  pb = (await convert(model, 'seg_head.pb')).bytes;
  x = permuteTensor(npyTensor(join(dir, 'input.npy')), channelsLastPerm(4));
  want = npyTensor(join(dir, 'output.npy'));
}, 60_000);

async function runPb(bytes: Uint8Array): Promise<{ graph: Graph; y: Tensor }> {
  const graph = await readGraphDef(bytes, { fileName: 'seg_head.pb' });
  const r = await run(graph, { [graph.inputs[0]!.name]: x });
  let y = r.outputs.get(graph.outputs[0]!.name)!;
  if (y.rank === 4) y = permuteTensor(y, [0, 3, 1, 2]);
  return { graph, y };
}

/** OpenCV dnn's output for a GraphDef (scripts/fixtures/tf_opencv_run.py), back to NCHW. */
function opencv(bytes: Uint8Array, tag: string): Tensor {
  writeFileSync(join(tmp, `${tag}.pb`), bytes);
  writeFileSync(join(tmp, `${tag}-x.npy`), writeNpy(x));
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py'), join(tmp, `${tag}.pb`), join(tmp, `${tag}-x.npy`), join(tmp, `${tag}-y.npy`)]);
  const y = npyTensor(join(tmp, `${tag}-y.npy`));
  return y.rank === 4 ? permuteTensor(y, [0, 3, 1, 2]) : y;
}

describe('SpaceToBatchND / BatchToSpaceND', () => {
  it("nnport reads its own seg_head.pb back as dilated convs, with PyTorch's output", async () => {
    const ops = decodeGraphDef(pb, 'seg_head.pb').node!.map((n) => n.op);
    expect(ops).toContain('SpaceToBatchND');
    expect(ops).toContain('BatchToSpaceND');
    const { graph, y } = await runPb(pb);
    const convs = graph.nodes.filter((n) => n.opType === 'Conv');
    expect(convs.some((n) => attrInts(n, 'dilations', [1, 1]).some((d) => d > 1))).toBe(true);
    // fused: no reshuffle left
    expect(graph.nodes.some((n) => n.opType === 'Transpose')).toBe(false);
    expect(y.shape).toEqual([...want.shape]);
    expect(relError(y, want)).toBeLessThanOrEqual(1e-4);
  });

  it('with a Relu between the conv and BatchToSpaceND, the general reshuffle runs like OpenCV dnn runs the Relu after it', async () => {
    // Relu is elementwise, so it commutes with the reshuffle: conv -> Relu -> BatchToSpaceND
    // (not the atrous pattern: nnport's general path; OpenCV cannot import it) computes what
    // conv -> BatchToSpaceND -> Relu (OpenCV's atrous pattern) does
    const edit = (before: boolean): Uint8Array => {
      const gd = decodeGraphDef(pb, 'seg_head.pb');
      const nodes = gd.node as NodeDef[];
      const b2s = nodes.filter((n) => n.op === 'BatchToSpaceND');
      expect(b2s.length).toBeGreaterThan(0);
      for (const n of b2s) {
        const T = nodes.find((m) => m.name === n.input![0])!.attr!.T!;
        const relu = `${n.name}/relu_inserted`;
        if (before) {
          nodes.push({ name: relu, op: 'Relu', input: [n.input![0]!], attr: { T } });
          n.input![0] = relu;
        } else {
          for (const m of nodes) m.input = m.input?.map((i) => (i === n.name ? relu : i));
          nodes.push({ name: relu, op: 'Relu', input: [n.name!], attr: { T } });
        }
      }
      return tensorflow.GraphDef.encode(gd).finish();
    };
    const { graph, y } = await runPb(edit(true));
    expect(graph.nodes.some((n) => n.opType === 'Transpose')).toBe(true);
    const theirs = opencv(edit(false), 'relu-after');
    expect(y.shape).toEqual([...theirs.shape]);
    expect(relError(y, theirs)).toBeLessThanOrEqual(1e-4);
    // the Relus are not the identity here: the edited graph computes something else than PyTorch
    expect(relError(y, want)).toBeGreaterThan(1e-3);
  });
});
