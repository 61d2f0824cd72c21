// GraphDef writer rows for the normalizations: FusedBatchNorm, InstanceNormalization and
// MeanVarianceNormalization as their arithmetic, LRN as TF's LRN.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrInts, type Node } from '../../ir/graph.js';
import { floatScalar, s, T, type GraphDefWriter, type Row } from './write-context.js';

/** A BatchNormalization prepareForGraphDef left (batchNormAsAffine takes constant float statistics only). */
function batchNormRefused(_w: GraphDefWriter, n: Node): void {
  throw new UnsupportedError('BatchNormalization with computed statistics, or in training mode, in a GraphDef', `node '${n.name}'`);
}

/** InstanceNormalization over channels-last data: each sample's and channel's spatial mean and variance, then scale and bias. */
function instanceNorm(w: GraphDefWriter, n: Node, out: string): void {
  const [x, scale, bias] = n.inputs as [string, string, string];
  const rank = w.shape(x)?.length;
  const where = `node '${n.name}'`;
  if (rank === undefined || rank < 3) throw new UnsupportedError('InstanceNormalization of a value of unknown rank in a GraphDef', where);
  const dtype = w.dtype(x);
  const dt = { T: T(dtype) };
  const axes = w.int32(`${n.name}/axes`, Array.from({ length: rank - 2 }, (_, i) => i + 1));
  const keep = { ...dt, Tidx: T('int32'), keep_dims: { b: true } };
  const mean = w.add(w.fresh(`${n.name}/mean`), 'Mean', [w.ref(x), axes], keep);
  const centered = w.add(w.fresh(`${n.name}/centered`), 'Sub', [w.ref(x), mean], dt);
  const squared = w.add(w.fresh(`${n.name}/squared`), 'Square', [centered], dt);
  const variance = w.add(w.fresh(`${n.name}/variance`), 'Mean', [squared, axes], keep);
  const shifted = w.add(w.fresh(`${n.name}/variance_eps`), 'Add', [variance, floatScalar(w, `${n.name}/epsilon`, dtype, attrFloat(n, 'epsilon', 1e-5))], dt);
  const inv = w.add(w.fresh(`${n.name}/rsqrt`), 'Rsqrt', [shifted], dt);
  const normed = w.add(w.fresh(`${n.name}/normalized`), 'Mul', [centered, inv], dt);
  const scaled = w.add(w.fresh(`${n.name}/scaled`), 'Mul', [normed, w.ref(scale)], dt);
  w.add(out, 'Add', [scaled, w.ref(bias)], dt);
}

/**
 * LRN across channels (NHWC): TF's window is d - r .. d + r and its alpha is not divided by the
 * size, so ONNX's odd size is 2r + 1 with alpha / size (an even size has no centred window).
 */
function lrn(w: GraphDefWriter, n: Node, out: string): void {
  const size = attrInt(n, 'size', 1);
  if (size % 2 === 0) throw new UnsupportedError(`LRN of even size ${size} in a GraphDef (TF's window is centred)`, `node '${n.name}'`);
  if (w.shape(n.inputs[0]!)?.length !== 4) throw new UnsupportedError('LRN of a value that is not 4-D in a GraphDef', `node '${n.name}'`);
  w.add(out, 'LRN', [w.ref(n.inputs[0]!)], {
    T: T(w.dtype(n.inputs[0]!)),
    depth_radius: { i: (size - 1) / 2 },
    bias: { f: attrFloat(n, 'bias', 1) },
    alpha: { f: attrFloat(n, 'alpha', 1e-4) / size },
    beta: { f: attrFloat(n, 'beta', 0.75) },
  });
}

/** MeanVarianceNormalization as ONNX's own function body: (x - E[x]) / (sqrt(E[x²] - E[x]²) + 1e-9) over `axes`. */
function meanVarianceNorm(w: GraphDefWriter, n: Node, out: string): void {
  const x = w.ref(n.inputs[0]!);
  const dtype = w.dtype(n.inputs[0]!);
  const rank = w.shape(n.inputs[0]!)?.length;
  const given = attrInts(n, 'axes', [0, 2, 3]);
  if (rank === undefined) throw new UnsupportedError('MeanVarianceNormalization of a value of unknown rank in a GraphDef', `node '${n.name}'`);
  const dt = { T: T(dtype) };
  const axes = w.int32(`${n.name}/axes`, given.map((a) => (a < 0 ? a + rank : a)));
  const keep = { ...dt, Tidx: T('int32'), keep_dims: { b: true } };
  const mean = w.add(w.fresh(`${n.name}/mean`), 'Mean', [x, axes], keep);
  const meanSq = w.add(w.fresh(`${n.name}/mean_squared`), 'Square', [mean], dt);
  const sqMean = w.add(w.fresh(`${n.name}/squares_mean`), 'Mean', [w.add(w.fresh(`${n.name}/squares`), 'Square', [x], dt), axes], keep);
  const std = w.add(w.fresh(`${n.name}/std`), 'Sqrt', [w.add(w.fresh(`${n.name}/variance`), 'Sub', [sqMean, meanSq], dt)], dt);
  const denom = w.add(w.fresh(`${n.name}/std_eps`), 'AddV2', [std, floatScalar(w, `${n.name}/epsilon`, dtype, 1e-9)], dt);
  w.add(out, 'RealDiv', [w.add(w.fresh(`${n.name}/centered`), 'Sub', [x, mean], dt), denom], dt);
}

export const normalizationRows: Record<string, Row> = {
  // TF's FusedBatchNorm takes 4-D data only: other ranks (channels last) are scaled and shifted
  'nnport::BatchNormalization': (w, n, out) =>
    w.shape(n.inputs[0]!)?.length !== 4 ? batchNormRefused(w, n) : w.add(out, 'FusedBatchNorm', n.inputs.slice(0, 5).map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)), epsilon: { f: attrFloat(n, 'epsilon', 1e-5) }, is_training: { b: false }, data_format: s('NHWC') }),
  BatchNormalization: batchNormRefused,
  'nnport::InstanceNormalization': instanceNorm,
  'nnport::LRN': lrn,
  MeanVarianceNormalization: meanVarianceNorm,
};
