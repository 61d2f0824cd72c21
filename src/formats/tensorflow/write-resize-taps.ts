// ONNX Resize the TF ops cannot express (cubic, trilinear and other ranks, nearest roundings and
// coordinate maps ResizeNearestNeighbor lacks, scales that give no whole size, the batch or
// channel axes) over a value of known shape with constant scales / sizes: resized axis by axis,
// as ONNX defines it, each output position a weighted sum of at most 4 input positions along the
// axis. Positions and weights are constants computed here by ONNX's rules (coordinate transform,
// nearest rounding, linear / cubic coefficients with cubic_coeff_a, edge clamping,
// exclude_outside), and written as GatherV2 of the positions times the weights, summed.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isFloat, T, type GraphDefWriter } from './write-context.js';

/** Per output position along one axis: the input positions it reads (clamped) and their weights. */
export interface AxisTaps {
  index: Int32Array[];
  weight: Float64Array[];
}

/** ONNX's n input positions nearest to x (the lower first on a tie), as its reference picks them from the edge-padded axis. */
function neighbours(x: number, n: number, size: number): number[] {
  const pad = Math.ceil(n / 2);
  const xp = x + pad;
  const all = Array.from({ length: size + 2 * pad }, (_, i) => i);
  all.sort((a, b) => Math.abs(xp - a) - Math.abs(xp - b) || a - b);
  return all
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => i - pad);
}

function cubicCoeffs(r: number, a: number): number[] {
  return [
    ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
    ((a + 2) * r - (a + 3)) * r * r + 1,
    ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
    ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a,
  ];
}

/**
 * The taps of one axis of `size` resized by `scale` to `out` positions (ONNX Resize-11/13's
 * 1-D interpolation: ratio in (0, 1], so an exact position reads itself as the upper neighbour).
 */
export function axisTaps(n: Node, size: number, out: number, scale: number): AxisTaps {
  const where = `node '${n.name}'`;
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  const a = attrFloat(n, 'cubic_coeff_a', -0.75);
  const exclude = attrInt(n, 'exclude_outside', 0) === 1;
  const width = scale * size;
  const taps = mode === 'cubic' ? 4 : 2;
  const index: Int32Array[] = [];
  const weight: Float64Array[] = [];
  for (let o = 0; o < out; o++) {
    let x: number;
    if (ctm === 'align_corners') x = width === 1 ? 0 : (o * (size - 1)) / (width - 1);
    else if (ctm === 'asymmetric') x = o / scale;
    else if (ctm === 'pytorch_half_pixel') x = width === 1 ? -0.5 : (o + 0.5) / scale - 0.5;
    else if (ctm === 'half_pixel') x = (o + 0.5) / scale - 0.5;
    else if (ctm === 'tf_half_pixel_for_nn') x = (o + 0.5) / scale;
    else throw new UnsupportedError(`Resize with coordinate_transformation_mode ${ctm} in a GraphDef`, where);
    const ratio = Number.isInteger(x) ? 1 : x - Math.floor(x);
    let c: number[];
    if (mode === 'cubic') c = cubicCoeffs(ratio, a);
    else if (mode === 'linear') c = [1 - ratio, ratio];
    else if (mode === 'nearest') {
      if (ratio === 1) c = [0, 1];
      else if (nearest === 'round_prefer_floor') c = [ratio <= 0.5 ? 1 : 0, ratio > 0.5 ? 1 : 0];
      else if (nearest === 'round_prefer_ceil') c = [ratio < 0.5 ? 1 : 0, ratio >= 0.5 ? 1 : 0];
      else if (nearest === 'floor') c = [1, 0];
      else if (nearest === 'ceil') c = [0, 1];
      else throw new UnsupportedError(`Resize nearest_mode ${nearest} in a GraphDef`, where);
    } else throw new UnsupportedError(`Resize mode ${mode} in a GraphDef`, where);
    const at = neighbours(x, taps, size);
    if (exclude) {
      c = c.map((v, i) => (at[i]! < 0 || at[i]! >= size ? 0 : v));
      const sum = c.reduce((p, q) => p + q, 0);
      c = c.map((v) => v / sum);
    }
    index.push(Int32Array.from(at, (i) => Math.min(Math.max(i, 0), size - 1)));
    weight.push(Float64Array.from(c));
  }
  return { index, weight };
}

