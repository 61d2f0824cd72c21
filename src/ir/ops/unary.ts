// Elementwise unary ops and activations: same shape; dtype kept (bool for Not/IsNaN/IsInf).
import { attrFloat, attrInt, attrString, type Node } from '../graph.js';
import { defineOpDef, input, type OpDef, type OpDefTable } from './op-def.js';

export interface AlphaAttrs {
  alpha: number;
}
export interface ClipAttrs {
  /** opset < 11: bounds are attributes; from 11 they are optional inputs 1 and 2 */
  min?: number;
  max?: number;
}

const alpha = (fallback: number) => (node: Node): AlphaAttrs => ({ alpha: attrFloat(node, 'alpha', fallback) });
const none = (): Record<string, never> => ({});

function unary<A>(op: string, attrs: (node: Node, opset: number) => A, opts: { bool?: boolean; data?: (x: number) => number } = {}): OpDef<A> {
  return defineOpDef<A>({
    opType: op,
    domain: '',
    layout: 'elementwise',
    attrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      const f = opts.data;
      return [{ dtype: opts.bool ? 'bool' : x.dtype, shape: x.shape, data: f && x.data ? x.data.map((d) => (typeof d === 'number' ? f(d) : null)) : undefined }];
    },
  });
}

export const unaryDefs = {
  Relu: unary('Relu', none, { data: (x) => Math.max(0, x) }),
  LeakyRelu: unary('LeakyRelu', alpha(0.01)),
  Clip: unary<ClipAttrs>('Clip', (node, opset) => (opset < 11 ? { min: attrFloat(node, 'min', -Infinity), max: attrFloat(node, 'max', Infinity) } : {})),
  Sigmoid: unary('Sigmoid', none),
  HardSigmoid: unary('HardSigmoid', (node) => ({ alpha: attrFloat(node, 'alpha', 0.2), beta: attrFloat(node, 'beta', 0.5) })),
  HardSwish: unary('HardSwish', none),
  Tanh: unary('Tanh', none),
  Elu: unary('Elu', alpha(1)),
  Celu: unary('Celu', alpha(1)),
  Selu: unary('Selu', (node) => ({ alpha: attrFloat(node, 'alpha', 1.6732632423543772), gamma: attrFloat(node, 'gamma', 1.0507010095710754) })),
  ThresholdedRelu: unary('ThresholdedRelu', alpha(1)),
  Softplus: unary('Softplus', none),
  Softsign: unary('Softsign', none),
  Shrink: unary('Shrink', (node) => ({ bias: attrFloat(node, 'bias', 0), lambd: attrFloat(node, 'lambd', 0.5) })),
  Neg: unary('Neg', none, { data: (x) => -x }),
  Abs: unary('Abs', none, { data: Math.abs }),
  Sign: unary('Sign', none, { data: Math.sign }),
  Sqrt: unary('Sqrt', none, { data: Math.sqrt }),
  Reciprocal: unary('Reciprocal', none),
  Exp: unary('Exp', none),
  Log: unary('Log', none),
  Erf: unary('Erf', none),
  // opset 20: 0.5·x·(1 + erf(x/√2)), or its tanh approximation with approximate='tanh'
  Gelu: unary('Gelu', (node) => ({ approximate: attrString(node, 'approximate', 'none') })),
  Floor: unary('Floor', none, { data: Math.floor }),
  Ceil: unary('Ceil', none, { data: Math.ceil }),
  Round: unary('Round', none),
  Sin: unary('Sin', none),
  Cos: unary('Cos', none),
  Tan: unary('Tan', none),
  Asin: unary('Asin', none),
  Acos: unary('Acos', none),
  Atan: unary('Atan', none),
  Sinh: unary('Sinh', none),
  Cosh: unary('Cosh', none),
  Asinh: unary('Asinh', none),
  Acosh: unary('Acosh', none),
  Atanh: unary('Atanh', none),
  Not: unary('Not', none, { bool: true }),
  IsNaN: unary('IsNaN', none, { bool: true }),
  IsInf: unary('IsInf', (node) => ({ neg: attrInt(node, 'detect_negative', 1) !== 0, pos: attrInt(node, 'detect_positive', 1) !== 0 }), { bool: true }),
} satisfies OpDefTable;
