// ONNX GridSample (opset 16: 4-D, bilinear / nearest / bicubic, zeros / border / reflection
// padding, align_corners) in a GraphDef: TF has no such op, so it is PyTorch's grid_sampler_2d
// written out. The grid's x / y are unnormalized to pixel coordinates (and, for bilinear and
// nearest, clipped or reflected by the padding mode); each interpolation tap is an integer
// coordinate (bicubic: the padding applied to each tap) with a weight, zeroed where the tap falls
// outside the input; the taps are read with one GatherV2 from the input flattened to
// (N·H·W, C) at b·H·W + y·W + x, weighted and summed. Runs channels-last and lays the
// result back out (N, C, Ho, Wo).
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { T, type GraphDefWriter, type Row } from './write-context.js';

const F32 = { T: T('float32') };

function gridSample(w: GraphDefWriter, n: Node, out: string): void {
  const [x, grid] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const gs = w.shape(grid);
  const mode = attrString(n, 'mode', 'bilinear');
  const padding = attrString(n, 'padding_mode', 'zeros');
  const align = attrInt(n, 'align_corners', 0) === 1;
  if (!xs || xs.length !== 4 || !gs || gs.length !== 4) throw new UnsupportedError('GridSample of other than 4-D data in a GraphDef', where);
  const [batch, , h, wd] = xs;
  if (typeof batch !== 'number' || typeof h !== 'number' || typeof wd !== 'number') throw new UnsupportedError('GridSample of an input of unknown batch, height or width in a GraphDef', where);
  if (w.dtype(x) !== 'float32' || w.dtype(grid) !== 'float32') throw new UnsupportedError(`GridSample of ${w.dtype(x)} data by a ${w.dtype(grid)} grid in a GraphDef`, where);
  if (!['bilinear', 'nearest', 'bicubic'].includes(mode)) throw new UnsupportedError(`GridSample mode ${mode} in a GraphDef`, where);
  if (!['zeros', 'border', 'reflection'].includes(padding)) throw new UnsupportedError(`GridSample padding_mode ${padding} in a GraphDef`, where);
  if (padding === 'reflection' && align && (h === 1 || wd === 1)) throw new UnsupportedError('GridSample reflection with align_corners over an axis of size 1 in a GraphDef', where);
  const name = (tag: string) => w.fresh(`${n.name}/${tag}`);
  const scalar = (tag: string, v: number) => w.const(`${n.name}/${tag}`, Tensor.float32([], [v]));
  const op = (tag: string, type: string, inputs: string[]) => w.add(name(tag), type, inputs, F32);

  /** the coordinate `c` clipped to [0, size - 1] (border), or reflected about the edges then clipped (reflection) */
  const pad = (c: string, size: number, tag: string): string => {
    if (padding === 'zeros') return c;
    const clip = (v: string) => op(`${tag}_clipped`, 'Minimum', [op(`${tag}_at_least_0`, 'Maximum', [v, scalar(`${tag}_zero`, 0)]), scalar(`${tag}_last`, size - 1)]);
    if (padding === 'border') return clip(c);
    // PyTorch's reflect_coordinates over [low, high] = [0, size - 1] (align_corners) or [-0.5, size - 0.5]
    const [low, high] = align ? [0, size - 1] : [-0.5, size - 0.5];
    const span = high - low;
    const d = op(`${tag}_from_low`, 'Abs', [op(`${tag}_shifted`, 'Sub', [c, scalar(`${tag}_low`, low)])]);
    const flips = op(`${tag}_flips`, 'Floor', [op(`${tag}_spans`, 'RealDiv', [d, scalar(`${tag}_span`, span)])]);
    const extra = op(`${tag}_extra`, 'Sub', [d, op(`${tag}_whole`, 'Mul', [flips, scalar(`${tag}_span2`, span)])]);
    const even = w.add(name(`${tag}_even`), 'Equal', [op(`${tag}_parity`, 'FloorMod', [flips, scalar(`${tag}_two`, 2)]), scalar(`${tag}_zero_parity`, 0)], F32);
    const up = op(`${tag}_forward`, 'Add', [extra, scalar(`${tag}_low2`, low)]);
    const down = op(`${tag}_backward`, 'Sub', [scalar(`${tag}_high`, high), extra]);
    return clip(w.add(name(`${tag}_reflected`), 'SelectV2', [even, up, down], F32));
  };

  /** the (coordinate, weight) taps along one axis of `size` for grid component `k` (0: x, 1: y) */
  const taps = (k: number, size: number, tag: string): Array<[string, string | undefined]> => {
    const g = w.add(name(`${tag}_grid`), 'GatherV2', [w.ref(grid), w.int32(`${n.name}/${tag}_component`, [k], true), w.int32(`${n.name}/${tag}_component_axis`, [3], true)], { Tparams: T('float32'), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
    // align_corners: (g + 1) / 2 (size - 1); else ((g + 1) size - 1) / 2
    const plus1 = op(`${tag}_plus1`, 'Add', [g, scalar(`${tag}_one`, 1)]);
    const src = align ? op(`${tag}_pixels`, 'Mul', [plus1, scalar(`${tag}_half_last`, (size - 1) / 2)]) : op(`${tag}_pixels`, 'Sub', [op(`${tag}_scaled`, 'Mul', [plus1, scalar(`${tag}_half_size`, size / 2)]), scalar(`${tag}_half`, 0.5)]);
    if (mode === 'nearest') return [[op(`${tag}_nearest`, 'Round', [pad(src, size, `${tag}_src`)]), undefined]];
    if (mode === 'bilinear') {
      const c = pad(src, size, `${tag}_src`);
      const f = op(`${tag}_floor`, 'Floor', [c]);
      const t = op(`${tag}_frac`, 'Sub', [c, f]);
      return [
        [f, op(`${tag}_w0`, 'Sub', [scalar(`${tag}_one_w`, 1), t])],
        [op(`${tag}_ceil`, 'Add', [f, scalar(`${tag}_one_c`, 1)]), t],
      ];
    }
    // bicubic, A = -0.75: weights of the taps at floor - 1 .. floor + 2, each tap padded
    const f = op(`${tag}_floor`, 'Floor', [src]);
    const t = op(`${tag}_frac`, 'Sub', [src, f]);
    const A = -0.75;
    const poly = (v: string, cs: number[], tg: string): string => {
      // Horner: ((c0 v + c1) v + c2) v + c3
      let acc = op(`${tg}_0`, 'Mul', [v, scalar(`${tg}_c0`, cs[0]!)]);
      for (let i = 1; i < cs.length; i++) {
        acc = op(`${tg}_${i}`, 'Add', [acc, scalar(`${tg}_c${i}`, cs[i]!)]);
        if (i < cs.length - 1) acc = op(`${tg}_${i}_times`, 'Mul', [acc, v]);
      }
      return acc;
    };
    const near = [A + 2, -(A + 3), 0, 1]; // ((A + 2) v - (A + 3)) v v + 1, for |v| <= 1
    const far = [A, -5 * A, 8 * A, -4 * A]; // ((A v - 5A) v + 8A) v - 4A, for 1 < |v| < 2
    const oneMinus = op(`${tag}_one_minus_t`, 'Sub', [scalar(`${tag}_one_t`, 1), t]);
    const weights = [
      poly(op(`${tag}_t_plus1`, 'Add', [t, scalar(`${tag}_one_p`, 1)]), far, `${tag}_k0`),
      poly(t, near, `${tag}_k1`),
      poly(oneMinus, near, `${tag}_k2`),
      poly(op(`${tag}_two_minus_t`, 'Sub', [scalar(`${tag}_two_t`, 2), t]), far, `${tag}_k3`),
    ];
    return weights.map((wt, i) => [pad(op(`${tag}_tap${i}`, 'Add', [f, scalar(`${tag}_offset${i}`, i - 1)]), size, `${tag}_tap${i}`), wt]);
  };

  /** a tap's coordinate as an int32 clamped to [0, size - 1] and whether it lay inside (as 0 / 1) */
  const index = (c: string, size: number, tag: string): [string, string] => {
    const inside = w.add(name(`${tag}_inside`), 'LogicalAnd', [w.add(name(`${tag}_ge0`), 'GreaterEqual', [c, scalar(`${tag}_lo`, 0)], F32), w.add(name(`${tag}_le`), 'LessEqual', [c, scalar(`${tag}_hi`, size - 1)], F32)]);
    const valid = w.add(name(`${tag}_valid`), 'Cast', [inside], { SrcT: T('bool'), DstT: T('float32'), Truncate: { b: false } });
    const clamped = op(`${tag}_clamped`, 'Minimum', [op(`${tag}_nonneg`, 'Maximum', [c, scalar(`${tag}_lo2`, 0)]), scalar(`${tag}_hi2`, size - 1)]);
    return [w.add(name(`${tag}_int`), 'Cast', [clamped], { SrcT: T('float32'), DstT: T('int32'), Truncate: { b: false } }), valid];
  };

  const xt = taps(0, wd, 'x').map(([c, wt], i) => [...index(c, wd, `x${i}`), wt] as const);
  const yt = taps(1, h, 'y').map(([c, wt], i) => [...index(c, h, `y${i}`), wt] as const);
  const nhwc = w.add(name('channels_last'), 'Transpose', [w.ref(x), w.int32(`${n.name}/channels_last_perm`, [0, 2, 3, 1])], { ...F32, Tperm: T('int32') });
  const flat = w.add(name('flat'), 'Reshape', [nhwc, w.int32(`${n.name}/flat_shape`, [batch * h * wd, -1])], { ...F32, Tshape: T('int32') });
  const base = w.const(`${n.name}/batch_offset`, new Tensor('int32', [batch, 1, 1], Int32Array.from({ length: batch }, (_, b) => b * h * wd)));
  const terms: string[] = [];
  for (const [yi, yv, yw] of yt) {
    const row = w.add(name('row'), 'AddV2', [w.add(name('row_start'), 'Mul', [yi, w.int32(`${n.name}/width`, [wd], true)], { T: T('int32') }), base], { T: T('int32') });
    for (const [xi, xv, xw] of xt) {
      const at = w.add(name('at'), 'AddV2', [row, xi], { T: T('int32') });
      const picked = w.add(name('picked'), 'GatherV2', [flat, at, w.int32(`${n.name}/rows_axis`, [0], true)], { Tparams: T('float32'), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
      let weight = op('inside', 'Mul', [xv, yv]);
      if (xw) weight = op('weight_x', 'Mul', [weight, xw]);
      if (yw) weight = op('weight_y', 'Mul', [weight, yw]);
      const wt = w.add(name('weight'), 'ExpandDims', [weight, w.int32(`${n.name}/channel_axis`, [3], true)], { ...F32, Tdim: T('int32') });
      terms.push(op('term', 'Mul', [picked, wt]));
    }
  }
  // (a chain of AddV2: TF readers without AddN, nnport's among them, read it)
  const sum = terms.reduce((acc, t) => op('sum', 'AddV2', [acc, t]));
  w.add(out, 'Transpose', [sum, w.int32(`${n.name}/channels_first_perm`, [0, 3, 1, 2])], { ...F32, Tperm: T('int32') });
}

export const gridSampleRows: Record<string, Row> = {
  GridSample: gridSample,
};
