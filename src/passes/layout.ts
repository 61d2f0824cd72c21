// The layout pass: an NCHW ONNX graph -> a channels-last graph (src/ir/README.md): spatial ops
// become `nnport` ops on (N, d1..dk, C) data with their weights re-laid (HWIO / OHWI, HWOI),
// and every other op keeps its ONNX form with its axes, pads and constants rewritten for the
// data as it is now laid out. No transpose is added inside the network where one can be
// avoided; each one that is kept is reported with where and why (`explain`).
//
// How: every value carries a layout — the permutation `L` with "physical axis i holds logical
// axis L[i]" (logical = the axes of the source graph). Ops are rewritten for their inputs'
// layouts, Transposes are absorbed into layouts (no data moves), Reshapes/Flattens keep a
// layout when they only split or merge axes that stay adjacent and in order, and a Transpose
// is inserted only where an op cannot take its input as laid out. The same engine, told that
// spatial ops want channels-first data, is the lowering pass (lower-channels-last.ts).
import { ShapeError, UnsupportedError } from '../ir/errors.js';
import { attrFloats, attrInt, attrInts, implicitInputs, readersOf, subgraphsOf, topologicalOrder, type Attr, type Dim, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter, renameOuterRead } from '../ir/rewriter.js';
import { mapNodeSubgraphs, someNodeDeep } from './layout-subgraphs.js';
import { cancelReshapePairs } from './cancel-reshapes.js';
import { makePaddingExplicit } from './explicit-padding.js';
import { Tensor } from '../ir/tensor.js';
import { allocArray, type NumericArray } from '../ir/dtypes.js';
import { channelsFirstPerm, channelsLastPerm } from './layout-permutations.js';

export type Perm = number[];

export interface LayoutOptions {
  /** conv weight layout: 'keras' (HWIO, also TF) or 'tflite' (OHWI; depthwise stays HWIO, a reshape of TFLite's) */
  target?: 'keras' | 'tflite';
  /** keep the model's NCHW inputs/outputs with a Transpose at each (default: inputs and outputs become channels-last) */
  keepNchwIo?: boolean;
  /** padding TF 'same' cannot express becomes an explicit Pad + valid, ceil-mode pools floor mode (default true) */
  explicitPadding?: boolean;
}

export interface KeptTranspose {
  /** the Transpose node added */
  node: string;
  /** the value it transposes */
  value: string;
  perm: number[];
  /** at the model's inputs/outputs (asked for with keepNchwIo) rather than inside the network */
  io: boolean;
  why: string;
}

export interface LayoutResult {
  graph: Graph;
  /** every Transpose the result has, with where and why */
  transposes: KeptTranspose[];
  /** other notes: dense weights re-ordered after a flatten, pads made explicit, ... */
  notes: string[];
  /**
   * With EngineOptions.trackValues: where each value of the source graph that is still computed
   * is found in `graph` (`name`) and how it is laid out there (`layout`: physical axis i holds
   * the source's axis layout[i]); `permute(inverse(layout))` of that tensor is the source's value.
   */
  values?: Map<string, { name: string; layout: Perm }>;
}

/** Human-readable report of a layout result, one line each. */
/** ONNX ops whose data layout is NCHW; a graph with any of them in the default domain still needs this pass. */
const CHANNELS_FIRST_OPS = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LRN', 'Resize', 'DepthToSpace', 'SpaceToDepth', 'Upsample']);

/**
 * Whether a graph still has NCHW spatial ops (an ONNX/Caffe/PyTorch graph rather than a channels-last
 * one). A graph that already has channels-last nnport ops is a channels-last graph even where it
 * keeps an ONNX op whose layout is moot (the Keras reader's BatchNormalization on (N, C) after a Dense).
 */
export function needsChannelsLast(g: Graph): boolean {
  if (someNodeDeep(g, (n) => n.domain === 'nnport' && CHANNELS_FIRST_OPS.has(n.opType))) return false;
  return someNodeDeep(g, (n) => (n.domain === '' || n.domain === 'ai.onnx') && CHANNELS_FIRST_OPS.has(n.opType));
}

export function explainLayout(r: LayoutResult): string[] {
  const inside = r.transposes.filter((t) => !t.io);
  const lines = [`transposes inside the network: ${inside.length}; at inputs/outputs: ${r.transposes.length - inside.length}`];
  for (const t of r.transposes) lines.push(`${t.io ? 'I/O' : 'kept'} transpose '${t.node}' of '${t.value}' perm [${t.perm.join(', ')}]: ${t.why}`);
  for (const n of r.notes) lines.push(n);
  return lines;
}

// ---- permutations ----

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const identity = range;
const isIdentity = (p: readonly number[]): boolean => p.every((v, i) => v === i);
const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const inverse = (p: readonly number[]): Perm => {
  const q = new Array<number>(p.length);
  p.forEach((v, i) => (q[v] = i));
  return q;
};
export { channelsFirstPerm, channelsLastPerm };

/**
 * A tensor with its axes permuted (output axis i = input axis perm[i]); any dtype. Deferred
 * (Tensor.permute): a weight is copied when something reads it, or in slices by a streaming writer.
 */
export function permuteTensor(t: Tensor, perm: readonly number[]): Tensor {
  return t.permute(perm);
}

// ---- the engine ----

/** Spatial ops that have an `nnport` channels-last form, and which input is a weight. */
const SPATIAL = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LRN', 'DepthToSpace', 'SpaceToDepth']);

/** Ops computed element by element on broadcast inputs: any layout works if all inputs share it. */
const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where', 'PRelu', 'Mod', 'BitShift',
]);
/** Ops on input 0 element by element (other inputs, if any, are scalars / attributes). */
const UNARY = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'Gelu', 'Softplus', 'Softsign', 'Mish', 'ThresholdedRelu', 'Clip', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Neg', 'Abs', 'Erf',
  'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Not', 'IsNaN', 'IsInf', 'Cast', 'CastLike', 'Identity', 'Dropout', 'QuantizeLinear', 'DequantizeLinear',
]);
/** ONNX's recurrent ops, whose `layout` attribute reads the sequence time-major (0) or batch-major (1). */
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

export interface EngineOptions {
  /** 'channels-last': spatial ONNX ops become nnport ops on channels-last data; 'channels-first': they stay ONNX ops on identity layout */
  mode: 'channels-last' | 'channels-first';
  target: 'keras' | 'tflite';
  /** per graph input: the layout it gets ('declare': the input itself is declared in that layout; 'transpose': a Transpose at the input) */
  inputs: (v: ValueInfo, rw: GraphRewriter) => { layout: Perm; how: 'declare' | 'transpose' } | undefined;
  /** graph outputs: 'declare' a standard channels-last layout as is (else transpose to identity), or 'restore' identity with a Transpose */
  outputs: 'declare' | 'restore';
  /**
   * Keep every value of the source graph recoverable by a permutation (no dense-weight row
   * re-order after a flatten, which changes what the flattened value holds) and report where
   * each one is (LayoutResult.values): the runtime's lowering, whose observers read values by name.
   */
  trackValues?: boolean;
  /**
   * How an If / Loop / Scan body is laid out: it comes as a graph of its own (the outer values it
   * reads are inputs after its formal ones, all in the source's layout) and must keep that
   * boundary. Without it a body is left as it is (it reads its outer values in the source's layout).
   */
  subgraph?: (body: Graph) => { graph: Graph; transposes: KeptTranspose[]; notes: string[] };
}

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });
const str = (value: string): Attr => ({ type: 'string', value });

