// Elementwise float32 ops on the GPU: broadcasting binary arithmetic (numpy rules, through the
// runtime's merged-dims broadcast plan, up to 6 merged dims) and the activations.
import { elementwiseDefs, unaryDefs, type BinaryAttrs, type ClipAttrs } from '../../ir/ops/index.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { broadcastPlan, broadcastShapes } from '../../runtime/broadcast.js';
import { defineOp, type OpKernel, type OpTable } from '../../runtime/op.js';
import { groups256, linearProgram, Params } from '../runner.js';
import { gpu, isF32, onHost } from './common.js';

const MAX_DIMS = 6;

const binaryProgram = (expr: string): string =>
  linearProgram(
    ['A', 'B'],
    `  var rem = idx;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(pu(1u)) - 1; d >= 0; d = d - 1) {
    let k = u32(d);
    let dim = pu(2u + k);
    let c = rem % dim;
    rem = rem / dim;
    ia = ia + c * pu(8u + k);
    ib = ib + c * pu(14u + k);
  }
  let a = A[ia];
  let b = B[ib];
  Y[idx] = ${expr};`,
  );

const BINARY: Record<string, string> = {
  Add: 'a + b',
  Sub: 'a - b',
  Mul: 'a * b',
  Div: 'a / b',
};

function binaryKernel(op: 'Add' | 'Sub' | 'Mul' | 'Div'): OpKernel<BinaryAttrs> {
  const code = binaryProgram(BINARY[op]!);
  return defineOp<BinaryAttrs>({
    attrs: elementwiseDefs[op].attrs,
    accepts(inputs, a) {
      const [A, B] = inputs;
      if (a.legacyAxis !== undefined || inputs.length !== 2 || !isF32(A) || !isF32(B)) return false;
      try {
        const shape = broadcastShapes(A.shape, B.shape);
        return shapeSize(shape) > 0 && broadcastPlan(shape, [A.shape, B.shape]).dims.length <= MAX_DIMS;
      } catch {
        return false;
      }
    },
    run(inputs, _a, ctx) {
      const runner = gpu();
      const site = runner.site(ctx.node);
      const [A, B] = inputs as [Tensor, Tensor];
      const shape = broadcastShapes(A.shape, B.shape);
      const plan = broadcastPlan(shape, [A.shape, B.shape]);
      const n = shapeSize(shape);
      const pad = (v: number[]) => [...v, ...new Array<number>(MAX_DIMS - v.length).fill(0)];
      const out = runner.output(shape, site);
      const p = new Params().u(n, plan.dims.length, ...pad(plan.dims), ...pad(plan.strides[0]!), ...pad(plan.strides[1]!));
      runner.dispatch(site, code, [runner.input(A), runner.input(B), out.buffer], p, groups256(n));
      return [out.tensor];
    },
  });
}

const unaryProgram = (expr: string): string =>
  linearProgram(
    ['X'],
    `  let x = X[idx];
  let p0 = pf(1u);
  let p1 = pf(2u);
  Y[idx] = ${expr};`,
  );

// NaN goes through every activation as it does on the WASM path (select keeps x when x != x).
const UNARY: Record<string, { expr: string; params?: (a: any) => [number, number] }> = {
  Relu: { expr: 'select(x, 0.0, x < 0.0)' },
  LeakyRelu: { expr: 'select(x, x * p0, x < 0.0)', params: (a) => [a.alpha, 0] },
  Sigmoid: { expr: 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)' },
  HardSigmoid: { expr: 'select(clamp(p0 * x + p1, 0.0, 1.0), x, x != x)', params: (a) => [a.alpha, a.beta] },
  HardSwish: { expr: 'select(x * clamp(x / 6.0 + 0.5, 0.0, 1.0), x, x != x)' },
  // tanh of a large |x| overflows exp inside some drivers' tanh: it is +-1 to float precision past 10
  Tanh: { expr: 'select(tanh(clamp(x, -10.0, 10.0)), x, x != x)' },
  Neg: { expr: '-x' },
  Abs: { expr: 'abs(x)' },
};

function unaryKernel(op: string): OpKernel<any> {
  const spec = UNARY[op]!;
  const code = unaryProgram(spec.expr);
  return defineOp<any>({
    attrs: unaryDefs[op as keyof typeof unaryDefs].attrs as (n: any, o: number) => any,
    accepts: (inputs) => inputs.length === 1 && isF32(inputs[0]) && inputs[0].size > 0,
    run(inputs, a, ctx) {
      const runner = gpu();
      const site = runner.site(ctx.node);
      const X = inputs[0]!;
      const [p0, p1] = spec.params?.(a) ?? [0, 0];
      const out = runner.output(X.shape, site);
      runner.dispatch(site, code, [runner.input(X), out.buffer], new Params().u(X.size).f(p0, p1), groups256(X.size));
      return [out.tensor];
    },
  });
}

const clipCode = unaryProgram('select(select(select(x, p0, x < p0), p1, x > p1), x, x != x)');

/** Clip: bounds from the attributes (opset < 11) or the optional scalar inputs, read on the host. */
const Clip = defineOp<ClipAttrs>({
  attrs: unaryDefs.Clip.attrs,
  accepts: (inputs) =>
    isF32(inputs[0]) && inputs[0].size > 0 && [inputs[1], inputs[2]].every((t) => !t || (isF32(t) && t.size === 1 && onHost(t))),
  run(inputs, a, ctx) {
    const runner = gpu();
    const site = runner.site(ctx.node);
    const X = inputs[0]!;
    const lo = a.min ?? (inputs[1] ? (inputs[1].data as Float32Array)[0]! : -Infinity);
    const hi = a.max ?? (inputs[2] ? (inputs[2].data as Float32Array)[0]! : Infinity);
    const out = runner.output(X.shape, site);
    runner.dispatch(site, clipCode, [runner.input(X), out.buffer], new Params().u(X.size).f(lo, hi), groups256(X.size));
    return [out.tensor];
  },
});

export const ELEMENTWISE_OPS: OpTable = {
  Add: binaryKernel('Add'),
  Sub: binaryKernel('Sub'),
  Mul: binaryKernel('Mul'),
  Div: binaryKernel('Div'),
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unaryKernel(op)])),
  Clip,
};
