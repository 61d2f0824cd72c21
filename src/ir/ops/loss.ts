// Loss functions (ONNX opset 12/13): NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss over
// [N, C] or [N, C, d1, ..., dk] inputs with [N] or [N, d1, ..., dk] class-index targets.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrInt, attrString, type Node } from '../graph.js';
import { defineOpDef, fmtShape, input, like, mergeDim, type InferContext, type OpDef, type OpDefTable, type ValueType } from './op-def.js';

export type LossReduction = 'none' | 'sum' | 'mean';

export interface LossAttrs {
  reduction: LossReduction;
  /** targets equal to it contribute nothing (neither loss nor weight) */
  ignoreIndex: number | undefined;
}

function lossAttrs(node: Node): LossAttrs {
  const reduction = attrString(node, 'reduction', 'mean');
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') throw new UnsupportedError(`${node.opType} reduction '${reduction}'`);
  return { reduction, ignoreIndex: attrInt(node, 'ignore_index') };
}

/** The loss output: the target's shape without reduction, a scalar with it; `what` names the [N, C, ...] input. */
function lossInfer(ctx: InferContext<LossAttrs>, what: string): { x: ValueType; loss: ValueType } {
  const op = ctx.node.opType;
  const x = input(ctx, 0, what);
  const t = input(ctx, 1, 'target');
  if (x.shape && x.shape.length < 2) throw new ShapeError(`${op} ${what} must be [N, C, d1, ..., dk], got ${fmtShape(x.shape)}`);
  if (t.dtype && t.dtype !== 'int32' && t.dtype !== 'int64') throw new ShapeError(`${op} target must be int32 or int64, got ${t.dtype}`);
  let shape = t.shape && [...t.shape];
  if (x.shape && t.shape) {
    if (t.shape.length !== x.shape.length - 1) throw new ShapeError(`${op} target ${fmtShape(t.shape)} does not fit ${what} ${fmtShape(x.shape)}: expected [N, d1, ..., dk]`);
    const xs = [x.shape[0]!, ...x.shape.slice(2)];
    shape = t.shape.map((d, i) => mergeDim(d, xs[i]!, () => `${op} target ${fmtShape(t.shape)} and ${what} ${fmtShape(x.shape)}`));
  } else if (x.shape) shape = [x.shape[0]!, ...x.shape.slice(2)];
  const w = ctx.inputs[2]?.shape;
  if (w) {
    if (w.length !== 1) throw new ShapeError(`${op} weight must be [C], got ${fmtShape(w)}`);
    if (x.shape) mergeDim(w[0]!, x.shape[1]!, () => `${op} weight ${fmtShape(w)} and ${what} ${fmtShape(x.shape)}`);
  }
  return { x, loss: { dtype: x.dtype, shape: ctx.attrs.reduction === 'none' ? shape : [] } };
}

const nllDef: OpDef<LossAttrs> = defineOpDef<LossAttrs>({
  opType: 'NegativeLogLikelihoodLoss',
  domain: '',
  layout: 'axis',
  attrs: lossAttrs,
  infer: (ctx) => [lossInfer(ctx, 'input').loss],
});

const sceDef: OpDef<LossAttrs> = defineOpDef<LossAttrs>({
  opType: 'SoftmaxCrossEntropyLoss',
  domain: '',
  layout: 'axis',
  attrs: lossAttrs,
  infer: (ctx) => {
    const { x, loss } = lossInfer(ctx, 'scores');
    // the second output: log-softmax of the scores over the classes
    return [loss, like(x)];
  },
});

export const lossDefs = {
  NegativeLogLikelihoodLoss: nllDef,
  SoftmaxCrossEntropyLoss: sceDef,
} satisfies OpDefTable;
