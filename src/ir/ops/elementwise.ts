// Broadcasting binary and variadic ops (arithmetic, comparison, logic), Pow, Mod, BitShift,
// PRelu, Where and Expand. Known small integer operands are computed through, as ONNX's data
// propagation does, so that shape arithmetic (Shape -> Div -> Mul -> Reshape) stays known.
import type { DType } from '../dtypes.js';
import { ShapeError } from '../errors.js';
import { attrInt, attrString, type Dim, type Node } from '../graph.js';
import { broadcastDims, defineOpDef, fmtShape, input, intsOf, noAttrs, type OpDef, type OpDefTable, type ValueType } from './op-def.js';

const INTS: ReadonlySet<DType> = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/** Elementwise `f` over known data of rank <= 1 with broadcasting; undefined when not computable. */
function computeData(values: ReadonlyArray<ValueType>, shape: Dim[] | undefined, f: (xs: number[]) => number | undefined): Dim[] | undefined {
  if (!shape || shape.length > 1 || values.some((v) => !v.data)) return undefined;
  const n = shape.length === 0 ? 1 : shape[0];
  if (typeof n !== 'number' || n > 64) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const xs = values.map((v) => v.data![v.data!.length === 1 ? 0 : i]);
    if (xs.some((x) => typeof x !== 'number')) {
      out.push(null);
      continue;
    }
    const r = f(xs as number[]);
    out.push(r === undefined || !Number.isFinite(r) ? null : r);
  }
  return out;
}

type BinaryKind = 'same' | 'bool';

export interface BinaryAttrs {
  /** opset < 7 with broadcast=1: B lines up with A from this axis (not numpy's right alignment) */
  legacyAxis?: number;
}

export function legacyBroadcastAttrs(node: Node, opset: number): BinaryAttrs {
  if (opset >= 7 || attrInt(node, 'broadcast', 0) === 0) return {};
  const axis = attrInt(node, 'axis');
  return axis === undefined ? {} : { legacyAxis: axis };
}

/** B's shape padded with trailing 1s so numpy broadcasting gives the pre-opset-7 "align at axis" rule. */
function alignLegacy(a: Dim[] | undefined, b: Dim[] | undefined, axis: number | undefined): Dim[] | undefined {
  if (axis === undefined || !a || !b) return b;
  const start = axis < 0 ? axis + a.length : axis;
  if (start < 0 || start + b.length > a.length) throw new ShapeError(`legacy broadcast of ${fmtShape(b)} at axis ${axis} does not fit ${fmtShape(a)}`);
  return [...b, ...new Array<Dim>(a.length - start - b.length).fill(1)];
}

function binary(op: string, kind: BinaryKind, f?: (a: number, b: number, dtype?: DType) => number | undefined): OpDef<BinaryAttrs> {
  return defineOpDef<BinaryAttrs>({
    opType: op,
    domain: '',
    layout: 'broadcast',
    attrs: legacyBroadcastAttrs,
    infer: (ctx) => {
      const a = input(ctx, 0, 'A');
      const b = input(ctx, 1, 'B');
      if (a.dtype && b.dtype && a.dtype !== b.dtype) throw new ShapeError(`${op} inputs must have the same dtype, got ${a.dtype} and ${b.dtype}`);
      const shape = broadcastDims([a.shape, alignLegacy(a.shape, b.shape, ctx.attrs.legacyAxis)], op);
      const dtype = kind === 'bool' ? 'bool' : a.dtype ?? b.dtype;
      const data = f && ctx.attrs.legacyAxis === undefined ? computeData([a, b], shape, ([x, y]) => f(x!, y!, dtype)) : undefined;
      return [{ dtype, shape, data }];
    },
  });
}

const isInt = (d: DType | undefined) => d !== undefined && INTS.has(d);

function variadic(op: string, f: (a: number, b: number) => number): OpDef<Record<string, never>> {
  return defineOpDef({
    opType: op,
    domain: '',
    layout: 'broadcast',
    attrs: noAttrs,
    infer: (ctx) => {
      const xs = ctx.inputs.filter((v): v is ValueType => v !== undefined);
      if (xs.length === 0) throw new ShapeError(`${op} needs at least one input`);
      const shape = broadcastDims(xs.map((v) => v.shape), op);
      const data = computeData(xs, shape, (vs) => {
        const r = vs.reduce(f);
        return op === 'Mean' ? r / vs.length : r;
      });
      return [{ dtype: xs.find((v) => v.dtype)?.dtype, shape, data }];
    },
  });
}

