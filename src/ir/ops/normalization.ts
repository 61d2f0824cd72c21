// BatchNormalization, InstanceNormalization, LayerNormalization, and Softmax / LogSoftmax / Hardmax.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrInt, type Dim } from '../graph.js';
import { defineOpDef, fmtShape, input, like, normAxis, type OpDef, type OpDefTable, type ValueType } from './op-def.js';

export interface BatchNormAttrs {
  epsilon: number;
}

export interface BatchNormalizationAttrs extends BatchNormAttrs {
  momentum: number;
  /** opset 14+ training_mode=1: normalise by the batch's statistics, output the updated running ones */
  training: boolean;
}

export interface GroupNormAttrs {
  epsilon: number;
  numGroups: number;
}

export interface LayerNormAttrs {
  axis: number;
  epsilon: number;
  stashType: number;
}

export interface SoftmaxAttrs {
  axis: number;
  /** opset < 13: coerce to 2-D at axis */
  flatten: boolean;
}

function softmaxDef(op: string): OpDef<SoftmaxAttrs> {
  return defineOpDef<SoftmaxAttrs>({
    opType: op,
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => ({ axis: attrInt(node, 'axis', opset < 13 ? 1 : -1), flatten: opset < 13 }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      if (x.shape && x.shape.length === 0) throw new ShapeError(`${op} needs an input of rank >= 1`);
      return [like(x)];
    },
  });
}

export const normalizationDefs = {
  BatchNormalization: defineOpDef<BatchNormalizationAttrs>({
    opType: 'BatchNormalization',
    domain: '',
    layout: 'channel',
    attrs: (node, opset) => {
      if (opset < 9 && attrInt(node, 'spatial', 1) !== 1) throw new UnsupportedError('BatchNormalization spatial=0');
      // before opset 14 training was is_test=0 or the presence of the mean/var/saved outputs
      const training = attrInt(node, 'training_mode', 0) !== 0;
      if (training && opset < 14) throw new UnsupportedError('BatchNormalization training_mode', `opset ${opset} has no training_mode`);
      if (!training && node.outputs.slice(1).some((o) => o)) throw new UnsupportedError('BatchNormalization training outputs', opset < 14 ? `training before opset 14 (opset ${opset})` : 'running mean/var outputs need training_mode=1');
      if (node.outputs.length > 3) throw new ShapeError(`BatchNormalization in training mode has 3 outputs (Y, running_mean, running_var), got ${node.outputs.length}`);
      return { epsilon: attrFloat(node, 'epsilon', 1e-5), momentum: attrFloat(node, 'momentum', 0.9), training };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (x.shape && x.shape.length < 2) throw new ShapeError(`BatchNormalization input must have rank >= 2, got ${fmtShape(x.shape)}`);
      for (let i = 1; i < 5; i++) {
        const p = ctx.inputs[i]?.shape;
        if (p && p.length !== 1) throw new ShapeError(`BatchNormalization input ${i} must be 1-D, got ${fmtShape(p)}`);
      }
      if (!ctx.attrs.training) return [like(x)];
      // running_mean and running_var: [C], in the type of input_mean / input_var
      const stat = (i: number): ValueType => ({ dtype: ctx.inputs[i]?.dtype ?? x.dtype, shape: [x.shape?.[1] ?? ctx.inputs[i]?.shape?.[0] ?? null] });
      return [like(x), stat(3), stat(4)];
    },
  }),
  InstanceNormalization: defineOpDef<BatchNormAttrs>({
    opType: 'InstanceNormalization',
    domain: '',
    layout: 'channel',
    attrs: (node) => ({ epsilon: attrFloat(node, 'epsilon', 1e-5) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      if (x.shape && x.shape.length < 3) throw new ShapeError(`InstanceNormalization input must have rank >= 3, got ${fmtShape(x.shape)}`);
      return [like(x)];
    },
  }),
  GroupNormalization: defineOpDef<GroupNormAttrs>({
    opType: 'GroupNormalization',
    domain: '',
    layout: 'channel',
    attrs: (node) => {
      const numGroups = attrInt(node, 'num_groups', 0);
      if (!(numGroups >= 1)) throw new ShapeError(`GroupNormalization '${node.name}' needs num_groups >= 1, got ${numGroups}`);
      // scale / bias: one per channel (opset 21, and nnport's fused PyTorch GroupNorm) or one per group
      // (opset 18), told apart by their length (the same where every channel is a group)
      return { epsilon: attrFloat(node, 'epsilon', 1e-5), numGroups };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (x.shape && x.shape.length < 3) throw new ShapeError(`GroupNormalization input must have rank >= 3, got ${fmtShape(x.shape)}`);
      const c = x.shape?.[1];
      if (typeof c === 'number' && c % ctx.attrs.numGroups !== 0) throw new ShapeError(`GroupNormalization: ${c} channels do not split into ${ctx.attrs.numGroups} groups`);
      return [like(x)];
    },
  }),
  LayerNormalization: defineOpDef<LayerNormAttrs>({
    opType: 'LayerNormalization',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', -1), epsilon: attrFloat(node, 'epsilon', 1e-5), stashType: attrInt(node, 'stash_type', 1) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      // Mean and InvStdDev keep the normalised dims as 1s, in the stash type (float32 by default).
      const statDType = ctx.attrs.stashType === 11 ? 'float64' : 'float32';
      let stat: Dim[] | undefined;
      if (x.shape) {
        const axis = normAxis(ctx.attrs.axis, x.shape.length);
        stat = x.shape.map((d, i) => (i < axis ? d : 1));
      }
      return [like(x), { dtype: statDType, shape: stat }, { dtype: statDType, shape: stat && [...stat] }];
    },
  }),
  Softmax: softmaxDef('Softmax'),
  LogSoftmax: softmaxDef('LogSoftmax'),
  Hardmax: softmaxDef('Hardmax'),
} satisfies OpDefTable;
