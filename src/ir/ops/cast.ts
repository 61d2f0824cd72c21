// Cast and CastLike: same shape, new dtype; integer shape values pass through (data propagation).
import type { DType } from '../dtypes.js';
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrInt } from '../graph.js';
import { defineOpDef, input, noAttrs, type OpDefTable, type ValueType } from './op-def.js';

/** TensorProto.DataType -> IR dtype (complex and 8-bit floats are not IR dtypes). */
const ONNX_DTYPES: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

export function dtypeFromOnnxEnum(code: number): DType {
  const d = ONNX_DTYPES[code];
  if (!d) throw new UnsupportedError(`TensorProto data type ${code}`);
  return d;
}

const FLOATS: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** Known elements converted as a cast does (floats to integers truncate; bool is 0/1). */
export function castData(data: ValueType['data'], from: DType | undefined, to: DType): ValueType['data'] {
  if (!data || to === 'string' || from === 'string') return undefined;
  if (FLOATS.has(to)) return data;
  if (to === 'bool') return data.map((d) => (typeof d === 'number' ? (d !== 0 ? 1 : 0) : null));
  return data.map((d) => (typeof d === 'number' ? (Number.isFinite(d) ? Math.trunc(d) : null) : d));
}

export interface CastAttrs {
  to: DType;
}

export const castDefs = {
  Cast: defineOpDef<CastAttrs>({
    opType: 'Cast',
    domain: '',
    layout: 'elementwise',
    attrs: (node) => {
      const to = attrInt(node, 'to');
      if (to === undefined) throw new ShapeError('Cast needs the to attribute');
      return { to: dtypeFromOnnxEnum(to) };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      return [{ dtype: ctx.attrs.to, shape: x.shape, data: castData(x.data, x.dtype, ctx.attrs.to) }];
    },
  }),
  CastLike: defineOpDef({
    opType: 'CastLike',
    domain: '',
    layout: 'elementwise',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const to = input(ctx, 1, 'target_type').dtype;
      return [{ dtype: to, shape: x.shape, data: to ? castData(x.data, x.dtype, to) : undefined }];
    },
  }),
} satisfies OpDefTable;
