// GraphDef writer rows for the reductions: ONNX's Reduce* as TF's Max / Min / Sum / Prod / Mean
// with an element-wise op before or after, ArgMax / ArgMin, and CumSum.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { T, type Row } from './write-context.js';

/**
 * The ONNX reductions as TF's Max / Min / Sum / Prod / Mean over constant axes (none given: every
 * axis, as ONNX reduces), with an element-wise op before (L1's Abs, L2's and SumSquare's Square,
 * LogSumExp's Exp) and after (L2's Sqrt, LogSum's and LogSumExp's Log).
 */
function reduceOver(op: 'Max' | 'Min' | 'Sum' | 'Prod' | 'Mean', pre?: 'Abs' | 'Square' | 'Exp', post?: 'Sqrt' | 'Log'): Row {
  return (w, n, out) => {
    const where = `node '${n.name}'`;
    const rank = w.shape(n.inputs[0]!)?.length;
    let given = attrInts(n, 'axes') ?? (n.inputs[1] ? w.g.initializers.get(n.inputs[1])?.toNumbers() : []);
    const dt = { T: T(w.dtype(n.inputs[0]!)) };
    const noop = !!attrInt(n, 'noop_with_empty_axes', 0);
    if (!given) {
      // axes fed at run time: TF's reduction_indices is a tensor too (negative axes count from the
      // end in both); an empty one reduces nothing in TF, every axis in ONNX unless noop_with_empty_axes
      const axes = n.inputs[1]!;
      const k = w.shape(axes)?.[0];
      if (k === 0) given = [];
      else if (typeof k !== 'number' && !(noop && !pre && !post)) throw new UnsupportedError(`${n.opType} over computed axes of unknown count in a GraphDef`, where);
      else {
        const x = pre ? w.add(w.fresh(`${n.name}/${pre.toLowerCase()}`), pre, [w.ref(n.inputs[0]!)], dt) : w.ref(n.inputs[0]!);
        const reduced = post ? w.fresh(`${n.name}/${op.toLowerCase()}`) : out;
        w.add(reduced, op, [x, w.ref(axes)], { ...dt, Tidx: T(w.dtype(axes)), keep_dims: { b: attrInt(n, 'keepdims', 1) === 1 } });
        if (post) w.add(out, post, [reduced], dt);
        return;
      }
    }
    if (!given.length && noop) {
      // no axes with noop_with_empty_axes: the input unchanged
      if (pre || post) throw new UnsupportedError(`${n.opType} with noop_with_empty_axes and no axes in a GraphDef`, where);
      w.add(out, 'Identity', [w.ref(n.inputs[0]!)], dt);
      return;
    }
    if (!given.length && rank === undefined) throw new UnsupportedError(`${n.opType} over every axis of an input of unknown rank in a GraphDef`, where);
    const axes = given.length ? given : Array.from({ length: rank! }, (_, i) => i);
    const x = pre ? w.add(w.fresh(`${n.name}/${pre.toLowerCase()}`), pre, [w.ref(n.inputs[0]!)], dt) : w.ref(n.inputs[0]!);
    const reduced = post ? w.fresh(`${n.name}/${op.toLowerCase()}`) : out;
    w.add(reduced, op, [x, w.int32(`${n.name}/axes`, axes)], { ...dt, Tidx: T('int32'), keep_dims: { b: attrInt(n, 'keepdims', 1) === 1 } });
    if (post) w.add(out, post, [reduced], dt);
  };
}

/** ArgMax / ArgMin (int64 indices, TF's output_type); TF drops the axis, so keepdims puts it back with ExpandDims. */
function argReduce(op: 'ArgMax' | 'ArgMin'): Row {
  return (w, n, out) => {
    const axis = attrInt(n, 'axis', 0);
    const keep = attrInt(n, 'keepdims', 1) === 1;
    const shape = w.shape(n.inputs[0]!);
    const rank = shape?.length;
    if (keep && axis < 0 && rank === undefined) throw new UnsupportedError(`${n.opType} over a negative axis of an input of unknown rank in a GraphDef`, `node '${n.name}'`);
    const arg = keep ? w.fresh(`${n.name}/arg`) : out;
    const axisConst = w.int32(`${n.name}/axis`, [axis], true);
    const attrs = { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32'), output_type: T('int64') };
    if (attrInt(n, 'select_last_index', 0)) {
      // TF returns the first index: the last one is (d - 1) - the first of the input reversed along the axis
      const d = shape?.[axis < 0 ? axis + (rank ?? 0) : axis];
      if (typeof d !== 'number') throw new UnsupportedError(`${n.opType} with select_last_index over an axis of unknown size in a GraphDef`, `node '${n.name}'`);
      const reversed = w.add(w.fresh(`${n.name}/reversed`), 'ReverseV2', [w.ref(n.inputs[0]!), w.int32(`${n.name}/reverse_axis`, [axis])], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32') });
      const first = w.add(w.fresh(`${n.name}/first`), op, [reversed, axisConst], attrs);
      w.add(arg, 'Sub', [w.const(`${n.name}/last`, Tensor.int64([], [d - 1])), first], { T: T('int64') });
    } else w.add(arg, op, [w.ref(n.inputs[0]!), axisConst], attrs);
    if (keep) w.add(out, 'ExpandDims', [arg, w.int32(`${n.name}/keep_axis`, [axis < 0 ? axis + rank! : axis], true)], { T: T('int64'), Tdim: T('int32') });
  };
}

export const reductionRows: Record<string, Row> = {
  ReduceMean: reduceOver('Mean'),
  ReduceMax: reduceOver('Max'),
  ReduceMin: reduceOver('Min'),
  ReduceSum: reduceOver('Sum'),
  ReduceProd: reduceOver('Prod'),
  ReduceL1: reduceOver('Sum', 'Abs'),
  ReduceL2: reduceOver('Sum', 'Square', 'Sqrt'),
  ReduceSumSquare: reduceOver('Sum', 'Square'),
  ReduceLogSum: reduceOver('Sum', undefined, 'Log'),
  ReduceLogSumExp: reduceOver('Sum', 'Exp', 'Log'),
  ArgMax: argReduce('ArgMax'),
  ArgMin: argReduce('ArgMin'),
  CumSum: (w, n, out) =>
    w.add(out, 'Cumsum', [w.ref(n.inputs[0]!), w.ref(n.inputs[1]!)], { T: T(w.dtype(n.inputs[0]!)), Tidx: T(w.dtype(n.inputs[1]!)), exclusive: { b: !!attrInt(n, 'exclusive', 0) }, reverse: { b: !!attrInt(n, 'reverse', 0) } }),
};