export function runLayoutEngine(source: Graph, opts: EngineOptions): LayoutResult {
  const rw = new GraphRewriter(source);
  const shapes = inferShapes(source, { onError: 'unknown' }).values;
  const opset = source.opsets[''] ?? source.opsets['ai.onnx'] ?? 17;
  const layouts = new Map<string, Perm>();
  const transposes: KeptTranspose[] = [];
  const notes: string[] = [];
  const overridable = new Set(source.inputs.map((v) => v.name));
  // values re-laid once: `${value}|${perm}` -> name
  const relaid = new Map<string, string>();

  const shapeOf = (v: string): Dim[] | undefined => shapes.get(v)?.shape;
  const rankOf = (v: string): number | undefined => shapeOf(v)?.length ?? rw.constant(v)?.rank;
  const layoutOf = (v: string): Perm => layouts.get(v) ?? identity(rankOf(v) ?? 0);
  const setLayout = (v: string, p: Perm): void => {
    if (isIdentity(p)) layouts.delete(v);
    else layouts.set(v, p);
  };
  // An initializer also declared as a graph input (ONNX IR < 4 lists every weight there) is taken as
  // the constant it holds: its re-laid copy replaces it and the unread input is dropped at the end.
  const constOf = (v: string): Tensor | undefined => (v ? rw.constant(v) : undefined);
  const physShape = (v: string): Dim[] | undefined => {
    const s = shapeOf(v);
    return s && layoutOf(v).map((a) => s[a]!);
  };

  /** Shape values for a Reshape to `target` (physical dims) from a value laid out with physical dims `from`: 0 copies, one -1. */
  const reshapeTarget = (from: readonly Dim[] | undefined, target: readonly Dim[]): number[] | undefined => {
    let unknown = 0;
    const out = target.map((d, i) => {
      if (typeof d === 'number') return d;
      if (from && from[i] === d && d !== null) return 0;
      unknown++;
      return -1;
    });
    if (out.includes(0) && out.some((d, i) => d === 0 && typeof target[i] === 'number')) return undefined; // a real 0-size dim with copies: ambiguous
    return unknown <= 1 ? out : undefined;
  };

  const addTranspose = (v: string, perm: Perm, want: Perm, why: string, io: boolean): string => {
    const node = rw.addNode({ opType: 'Transpose', inputs: [v], attrs: { perm: ints(perm) }, name: `${v}/transpose`, outputs: [rw.freshName(`${v}/transposed`)] });
    transposes.push({ node: node.name, value: v, perm, io, why });
    return node.outputs[0]!;
  };

  /** The name of `v` laid out as `want` (a constant re-laid, a reshape when only size-1 axes move, else a Transpose). */
  const ensure = (v: string, want: Perm, why: string, io = false): string => {
    const have = layoutOf(v);
    if (samePerm(have, want)) return v;
    const key = `${v}|${want.join(',')}`;
    const hit = relaid.get(key);
    if (hit) return hit;
    // physical out axis i = logical want[i] = physical in axis inverse(have)[want[i]]
    const hinv = inverse(have);
    const perm = want.map((a) => hinv[a]!);
    let out: string;
    const c = constOf(v);
    const s = shapeOf(v);
    if (c) {
      out = rw.addInitializer(`${v}/relaid`, permuteTensor(c.rank === have.length ? c : c.reshape(s as number[]), perm));
    } else if (s && onlyUnitAxesMove(have.map((a) => s[a]!), perm)) {
      const target = reshapeTarget(physShape(v), want.map((a) => s[a]!));
      out = target ? rw.add({ opType: 'Reshape', inputs: [v, rw.addInitializer(`${v}/shape`, Tensor.int64([target.length], target))], name: `${v}/reshape`, outputs: [rw.freshName(`${v}/reshaped`)] }) : addTranspose(v, perm, want, why, io);
    } else out = addTranspose(v, perm, want, why, io);
    setLayout(out, want);
    const sv = shapes.get(v);
    if (sv) shapes.set(out, sv);
    relaid.set(key, out);
    return out;
  };

  // the source's nodes (the ones added below are already in their final form)
  const order = topologicalOrder(source);

  // ---- graph inputs ----
  const inputRename = new Map<string, string>();
  for (const v of source.inputs) {
    if (source.initializers.has(v.name)) continue;
    const d = opts.inputs(v, rw);
    if (!d || isIdentity(d.layout)) continue;
    if (d.how === 'declare') {
      setLayout(v.name, d.layout);
      rw.inputs = rw.inputs.map((x) => (x.name === v.name && x.shape ? { ...x, shape: d.layout.map((a) => x.shape![a]!) } : x));
    } else {
      const t = ensure(v.name, d.layout, 'the model keeps its NCHW input (keepNchwIo)', true);
      inputRename.set(v.name, t);
    }
  }

  const read = (v: string): string => inputRename.get(v) ?? v;

  const replaceTracked = (n: Node, next: Partial<Node>): Node => rw.replaceNode(rw.latest(n), next);
  const aliases = new Set<string>();
  // absorbed Transposes dropped below: their output -> the value holding the same data
  const aliasData = new Map<string, string>();

  // ---- nodes ----
  for (const orig of order) {
    const node = rw.latest(orig);
    const ins = node.inputs.map((i) => (i ? read(i) : i));
    const x = ins[0] ?? '';
    const r = x ? rankOf(x) : undefined;
    const L = x ? layoutOf(x) : [];
    const onnx = isOnnx(node);
    const op = node.opType;
    const replace = (next: Partial<Node>, outLayouts: (Perm | undefined)[]): void => {
      const n = replaceTracked(node, next);
      n.outputs.forEach((o, k) => o && outLayouts[k] && setLayout(o, outLayouts[k]!));
    };
    /** Keep the op as it is, on identity-layout inputs. */
    const fallback = (why: string): void => {
      const fixed = ins.map((i) => (i && layouts.has(i) ? ensure(i, identity(rankOf(i)!), why) : i));
      replace({ inputs: fixed }, []);
    };
    const nonIdentityInputs = ins.filter((i) => i && layouts.has(i));
    // If / Loop / Scan bodies read outer values by name: each one laid out channels-last here gets
    // an identity-layout copy that the bodies read instead, and each body is laid out on its own
    // with its boundary (formal inputs, outer reads, outputs) in the source's layout
    if (subgraphsOf(node).length) {
      let laid = node;
      for (const v of implicitInputs(node).filter((i) => layouts.has(i))) {
        const copy = ensure(v, identity(rankOf(v)!), `${op} '${node.name}' reads '${v}' inside its subgraph in the source's layout`);
        laid = renameSubgraphReads(laid, v, copy);
      }
      if (opts.subgraph) {
        laid = mapNodeSubgraphs(laid, (v) => shapes.get(v), rw.opsets, (body) => {
          const r = opts.subgraph!(body.graph);
          transposes.push(...r.transposes.map((t) => ({ ...t, io: false, why: `in a subgraph of ${op} '${node.name}': ${t.why}` })));
          notes.push(...r.notes.map((n) => `in a subgraph of ${op} '${node.name}': ${n}`));
          return r.graph;
        }, constOf);
      }
      if (laid !== node) replaceTracked(node, { attrs: laid.attrs });
    }

    if (!onnx) {
      if (nonIdentityInputs.length) fallback(`${node.domain}.${op} '${node.name}' is not layout-aware`);
      else replace({ inputs: ins }, []);
      continue;
    }

    if (SPATIAL.has(op) && r !== undefined && r >= 3) {
      if (op === 'MaxPool' && node.outputs[1]) {
        fallback(`MaxPool '${node.name}' has an Indices output (flat NCHW positions)`);
        continue;
      }
      if (opts.mode === 'channels-first') {
        fallback(`${op} '${node.name}' runs channels-first`);
        continue;
      }
      const S = channelsLastPerm(r);
      const xin = ensure(x, S, `${op} '${node.name}' needs channels-last input`);
      const inputs = [xin, ...ins.slice(1)];
      const attrs = { ...node.attrs };
      if (op === 'Conv' || op === 'ConvTranspose') {
        const W = constOf(ins[1] ?? '') ?? dequantizedConstant(rw, ins[1] ?? '')?.x;
        if (!W || W.rank !== r) {
          fallback(`${op} '${node.name}' has a weight that is not a constant`);
          continue;
        }
        const k = r - 2;
        const group = attrInt(node, 'group', 1);
        let layout: string;
        let perm: Perm;
        if (op === 'Conv') {
          const depthwise = group > 1 && W.shape[1] === 1;
          layout = opts.target === 'tflite' && !depthwise ? 'OHWI' : 'HWIO';
          // ONNX (O, I/g, k...) -> HWIO (k..., I/g, O) or OHWI (O, k..., I/g)
          perm = layout === 'HWIO' ? [...range(k).map((i) => i + 2), 1, 0] : [0, ...range(k).map((i) => i + 2), 1];
        } else {
          layout = opts.target === 'tflite' && group === 1 ? 'OHWI' : 'HWOI';
          // ONNX (I, O/g, k...) -> HWOI (k..., O/g, I) or OHWI (O, k..., I)
          perm = layout === 'HWOI' ? [...range(k).map((i) => i + 2), 1, 0] : [1, ...range(k).map((i) => i + 2), 0];
        }
        inputs[1] = relayWeight(rw, ins[1]!, perm, layout.toLowerCase())!;
        attrs.kernel_layout = str(layout);
      }
      replace({ domain: 'nnport', inputs, attrs }, [S]);
      continue;
    }

    if (op === 'Transpose') {
      // absorbed: the data stays where it is and the output's layout says what its axes are
      const t = attrInts(node, 'perm') ?? range(r ?? 0).reverse();
      const Q = L.map((a) => inverse(t)[a]!);
      const out = node.outputs[0]!;
      rw.removeNode(node);
      const alias = rw.add({ opType: 'Identity', inputs: [x], name: node.name, outputs: [rw.freshName(`${out}/alias`)] });
      rw.renameValue(alias, out);
      aliases.add(out);
      setLayout(out, Q);
      continue;
    }

    if (UNARY.has(op)) {
      const perAxis = (op === 'QuantizeLinear' || op === 'DequantizeLinear') && r !== undefined && !isIdentity(L) && (constOf(ins[1] ?? '')?.size ?? 2) > 1;
      if (perAxis) {
        // per-axis scale / zero point: `axis` names the axis as it is now laid out
        const a = attrInt(node, 'axis', 1);
        replace({ inputs: ins, attrs: { ...node.attrs, axis: int(inverse(L)[a < 0 ? a + r : a]!) } }, [L]);
      } else replace({ inputs: ins }, [L]);
      continue;
    }

    if (ELEMENTWISE.has(op)) {
      const outRank = rankOf(node.outputs[0]!) ?? Math.max(...ins.map((i) => (i ? rankOf(i) ?? 0 : 0)));
      // the layout of the first full-rank, non-constant input that is laid out differently, else identity
      const lead = ins.find((i) => i && !constOf(i) && rankOf(i) === outRank && layouts.has(i));
      const P = lead ? layoutOf(lead) : identity(outRank);
      if (isIdentity(P)) {
        fallback(`'${node.name}' mixes layouts`);
        continue;
      }
      const fixed = ins.map((i) => {
        if (!i) return i;
        const ri = rankOf(i);
        const c = constOf(i);
        if (c) {
          // aligned to the output's rank, permuted, leading 1s dropped (so a [C,1,1] bias becomes [C])
          const aligned = c.reshape([...new Array<number>(outRank - c.rank).fill(1), ...c.shape]);
          let t = permuteTensor(aligned, P);
          let lead1 = 0;
          while (lead1 < t.rank - 1 && t.shape[lead1] === 1) lead1++;
          if (lead1) t = t.reshape(t.shape.slice(lead1));
          if (c.size === 1) return i;
          return rw.addInitializer(`${i}/relaid`, t);
        }
        if (ri === outRank) return ensure(i, P, `'${node.name}' (${op}) reads inputs laid out differently`);
        if (ri === undefined) throw new ShapeError(`layout: the rank of '${i}' (input of '${node.name}') is unknown`);
        // a lower-rank, non-constant input: unsqueeze it to the full rank, then lay it out like the others
        const s = shapeOf(i)!;
        const full = [...new Array<Dim>(outRank - ri).fill(1), ...s];
        const u = rw.add({ opType: 'Reshape', inputs: [ensure(i, identity(ri), `'${node.name}' broadcasts it`), rw.addInitializer(`${i}/shape`, Tensor.int64([outRank], reshapeTarget(undefined, full) ?? fail(`'${i}' has more than one unknown dim`)))], name: `${i}/unsqueeze` });
        // (its shape known, so that ensure re-lays it at the full rank: unknown, its layout was the empty perm)
        shapes.set(u, { ...shapes.get(i), shape: full });
        return ensure(u, P, `'${node.name}' (${op}) broadcasts '${i}' against channels-last data`);
      });
      replace({ inputs: fixed }, [P]);
      continue;
    }

    // (not when lowering to ONNX, channels-first: onnxruntime has no layout=1 recurrent kernels)
    if (RECURRENT.has(op) && r === 3 && samePerm(L, [1, 0, 2]) && opts.mode === 'channels-last') {
      // a recurrent op reading its sequence with time and batch swapped (PyTorch's batch_first
      // Transpose, absorbed) reads it as it is with the other layout; its outputs are then laid out
      // with the other layout's axes: Y [T, D, B, H] <-> [B, T, D, H], Y_h / Y_c [D, B, H] <-> [B, D, H]
      const layout = attrInt(node, 'layout', 0);
      const inputs = ins.map((i, k) => (k === 5 || k === 6) && i ? ensure(i, [1, 0, 2], `${op} '${node.name}' reads its initial state in the other layout`) : k === 0 || !i || !layouts.has(i) ? i : ensure(i, identity(rankOf(i)!), `${op} '${node.name}'`));
      const yLayout = layout === 0 ? [2, 0, 1, 3] : [1, 2, 0, 3];
      replace({ inputs, attrs: { ...node.attrs, layout: int(1 - layout) } }, [yLayout, [1, 0, 2], [1, 0, 2]]);
      continue;
    }

    const axisAttr = (name: string, fallbackAxis: number): number => {
      const a = attrInt(node, name, fallbackAxis);
      return a < 0 ? a + r! : a;
    };
    const phys = (a: number): number => inverse(L)[a]!;
    /** Resize-11+ of `xin`, data laid out as P: roi / scales / sizes index the axes, re-ordered for it (plain ONNX Resize on it). */
    const resizeLaidOut = (P: Perm, xin: string): void => {
      const inputs = [xin, ...ins.slice(1)];
      for (const k of [1, 2, 3]) {
        const i = ins[k];
        if (!i) continue;
        const c = constOf(i);
        if (c && c.size === 0) continue;
        const idx = k === 1 ? [...P, ...P.map((a) => a + r!)] : P;
        if (c) inputs[k] = rw.addInitializer(`${i}/relaid`, new Tensor(c.dtype, [idx.length], gatherFlat(c, idx)));
        else inputs[k] = rw.add({ opType: 'Gather', inputs: [i, rw.addInitializer(`${node.name}/axis_order`, Tensor.int64([idx.length], idx))], attrs: { axis: int(0) }, name: `${node.name}/${k === 3 ? 'sizes' : k === 2 ? 'scales' : 'roi'}` });
      }
      replace({ inputs }, [P]);
    };

    // ScatterND of whole rows (indices [n, 1], as MultiScaleRoIAlign scatters each FPN level's boxes back):
    // any layout that keeps the first axis first scatters the same rows, so data and updates share one
    // (not transposing a level's rows: an FPN level no box maps to is empty, and TFLite's TRANSPOSE traps on that)
    if (op === 'ScatterND' && r !== undefined && rankOf(ins[2] ?? '') === r && shapeOf(ins[1] ?? '')?.length === 2 && shapeOf(ins[1]!)?.[1] === 1) {
      const P = [ins[0]!, ins[2]!].map(layoutOf).find((q) => !isIdentity(q));
      if (P && P[0] === 0) {
        replace({ inputs: [ensure(ins[0]!, P, `ScatterND '${node.name}' writes rows laid out as its updates`), ensure(ins[1]!, identity(2), 'ScatterND indices'), ensure(ins[2]!, P, `ScatterND '${node.name}' writes rows laid out as its data`)] }, [P]);
        continue;
      }
    }

    {
      // Sizes / scales computed at run time on 4-D data left channels-first (a mask made inside a
      // loop body): laid out channels-last first, as the writers' run-time resizes (TF's
      // ResizeBilinear, TFLite's RESIZE_*) take the height / width of NHWC data
      const computed = op === 'Resize' && opset >= 11 && [2, 3].some((k) => ins[k] && !constOf(ins[k]!));
      const roi = ins[1] && !(constOf(ins[1]) && constOf(ins[1])!.size === 0);
      if (computed && !roi && r === 4 && opts.mode !== 'channels-first' && !samePerm(L, channelsLastPerm(4))) {
        const S = channelsLastPerm(4);
        resizeLaidOut(S, ensure(x, S, `Resize '${node.name}' of a size computed at run time needs channels-last input`));
        continue;
      }
    }

    if (isIdentity(L)) {
      // nothing laid out differently reaches this op: it stays as it is
      if (nonIdentityInputs.length) fallback(`'${node.name}' (${op}) reads values laid out differently`);
      else replace({ inputs: ins }, []);
      continue;
    }

    if (op === 'Shape') {
      // the logical dims, picked out of the physical shape
      const lo = attrInt(node, 'start', 0);
      const hi = attrInt(node, 'end', r!);
      const clamp = (v: number) => Math.min(r!, Math.max(0, v < 0 ? v + r! : v));
      const idx = range(Math.max(0, clamp(hi) - clamp(lo))).map((j) => phys(clamp(lo) + j));
      const s = rw.add({ opType: 'Shape', inputs: [x], name: `${node.name}/physical` });
      const attrs = { axis: int(0) };
      replace({ opType: 'Gather', inputs: [s, rw.addInitializer(`${node.name}/axis_order`, Tensor.int64([idx.length], idx))], attrs }, []);
      continue;
    }
    if (op === 'Concat') {
      const fixed = ins.map((i) => (i ? ensure(i, L, `Concat '${node.name}' joins values laid out differently`) : i));
      replace({ inputs: fixed, attrs: { ...node.attrs, axis: int(phys(axisAttr('axis', 0))) } }, [L]);
      continue;
    }
    if (op === 'Split') {
      replace({ inputs: ins, attrs: { ...node.attrs, axis: int(phys(axisAttr('axis', 0))) } }, node.outputs.map(() => L));
      continue;
    }
    if ((op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax') && opset >= 13) {
      replace({ inputs: ins, attrs: { ...node.attrs, axis: int(phys(axisAttr('axis', -1))) } }, [L]);
      continue;
    }
    if (op === 'Gather') {
      const axis = axisAttr('axis', 0);
      const q = rankOf(ins[1]!) ?? 0;
      // output logical axes: data's with `axis` replaced by the indices' axes
      const outAxes = (a: number): number[] => (a < axis ? [a] : a === axis ? range(q).map((j) => axis + j) : [a + q - 1]);
      replace({ inputs: [x, ensure(ins[1]!, identity(q), 'Gather indices')], attrs: { ...node.attrs, axis: int(phys(axis)) } }, [L.flatMap(outAxes)]);
      continue;
    }
    if (op === 'Slice' && opset >= 10) {
      const count = constOf(ins[1] ?? '')?.size ?? known(shapeOf(ins[1] ?? '')?.[0]);
      const axesT = ins[3] ? constOf(ins[3]) : undefined;
      if ((ins[3] && !axesT) || (!ins[3] && count === undefined)) {
        fallback(`Slice '${node.name}' has non-constant axes`);
        continue;
      }
      const axes = axesT ? axesT.toNumbers().map((a) => (a < 0 ? a + r! : a)) : range(count!);
      const inputs = [...ins];
      while (inputs.length < 4) inputs.push('');
      inputs[3] = rw.addInitializer(`${node.name}/axes`, Tensor.int64([axes.length], axes.map(phys)));
      replace({ inputs }, [L]);
      continue;
    }
    if (op === 'Slice' && opset < 10) {
      // before opset 10 the bounds are attributes: only the axes move
      const axes = attrInts(node, 'axes') ?? range(attrInts(node, 'starts')?.length ?? 0);
      replace({ inputs: ins, attrs: { ...node.attrs, axes: { type: 'ints', value: axes.map((a) => phys(a < 0 ? a + r! : a)) } } }, [L]);
      continue;
    }
    if (op === 'Pad') {
      const padsIn = opset >= 11 ? constOf(ins[1] ?? '') : undefined;
      const pads = opset >= 11 ? padsIn?.toNumbers() : attrInts(node, 'pads');
      const axesIn = opset >= 18 && ins[3] ? constOf(ins[3]) : undefined;
      if (!pads && opset >= 11 && !ins[3] && ins[1]) {
        // pads computed at run time (F.pad to a multiple of 32): gathered into the data's axis order as it is laid out
        const idx = [...L, ...L.map((a) => a + r!)];
        const inputs = [...ins];
        inputs[1] = rw.add({ opType: 'Gather', inputs: [ins[1], rw.addInitializer(`${node.name}/axis_order`, Tensor.int64([idx.length], idx))], attrs: { axis: int(0) }, name: `${node.name}/pads` });
        replace({ inputs }, [L]);
        continue;
      }
      if (!pads || (ins[3] && !axesIn)) {
        fallback(`Pad '${node.name}' has non-constant pads`);
        continue;
      }
      const axes = axesIn ? axesIn.toNumbers().map((a) => (a < 0 ? a + r! : a)) : range(r!);
      const n = axes.length;
      // pads [b(axes[0]).., e(axes[0])..] for the axes as now laid out
      const byAxis = new Map(axes.map((a, j) => [a, [pads[j]!, pads[j + n]!]]));
      const physAxes = range(r!).filter((i) => byAxis.has(L[i]!));
      const newPads = [...physAxes.map((i) => byAxis.get(L[i]!)![0]!), ...physAxes.map((i) => byAxis.get(L[i]!)![1]!)];
      if (opset >= 11) {
        const inputs = [...ins];
        inputs[1] = rw.addInitializer(`${node.name}/pads`, Tensor.int64([newPads.length], newPads));
        if (axesIn) inputs[3] = rw.addInitializer(`${node.name}/axes`, Tensor.int64([physAxes.length], physAxes));
        else if (physAxes.length !== r) throw new ShapeError(`layout: Pad '${node.name}' pads do not cover every axis`);
        replace({ inputs }, [L]);
      } else replace({ inputs: ins, attrs: { ...node.attrs, pads: ints(newPads) } }, [L]);
      continue;
    }
    if (REDUCE.has(op) || op === 'ArgMax' || op === 'ArgMin') {
      const keep = attrInt(node, 'keepdims', 1) !== 0;
      let axes: number[] | undefined;
      const inputs = [...ins];
      const fromInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
      if (op === 'ArgMax' || op === 'ArgMin') axes = [axisAttr('axis', 0)];
      else if (fromInput) {
        if (ins[1]) {
          const t = constOf(ins[1]);
          if (!t) {
            fallback(`${op} '${node.name}' has non-constant axes`);
            continue;
          }
          axes = t.toNumbers().map((a) => (a < 0 ? a + r! : a));
        }
      } else axes = attrInts(node, 'axes')?.map((a) => (a < 0 ? a + r! : a));
      const all = !axes || !axes.length;
      const reduced = new Set(all ? range(r!) : axes!);
      const attrs = { ...node.attrs };
      if (!all) {
        const pa = axes!.map(phys);
        if (op === 'ArgMax' || op === 'ArgMin') attrs.axis = int(pa[0]!);
        else if (fromInput) inputs[1] = rw.addInitializer(`${node.name}/axes`, Tensor.int64([pa.length], pa));
        else attrs.axes = ints(pa);
      }
      let out: Perm = L;
      if (!keep) {
        // the remaining logical axes, renumbered, in their physical order
        const kept = range(r!).filter((a) => !reduced.has(a));
        out = L.filter((a) => !reduced.has(a)).map((a) => kept.indexOf(a));
      }
      replace({ inputs, attrs }, [out]);
      continue;
    }
    if (op === 'LayerNormalization') {
      const axis = axisAttr('axis', -1);
      const normed = range(r! - axis).map((j) => axis + j);
      const physSet = normed.map(phys).sort((a, b) => a - b);
      const suffix = physSet.every((p, j) => p === r! - normed.length + j);
      if (!suffix) {
        fallback(`LayerNormalization '${node.name}' normalizes axes that are not last as laid out`);
        continue;
      }
      // scale / bias have the normalized axes' shape: lay them out like the data's tail
      const tail = L.slice(r! - normed.length).map((a) => a - axis);
      const inputs = ins.map((i, k) => {
        if (k === 0 || !i) return i;
        const c = constOf(i);
        if (!c) return ensure(i, identity(rankOf(i)!), 'LayerNormalization parameters');
        const full = c.rank === normed.length ? c : c.reshape([...new Array<number>(normed.length - c.rank).fill(1), ...c.shape]);
        return rw.addInitializer(`${i}/relaid`, permuteTensor(full, tail));
      });
      replace({ inputs, attrs: { ...node.attrs, axis: int(r! - normed.length) } }, [L]);
      continue;
    }
    if (op === 'Resize' && opset >= 11) {
      resizeLaidOut(L, x);
      continue;
    }
    if (op === 'Upsample' || (op === 'Resize' && opset < 11)) {
      // (X, scales), or Upsample-7's scales attribute: one scale per axis, re-ordered for the data as laid out
      const inputs = [...ins];
      const attrs = { ...node.attrs };
      const fixed = attrFloats(node, 'scales');
      if (fixed) attrs.scales = { type: 'floats', value: L.map((a) => fixed[a]!) };
      else if (ins[1]) {
        const c = constOf(ins[1]);
        if (c) inputs[1] = rw.addInitializer(`${ins[1]}/relaid`, new Tensor(c.dtype, [L.length], gatherFlat(c, L)));
        else inputs[1] = rw.add({ opType: 'Gather', inputs: [ins[1], rw.addInitializer(`${node.name}/axis_order`, Tensor.int64([L.length], L))], attrs: { axis: int(0) }, name: `${node.name}/scales` });
      }
      replace({ inputs, attrs }, [L]);
      continue;
    }
    if (op === 'Reshape' || op === 'Flatten' || op === 'Squeeze' || op === 'Unsqueeze') {
      const inShape = shapeOf(x);
      const outShape = shapeOf(node.outputs[0]!);
      if (!inShape || !outShape) {
        fallback(`${op} '${node.name}': shapes unknown`);
        continue;
      }
      const Q = reshapeLayout(inShape, L, outShape);
      if (Q) {
        const target = reshapeTarget(physShape(x), Q.map((a) => outShape[a]!));
        if (target) {
          const shapeName = rw.addInitializer(`${node.name}/shape`, Tensor.int64([target.length], target));
          replace({ opType: 'Reshape', inputs: [x, shapeName], attrs: {} }, [Q]);
          continue;
        }
      }
      // a flatten feeding dense layers: flatten as laid out and re-order the dense weights' rows instead
      if (outShape.length === 2 && denseFlatten(node, x, inShape, L, outShape)) continue;
      const groups = reshapeGroups(inShape, outShape);
      const go = groups && groupOrder(inShape, L, groups);
      if (groups && go) {
        const Q = outputLayout(groups, go.order, outShape.length);
        const target = reshapeTarget(physShape(x), Q.map((a) => outShape[a]!));
        // axes merged out of order (ShuffleNet's channel shuffle: a Transpose between two Reshapes) are a
        // fixed permutation along the merged axis: a Gather with constant indices, no transpose
        const gatherable = groups.every((g, gi) => go.inOrder[gi] || (g.outs.length === 1 && g.ins.every((a) => typeof inShape[a] === 'number')));
        if (target && gatherable) {
          const merged = rw.add({ opType: 'Reshape', inputs: [x, rw.addInitializer(`${node.name}/shape`, Tensor.int64([target.length], target))], name: `${node.name}/merge` });
          let cur = merged;
          groups.forEach((g, gi) => {
            if (go.inOrder[gi]) return;
            const sizes = g.ins.map((a) => inShape[a] as number);
            const physOrder = L.filter((a) => g.ins.includes(a)).map((a) => g.ins.indexOf(a));
            // idx[logical merged index] = position of that element in the physical (merged) order
            const n = sizes.reduce((p, d) => p * d, 1);
            const pos = permuteTensor(new Tensor('int32', sizes, Int32Array.from(range(n))), physOrder).data as Int32Array;
            const idx = new Array<number>(n);
            pos.forEach((logical, physical) => (idx[logical] = physical));
            const axis = Q.indexOf(g.outs[0]!);
            const last = !groups.some((h, hi) => hi > gi && !go.inOrder[hi]);
            cur = rw.add({
              opType: 'Gather',
              inputs: [cur, rw.addInitializer(`${node.name}/order`, Tensor.int64([n], idx))],
              attrs: { axis: int(axis) },
              name: `${node.name}/gather`,
              ...(last ? { outputs: [rw.freshName(`${node.outputs[0]!}/gathered`)] } : {}),
            });
            notes.push(`${op} '${node.name}': axes merged out of order (a channel shuffle) became a Gather along axis ${axis}`);
          });
          const out = node.outputs[0]!;
          rw.removeNode(node);
          rw.renameValue(cur, out);
          setLayout(out, Q);
          continue;
        }
        if (target) {
          // keep the transpose, as small as it can be: each group's axes put in order where they are
          const want = go.order.flatMap((gi) => groups[gi]!.ins);
          for (let a = 0; a < inShape.length; a++) if (!want.includes(a)) want.splice(L.indexOf(a) <= want.length ? L.indexOf(a) : want.length, 0, a);
          const xin = ensure(x, want, `${op} '${node.name}' merges axes that are out of order as laid out`);
          const t2 = reshapeTarget(physShape(xin), Q.map((a) => outShape[a]!));
          if (t2) {
            replace({ opType: 'Reshape', inputs: [xin, rw.addInitializer(`${node.name}/shape`, Tensor.int64([t2.length], t2))], attrs: {} }, [Q]);
            continue;
          }
        }
      }
      fallback(`${op} '${node.name}' regroups axes that the channels-last layout keeps apart`);
      continue;
    }
    fallback(`${op} '${node.name}' has no channels-last rewrite`);
  }

  /** Flatten (N, C, H, W) -> (N, C·H·W) read only by Gemm/MatMul with constant weights: rows re-ordered. */
  function denseFlatten(node: Node, x: string, inShape: Dim[], L: Perm, outShape: Dim[]): boolean {
    const out = node.outputs[0]!;
    if (L[0] !== 0 || rw.isPinned(out) || opts.trackValues) return false;
    const feat = inShape.slice(1);
    if (!feat.every((d) => typeof d === 'number')) return false;
    const users = rw.consumers(out);
    const dense = users.every((u) => isOnnx(u) && (u.opType === 'MatMul' || (u.opType === 'Gemm' && attrInt(u, 'transA', 0) === 0)) && u.inputs[0] === out && u.inputs[1] !== out && constOf(u.inputs[1] ?? '')?.rank === 2);
    if (!users.length || !dense) return false;
    // physical feature order: the logical feature axes in L's order; rowOf[k_phys] = k_logical
    const dims = feat as number[];
    const K = dims.reduce((a, b) => a * b, 1);
    const lperm = L.slice(1).map((a) => a - 1);
    for (const u of users) {
      const W = constOf(u.inputs[1]!)!;
      const transB = u.opType === 'Gemm' && attrInt(u, 'transB', 0) !== 0;
      const [rows, cols] = W.shape as [number, number];
      if ((transB ? cols : rows) !== K) return false;
      // w2[., k] = w[., rowOf[k]], rowOf = the indices 0..K-1 as `dims` permuted by lperm: the feature axes split out, permuted like the data, merged again (deferred, no copy yet)
      const w2 = transB ? W.reshape([rows, ...dims]).permute([0, ...lperm.map((a) => a + 1)]).reshape([rows, K]) : W.reshape([...dims, cols]).permute([...lperm, dims.length]).reshape([K, cols]);
      const name = rw.addInitializer(`${u.inputs[1]}/rows_channels_last`, w2);
      replaceTracked(u, { inputs: u.inputs.map((i, j) => (j === 1 ? name : i)) });
      notes.push(`dense '${u.name}': weight rows re-ordered from ${inShape.length === 4 ? 'C·H·W to H·W·C' : 'channels-first to channels-last'} order after '${node.name}'`);
    }
    const target = reshapeTarget(physShape(x)?.slice(0, 1), [outShape[0]!, K]) ?? [0, K];
    replaceFlat(node, x, target);
    return true;
  }
  function replaceFlat(node: Node, x: string, target: number[]): void {
    const shapeName = rw.addInitializer(`${node.name}/shape`, Tensor.int64([2], target));
    replaceTracked(node, { opType: 'Reshape', inputs: [x, shapeName], attrs: {} });
  }

  // ---- graph outputs ----
  for (const o of source.outputs) {
    const L = layouts.get(o.name);
    if (!L) continue;
    const r = L.length;
    if (opts.outputs === 'declare' && samePerm(L, channelsLastPerm(r))) {
      rw.outputs = rw.outputs.map((v) => (v.name === o.name && v.shape ? { ...v, shape: L.map((a) => v.shape![a]!) } : v));
      continue;
    }
    // an output whose last axis stayed last (a recurrent op's sequence or state read batch-major) is
    // not an image moved to channels-last: it gets the source's own order back
    const want = opts.outputs === 'declare' && r >= 3 && L[r - 1] !== r - 1 ? channelsLastPerm(r) : identity(r);
    const io = opts.outputs === 'restore';
    // the producer's output gets a new name so the graph output keeps its own
    const inner = rw.freshName(`${o.name}/${opts.mode === 'channels-last' ? 'nhwc' : 'nchw'}`);
    rw.renameValue(o.name, inner); // the graph output entry follows: now 'inner'
    const so = shapes.get(o.name);
    if (so) shapes.set(inner, so);
    setLayout(inner, L);
    layouts.delete(o.name);
    const fixed = ensure(inner, want, io ? 'the model keeps its NCHW output (keepNchwIo)' : `output '${o.name}' is laid out in an order that is not channels-last`, io);
    rw.outputs = rw.outputs.map((v) => (v.name === inner ? { ...v, name: fixed, shape: v.shape && want.map((a) => v.shape![a]!) } : v));
    rw.renameValue(fixed, o.name);
  }

  // Identity nodes standing for absorbed Transposes are dropped: consumers read the data directly
  for (const stale of [...rw.nodes]) {
    const n = rw.latest(stale);
    const out = n.outputs[0]!;
    if (n.opType !== 'Identity' || !aliases.has(out)) continue;
    if (rw.isPinned(out)) continue;
    aliasData.set(out, n.inputs[0]!);
    rw.replaceUses(out, n.inputs[0]!);
    rw.removeNode(n);
  }
  rw.sweep();
  const unread = rw.inputs.filter((v) => source.initializers.has(v.name) && overridable.has(v.name) && !rw.consumers(v.name).length && !rw.isPinned(v.name));
  if (unread.length) {
    rw.inputs = rw.inputs.filter((v) => !unread.includes(v));
    rw.sweepDeadInitializers();
  }
  // intermediate shapes changed with their layouts: value_info is dropped (inferShapes recomputes it)
  for (const v of source.valueInfo ?? []) rw.dropValueInfo(v.name);
  const graph = rw.toGraph();
  if (graph.nodes.some((n) => n.domain === 'nnport')) graph.opsets = { ...graph.opsets, nnport: 1 };
  // (the Transposes inside subgraphs too: reported once their bodies are laid out)
  const live = new Set<string>();
  someNodeDeep(graph, (n) => (n.opType === 'Transpose' && live.add(n.name), false));
  const result: LayoutResult = { graph, transposes: transposes.filter((t) => live.has(t.node)), notes };
  if (opts.trackValues) {
    const present = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
    for (const n of graph.nodes) for (const o of n.outputs) if (o) present.add(o);
    const values = new Map<string, { name: string; layout: Perm }>();
    for (const v of [...source.inputs.map((i) => i.name), ...source.nodes.flatMap((n) => n.outputs)]) {
      if (!v || source.initializers.has(v)) continue;
      let name = v;
      // an absorbed Transpose's output is its input's data (chains of them too)
      for (let k = 0; !present.has(name) && aliasData.has(name) && k < 1024; k++) name = aliasData.get(name)!;
      if (present.has(name)) values.set(v, { name, layout: layouts.get(v) ?? identity(rankOf(v) ?? 0) });
    }
    result.values = values;
  }
  return result;
}

/** `name` = DequantizeLinear(constant x, constant scale[, zero point]) (a QDQ weight): its parts. */
function dequantizedConstant(rw: GraphRewriter, name: string): { node: Node; x: Tensor } | undefined {
  const dq = name ? rw.producer(name) : undefined;
  if (!dq || dq.opType !== 'DequantizeLinear' || !(dq.domain === '' || dq.domain === 'ai.onnx')) return undefined;
  const x = rw.constant(dq.inputs[0] ?? '');
  if (!x || dq.inputs.slice(1).some((i) => i && !rw.constant(i))) return undefined;
  return { node: dq, x };
}

/**
 * A weight permuted by `perm`: a constant re-laid, or for a QDQ weight (DequantizeLinear of a
 * constant) the quantized constant re-laid under a new DequantizeLinear whose per-axis `axis`
 * follows it, so that runtimes still see DQ -> Conv; a float16 weight likewise under a new Cast.
 * Undefined for anything else.
 */
export function relayWeight(rw: GraphRewriter, name: string, perm: Perm, tag: string): string | undefined {
  const c = rw.constant(name);
  if (c) return rw.addInitializer(`${name}/${tag}`, permuteTensor(c, perm));
  // a float16 weight (Cast of a float16 constant, as a float16 TFLite file reads): re-laid as float16
  const cast = name ? rw.producer(name) : undefined;
  const half = cast && cast.opType === 'Cast' && !cast.domain ? rw.constant(cast.inputs[0] ?? '') : undefined;
  if (half?.dtype === 'float16') return rw.add({ opType: 'Cast', inputs: [rw.addInitializer(`${cast!.inputs[0]}/${tag}`, permuteTensor(half, perm))], attrs: { ...cast!.attrs }, name: `${cast!.name || name}/${tag}` });
  const q = dequantizedConstant(rw, name);
  if (!q) return undefined;
  const axis = attrInt(q.node, 'axis', 1);
  const a = axis < 0 ? axis + q.x.rank : axis;
  const x = rw.addInitializer(`${q.node.inputs[0]}/${tag}`, permuteTensor(q.x, perm));
  return rw.add({ opType: 'DequantizeLinear', inputs: [x, ...q.node.inputs.slice(1)], attrs: { ...q.node.attrs, axis: int(perm.indexOf(a)) }, name: `${q.node.name || name}/${tag}` });
}

const known = (d: Dim | undefined): number | undefined => (typeof d === 'number' ? d : undefined);

function fail(msg: string): never {
  throw new ShapeError(`layout: ${msg}`);
}

function gatherFlat(t: Tensor, idx: number[]): NumericArray {
  const d = t.data as NumericArray;
  const out = allocArray(t.dtype, idx.length) as NumericArray;
  idx.forEach((j, i) => ((out as unknown as unknown[])[i] = (d as unknown as unknown[])[j]));
  return out;
}

/** True when permuting a tensor of physical shape `shape` by `perm` moves only size-1 axes (a reshape). */
function onlyUnitAxesMove(shape: readonly Dim[], perm: readonly number[]): boolean {
  const moved = perm.filter((p) => shape[p] !== 1);
  return moved.every((p, i) => i === 0 || p > moved[i - 1]!);
}

interface AxisGroup {
  /** logical input axes (size > 1), in order */
  ins: number[];
  /** logical output axes (size > 1), in order */
  outs: number[];
}

/** The reshape as groups of input axes that become groups of output axes of the same size (size-1 axes left out). */
export function reshapeGroups(inShape: readonly Dim[], outShape: readonly Dim[]): AxisGroup[] | undefined {
  const inAxes = range(inShape.length).filter((a) => inShape[a] !== 1);
  const outAxes = range(outShape.length).filter((a) => outShape[a] !== 1);
  const groups: AxisGroup[] = [];
  let i = 0;
  let j = 0;
  while (i < inAxes.length || j < outAxes.length) {
    const g: AxisGroup = { ins: [], outs: [] };
    const di = inShape[inAxes[i]!];
    const dj = outShape[outAxes[j]!];
    if (i < inAxes.length && j < outAxes.length && (typeof di !== 'number' || typeof dj !== 'number')) {
      if (di !== dj || di === null) return undefined; // a symbolic dim maps only onto itself
      groups.push({ ins: [inAxes[i++]!], outs: [outAxes[j++]!] });
      continue;
    }
    let pi = 1;
    let pj = 1;
    do {
      if (pi <= pj && i < inAxes.length) {
        const d = inShape[inAxes[i]!];
        if (typeof d !== 'number') return undefined;
        pi *= d;
        g.ins.push(inAxes[i++]!);
      } else if (j < outAxes.length) {
        const d = outShape[outAxes[j]!];
        if (typeof d !== 'number') return undefined;
        pj *= d;
        g.outs.push(outAxes[j++]!);
      } else return undefined;
    } while (pi !== pj);
    groups.push(g);
  }
  return groups;
}

/**
 * How the physical data of a reshape's input (layout L) lines up with its groups: the groups in
 * physical order, and whether each group's axes are adjacent and in order. Undefined when a
 * group's axes are not even adjacent.
 */
function groupOrder(inShape: readonly Dim[], L: Perm, groups: AxisGroup[]): { order: number[]; inOrder: boolean[] } | undefined {
  const physIn = L.filter((a) => inShape[a] !== 1);
  const order: number[] = [];
  const inOrder = groups.map(() => true);
  let k = 0;
  while (k < physIn.length) {
    const gi = groups.findIndex((g) => g.ins.includes(physIn[k]!));
    if (gi < 0) return undefined;
    const g = groups[gi]!;
    const run = physIn.slice(k, k + g.ins.length);
    if (run.length !== g.ins.length || !g.ins.every((a) => run.includes(a))) return undefined;
    inOrder[gi] = run.every((a, m) => a === g.ins[m]);
    order.push(gi);
    k += g.ins.length;
  }
  for (let gi = 0; gi < groups.length; gi++) if (!order.includes(gi)) order.push(gi); // groups of input size-1 axes only
  return { order, inOrder };
}

/** The output layout for groups taken in `order` (output size-1 axes last). */
function outputLayout(groups: AxisGroup[], order: number[], outRank: number): Perm {
  const Q = order.flatMap((gi) => groups[gi]!.outs);
  for (let a = 0; a < outRank; a++) if (!Q.includes(a)) Q.push(a);
  return Q;
}

/**
 * The layout of a reshape's output such that the physical data needs no movement: the input's
 * layout must keep each group's axes adjacent and in order (size-1 axes are free).
 */
export function reshapeLayout(inShape: readonly Dim[], L: Perm, outShape: readonly Dim[]): Perm | undefined {
  const groups = reshapeGroups(inShape, outShape);
  if (!groups) return undefined;
  const go = groupOrder(inShape, L, groups);
  if (!go || go.inOrder.some((v) => !v)) return undefined;
  return outputLayout(groups, go.order, outShape.length);
}

/**
 * NCHW ONNX graph -> channels-last graph (nnport ops + ONNX ops with rewritten axes). Inputs of
 * rank >= 3 that reach a spatial op become channels-last (or get a Transpose with keepNchwIo).
 */
export function toChannelsLast(graph: Graph, options: LayoutOptions = {}): LayoutResult {
  if (graph.nodes.some((n) => n.domain === 'nnport' && n.opType !== 'FusedConv')) throw new UnsupportedError('layout pass on a graph that already has channels-last nnport ops');
  // The writers behind this pass (TFLite, GraphDef, Keras) write inference BatchNorms, which use the running statistics
  const training = graph.nodes.find((n) => n.opType === 'BatchNormalization' && attrInt(n, 'training_mode', 0) !== 0);
  if (training) throw new UnsupportedError('BatchNormalization in training mode', `node '${training.name || training.outputs[0]}' normalises by each batch's statistics; export the model in eval mode`);
  const spatialInputs = spatialReach(graph);
  const result = runLayoutEngine(graph, {
    mode: 'channels-last',
    target: options.target ?? 'keras',
    inputs: (v) => (v.shape && v.shape.length >= 3 && spatialInputs.has(v.name) ? { layout: channelsLastPerm(v.shape.length), how: options.keepNchwIo ? 'transpose' : 'declare' } : undefined),
    outputs: options.keepNchwIo ? 'restore' : 'declare',
    subgraph: (body) => toChannelsLast(body, { ...options, keepNchwIo: true }),
  });
  const unshuffled = cancelReshapePairs(result.graph);
  const out = { ...result, graph: unshuffled.graph };
  if (options.explicitPadding === false) return out;
  const padded = makePaddingExplicit(out.graph);
  return { ...out, graph: padded.graph, notes: [...out.notes, ...padded.notes] };
}

const AXIS_MOVERS = new Set(['Pad', 'Split', 'Slice', 'Concat']);
/** NCHW-spatial too (scales [1, 1, sh, sw]), but rewritten per axis rather than made nnport ops */
const RESIZE = new Set(['Resize', 'Upsample']);

/** Graph inputs from which a spatial op is reached through elementwise ops and axis movers only. */
function spatialReach(graph: Graph): Set<string> {
  const consumers = readersOf(graph.nodes);
  const out = new Set<string>();
  for (const v of graph.inputs) {
    const seen = new Set<string>();
    const stack = [v.name];
    while (stack.length) {
      const cur = stack.pop()!;
      if (seen.has(cur)) continue;
      seen.add(cur);
      for (const n of consumers.get(cur) ?? []) {
        if ((SPATIAL.has(n.opType) || RESIZE.has(n.opType)) && n.inputs[0] === cur) out.add(v.name);
        // ops that only move data along an axis the pass re-lays (MTCNN L-Net splits its input by channel before the convs)
        else if (UNARY.has(n.opType) || ELEMENTWISE.has(n.opType) || AXIS_MOVERS.has(n.opType)) stack.push(...n.outputs);
      }
    }
  }
  return out;
}

/** `node` with its subgraphs reading the outer value `to` wherever they read `from`. */
function renameSubgraphReads(node: Node, from: string, to: string): Node {
  const attrs: Record<string, Attr> = {};
  for (const [name, a] of Object.entries(node.attrs)) {
    if (a.type === 'graph') attrs[name] = { type: 'graph', value: renameOuterRead(a.value, from, to) };
    else if (a.type === 'graphs') attrs[name] = { type: 'graphs', value: a.value.map((g) => renameOuterRead(g, from, to)) };
    else attrs[name] = a;
  }
  return { ...node, attrs };
}
