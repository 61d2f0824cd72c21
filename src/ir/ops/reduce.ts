// Reductions (ReduceSum ... ReduceLogSumExp) and ArgMax / ArgMin.
import { attrInt, attrInts, type Dim } from '../graph.js';
import { defineOpDef, input, intsOf, MAX_DATA, normAxes, normAxis, unknownDims, type OpDef, type OpDefTable } from './op-def.js';

export interface ReduceAttrs {
  axes?: number[];
  keepdims: boolean;
  noopWithEmptyAxes: boolean;
  axesFromInput: boolean;
}
export interface ArgAttrs {
  axis: number;
  keepdims: boolean;
  selectLast: boolean;
}

export function reducedDims(shape: readonly Dim[], axes: number[], keepdims: boolean): Dim[] {
  return keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** A reduction; its axes come from the `axes` input from opset `inputAxesFrom` on. */
function reduceDef(op: string, inputAxesFrom: number): OpDef<ReduceAttrs> {
  return defineOpDef<ReduceAttrs>({
    opType: op,
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => ({
      axes: opset < inputAxesFrom ? attrInts(node, 'axes') : undefined,
      keepdims: attrInt(node, 'keepdims', 1) !== 0,
      noopWithEmptyAxes: attrInt(node, 'noop_with_empty_axes', 0) !== 0,
      axesFromInput: opset >= inputAxesFrom,
    }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const a = ctx.attrs;
      const given = a.axesFromInput ? (ctx.inputs[1] ? intsOf(ctx.inputs[1]) : undefined) : a.axes;
      if (!x.shape) return [{ dtype: x.dtype }];
      if (a.axesFromInput && ctx.inputs[1] && !given) {
        return [{ dtype: x.dtype, shape: a.keepdims ? unknownDims(x.shape.length) : undefined }];
      }
      if ((!given || given.length === 0) && a.noopWithEmptyAxes) return [{ dtype: x.dtype, shape: [...x.shape], data: x.data }];
      const axes = given && given.length ? normAxes(given, x.shape.length) : x.shape.map((_, i) => i);
      const shape = reducedDims(x.shape, axes, a.keepdims);
      let data: Dim[] | undefined;
      // ReduceProd / ReduceSum of a shape vector (numel computations) stay known
      if (x.data && x.shape.length === 1 && shape.length <= 1 && (op === 'ReduceProd' || op === 'ReduceSum') && x.data.length <= MAX_DATA) {
        data = [x.data.every((d) => typeof d === 'number') ? (x.data as number[]).reduce((p, v) => (op === 'ReduceProd' ? p * v : p + v), op === 'ReduceProd' ? 1 : 0) : null];
      }
      return [{ dtype: x.dtype, shape, data }];
    },
  });
}

function argDef(op: string): OpDef<ArgAttrs> {
  return defineOpDef<ArgAttrs>({
    opType: op,
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0), keepdims: attrInt(node, 'keepdims', 1) !== 0, selectLast: attrInt(node, 'select_last_index', 0) !== 0 }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      if (!x.shape) return [{ dtype: 'int64' }];
      return [{ dtype: 'int64', shape: reducedDims(x.shape, [normAxis(ctx.attrs.axis, x.shape.length)], ctx.attrs.keepdims) }];
    },
  });
}

export const reduceDefs = {
  ReduceSum: reduceDef('ReduceSum', 13),
  ReduceMean: reduceDef('ReduceMean', 18),
  ReduceMax: reduceDef('ReduceMax', 18),
  ReduceMin: reduceDef('ReduceMin', 18),
  ReduceProd: reduceDef('ReduceProd', 18),
  ReduceL1: reduceDef('ReduceL1', 18),
  ReduceL2: reduceDef('ReduceL2', 18),
  ReduceSumSquare: reduceDef('ReduceSumSquare', 18),
  ReduceLogSum: reduceDef('ReduceLogSum', 18),
  ReduceLogSumExp: reduceDef('ReduceLogSumExp', 18),
  ArgMax: argDef('ArgMax'),
  ArgMin: argDef('ArgMin'),
} satisfies OpDefTable;
