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
import { isFloat, runTimeDims, T, type GraphDefWriter } from './write-context.js';

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

/**
 * Writes a Resize whose scales or sizes (or input size) are known only when the model runs as
 * per-axis taps computed in the graph by the same rules: output size floor(in · scale) (or the
 * sizes given), each output position mapped by the coordinate transform (float32), its taps at
 * the lower neighbour and after (an exact position counts as the upper one), weighted by the
 * linear / cubic coefficients of the fraction (exclude_outside renormalized), clamped to the axis,
 * read with GatherV2 and summed; nearest reads the rounded position. Every axis is written (its
 * scale may be 1 only at run time). Returns false when the operands are not of this form.
 */
export function resizeTapsAtRunTime(w: GraphDefWriter, n: Node, out: string): boolean {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const where = `node '${n.name}'`;
  if (!shape) return false;
  const rank = shape.length;
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  const a = attrFloat(n, 'cubic_coeff_a', -0.75);
  const exclude = attrInt(n, 'exclude_outside', 0) === 1;
  const dtype = w.dtype(x);
  if (!['nearest', 'linear', 'cubic'].includes(mode) || !['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', 'tf_half_pixel_for_nn'].includes(ctm) || !['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].includes(nearest)) return false;
  if (attrInt(n, 'antialias', 0) || (mode !== 'nearest' && dtype !== 'float32')) return false;
  // Resize-10: (X, scales); 11+: (X, roi, scales, sizes); an empty constant is absent
  const present = (i: number): string | undefined => {
    const v = n.inputs[i];
    if (!v) return undefined;
    const c = w.g.initializers.get(v);
    return c && c.size === 0 ? undefined : v;
  };
  const sizes = n.inputs.length === 2 ? undefined : present(3);
  const scales = n.inputs.length === 2 ? present(1) : present(2);
  const operand = sizes ?? scales;
  if (!operand || w.shape(operand)?.[0] !== rank) return false;
  const F = { T: T('float32') };
  const I = { T: T('int32') };
  const name = (tag: string) => w.fresh(`${n.name}/${tag}`);
  const f32 = (tag: string, v: number) => w.const(`${n.name}/${tag}`, Tensor.float32([], [v]));
  const op = (tag: string, type: string, inputs: string[], attrs = F) => w.add(name(tag), type, inputs, attrs);
  const cast = (tag: string, v: string, from: Tensor['dtype'], to: Tensor['dtype']) => (from === to ? v : w.add(name(tag), 'Cast', [v], { SrcT: T(from), DstT: T(to), Truncate: { b: false } }));
  const pick = (tag: string, v: string, vt: Tensor['dtype'], i: number) =>
    w.add(name(tag), 'GatherV2', [v, w.int32(`${n.name}/${tag}_at`, [i], true), w.int32(`${n.name}/${tag}_axis`, [0], true)], { Tparams: T(vt), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
  const ot = w.dtype(operand);
  let v = w.ref(x);
  for (let axis = 0; axis < rank; axis++) {
    const tg = `axis${axis}`;
    const d = shape[axis];
    const size = typeof d === 'number' ? w.int32(`${n.name}/${tg}_size`, [d], true) : runTimeDims(w, `${n.name}/${tg}_size`, { ref: v, dtype }, { begin: axis, size: 1, scalar: true });
    const sizeF = cast(`${tg}_size_float`, size, 'int32', 'float32');
    let count: string;
    let scale: string;
    if (sizes) {
      count = cast(`${tg}_count`, pick(`${tg}_given`, w.ref(sizes), ot, axis), ot, 'int32');
      scale = op(`${tg}_scale`, 'RealDiv', [cast(`${tg}_count_float`, count, 'int32', 'float32'), sizeF]);
    } else {
      scale = cast(`${tg}_scale`, pick(`${tg}_given`, w.ref(scales!), ot, axis), ot, 'float32');
      count = cast(`${tg}_count`, op(`${tg}_count_floor`, 'Floor', [op(`${tg}_scaled_size`, 'Mul', [sizeF, scale])]), 'float32', 'int32');
    }
    const o = cast(`${tg}_positions`, w.add(name(`${tg}_range`), 'Range', [w.int32(`${n.name}/${tg}_zero`, [0], true), count, w.int32(`${n.name}/${tg}_one`, [1], true)], { Tidx: T('int32') }), 'int32', 'float32');
    const centre = () => op(`${tg}_centre`, 'RealDiv', [op(`${tg}_plus_half`, 'AddV2', [o, f32(`${tg}_half`, 0.5)]), scale]);
    const width = op(`${tg}_width`, 'Mul', [scale, sizeF]);
    const whenUnit = (v1: string, unit: number) => op(`${tg}_unit`, 'SelectV2', [w.add(name(`${tg}_is_unit`), 'Equal', [width, f32(`${tg}_one_f`, 1)], F), f32(`${tg}_unit_value`, unit), v1]);
    let src: string;
    if (ctm === 'asymmetric') src = op(`${tg}_src`, 'RealDiv', [o, scale]);
    else if (ctm === 'tf_half_pixel_for_nn') src = centre();
    else if (ctm === 'align_corners') src = whenUnit(op(`${tg}_src`, 'Mul', [o, op(`${tg}_ratio`, 'RealDiv', [op(`${tg}_last`, 'Sub', [sizeF, f32(`${tg}_one_l`, 1)]), op(`${tg}_width_last`, 'Sub', [width, f32(`${tg}_one_w`, 1)])])]), 0);
    else {
      src = op(`${tg}_src`, 'Sub', [centre(), f32(`${tg}_half2`, 0.5)]);
      if (ctm === 'pytorch_half_pixel') src = whenUnit(src, -0.5);
    }
    const last = op(`${tg}_last_index`, 'Sub', [sizeF, f32(`${tg}_one_i`, 1)]);
    const clampIndex = (p: string, k: string) => cast(`${tg}_index${k}`, op(`${tg}_clamped${k}`, 'Minimum', [op(`${tg}_nonneg${k}`, 'Maximum', [p, f32(`${tg}_zero${k}`, 0)]), last]), 'float32', 'int32');
    const gather = (idx: string, k: string) => w.add(name(`${tg}_tap${k}`), 'GatherV2', [v, idx, w.int32(`${n.name}/${tg}_gather_axis`, [axis], true)], { Tparams: T(dtype), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
    if (mode === 'nearest') {
      // ONNX rounds the position: round_prefer_floor = ceil(x - 1/2), round_prefer_ceil = floor(x + 1/2)
      const rounded =
        nearest === 'floor' ? op(`${tg}_round`, 'Floor', [src]) : nearest === 'ceil' ? op(`${tg}_round`, 'Ceil', [src]) : nearest === 'round_prefer_floor' ? op(`${tg}_round`, 'Ceil', [op(`${tg}_minus_half`, 'Sub', [src, f32(`${tg}_h`, 0.5)])]) : op(`${tg}_round`, 'Floor', [op(`${tg}_plus_h`, 'AddV2', [src, f32(`${tg}_h`, 0.5)])]);
      v = gather(clampIndex(rounded, ''), '');
      continue;
    }
    const fl = op(`${tg}_floor`, 'Floor', [src]);
    // an exact position is the upper neighbour (ratio 1)
    const base = op(`${tg}_base`, 'SelectV2', [w.add(name(`${tg}_exact`), 'Equal', [src, fl], F), op(`${tg}_below`, 'Sub', [fl, f32(`${tg}_one_b`, 1)]), fl]);
    const t = op(`${tg}_ratio_t`, 'Sub', [src, base]);
    const poly = (p: string, cs: number[], k: string) => {
      let acc = op(`${tg}_${k}_0`, 'Mul', [p, f32(`${tg}_${k}_c0`, cs[0]!)]);
      for (let i = 1; i < cs.length; i++) {
        acc = op(`${tg}_${k}_${i}`, 'AddV2', [acc, f32(`${tg}_${k}_c${i}`, cs[i]!)]);
        if (i < cs.length - 1) acc = op(`${tg}_${k}_${i}_times`, 'Mul', [acc, p]);
      }
      return acc;
    };
    const shifted = (k: string, by: number) => op(`${tg}_${k}`, by < 0 ? 'Sub' : 'AddV2', [t, f32(`${tg}_${k}_by`, Math.abs(by))]);
    const oneMinus = (k: string, from: number) => op(`${tg}_${k}`, 'Sub', [f32(`${tg}_${k}_from`, from), t]);
    let coeffs: string[];
    let first: number;
    if (mode === 'linear') {
      coeffs = [oneMinus('w0', 1), t];
      first = 0;
    } else {
      const near = [a + 2, -(a + 3), 0, 1];
      const far = [a, -5 * a, 8 * a, -4 * a];
      coeffs = [poly(shifted('t_plus1', 1), far, 'k0'), poly(t, near, 'k1'), poly(oneMinus('one_minus_t', 1), near, 'k2'), poly(oneMinus('two_minus_t', 2), far, 'k3')];
      first = -1;
    }
    const positions = coeffs.map((_, k) => (k + first === 0 ? base : op(`${tg}_p${k}`, k + first < 0 ? 'Sub' : 'AddV2', [base, f32(`${tg}_off${k}`, Math.abs(k + first))])));
    if (exclude) {
      const inside = positions.map((p, k) => cast(`${tg}_inside${k}`, w.add(name(`${tg}_in${k}`), 'LogicalAnd', [w.add(name(`${tg}_ge${k}`), 'GreaterEqual', [p, f32(`${tg}_lo${k}`, 0)], F), w.add(name(`${tg}_le${k}`), 'LessEqual', [p, last], F)]), 'bool', 'float32'));
      coeffs = coeffs.map((c, k) => op(`${tg}_kept${k}`, 'Mul', [c, inside[k]!]));
      const total = coeffs.reduce((p, q) => op(`${tg}_total`, 'AddV2', [p, q]));
      coeffs = coeffs.map((c, k) => op(`${tg}_normed${k}`, 'RealDiv', [c, total]));
    }
    const bshape = w.int32(`${n.name}/${tg}_weight_shape`, Array.from({ length: rank }, (_, i) => (i === axis ? -1 : 1)));
    const terms = positions.map((p, k) => op(`${tg}_weighted${k}`, 'Mul', [gather(clampIndex(p, `${k}`), `${k}`), w.add(name(`${tg}_weight${k}`), 'Reshape', [coeffs[k]!, bshape], { ...F, Tshape: T('int32') })]));
    v = terms.reduce((p, q) => op(`${tg}_sum`, 'AddV2', [p, q]));
  }
  w.add(out, 'Identity', [v], { T: T(dtype) });
  return true;
}
