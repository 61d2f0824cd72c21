// Where TF.js 4.9's graph executor runs a TensorFlow op otherwise than TensorFlow, the frozen
// GraphDef's nodes are rewritten into the same function in ops it runs as TensorFlow does, or
// refused by name (found by the ONNX backend cases run in TF.js, test/conformance/tfjs-graph-writer.test.ts):
// - OneHot: TF.js ignores the `axis` attribute (ops.oneHot appends the depth as the last axis):
//   OneHot at the last axis, then a Transpose that moves it where `axis` says;
// - Cumsum: TF.js' cumsum fails on a negative axis: the axis constant made non-negative;
// - Einsum: TF.js has no ellipsis and no subscript repeated within one operand (a diagonal): refused;
// - bfloat16: TF.js has no such dtype (a bfloat16 Placeholder cannot be fed): refused;
// - GatherV2: TF.js 4.9's wasm backend returns its internal 4-D shape [1, outer, n, inner] when
//   the params are empty (an FPN level no box went to); where the params' shape is not fixed, the
//   gather is followed by a Reshape to its true shape, taken from the params' and indices' Shapes;
// - Transpose: the wasm backend traps (integer divide by zero) on an empty tensor: a value whose
//   dims are not all fixed is padded by one zero row on each such dim, transposed, and the row
//   dropped again by a StridedSlice (end -1), so the transpose never sees an empty tensor;
// - TopKV2: the wasm backend traps (integer divide by zero) on an empty last axis (a detector's per-level
//   top-k when no score passes the threshold; k is 0 then): a value whose shape is not fixed gets one
//   zero appended to its last axis where that axis is empty, none otherwise (Pad by 1 - min(n, 1));
// and two ops TF.js lacks written as their arithmetic: Softsign as x / (1 + |x|), SpaceToDepth
// (NHWC, static H / W / C) as Reshape -> Transpose -> Reshape.
import { UnsupportedError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { tfDataType } from '../tensorflow/data-types.js';
import type { AttrValue, NodeDef } from '../tensorflow/graph-def.js';
import { tensorFromTfProto, tensorToTfProto } from '../tensorflow/tensor-proto.js';
import { tfName } from '../tensorflow/write-context.js';

const DT_BFLOAT16 = tfDataType('bfloat16');
const text = new TextDecoder();

function usesBfloat16(a: AttrValue): boolean {
  return a.type === DT_BFLOAT16 || !!a.list?.type?.includes(DT_BFLOAT16) || a.tensor?.dtype === DT_BFLOAT16;
}

/** The nodes as TF.js runs them like TensorFlow (see above); `graph` is the IR graph they were written from. */
export function tfjsQuirks(nodes: NodeDef[], graph: Graph, file: string): NodeDef[] {
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const shapeOf = new Map<string, readonly (number | string | null)[]>();
  for (const v of graph.inputs) if (v.shape) shapeOf.set(tfName(v.name), v.shape);
  for (const [k, t] of graph.initializers) shapeOf.set(tfName(k), t.shape);
  for (const [k, v] of shapes) if (v.shape) shapeOf.set(tfName(k), v.shape);
  const rankOf = new Map([...shapeOf].map(([k, v]) => [k, v.length]));
  const byName = new Map(nodes.map((n) => [n.name ?? '', n]));
  const names = new Set(byName.keys());
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; names.has(name); k++) name = `${base}_${k}`;
    names.add(name);
    return name;
  };
  /** The values of the Const node `v` names (undefined: not a Const). */
  const constValues = (v: string | undefined): number[] | undefined => {
    const c = byName.get(v ?? '');
    const proto = c?.op === 'Const' ? c.attr?.value?.tensor : undefined;
    return proto ? tensorFromTfProto(proto, `Const '${c!.name}'`, file).toNumbers() : undefined;
  };
  // a value that may hold no elements at run time: not a constant, not a Shape, not of a fixed non-empty shape
  const mayBeEmpty = (v: string): boolean => {
    const producer = byName.get(v.split(':')[0]!);
    if (producer && (producer.op === 'Const' || producer.op === 'Shape')) return false;
    const shape = shapeOf.get(v);
    return !shape || !shape.every((d) => typeof d === 'number' && d > 0);
  };
  const out: NodeDef[] = [];
  for (const n of nodes) {
    const where = `'${file}': node '${n.name}' (${n.op})`;
    for (const a of Object.values(n.attr ?? {})) if (usesBfloat16(a)) throw new UnsupportedError('bfloat16 values in a TF.js graph model: TensorFlow.js has no bfloat16 dtype', where);
    if (n.op === 'Einsum') {
      const eq = text.decode(n.attr?.equation?.s ?? new Uint8Array());
      const operands = eq.split('->')[0]!.split(',');
      if (eq.includes('...')) throw new UnsupportedError(`Einsum '${eq}' with an ellipsis in a TF.js graph model: TF.js 4.9's einsum has none`, where);
      if (operands.some((o) => new Set(o).size !== o.length)) throw new UnsupportedError(`Einsum '${eq}' with a subscript repeated in one operand (a diagonal) in a TF.js graph model: TF.js 4.9's einsum takes none`, where);
    }
    if (n.op === 'OneHot') {
      const axis = Number(n.attr?.axis?.i ?? -1);
      // the indices' rank: the output's (a node named after its IR value) less one, or the input's
      const outRank = rankOf.get(n.name ?? '');
      const rank = outRank !== undefined ? outRank - 1 : rankOf.get(n.input?.[0] ?? '');
      if (axis !== -1 && axis !== rank) {
        if (rank === undefined) throw new UnsupportedError(`OneHot at axis ${axis} of indices of unknown rank in a TF.js graph model (TF.js 4.9's OneHot ignores axis)`, where);
        const last = fresh(`${n.name}/last`);
        out.push({ ...n, name: last, attr: { ...n.attr, axis: { i: -1 } } });
        const perm = [...Array(rank + 1).keys()];
        perm.splice(axis, 0, perm.pop()!);
        const permName = fresh(`${n.name}/perm`);
        const proto = tensorToTfProto(new Tensor('int32', [perm.length], Int32Array.from(perm)));
        out.push({ name: permName, op: 'Const', input: [], attr: { dtype: { type: proto.dtype }, value: { tensor: proto } } });
        out.push({ name: n.name, op: 'Transpose', input: [last, permName], attr: { T: n.attr?.T ?? { type: tfDataType('float32') }, Tperm: { type: tfDataType('int32') } } });
        continue;
      }
    }
    if (n.op === 'Cumsum') {
      const rank = rankOf.get(n.input?.[0] ?? '') ?? rankOf.get(n.name ?? '');
      const axis = constValues(n.input?.[1])?.[0];
      if (axis !== undefined && axis >= 0) {
        out.push(n);
        continue;
      }
      if (rank === undefined) throw new UnsupportedError('Cumsum over a negative or run-time axis of a value of unknown rank in a TF.js graph model (TF.js 4.9 takes no negative axis)', where);
      if (axis !== undefined) {
        const name = fresh(`${n.name}/axis`);
        const p = tensorToTfProto(new Tensor('int32', [], Int32Array.of(axis + rank)));
        out.push({ name, op: 'Const', input: [], attr: { dtype: { type: p.dtype }, value: { tensor: p } } });
        out.push({ ...n, input: [n.input![0]!, name, ...n.input!.slice(2)], attr: { ...n.attr, Tidx: { type: tfDataType('int32') } } });
      } else {
        // an axis fed at run time: FloorMod(axis, rank) is the same axis, never negative
        const tidx = n.attr?.Tidx ?? { type: tfDataType('int32') };
        const rankName = fresh(`${n.name}/rank`);
        const p = tensorToTfProto(tidx.type === tfDataType('int64') ? Tensor.int64([], [rank]) : new Tensor('int32', [], Int32Array.of(rank)));
        out.push({ name: rankName, op: 'Const', input: [], attr: { dtype: { type: p.dtype }, value: { tensor: p } } });
        const axisName = fresh(`${n.name}/axis`);
        out.push({ name: axisName, op: 'FloorMod', input: [n.input![1]!, rankName], attr: { T: tidx } });
        out.push({ ...n, input: [n.input![0]!, axisName, ...n.input!.slice(2)] });
      }
      continue;
    }
    const int32Const = (base: string, values: number[], shape = [values.length]): string => {
      const name = fresh(base);
      const p = tensorToTfProto(new Tensor('int32', shape, Int32Array.from(values)));
      out.push({ name, op: 'Const', input: [], attr: { dtype: { type: p.dtype }, value: { tensor: p } } });
      return name;
    };
    if (n.op === 'GatherV2' && mayBeEmpty(n.input?.[0] ?? '') && Number(n.attr?.batch_dims?.i ?? 0) === 0) {
      let axis = constValues(n.input?.[2])?.[0];
      const rank = rankOf.get(n.input![0]!) ?? (rankOf.get(n.name ?? '') !== undefined && rankOf.get(n.input![1]!) !== undefined ? rankOf.get(n.name ?? '')! - rankOf.get(n.input![1]!)! + 1 : undefined);
      if (axis !== undefined && axis < 0 && rank !== undefined) axis += rank;
      if (axis !== undefined && axis >= 0) {
        const [params, indices] = n.input as [string, string];
        const i32 = { type: tfDataType('int32') };
        const raw = fresh(`${n.name}/gathered`);
        out.push({ ...n, name: raw });
        const shapeOfValue = (v: string, tag: string): string => {
          const name = fresh(`${n.name}/${tag}`);
          out.push({ name, op: 'Shape', input: [v], attr: { T: tag === 'params_shape' ? (n.attr?.Tparams ?? { type: tfDataType('float32') }) : (n.attr?.Tindices ?? i32), out_type: i32 } });
          return name;
        };
        const paramsShape = shapeOfValue(params, 'params_shape');
        const slice = (tag: string, begin: number, size: number): string => {
          const name = fresh(`${n.name}/${tag}`);
          out.push({ name, op: 'Slice', input: [paramsShape, int32Const(`${n.name}/${tag}_begin`, [begin]), int32Const(`${n.name}/${tag}_size`, [size])], attr: { T: i32, Index: i32 } });
          return name;
        };
        const shape = fresh(`${n.name}/shape`);
        out.push({ name: shape, op: 'ConcatV2', input: [slice('outer', 0, axis), shapeOfValue(indices, 'indices_shape'), slice('inner', axis + 1, -1), int32Const(`${n.name}/concat_axis`, [0], [])], attr: { N: { i: 3 }, T: i32, Tidx: i32 } });
        out.push({ name: n.name, op: 'Reshape', input: [raw, shape], attr: { T: n.attr?.Tparams ?? { type: tfDataType('float32') }, Tshape: i32 } });
        continue;
      }
    }
    if (n.op === 'Transpose' && mayBeEmpty(n.input?.[0] ?? '')) {
      const perm = constValues(n.input?.[1]);
      const shape = shapeOf.get(n.input![0]!);
      if (perm && perm.length > 0) {
        const open = perm.map((_, d) => !shape || shape.length !== perm.length || !(typeof shape[d] === 'number' && shape[d]! > 0));
        const T = n.attr?.T ?? { type: tfDataType('float32') };
        const i32 = { type: tfDataType('int32') };
        const padded = fresh(`${n.name}/padded`);
        out.push({ name: padded, op: 'Pad', input: [n.input![0]!, int32Const(`${n.name}/pads`, open.flatMap((o) => [0, o ? 1 : 0]), [perm.length, 2])], attr: { T, Tpaddings: i32 } });
        const moved = fresh(`${n.name}/moved`);
        out.push({ ...n, name: moved, input: [padded, n.input![1]!] });
        const movedOpen = perm.map((p) => open[p]!);
        const endMask = movedOpen.reduce((m, o, d) => (o ? m : m | (1 << d)), 0);
        out.push({
          name: n.name,
          op: 'StridedSlice',
          input: [moved, int32Const(`${n.name}/begin`, perm.map(() => 0)), int32Const(`${n.name}/end`, movedOpen.map((o) => (o ? -1 : 0))), int32Const(`${n.name}/strides`, perm.map(() => 1))],
          attr: { T, Index: i32, begin_mask: { i: 0 }, end_mask: { i: endMask }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } },
        });
        continue;
      }
    }
    if (n.op === 'TopKV2' && mayBeEmpty(n.input?.[0] ?? '') && rankOf.get(n.input![0]!) !== undefined) {
      // the last axis padded by 1 - min(n, 1) zeros: one where it is empty (k is 0 then), none otherwise
      const rank = rankOf.get(n.input![0]!)!;
      const T = n.attr?.T ?? { type: tfDataType('float32') };
      const i32 = { type: tfDataType('int32') };
      const node = (base: string, op: string, input: string[], attr: NodeDef['attr']): string => {
        const name = fresh(`${n.name}/${base}`);
        out.push({ name, op, input, attr });
        return name;
      };
      const shape = node('shape', 'Shape', [n.input![0]!], { T, out_type: i32 });
      const last = node('last', 'StridedSlice', [shape, int32Const(`${n.name}/last_begin`, [-1]), int32Const(`${n.name}/last_end`, [0]), int32Const(`${n.name}/last_strides`, [1])], {
        T: i32,
        Index: i32,
        begin_mask: { i: 0 },
        end_mask: { i: 1 },
        ellipsis_mask: { i: 0 },
        new_axis_mask: { i: 0 },
        shrink_axis_mask: { i: 1 },
      });
      const one = int32Const(`${n.name}/one`, [1], []);
      const empty = node('empty', 'Sub', [one, node('nonempty', 'Minimum', [last, one], { T: i32 })], { T: i32 });
      const flat = node('pads_flat', 'ConcatV2', [int32Const(`${n.name}/pads_zeros`, Array(2 * rank - 1).fill(0)), node('pad', 'Reshape', [empty, int32Const(`${n.name}/pad_shape`, [1])], { T: i32, Tshape: i32 }), int32Const(`${n.name}/pads_axis`, [0], [])], { N: { i: 2 }, T: i32, Tidx: i32 });
      const pads = node('pads', 'Reshape', [flat, int32Const(`${n.name}/pads_shape`, [rank, 2])], { T: i32, Tshape: i32 });
      out.push({ ...n, input: [node('padded', 'Pad', [n.input![0]!, pads], { T, Tpaddings: i32 }), ...n.input!.slice(1)] });
      continue;
    }
    if (n.op === 'Softsign') {
      const T = n.attr?.T ?? { type: tfDataType('float32') };
      const x = n.input![0]!;
      const abs = fresh(`${n.name}/abs`);
      out.push({ name: abs, op: 'Abs', input: [x], attr: { T } });
      const one = fresh(`${n.name}/one`);
      const p = tensorToTfProto(T.type === tfDataType('float64') ? new Tensor('float64', [], Float64Array.of(1)) : new Tensor('float32', [], Float32Array.of(1)));
      out.push({ name: one, op: 'Const', input: [], attr: { dtype: { type: p.dtype }, value: { tensor: p } } });
      const den = fresh(`${n.name}/denominator`);
      out.push({ name: den, op: 'AddV2', input: [abs, one], attr: { T } });
      out.push({ name: n.name, op: 'RealDiv', input: [x, den], attr: { T } });
      continue;
    }
    if (n.op === 'SpaceToDepth') {
      const b = Number(n.attr?.block_size?.i ?? 1);
      const shape = shapeOf.get(n.input?.[0] ?? '') ?? shapeOf.get(n.name ?? '');
      const inShape = shapeOf.get(n.input?.[0] ?? '');
      const [h, wd, c] = inShape?.length === 4 ? inShape.slice(1) : [];
      if (!shape || typeof h !== 'number' || typeof wd !== 'number' || typeof c !== 'number') throw new UnsupportedError('SpaceToDepth of a value whose height, width or channels are not fixed in a TF.js graph model (TF.js 4.9 has no SpaceToDepth; it is written as Reshape / Transpose)', where);
      const T = n.attr?.T ?? { type: tfDataType('float32') };
      const split = fresh(`${n.name}/blocks`);
      out.push({ name: split, op: 'Reshape', input: [n.input![0]!, int32Const(`${n.name}/blocks_shape`, [-1, h / b, b, wd / b, b, c])], attr: { T, Tshape: { type: tfDataType('int32') } } });
      const moved = fresh(`${n.name}/moved`);
      out.push({ name: moved, op: 'Transpose', input: [split, int32Const(`${n.name}/perm`, [0, 1, 3, 2, 4, 5])], attr: { T, Tperm: { type: tfDataType('int32') } } });
      out.push({ name: n.name, op: 'Reshape', input: [moved, int32Const(`${n.name}/shape`, [-1, h / b, wd / b, b * b * c])], attr: { T, Tshape: { type: tfDataType('int32') } } });
      continue;
    }
    out.push(n);
  }
  return out;
}