export const elementwiseDefs = {
  Add: binary('Add', 'same', (a, b) => a + b),
  Sub: binary('Sub', 'same', (a, b) => a - b),
  Mul: binary('Mul', 'same', (a, b) => a * b),
  Div: binary('Div', 'same', (a, b, t) => (isInt(t) ? (b === 0 ? undefined : Math.trunc(a / b)) : a / b)),
  Equal: binary('Equal', 'bool', (a, b) => (a === b ? 1 : 0)),
  Less: binary('Less', 'bool', (a, b) => (a < b ? 1 : 0)),
  LessOrEqual: binary('LessOrEqual', 'bool', (a, b) => (a <= b ? 1 : 0)),
  Greater: binary('Greater', 'bool', (a, b) => (a > b ? 1 : 0)),
  GreaterOrEqual: binary('GreaterOrEqual', 'bool', (a, b) => (a >= b ? 1 : 0)),
  And: binary('And', 'bool', (a, b) => (a && b ? 1 : 0)),
  Or: binary('Or', 'bool', (a, b) => (a || b ? 1 : 0)),
  Xor: binary('Xor', 'bool', (a, b) => ((a ? 1 : 0) ^ (b ? 1 : 0))),
  Max: variadic('Max', Math.max),
  Min: variadic('Min', Math.min),
  Sum: variadic('Sum', (a, b) => a + b),
  Mean: variadic('Mean', (a, b) => a + b),
  Pow: defineOpDef({
    opType: 'Pow',
    domain: '',
    layout: 'broadcast',
    attrs: noAttrs,
    // the base's dtype wins; the exponent may be any numeric dtype
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      return [{ dtype: x.dtype, shape: broadcastDims([x.shape, input(ctx, 1, 'Y').shape], 'Pow') }];
    },
  }),
  Mod: defineOpDef<{ fmod: boolean }>({
    opType: 'Mod',
    domain: '',
    layout: 'broadcast',
    attrs: (node) => ({ fmod: attrInt(node, 'fmod', 0) !== 0 }),
    infer: (ctx) => {
      const a = input(ctx, 0, 'A');
      const b = input(ctx, 1, 'B');
      if (a.dtype && b.dtype && a.dtype !== b.dtype) throw new ShapeError(`Mod inputs must have the same dtype, got ${a.dtype} and ${b.dtype}`);
      return [{ dtype: a.dtype, shape: broadcastDims([a.shape, b.shape], 'Mod') }];
    },
  }),
  BitShift: defineOpDef<{ left: boolean }>({
    opType: 'BitShift',
    domain: '',
    layout: 'broadcast',
    attrs: (node) => {
      const d = attrString(node, 'direction');
      if (d !== 'LEFT' && d !== 'RIGHT') throw new ShapeError(`BitShift direction must be LEFT or RIGHT, got ${d}`);
      return { left: d === 'LEFT' };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      return [{ dtype: x.dtype, shape: broadcastDims([x.shape, input(ctx, 1, 'Y').shape], 'BitShift') }];
    },
  }),
  PRelu: defineOpDef<{ legacy: boolean }>({
    opType: 'PRelu',
    domain: '',
    layout: 'channel',
    attrs: (_node, opset) => ({ legacy: opset < 7 }),
    // the slope broadcasts to X one way: the output is X's shape
    infer: (ctx) => [{ dtype: input(ctx, 0, 'X').dtype, shape: ctx.inputs[0]!.shape }],
  }),
  Where: defineOpDef({
    opType: 'Where',
    domain: '',
    layout: 'broadcast',
    attrs: noAttrs,
    infer: (ctx) => {
      const c = input(ctx, 0, 'condition');
      const x = input(ctx, 1, 'X');
      const y = input(ctx, 2, 'Y');
      if (x.dtype && y.dtype && x.dtype !== y.dtype) throw new ShapeError(`Where X and Y must have the same dtype, got ${x.dtype} and ${y.dtype}`);
      const shape = broadcastDims([c.shape, x.shape, y.shape], 'Where');
      return [{ dtype: x.dtype ?? y.dtype, shape, data: computeData([c, x, y], shape, ([k, a, b]) => (k ? a : b)) }];
    },
  }),
  Expand: defineOpDef({
    opType: 'Expand',
    domain: '',
    layout: 'broadcast',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const s = input(ctx, 1, 'shape');
      const target = s.data ?? (typeof s.shape?.[0] === 'number' ? new Array<Dim>(s.shape[0]).fill(null) : undefined);
      if (target?.some((d) => typeof d === 'number' && d < 0)) throw new ShapeError(`Expand shape ${fmtShape(target)} has a negative dimension`);
      // an unknown target dim broadcasts against the input: it is the input's (if > 1) or unknown
      const shape = broadcastDims([x.shape, target], 'Expand');
      const ints = intsOf(x);
      const data = ints && shape && shape.length <= 1 && typeof (shape[0] ?? 1) === 'number' && ints.length === 1 ? new Array<Dim>((shape[0] as number | undefined) ?? 1).fill(ints[0]!) : undefined;
      return [{ dtype: x.dtype, shape, data: data && data.length <= 64 ? data : undefined }];
    },
  }),
} satisfies OpDefTable;
