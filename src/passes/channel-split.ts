// Channel splitting before int8 quantization (after Zhao et al. 2019, "Improving Neural Network
// Quantization without Retraining using Outlier Channel Splitting", with their quantization-aware
// split): every channel c of a linear group (equalize.ts' groups: convs -> [Add | MaxPool | zero
// Pad]* -> convs) becomes two, x/2 + d and x/2 - d. The producers' output channels are halved and
// duplicated, with +d / -d on the two biases; the consumers' input channels are duplicated, so they
// add the copies back: w (x/2 + d) + w (x/2 - d) = w x. The float function is unchanged (up to
// rounding). The tensor's range halves, so its int8 step halves. With d a quarter of that new step,
// the two copies round differently: their sum has the rounding error of a step half as wide again.
// Plain copies (d = 0) round alike, and the consumer then gets twice one error at the new step --
// the old error, no gain: measured on the trained MobileNet-v2, the 160-channel stream split
// without offsets gave 17.97 -> 17.97 dB, with them 19.10 dB (bench/RESULTS.md, ocs).
// Not through a Relu or Clip (an offset copy clips elsewhere) nor into a depthwise conv (it cannot
// add two channels): such a group is left as it is, with the reason. It doubles every split
// group's channels: the consumers' and producers' weights and their multiply-adds.
import { attrInt, attrString, producersOf, readersOf, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { findEqualizationGroups, type EqualizationGroup } from './equalize.js';

export interface ChannelSplitResult {
  graph: Graph;
  /** the groups split (findEqualizationGroups' order), with their channel counts before */
  split: { values: string[]; channels: number }[];
  /** the groups left as they were, and why */
  skipped: { values: string[]; reason: string }[];
  /** per split value, the offset d of its copies */
  offsets: Map<string, number>;
}

/** Why a group cannot be split with offset copies, or undefined when it can (`producer`: the graph's value -> producing node). */
function splitRefusal(gr: EqualizationGroup, producer: ReadonlyMap<string, Node>): string | undefined {
  if (gr.clipped.size) return `a Clip computes ${[...gr.clipped.keys()][0]}: offset copies would clip at other points`;
  for (const v of gr.values) {
    const p = producer.get(v);
    if (p && p.opType === 'Relu') return `a Relu computes ${v}: offset copies would clip at other points`;
  }
  for (const p of gr.producers) if (attrInt(p.node, 'group', 1) !== 1) return `the depthwise conv ${p.node.name} writes it: its input channels would have to be split too`;
  for (const k of gr.consumers) if (k.axis === k.outAxis) return `the depthwise conv ${k.node.name} reads it and cannot add the two copies of a channel`;
  return undefined;
}

/** A copy of `t` with its slices along `axis` repeated twice (all of them, then all again), times f, plus offset[r] in repeat r. */
function repeatAlong(t: Tensor, axis: number, f: number, offset: [number, number] = [0, 0]): Tensor {
  const src = t.toFloat32();
  const shape = [...t.shape];
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.size / (n * inner);
  shape[axis] = 2 * n;
  const out = new Float32Array(2 * t.size);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < n; c++) for (let i = 0; i < inner; i++) out[((o * 2 + r) * n + c) * inner + i] = src[(o * n + c) * inner + i]! * f + offset[r]!;
  return new Tensor('float32', shape, out);
}

/**
 * Split every channel of the graph's linear groups (see the top). `stats` are the calibrated
 * min/max of the values (of this graph); the offsets are a quarter of each producer output's new
 * int8 step (`levels`: 255), an Add's output carries the sum of its inputs' offsets, and the split
 * values' min/max in `stats` are moved to the split graph's (exactly: each copy is x/2 +- d).
 */
