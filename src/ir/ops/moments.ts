// MeanVarianceNormalization (opset 9 / 13): (X - E[X]) / sqrt(E[(X - E[X])^2]) over the given axes.
import { UnsupportedError } from '../errors.js';
import { attrInts } from '../graph.js';
import { defineOpDef, input, like, normAxes, type OpDefTable } from './op-def.js';

export interface MvnAttrs {
  axes: number[];
}

export const momentsDefs = {
  MeanVarianceNormalization: defineOpDef<MvnAttrs>({
    opType: 'MeanVarianceNormalization',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axes: attrInts(node, 'axes', [0, 2, 3]) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (x.dtype && !['float32', 'float64', 'float16', 'bfloat16'].includes(x.dtype)) throw new UnsupportedError(`MeanVarianceNormalization on ${x.dtype}`);
      if (x.shape) normAxes(ctx.attrs.axes, x.shape.length);
      return [like(x)];
    },
  }),
} satisfies OpDefTable;
