// Gemm and MatMul: contractions over the last axes.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrInt, type Dim, type Node } from '../graph.js';
import { broadcastDims, defineOpDef, fmtShape, input, mergeDim, noAttrs, type OpDefTable } from './op-def.js';

export interface GemmAttrs {
  alpha: number;
  beta: number;
  transA: boolean;
  transB: boolean;
}

export function parseGemmAttrs(node: Node): GemmAttrs {
  const ta = attrInt(node, 'transA', 0);
  const tb = attrInt(node, 'transB', 0);
  if (attrInt(node, 'broadcast', 1) === 0) throw new UnsupportedError('Gemm broadcast=0', 'only opset-7+ broadcasting of C is implemented');
  return { alpha: attrFloat(node, 'alpha', 1), beta: attrFloat(node, 'beta', 1), transA: ta !== 0, transB: tb !== 0 };
}

export const gemmDefs = {
  Gemm: defineOpDef<GemmAttrs>({
    opType: 'Gemm',
    domain: '',
    layout: 'matmul',
    attrs: parseGemmAttrs,
    infer: (ctx) => {
      const a = input(ctx, 0, 'A');
      const b = input(ctx, 1, 'B');
      for (const [t, n] of [[a, 'A'], [b, 'B']] as const) if (t.shape && t.shape.length !== 2) throw new ShapeError(`Gemm ${n} must be 2-D, got ${fmtShape(t.shape)}`);
      const as = a.shape ?? [null, null];
      const bs = b.shape ?? [null, null];
      const [M, Ka] = ctx.attrs.transA ? [as[1]!, as[0]!] : [as[0]!, as[1]!];
      const [Kb, N] = ctx.attrs.transB ? [bs[1]!, bs[0]!] : [bs[0]!, bs[1]!];
      mergeDim(Ka, Kb, () => `Gemm inner dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      return [{ dtype: a.dtype ?? b.dtype, shape: [M, N] }];
    },
  }),
  MatMul: defineOpDef({
    opType: 'MatMul',
    domain: '',
    layout: 'matmul',
    attrs: noAttrs,
    infer: (ctx) => {
      const a = input(ctx, 0, 'A');
      const b = input(ctx, 1, 'B');
      const dtype = a.dtype ?? b.dtype;
      if (!a.shape || !b.shape) return [{ dtype }];
      if (a.shape.length === 0 || b.shape.length === 0) throw new ShapeError('MatMul operands must have rank >= 1');
      // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dimension is dropped after.
      const as: Dim[] = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
      const bs: Dim[] = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
      mergeDim(as[as.length - 1]!, bs[bs.length - 2]!, () => `MatMul inner dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      const batch = broadcastDims([as.slice(0, -2), bs.slice(0, -2)], 'MatMul')!;
      return [{ dtype, shape: [...batch, ...(a.shape.length === 1 ? [] : [as[as.length - 2]!]), ...(b.shape.length === 1 ? [] : [bs[bs.length - 1]!])] }];
    },
  }),
} satisfies OpDefTable;