export function splitChannels(g: Graph, stats: Map<string, { min: number; max: number }>, options: { groups?: readonly EqualizationGroup[]; levels?: number } = {}): ChannelSplitResult {
  const levels = options.levels ?? 255;
  const groups = options.groups ?? findEqualizationGroups(g);
  const producer = producersOf(g.nodes);
  const inits = new Map(g.initializers);
  const nodes = new Map<Node, Node>();
  const result: ChannelSplitResult = { graph: g, split: [], skipped: [], offsets: new Map() };
  let names = 0;
  const fresh = (base: string): string => {
    let name = base;
    while (inits.has(name) || producer.has(name)) name = `${base}_${++names}`;
    return name;
  };
  for (const gr of groups) {
    const reason = splitRefusal(gr, producer);
    if (reason) {
      result.skipped.push({ values: gr.values, reason });
      continue;
    }
    // the offsets, values in dependency order: a producer's output gets a quarter of its new step
    const offset = new Map<string, number>();
    const offsetOf = (v: string): number => {
      const known = offset.get(v);
      if (known !== undefined) return known;
      const p = producer.get(v)!;
      let d = 0;
      if (p.opType === 'Add') d = offsetOf(p.inputs[0]!) + offsetOf(p.inputs[1]!);
      else if (p.opType === 'Pad' || p.opType === 'MaxPool') d = offsetOf(p.inputs[0]!);
      else {
        const s = stats.get(v);
        // a value that gets no int8 parameters of its own (not measured) is not rounded here: no offset
        if (s) d = (Math.max(s.max, 0) - Math.min(s.min, 0)) / 2 / levels / 4;
      }
      offset.set(v, d);
      return d;
    };
    for (const v of gr.values) offsetOf(v);
    for (const { node, axis } of gr.producers) {
      const [, w, b] = node.inputs;
      const d = offset.get(node.outputs[0]!) ?? 0;
      inits.set(w!, repeatAlong(inits.get(w!)!, axis, 0.5));
      const copy = nodes.get(node) ?? { ...node, inputs: [...node.inputs] };
      if (b) inits.set(b, repeatAlong(inits.get(b)!, 0, 0.5, [d, -d]));
      else {
        // no bias: one is added to carry the offsets
        const channels = inits.get(w!)!.shape[axis]! / 2;
        const name = fresh(`${node.outputs[0]}_split_bias`);
        inits.set(name, repeatAlong(Tensor.float32([channels], new Float32Array(channels)), 0, 0.5, [d, -d]));
        while (copy.inputs.length < 3) copy.inputs.push('');
        copy.inputs[2] = name;
      }
      nodes.set(node, copy);
    }
    // (a conv both reading and writing the group has both its axes repeated)
    for (const { node, axis } of gr.consumers) inits.set(node.inputs[1]!, repeatAlong(inits.get(node.inputs[1]!)!, axis, 1));
    for (const v of gr.values) {
      const s = stats.get(v);
      const d = Math.abs(offset.get(v)!);
      if (s) Object.assign(s, { min: s.min / 2 - d, max: s.max / 2 + d });
      result.offsets.set(v, offset.get(v)!);
    }
    result.split.push({ values: gr.values, channels: gr.channels });
  }
  if (!result.split.length) return result;
  const splitValues = new Set(result.split.flatMap((s) => s.values));
  result.graph = {
    ...g,
    nodes: g.nodes.map((n) => nodes.get(n) ?? n),
    initializers: inits,
    // the split values' recorded shapes are stale (twice the channels now)
    ...(g.valueInfo ? { valueInfo: g.valueInfo.filter((v) => !splitValues.has(v.name)) } : {}),
  };
  return result;
}

/** A copy of `t` with the slices `picks` (indices along `axis`) appended after its own, the k-th copy's values mapped by f(value, k). */
function appendAlong(t: Tensor, axis: number, picks: readonly number[], f: (x: number, k: number) => number = (x) => x): Tensor {
  const src = t.toFloat32();
  const shape = [...t.shape];
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.size / (n * inner);
  const m = n + picks.length;
  shape[axis] = m;
  const out = new Float32Array(outer * m * inner);
  for (let o = 0; o < outer; o++) {
    out.set(src.subarray(o * n * inner, (o + 1) * n * inner), o * m * inner);
    for (let k = 0; k < picks.length; k++)
      for (let i = 0; i < inner; i++) out[(o * m + n + k) * inner + i] = f(src[(o * n + picks[k]!) * inner + i]!, k);
  }
  return new Tensor('float32', shape, out);
}

