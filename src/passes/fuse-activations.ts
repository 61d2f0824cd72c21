// Activations that exporters spell out as several ops, collapsed back into the one op that
// computes them: a TFLite builtin (fewer ops, and the interpreter's own kernel, int8 included),
// a Keras activation (GELU: 'gelu'; TF.js layers has none of erf):
//   GELU (erf)   x·0.5·(1 + erf(x/√2))      PyTorch's nn.GELU() at ONNX opset <= 17
//   GELU (tanh)  x·0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   nn.GELU(approximate='tanh'),
//                x³ as Pow(x, 3) or x·(x·x)
//   HARD_SWISH   x·HardSigmoid(x) with alpha 1/6, beta 1/2    nn.Hardswish at opset < 14
// The products may associate either way ((x·p)·0.5, (x·0.5)·p, x·(p·0.5)), with constants on
// either side. A pattern is fused only when its inner values feed nothing else.
import type { Graph, Node } from '../ir/graph.js';
import { attrFloat } from '../ir/graph.js';

interface View {
  g: Graph;
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  outputs: Set<string>;
}

const plain = (n: Node | undefined, op: string): n is Node => !!n && n.opType === op && (!n.domain || n.domain === 'ai.onnx');

/** The value of a one-element float constant, or undefined. */
function scalarOf(v: View, name: string | undefined): number | undefined {
  const t = name ? v.g.initializers.get(name) : undefined;
  if (!t || t.size !== 1 || (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'float64')) return undefined;
  return t.toNumbers()[0];
}

const near = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) <= 1e-4 * Math.abs(b);

/** The only reader of `value` (which is no graph output), or undefined. */
function only(v: View, value: string | undefined): Node | undefined {
  if (!value || v.outputs.has(value)) return undefined;
  const cs = v.consumers.get(value) ?? [];
  return cs.length === 1 ? cs[0] : undefined;
}

/** For a binary op with a constant operand near `c`: the other operand. */
function otherThanConst(v: View, n: Node, c: number): string | undefined {
  if (near(scalarOf(v, n.inputs[1]), c)) return n.inputs[0];
  if (near(scalarOf(v, n.inputs[0]), c)) return n.inputs[1];
  return undefined;
}

/** The other operand of a binary node, given one of them. */
const otherOf = (n: Node, value: string): string | undefined => (n.inputs[0] === value ? n.inputs[1] : n.inputs[1] === value ? n.inputs[0] : undefined);

/**
 * From `p` = 1 + f(x) to y = 0.5·x·p: the output y and the nodes used, for the three
 * associations of the product.
 */
function halfXTimes(v: View, p: string, x: string): { y: string; nodes: Node[] } | undefined {
  const m = only(v, p);
  if (!plain(m, 'Mul')) return undefined;
  const other = otherOf(m, p)!;
  if (other === x) {
    // (x·p)·0.5
    const h = only(v, m.outputs[0]);
    return plain(h, 'Mul') && otherThanConst(v, h, 0.5) === m.outputs[0] ? { y: h.outputs[0]!, nodes: [m, h] } : undefined;
  }
  const hx = v.producer.get(other);
  if (plain(hx, 'Mul') && only(v, other) === m && otherThanConst(v, hx, 0.5) === x) return { y: m.outputs[0]!, nodes: [hx, m] };
  if (near(scalarOf(v, other), 0.5)) {
    // x·(p·0.5)
    const xm = only(v, m.outputs[0]);
    return plain(xm, 'Mul') && otherOf(xm, m.outputs[0]!) === x ? { y: xm.outputs[0]!, nodes: [m, xm] } : undefined;
  }
  return undefined;
}

/** 1 + value: the Add's output. */
function onePlus(v: View, value: string): Node | undefined {
  const a = only(v, value);
  return plain(a, 'Add') && otherThanConst(v, a, 1) === value ? a : undefined;
}

interface Match {
  x: string;
  y: string;
  nodes: Node[];
  fused: Omit<Node, 'inputs' | 'outputs'>;
}

function geluErf(v: View, erf: Node): Match | undefined {
  const d = erf.inputs[0]!;
  const scale = v.producer.get(d);
  if (!scale || only(v, d) !== erf) return undefined;
  const x = plain(scale, 'Div') ? (near(scalarOf(v, scale.inputs[1]), Math.SQRT2) ? scale.inputs[0] : undefined) : plain(scale, 'Mul') ? otherThanConst(v, scale, Math.SQRT1_2) : undefined;
  if (!x) return undefined;
  const add = onePlus(v, erf.outputs[0]!);
  const tail = add && halfXTimes(v, add.outputs[0]!, x);
  if (!add || !tail) return undefined;
  return { x, y: tail.y, nodes: [scale, erf, add, ...tail.nodes], fused: { name: erf.name.replace(/\/Erf$/, '') || erf.name, opType: 'Gelu', domain: '', attrs: { approximate: { type: 'string', value: 'none' } } } };
}

