// Concat on the GPU (one copy dispatch per input), and Reshape / Flatten / Squeeze / Unsqueeze /
// Identity / Dropout (inference) as views: the runtime's own kernels already only give a GPU
// tensor a new shape over the same storage, so they are taken as they are for GPU inputs.
import { shapeDefs } from '../../ir/ops/index.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { defineOp, type OpKernel, type OpTable } from '../../runtime/op.js';
import { ONNX_OPS } from '../../runtime/ops/index.js';
import { groups256, gpuBufferOf, linearProgram, Params } from '../runner.js';
import { gpu, isF32, onHost } from './common.js';

// 0 n (input elements), 1 block (input's axis * inner), 2 output block (total axis * inner), 3 offset
const COPY_INTO = linearProgram(
  ['X'],
  `  let block = pu(1u);
  Y[(idx / block) * pu(2u) + pu(3u) + idx % block] = X[idx];`,
);

const Concat = defineOp<{ axis: number }>({
  attrs: shapeDefs.Concat.attrs as (n: any, o: number) => { axis: number },
  accepts(inputs, a) {
    const ts = inputs.filter((t): t is Tensor => t !== undefined);
    if (!ts.length || !ts.every(isF32)) return false;
    const r = ts[0]!.rank;
    const axis = a.axis < 0 ? a.axis + r : a.axis;
    if (axis < 0 || axis >= r) return false;
    if (!ts.every((t) => t.rank === r && t.shape.every((d, i) => i === axis || d === ts[0]!.shape[i]))) return false;
    return ts.some((t) => t.size > 0);
  },
  run(inputs, a, ctx) {
    const runner = gpu();
    const ts = inputs.filter((t): t is Tensor => t !== undefined);
    const r = ts[0]!.rank;
    const axis = a.axis < 0 ? a.axis + r : a.axis;
    const total = ts.reduce((s, t) => s + t.shape[axis]!, 0);
    const shape = ts[0]!.shape.map((d, i) => (i === axis ? total : d));
    const inner = shapeSize(shape.slice(axis + 1));
    const out = runner.output(shape, runner.site(ctx.node));
    let at = 0;
    for (const [k, t] of ts.entries()) {
      const block = t.shape[axis]! * inner;
      if (t.size > 0) runner.dispatch(runner.site(ctx.node, k + 1), COPY_INTO, [runner.input(t), out.buffer], new Params().u(t.size, block, total * inner, at * inner), groups256(t.size));
      at += t.shape[axis]!;
    }
    return [out.tensor];
  },
});

/** A runtime shape kernel taken for tensors already on the GPU (their other inputs on the host). */
function view(op: string): OpKernel<any> {
  const k = ONNX_OPS[op]!;
  return defineOp<any>({
    attrs: k.attrs,
    accepts: (inputs) => !!inputs[0] && !!gpuBufferOf(inputs[0]) && inputs.slice(1).every(onHost),
    run: k.run,
  });
}

export const SHAPE_OPS: OpTable = {
  Concat,
  ...Object.fromEntries(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity'].map((op) => [op, view(op)])),
};
