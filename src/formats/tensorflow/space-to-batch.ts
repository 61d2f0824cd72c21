// SpaceToBatchND / BatchToSpaceND: TF1's atrous convolution (tf.nn.atrous_conv2d, DeepLab, and
// nnport's own GraphDef writer for OpenCV) is SpaceToBatchND -> Conv2D VALID -> BatchToSpaceND.
// That pattern is read back as one dilated conv; anything else as the general reshuffle
// (Pad, Reshape, Transpose, Reshape and back), which needs the spatial and channel sizes.
import { UnsupportedError } from '../../ir/errors.js';
import type { Dim } from '../../ir/graph.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { NodeAttrs } from './graph-def.js';
import { attr, NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

/** What a SpaceToBatchND did, carried on its output (and on a conv's output that read it). */
interface SpaceToBatch {
  x: TfValue;
  block: number[];
  paddings: number[][];
}

const s2bOf = new WeakMap<TfValue, SpaceToBatch>();
const atrousOf = new WeakMap<TfValue, { s2b: SpaceToBatch; conv: NodeDef; filter: TfValue; op: OpConvert }>();

function spatialBlock(c: NodeCtx): { x: TfValue; block: number[]; table: number[][]; h: number; w: number; ch: number } {
  const x = c.input(0);
  const block = c.ints(1, `${c.op} block_shape`);
  const flat = c.ints(2, c.op === 'SpaceToBatchND' ? 'paddings' : 'crops');
  if (block.length !== 2 || flat.length !== 4) throw new UnsupportedError(`${c.op} over ${block.length} dims (only 2 spatial dims)`, `${c.where()} in '${c.file}'`);
  const s = x.shape;
  const [h, w, ch] = [s?.[1], s?.[2], s?.[3]];
  if (s?.length !== 4 || typeof h !== 'number' || typeof w !== 'number' || typeof ch !== 'number') {
    throw new UnsupportedError(`${c.op} of a value whose height, width or channels are unknown`, `${c.where()} in '${c.file}' (fix the input shape with --input-shape NAME=d0,d1,...)`);
  }
  return { x, block, table: [flat.slice(0, 2), flat.slice(2, 4)], h, w, ch };
}

function spaceToBatch(c: NodeCtx): TfValue[] {
  const { x, block, table, h, w, ch } = spatialBlock(c);
  const [b0, b1] = block as [number, number];
  const ph = h + table[0]![0]! + table[0]![1]!;
  const pw = w + table[1]![0]! + table[1]![1]!;
  if (ph % b0 || pw % b1) throw new UnsupportedError('SpaceToBatchND whose padded size is not a multiple of the block', `${c.where()} in '${c.file}'`);
  const padded = c.tmp('pad');
  c.emit('Pad', [c.use(x), c.int64([0, table[0]![0]!, table[1]![0]!, 0, 0, table[0]![1]!, table[1]![1]!, 0], 'pads')], [padded]);
  const split = c.tmp('split');
  c.emit('Reshape', [padded, c.int64([-1, ph / b0, b0, pw / b1, b1, ch], 'split_shape')], [split]);
  const moved = c.tmp('blocks_first');
  c.emit('Transpose', [split], [moved], { perm: attr('ints', [2, 4, 0, 1, 3, 5]) });
  const out = c.out();
  c.emit('Reshape', [moved, c.int64([-1, ph / b0, pw / b1, ch], 'shape')], [out]);
  const n = x.shape![0];
  const v = c.value(out, x.dtype, [typeof n === 'number' ? n * b0 * b1 : null, ph / b0, pw / b1, ch]);
  s2bOf.set(v, { x, block, paddings: table });
  return [v];
}

function batchToSpace(c: NodeCtx): TfValue[] {
  const { x, block, table, h, w, ch } = spatialBlock(c);
  const [b0, b1] = block as [number, number];
  const atrous = atrousOf.get(x);
  if (atrous && atrous.s2b.block.join() === block.join()) {
    const pads = [0, 1].map((k) => [atrous.s2b.paddings[k]![0]! - table[k]![0]!, atrous.s2b.paddings[k]![1]! - table[k]![1]!]);
    if (pads.every(([a, b]) => a! >= 0 && b! >= 0)) return dilatedConv(c, atrous, pads);
  }
  const split = c.tmp('split');
  c.emit('Reshape', [c.use(x), c.int64([b0, b1, -1, h, w, ch], 'split_shape')], [split]);
  const moved = c.tmp('blocks_inside');
  c.emit('Transpose', [split], [moved], { perm: attr('ints', [2, 3, 0, 4, 1, 5]) });
  const joined = c.tmp('joined');
  c.emit('Reshape', [moved, c.int64([-1, h * b0, w * b1, ch], 'joined_shape')], [joined]);
  const out = c.out();
  const [[t, b], [l, r]] = table as [[number, number], [number, number]];
  c.emit('Slice', [joined, c.int64([t, l], 'starts'), c.int64([h * b0 - b, w * b1 - r], 'ends'), c.int64([1, 2], 'axes')], [out]);
  const n = x.shape![0];
  const shape: Dim[] = [typeof n === 'number' ? n / (b0 * b1) : null, h * b0 - t - b, w * b1 - l - r, ch];
  return [c.value(out, x.dtype, shape)];
}

/** SpaceToBatchND -> conv -> BatchToSpaceND as the conv with dilations = block, on the unpadded input. */
function dilatedConv(c: NodeCtx, a: { s2b: SpaceToBatch; conv: NodeDef; filter: TfValue; op: OpConvert }, pads: number[][]): TfValue[] {
  const ints = (i: number[]): AttrValue => ({ list: { i } }) as AttrValue;
  const def: NodeDef = {
    ...a.conv,
    name: c.name,
    attr: {
      ...a.conv.attr,
      padding: { s: new TextEncoder().encode('EXPLICIT') } as AttrValue,
      explicit_paddings: ints([0, 0, pads[0]![0]!, pads[0]![1]!, pads[1]![0]!, pads[1]![1]!, 0, 0]),
      dilations: ints([1, ...a.s2b.block, 1]),
    },
  } as NodeDef;
  return a.op(new NodeCtx(c.cv, def, [a.s2b.x, a.filter], new NodeAttrs(def, c.file)));
}

/** A conv reading a SpaceToBatchND's output: remember it, in case a BatchToSpaceND follows. */
export function watchAtrous(op: OpConvert): OpConvert {
  return (c) => {
    const outs = op(c);
    const s2b = s2bOf.get(c.input(0));
    const one = (name: string, v: number) => c.attrs.ints(name, [1, 1, 1, 1]).every((d) => d === v || d === 1);
    if (s2b && outs.length === 1 && c.attrs.string('padding', 'VALID') === 'VALID' && c.attrs.string('data_format', 'NHWC') === 'NHWC' && one('strides', 1) && one('dilations', 1)) {
      atrousOf.set(outs[0]!, { s2b, conv: c.def, filter: c.input(1), op });
    }
    return outs;
  };
}

export const SPACE_TO_BATCH_OPS: Record<string, OpConvert> = {
  SpaceToBatchND: spaceToBatch,
  BatchToSpaceND: batchToSpace,
};