export interface ClipSplitResult {
  graph: Graph;
  /** per split ReLU6 value: its channels, the channels added, the new bound */
  split: { value: string; channels: number; added: number; bound: number }[];
  /** the Clips whose upper bound was lowered to the new range's top, with the input that held the old one (an initializer name, or undefined: an attribute) */
  clips: { node: string; bound: string | undefined; attr: number | undefined }[];
}

/**
 * Range splitting of the ReLU6 outputs that only group-1 convs read (MobileNet-v2's depthwise ->
 * ReLU6 -> projection tensors): with T = M / pieces (M: the tensor's calibrated maximum), channel c
 * becomes clip(z, 0, T) plus, for each j with m_c > j T, a copy clip(z - j T, 0, T) (the depthwise
 * conv computes it with its bias lowered by j T, from a duplicate of its input channel that the
 * conv feeding it computes too); the consumers read every copy with channel c's weights, so they
 * add them back: sum_j clip(z - j T, 0, T) = clip(z, 0, M). Exact on the calibration data (where
 * z <= M); a channel left whole (m_c <= T) now clips at T, where the int8 range of the unsplit
 * tensor clipped it at M. The tensor's range is [0, T]: its int8 step is 1/pieces of the old one,
 * and each position rounds in at most one copy (the others are 0 or T, both on the grid). Unlike
 * offset copies this works through the clip, but only where the consumer can add channels, and
 * the depthwise conv's input must come from a conv (through Clip / Relu / zero Pad only) that
 * nothing else reads. The Clip's bound is lowered to T in the graph (so calibration and bias
 * correction see the split graph's function); quantizeGraph puts the original bound back after
 * quantizing (the int8 range [0, T] clips there anyway; TFLite fuses only ReLU / ReLU6 / ReLU1).
 * `channelMax`: a value's per-channel calibrated maxima (of this graph). `headroom` h: a channel
 * gets copy j where h m_c > j T (default 1; more keeps more of the float function past the
 * calibration data, at more channels). A tensor that would get more than `maxAdded` (default 0.6)
 * copies per channel is left whole.
 */
