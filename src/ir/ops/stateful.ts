// TFLite's stateful ops as the TFLite reader writes them (src/runtime/integer/{svdf,lstm}.ts run
// them): nnport::Svdf and nnport::QuantizedLstm. Output shapes only; their attributes are parsed
// by the kernels.
import { attrInt, type Node } from '../graph.js';
import { defineOpDef, input, type OpDefTable } from './op-def.js';

const rawAttrs = (node: Node): Node => node;

export const statefulDefs = {
  /** (batch, input) -> (batch, filters / rank), int8 or float as the input */
  'nnport::Svdf': defineOpDef<Node>({
    opType: 'Svdf',
    domain: 'nnport',
    // its state is laid out per filter and frame: moving axes changes what it computes
    layout: 'shape',
    attrs: rawAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const wf = input(ctx, 1, 'weights_feature');
      const rank = attrInt(ctx.attrs, 'rank', 1);
      const filters = wf.shape?.[0];
      const units = typeof filters === 'number' && rank > 0 ? filters / rank : null;
      return [{ dtype: x.dtype, shape: [x.shape?.[0] ?? null, units] }];
    },
  }),
  /** (batch, time, input) or time-major (time, batch, input) -> the same leading dims, n_output int8 */
  'nnport::QuantizedLstm': defineOpDef<Node>({
    opType: 'QuantizedLstm',
    domain: 'nnport',
    layout: 'shape',
    attrs: rawAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const r = input(ctx, 6, 'recurrent_to_forget_weights');
      return [{ dtype: 'int8', shape: [x.shape?.[0] ?? null, x.shape?.[1] ?? null, r.shape?.[1] ?? null] }];
    },
  }),
} satisfies OpDefTable;