/** x³ as Pow(x, 3), x·(x·x) or (x·x)·x: x and the nodes, or undefined. */
function cubeOf(v: View, value: string, x: string): Node[] | undefined {
  const n = v.producer.get(value);
  if (!n || only(v, value) === undefined) return undefined;
  if (n.opType === 'Pow' && !n.domain) return n.inputs[0] === x && near(scalarOf(v, n.inputs[1]), 3) ? [n] : undefined;
  if (n.opType !== 'Mul' || n.domain) return undefined;
  const sq = n.inputs[0] === x ? n.inputs[1] : n.inputs[1] === x ? n.inputs[0] : undefined;
  const s = sq ? v.producer.get(sq) : undefined;
  return plain(s, 'Mul') && s.inputs[0] === x && s.inputs[1] === x && only(v, sq) === n ? [s, n] : undefined;
}

function geluTanh(v: View, tanh: Node): Match | undefined {
  const k = tanh.inputs[0]!;
  const km = v.producer.get(k);
  if (!plain(km, 'Mul') || only(v, k) !== tanh) return undefined;
  const a = otherThanConst(v, km, Math.sqrt(2 / Math.PI));
  const add = a ? v.producer.get(a) : undefined;
  if (!plain(add, 'Add') || only(v, a) !== km) return undefined;
  for (const [x, m3] of [
    [add.inputs[0]!, add.inputs[1]!],
    [add.inputs[1]!, add.inputs[0]!],
  ] as const) {
    const c = v.producer.get(m3);
    if (!plain(c, 'Mul') || only(v, m3) !== add) continue;
    const cube = otherThanConst(v, c, 0.044715);
    const cubeNodes = cube ? cubeOf(v, cube, x) : undefined;
    if (!cubeNodes) continue;
    const one = onePlus(v, tanh.outputs[0]!);
    const tail = one && halfXTimes(v, one.outputs[0]!, x);
    if (!one || !tail) return undefined;
    return { x, y: tail.y, nodes: [...cubeNodes, c, add, km, tanh, one, ...tail.nodes], fused: { name: tanh.name.replace(/\/Tanh$/, '') || tanh.name, opType: 'Gelu', domain: '', attrs: { approximate: { type: 'string', value: 'tanh' } } } };
  }
  return undefined;
}

function hardSwish(v: View, hs: Node): Match | undefined {
  if (!near(attrFloat(hs, 'alpha', 0.2), 1 / 6) || !near(attrFloat(hs, 'beta', 0.5), 0.5)) return undefined;
  const x = hs.inputs[0]!;
  const m = only(v, hs.outputs[0]);
  if (!plain(m, 'Mul') || otherOf(m, hs.outputs[0]!) !== x) return undefined;
  return { x, y: m.outputs[0]!, nodes: [hs, m], fused: { name: m.name, opType: 'HardSwish', domain: '', attrs: {} } };
}

const STARTS: Record<string, (v: View, n: Node) => Match | undefined> = { Erf: geluErf, Tanh: geluTanh, HardSigmoid: hardSwish };

/** The graph with every spelled-out GELU / hard-swish replaced by one Gelu / HardSwish node. */
export function fuseActivationPatterns(g: Graph): Graph {
  const v: View = { g, producer: new Map(), consumers: new Map(), outputs: new Set(g.outputs.map((o) => o.name)) };
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) v.producer.set(o, n);
    for (const i of n.inputs) if (i) (v.consumers.get(i) ?? v.consumers.set(i, []).get(i)!).push(n);
  }
  const removed = new Set<Node>();
  const replacement = new Map<Node, Node>();
  for (const n of g.nodes) {
    if (removed.has(n) || n.domain) continue;
    const m = STARTS[n.opType]?.(v, n);
    if (!m || m.nodes.some((k) => removed.has(k))) continue;
    for (const k of m.nodes) removed.add(k);
    // the fused node sits where the pattern's last node was (its inputs are all computed by then)
    replacement.set(m.nodes[m.nodes.length - 1]!, { ...m.fused, inputs: [m.x], outputs: [m.y] });
  }
  if (!removed.size) return g;
  const nodes = g.nodes.flatMap((n) => (replacement.has(n) ? [replacement.get(n)!] : removed.has(n) ? [] : [n]));
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = new Map([...g.initializers].filter(([k]) => read.has(k) || v.outputs.has(k)));
  return { ...g, nodes, initializers };
}