/**
 * Writes the Resize as per-axis taps when the value's shape and the scales / sizes are known
 * here; returns false (nothing written) when they are not.
 */
export function resizeByTaps(w: GraphDefWriter, n: Node, out: string): boolean {
  const x = n.inputs[0]!;
  const inShape = w.shape(x);
  const outShape = w.shape(n.outputs[0]!);
  const where = `node '${n.name}'`;
  if (!inShape || !outShape || inShape.length !== outShape.length || !inShape.every((d): d is number => typeof d === 'number') || !outShape.every((d): d is number => typeof d === 'number')) return false;
  // Resize-10: (X, scales); 11+: (X, roi, scales, sizes); Upsample-7: a scales attribute
  const operand = (i: number) => (n.inputs[i] ? w.g.initializers.get(n.inputs[i]!) : undefined);
  if (n.inputs.slice(1).some((i) => i && !w.g.initializers.has(i))) return false;
  const given = n.inputs.length === 2 ? operand(1) : operand(2);
  const scales = given && given.size === inShape.length ? given.toNumbers() : n.attrs.scales ? attrFloats(n, 'scales') : undefined;
  if (attrInt(n, 'antialias', 0)) throw new UnsupportedError('Resize with antialias in a GraphDef', where);
  const mode = attrString(n, 'mode', 'nearest');
  const dtype = w.dtype(x);
  if (mode !== 'nearest' && !isFloat(dtype)) throw new UnsupportedError(`Resize ${mode} of ${dtype} in a GraphDef`, where);
  let v = w.ref(x);
  const rank = inShape.length;
  const dt = { T: T(dtype) };
  for (let axis = 0; axis < rank; axis++) {
    const size = inShape[axis]!;
    const o = outShape[axis]!;
    const scale = scales ? scales[axis]! : o / size;
    if (o === size && scale === 1) continue;
    const { index, weight } = axisTaps(n, size, o, scale);
    const name = (tag: string) => w.fresh(`${n.name}/axis${axis}_${tag}`);
    const axisConst = w.int32(`${n.name}/axis${axis}`, [axis], true);
    const bshape = outShape.map((d, k) => (k === axis ? d : 1));
    // the taps that carry weight somewhere (nearest: one per position, folded into one)
    const live = [0, 1, 2, 3].filter((k) => k < weight[0]!.length && weight.some((c) => c[k] !== 0));
    if (mode === 'nearest') {
      const pick = Int32Array.from(index, (at, i) => at[weight[i]!.findIndex((c) => c !== 0)]!);
      v = w.add(name('sum'), 'GatherV2', [v, w.const(`${n.name}/axis${axis}_index`, new Tensor('int32', [o], pick)), axisConst], { Tparams: T(dtype), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
      continue;
    }
    const terms = live.map((k) => {
      const g = w.add(w.fresh(`${n.name}/axis${axis}_tap${k}`), 'GatherV2', [v, w.const(`${n.name}/axis${axis}_index${k}`, new Tensor('int32', [o], Int32Array.from(index, (at) => at[k]!))), axisConst], { Tparams: T(dtype), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
      const c = Float64Array.from(weight, (cs) => cs[k]!);
      const coeff = w.const(`${n.name}/axis${axis}_weight${k}`, new Tensor(dtype === 'float64' ? 'float64' : 'float32', bshape, dtype === 'float64' ? c : Float32Array.from(c)));
      return w.add(w.fresh(`${n.name}/axis${axis}_weighted${k}`), 'Mul', [g, dtype === 'float64' || dtype === 'float32' ? coeff : w.add(w.fresh(`${n.name}/axis${axis}_weight${k}_cast`), 'Cast', [coeff], { SrcT: T('float32'), DstT: T(dtype), Truncate: { b: false } })], dt);
    });
    v = terms.reduce((acc, t) => w.add(name('sum'), 'AddV2', [acc, t], dt));
  }
  w.add(out, 'Identity', [v], dt);
  return true;
}
