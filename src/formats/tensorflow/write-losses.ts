// GraphDef writer rows for the losses, NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, as
// their arithmetic over GatherNd of the targets' log-probabilities (TF has no such ops).
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrString, type Node } from '../../ir/graph.js';
import { indexConst, isFloat, T, tfName, type GraphDefWriter, type Row } from './write-context.js';
import { softmax } from './write-activations.js';
import { elementCoordinates } from './write-indexing.js';

/**
 * NegativeLogLikelihoodLoss of `logProb` (a TF ref; the IR value `x` gives its shape and dtype):
 * -logProb[n, t, d...] picked by GatherNd at coordinates built from the targets, times the
 * class weight (ignore_index: weight 0, the target itself replaced by 0 to stay in range),
 * then ONNX's reduction (mean: divided by the weights' sum).
 */
function nllCore(w: GraphDefWriter, n: Node, out: string, logProb: string, x: string, target: string, weight: string | undefined): void {
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const ts = w.shape(target);
  const it = w.dtype(target);
  const dtype = w.dtype(x);
  if (!xs || !ts || xs.length < 2 || [...xs, ...ts].some((d) => typeof d !== 'number') || (it !== 'int32' && it !== 'int64') || !isFloat(dtype)) throw new UnsupportedError(`${n.opType} of unknown shapes in a GraphDef`, where);
  const reduction = attrString(n, 'reduction', 'mean');
  if (!['none', 'sum', 'mean'].includes(reduction)) throw new UnsupportedError(`${n.opType} with reduction ${reduction} in a GraphDef`, where);
  const ignore = attrInt(n, 'ignore_index');
  const dt = { T: T(dtype) };
  let t = w.ref(target);
  let keep: string | undefined;
  if (ignore !== undefined) {
    const ign = indexConst(w, `${n.name}/ignore_index`, it, [], [ignore]);
    t = w.add(w.fresh(`${n.name}/targets`), 'SelectV2', [w.add(w.fresh(`${n.name}/ignored`), 'Equal', [w.ref(target), ign], { T: T(it) }), indexConst(w, `${n.name}/zero_target`, it, [], [0]), w.ref(target)], { T: T(it) });
    keep = w.add(w.fresh(`${n.name}/kept`), 'Cast', [w.add(w.fresh(`${n.name}/not_ignored`), 'NotEqual', [w.ref(target), ign], { T: T(it) })], { SrcT: T('bool'), DstT: T(dtype), Truncate: { b: false } });
  }
  const tshape = ts as number[];
  const column = w.add(w.fresh(`${n.name}/class_axis`), 'ExpandDims', [t, w.int32(`${n.name}/class_dim`, [1], true)], { T: T(it), Tdim: T('int32') });
  const coords = elementCoordinates(w, n, column, it, [tshape[0]!, 1, ...tshape.slice(1)], 1, xs[1] as number);
  const picked = w.add(w.fresh(`${n.name}/picked`), 'GatherNd', [logProb, coords], { Tparams: T(dtype), Tindices: T(it) });
  const flat = w.add(w.fresh(`${n.name}/picked_flat`), 'Reshape', [picked, w.int32(`${n.name}/target_shape`, tshape)], { ...dt, Tshape: T('int32') });
  let wt: string | undefined = weight ? w.add(w.fresh(`${n.name}/class_weights`), 'GatherV2', [w.ref(weight), t, w.int32(`${n.name}/weight_axis`, [0], true)], { Tparams: T(dtype), Tindices: T(it), Taxis: T('int32'), batch_dims: { i: 0 } }) : undefined;
  if (keep) wt = wt ? w.add(w.fresh(`${n.name}/weights_kept`), 'Mul', [wt, keep], dt) : keep;
  const weighted = wt ? w.add(w.fresh(`${n.name}/weighted`), 'Mul', [flat, wt], dt) : flat;
  const all = () => w.int32(`${n.name}/all_axes`, tshape.map((_, i) => i));
  const red = { ...dt, Tidx: T('int32'), keep_dims: { b: false } };
  if (reduction === 'none') {
    w.add(out, 'Neg', [weighted], dt);
    return;
  }
  const loss = w.add(w.fresh(`${n.name}/loss`), 'Neg', [weighted], dt);
  if (reduction === 'sum') w.add(out, 'Sum', [loss, all()], red);
  else if (!wt) w.add(out, 'Mean', [loss, all()], red);
  else w.add(out, 'RealDiv', [w.add(w.fresh(`${n.name}/loss_sum`), 'Sum', [loss, all()], red), w.add(w.fresh(`${n.name}/weight_sum`), 'Sum', [wt, all()], red)], dt);
}

/** SoftmaxCrossEntropyLoss: LogSoftmax over the classes (axis 1; its optional second output), then the NLL loss of it. */
function softmaxCrossEntropy(w: GraphDefWriter, n: Node, out: string): void {
  const [x, labels, weight] = n.inputs as [string, string, string | undefined];
  const logProb = n.outputs[1] ? tfName(n.outputs[1]) : w.fresh(`${n.name}/log_prob`);
  softmax(w, { ...n, attrs: { axis: { type: 'int', value: 1 } } }, logProb, 'LogSoftmax');
  nllCore(w, n, out, logProb, x, labels, weight || undefined);
}

export const lossRows: Record<string, Row> = {
  NegativeLogLikelihoodLoss: (w, n, out) => nllCore(w, n, out, w.ref(n.inputs[0]!), n.inputs[0]!, n.inputs[1]!, n.inputs[2] || undefined),
  SoftmaxCrossEntropyLoss: softmaxCrossEntropy,
};
