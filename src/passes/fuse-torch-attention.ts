// PyTorch's nn.MultiheadAttention self-attention as torch.onnx (1.13) exports it, sequence-first:
//   xt = Transpose(x, [1, 0, 2])                      [T, N, D]   (batch_first, or a model that transposes)
//   proj = MatMul(xt, W [D, 3D]) (+ b [3D]); q, k, v = Slice(proj, [0, D), [D, 2D), [2D, 3D) on the last axis)
//   q, k, v -> Reshape [T, N·H, hd] -> Transpose (q, v: [1, 0, 2]; k: [1, 2, 0]); q / sqrt(hd)
//   o = MatMul(Softmax(MatMul(q, kᵀ)), v) -> Transpose [1, 0, 2] -> Reshape [T·N, D]
//   -> Gemm(Wo, bo, transB 1) -> Reshape [T, N, D] -> Transpose [1, 0, 2] = y   [N, T, D]
// Its Reshapes fold the heads into the batch, which no Keras layer can. Where every step is
// exactly this (shapes, slice bounds, perms and the scale checked; inner values read by nothing
// else), it becomes onnxruntime's com.microsoft.Attention on the batch-major x (the packed in-projection
// and per-head softmax(q kᵀ / sqrt(hd)) v, [N, T, D]) and a MatMul (+ Add) out-projection: the
// Keras writer's MultiHeadAttention layer, and a graph onnxruntime runs to prove the rewrite.
// Anything else (cross-attention, masks, a sequence-first input of the graph) is left as it is.
import { attrFloat, attrInt, attrInts, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { permuteTensor } from './layout.js';

export interface FuseTorchAttentionResult {
  graph: Graph;
  /** the Attention nodes made, by name */
  fused: string[];
}

const plain = (n: Node | undefined, op: string): n is Node => !!n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx');

export function fuseTorchAttention(graph: Graph): FuseTorchAttentionResult {
  const softmaxes = graph.nodes.filter((n) => plain(n, 'Softmax'));
  if (!softmaxes.length) return { graph, fused: [] };
  const types = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const fused: string[] = [];
  const shapeOf = (v: string): number[] | undefined => {
    const s = types.get(v)?.shape;
    return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
  };
  /** a small int vector: a constant, or what shape inference knows of it */
  const ints = (v: string | undefined): number[] | undefined => {
    if (!v) return undefined;
    const c = rw.constant(v);
    if (c) return c.toNumbers();
    const d = types.get(v)?.data;
    return d && d.every((x) => typeof x === 'number') ? (d as number[]) : undefined;
  };
  const only = (v: string | undefined): Node | undefined => (v ? rw.soleConsumer(v) : undefined);
  const from = (v: string, op: string): Node | undefined => {
    const p = rw.producer(v);
    return plain(p, op) && only(v) !== undefined ? p : undefined;
  };
  const perm = (n: Node | undefined, p: number[]): boolean => !!n && plain(n, 'Transpose') && attrInts(n, 'perm', []).join() === p.join();

  for (const sm of softmaxes) {
    const mm1 = rw.producer(sm.inputs[0]!);
    const mm2 = only(sm.outputs[0]);
    if (!plain(mm1, 'MatMul') || only(mm1.outputs[0]) !== sm || !plain(mm2, 'MatMul') || mm2.inputs[0] !== sm.outputs[0]) continue;
    const rank = shapeOf(sm.inputs[0]!)?.length;
    if (rank !== 3 || ![-1, 2].includes(attrInt(sm, 'axis', rank === 3 ? -1 : 1))) continue;
    // q scaled by 1 / sqrt(hd): Div by a constant or Mul by its inverse
    const qs = rw.producer(mm1.inputs[0]!);
    const c = qs && (plain(qs, 'Div') || plain(qs, 'Mul')) ? rw.constant(qs.inputs[1]!) : undefined;
    if (!qs || !c || c.size !== 1 || only(qs.outputs[0]) !== mm1) continue;
    const scale = plain(qs, 'Div') ? 1 / c.toNumbers()[0]! : c.toNumbers()[0]!;
    const qt = from(qs.inputs[0]!, 'Transpose');
    const kt = from(mm1.inputs[1]!, 'Transpose');
    const vt = from(mm2.inputs[1]!, 'Transpose');
    if (!perm(qt, [1, 0, 2]) || !perm(kt, [1, 2, 0]) || !perm(vt, [1, 0, 2])) continue;
    const heads = [qt!, kt!, vt!].map((t) => from(t.inputs[0]!, 'Reshape'));
    const slices = heads.map((r) => (r ? from(r.inputs[0]!, 'Slice') : undefined));
    if (heads.some((r) => !r) || slices.some((s) => !s)) continue;
    const proj = slices[0]!.inputs[0]!;
    if (slices.some((s) => s!.inputs[0] !== proj)) continue;
    const projShape = shapeOf(proj);
    if (!projShape || projShape.length !== 3 || projShape[2]! % 3 !== 0) continue;
    const [T, N, D3] = projShape as [number, number, number];
    const D = D3 / 3;
    // the bounds of q, k, v: [0, D), [D, 2D), [2D, 3D) of the last axis, step 1
    const bounds = slices.map((s) => [ints(s!.inputs[1]), ints(s!.inputs[2]), ints(s!.inputs[3]), s!.inputs[4] ? ints(s!.inputs[4]) : [1]]);
    if (!bounds.every(([st, en, ax, step], i) => st?.length === 1 && st[0] === i * D && en?.[0] === (i + 1) * D && (ax?.[0] === -1 || ax?.[0] === 2) && ax.length === 1 && step?.[0] === 1)) continue;
    const target = ints(heads[0]!.inputs[1]);
    if (!target || target.length !== 3 || target[0] !== T || target[1]! % N !== 0) continue;
    const H = target[1]! / N;
    const hd = target[2]!;
    if (H * hd !== D || heads.some((r) => ints(r!.inputs[1])?.join() !== target.join())) continue;
    if (Math.abs(scale * Math.sqrt(hd) - 1) > 1e-6) continue;
    // the packed in-projection on the batch-major input
    let mm = rw.producer(proj);
    let inBias: Tensor | undefined;
    if (plain(mm, 'Add')) {
      const add = mm;
      const other = add.inputs[0] === proj ? undefined : add.inputs.find((i) => rw.constant(i));
      inBias = other ? rw.constant(other) : undefined;
      mm = rw.producer(add.inputs.find((i) => i !== other)!);
      if (!inBias || inBias.size !== 3 * D || !mm || only(mm.outputs[0]) !== add) continue;
    }
    const projReaders = rw.consumers(proj).filter((r) => !slices.includes(r));
    if (!plain(mm, 'MatMul') || rw.isPinned(proj) || projReaders.some((r) => !plain(r, 'Shape'))) continue;
    const W = rw.constant(mm.inputs[1]!);
    const xt = rw.producer(mm.inputs[0]!);
    if (!W || W.rank !== 2 || W.shape[0] !== D || W.shape[1] !== 3 * D || !perm(xt, [1, 0, 2]) || only(mm.inputs[0]) !== mm) continue;
    const x = xt!.inputs[0]!;
    // the out-projection back to [N, T, D]
    const ot = only(mm2.outputs[0]);
    const flat = perm(ot, [1, 0, 2]) ? only(ot!.outputs[0]) : undefined;
    const gemm = flat && plain(flat, 'Reshape') && ints(flat.inputs[1])?.join() === [T * N, D].join() ? only(flat.outputs[0]) : undefined;
    if (!gemm || !plain(gemm, 'Gemm') || attrInt(gemm, 'transA', 0) !== 0 || attrFloat(gemm, 'alpha', 1) !== 1 || attrFloat(gemm, 'beta', 1) !== 1) continue;
    const Wo = rw.constant(gemm.inputs[1]!);
    const bo = gemm.inputs[2] ? rw.constant(gemm.inputs[2]) : undefined;
    if (!Wo || Wo.rank !== 2 || (gemm.inputs[2] && !bo)) continue;
    const outDim = attrInt(gemm, 'transB', 0) === 1 ? Wo.shape[0]! : Wo.shape[1]!;
    const back = only(gemm.outputs[0]);
    const yt = back && plain(back, 'Reshape') && ints(back.inputs[1])?.join() === [T, N, outDim].join() ? only(back.outputs[0]) : undefined;
    if (!yt || !perm(yt, [1, 0, 2])) continue;
    if (bo && bo.size !== outDim) continue;

    const where = sm.name.replace(/\/Softmax$/, '') || sm.name;
    const y = yt.outputs[0]!;
    // the in-projection and the input Transpose go with the sweep, unless the slice bounds' Shape chain is read elsewhere too
    for (const n of [...slices, ...heads, qt!, kt!, vt!, qs, mm1, sm, mm2, ot!, flat!, gemm, back!, yt]) rw.removeNode(n as Node);
    const bias = inBias ?? new Tensor('float32', [3 * D], new Float32Array(3 * D));
    const attention = rw.add({
      opType: 'Attention',
      domain: 'com.microsoft',
      name: `${where}/Attention`,
      inputs: [x, rw.addInitializer(`${where}.in_proj_weight_t`, W), rw.addInitializer(`${where}.in_proj_bias`, bias)],
      attrs: { num_heads: { type: 'int', value: H } },
    });
    const WoT = attrInt(gemm, 'transB', 0) === 1 ? permuteTensor(Wo, [1, 0]) : Wo;
    const kernel = rw.addInitializer(`${where}.out_proj.weight_t`, WoT);
    if (bo) {
      const out = rw.add({ opType: 'MatMul', name: `${where}/out_proj/MatMul`, inputs: [attention, kernel] });
      rw.addNode({ opType: 'Add', name: `${where}/out_proj/Add`, inputs: [out, rw.addInitializer(`${where}.out_proj.bias`, bo.reshape([outDim]))], outputs: [y] });
    } else rw.addNode({ opType: 'MatMul', name: `${where}/out_proj/MatMul`, inputs: [attention, kernel], outputs: [y] });
    fused.push(where);
  }
  if (!fused.length) return { graph, fused };
  rw.sweep();
  if (rw.opsets['com.microsoft'] === undefined) rw.opsets['com.microsoft'] = 1;
  return { graph: rw.toGraph(), fused };
}