export function splitClippedChannels(g: Graph, stats: Map<string, { min: number; max: number }>, channelMax: (value: string) => ArrayLike<number> | undefined, options: { pieces?: number; headroom?: number; maxAdded?: number; groups?: readonly EqualizationGroup[] } = {}): ClipSplitResult {
  const pieces = options.pieces ?? 2;
  const headroom = options.headroom ?? 1;
  // a tensor most of whose channels reach past T would nearly double its three convs for the same
  // halved step (the random-init mobilenet_v2 fixture: 78 % of its channels, and no gain measured;
  // the trained MobileNet-v2: at most 56 %, bench/RESULTS.md, acc)
  const maxAdded = options.maxAdded ?? 0.6;
  const groups = options.groups ?? findEqualizationGroups(g);
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((v) => v.name));
  const inits = new Map(g.initializers);
  const nodes = new Map<Node, Node>();
  const result: ClipSplitResult = { graph: g, split: [], clips: [] };
  const stale = new Set<string>();
  let names = 0;
  const fresh = (base: string): string => {
    let name = base;
    while (inits.has(name) || producer.has(name)) name = `${base}_${++names}`;
    return name;
  };
  const edit = (n: Node): Node => {
    let copy = nodes.get(n);
    if (!copy) nodes.set(n, (copy = { ...n, inputs: [...n.inputs], attrs: { ...n.attrs } }));
    return copy;
  };
  const single = (v: string) => !outputs.has(v) && readers.get(v)?.length === 1;
  for (const gr of groups) {
    // one depthwise producer, one clipped value that only group-1 convs read
    if (gr.producers.length !== 1 || gr.clipped.size !== 1 || gr.values.length !== 2) continue;
    const [y, { lo, hi }] = [...gr.clipped][0]!;
    const dw = gr.producers[0]!.node;
    const z = dw.outputs[0]!;
    const channels = gr.channels;
    if (lo !== 0 || attrInt(dw, 'group', 1) !== channels || gr.consumers.some((k) => k.input !== y || k.axis === k.outAxis)) continue;
    const clip = producer.get(y)!;
    if (clip.opType !== 'Clip' || clip.inputs[0] !== z || !single(z)) continue;
    const m = channelMax(y);
    const s = stats.get(y);
    if (!m || !s || m.length !== channels) continue;
    let top = 0;
    for (let c = 0; c < channels; c++) top = Math.max(top, m[c]!);
    const bound = top / pieces;
    if (!(bound > 0) || top > hi) continue;
    // the conv feeding the depthwise one, through Clip / Relu / Pad values nothing else reads
    const chain: string[] = [];
    let v = dw.inputs[0]!;
    let p = producer.get(v);
    while (p && (p.opType === 'Clip' || p.opType === 'Relu' || p.opType === 'Pad') && !p.domain && single(v)) {
      chain.push(v);
      v = p.inputs[0]!;
      p = producer.get(v);
    }
    if (!p || p.domain !== 'nnport' || p.opType !== 'Conv' || attrInt(p, 'group', 1) !== 1 || !single(v) || !inits.has(p.inputs[1]!) || readers.get(p.inputs[1]!)?.length !== 1) continue;
    if (p.inputs[2] && readers.get(p.inputs[2])?.length !== 1) continue;
    chain.push(v);
    // the copies: (channel, piece j >= 1)
    const picks: number[] = [];
    const piece: number[] = [];
    for (let j = 1; j < pieces; j++) for (let c = 0; c < channels; c++) if (m[c]! * headroom > j * bound) (picks.push(c), piece.push(j));
    if (!picks.length || picks.length > maxAdded * channels) continue;
    // the feeding conv computes each picked channel again
    const ew = inits.get(p.inputs[1]!)!;
    const eAxis = attrString(p, 'kernel_layout', 'HWIO') === 'OHWI' ? 0 : ew.rank - 1;
    inits.set(p.inputs[1]!, appendAlong(ew, eAxis, picks));
    if (p.inputs[2]) inits.set(p.inputs[2], appendAlong(inits.get(p.inputs[2])!, 0, picks));
    // the depthwise conv: the copies' kernels, their biases lowered by j T
    const d = edit(dw);
    const dAxis = gr.producers[0]!.axis;
    inits.set(dw.inputs[1]!, appendAlong(inits.get(dw.inputs[1]!)!, dAxis, picks));
    const bias = dw.inputs[2] ? inits.get(dw.inputs[2])! : Tensor.float32([channels], new Float32Array(channels));
    const bName = dw.inputs[2] || fresh(`${z}_split_bias`);
    inits.set(bName, appendAlong(bias.reshape([channels]), 0, picks, (x, k) => x - piece[k]! * bound));
    while (d.inputs.length < 3) d.inputs.push('');
    d.inputs[2] = bName;
    d.attrs.group = { type: 'int', value: channels + picks.length };
    // the Clip's bound lowered to T
    const cl = edit(clip);
    if (clip.inputs[2]) {
      const tName = fresh(`${y}_split_bound`);
      inits.set(tName, Tensor.float32([], [bound]));
      result.clips.push({ node: clip.name, bound: clip.inputs[2], attr: undefined });
      cl.inputs[2] = tName;
    } else {
      result.clips.push({ node: clip.name, bound: undefined, attr: hi });
      cl.attrs.max = { type: 'float', value: bound };
    }
    // the consumers read every copy with its channel's weights
    for (const k of gr.consumers) inits.set(k.node.inputs[1]!, appendAlong(inits.get(k.node.inputs[1]!)!, k.axis, picks));
    Object.assign(s, { min: Math.min(s.min, 0), max: bound });
    for (const x of [...chain, z, y]) stale.add(x);
    result.split.push({ value: y, channels, added: picks.length, bound });
  }
  if (!result.split.length) return result;
  result.graph = {
    ...g,
    nodes: g.nodes.map((n) => nodes.get(n) ?? n),
    initializers: inits,
    ...(g.valueInfo ? { valueInfo: g.valueInfo.filter((v) => !stale.has(v.name)) } : {}),
  };
  return result;
}
