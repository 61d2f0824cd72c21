// The graph builder/rewriter every pass is written on: fresh unique names, adding, replacing
// and removing nodes, rewiring consumers, dead-node and dead-initializer sweeps, and a
// topologically ordered graph at the end. Passes are Graph -> Graph: the rewriter works on
// copies of the node list, the initializer map and the I/O lists, never on the source graph;
// nodes are treated as immutable (a change makes a new node object).
import { GraphError } from './errors.js';
import { constantValue, implicitInputs, subgraphsOf, topologicalOrder, type Attr, type Graph, type Node, type ValueInfo } from './graph.js';
import type { Tensor } from './tensor.js';

export interface NodeSpec {
  opType: string;
  domain?: string;
  inputs: string[];
  /** output value names; default: one fresh name from the node name or op type */
  outputs?: string[];
  attrs?: Record<string, Attr>;
  /** node name; made unique (default: from the op type) */
  name?: string;
  doc?: string;
}

const isOnnxDomain = (d: string): boolean => d === '' || d === 'ai.onnx';

/** Every value name read inside subgraphs (If / Loop / Scan bodies see outer values). */
export function subgraphReads(nodes: readonly Node[], into: Set<string> = new Set()): Set<string> {
  for (const n of nodes) {
    for (const a of Object.values(n.attrs)) {
      const gs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const g of gs) {
        for (const m of g.nodes) for (const i of m.inputs) if (i) into.add(i);
        for (const o of g.outputs) into.add(o.name);
        subgraphReads(g.nodes, into);
      }
    }
  }
  return into;
}

/**
 * `graph` (a subgraph) reading the outer value `to` wherever it read `from`: its nodes' inputs,
 * its outputs and its own subgraphs, unless it defines `from` itself. The same object when it
 * does not read `from`.
 */
export function renameOuterRead(graph: Graph, from: string, to: string): Graph {
  if (graph.inputs.some((v) => v.name === from) || graph.initializers.has(from) || graph.nodes.some((n) => n.outputs.includes(from))) return graph;
  let changed = false;
  const nodes = graph.nodes.map((n) => {
    const next = renameInNode(n, from, to);
    if (next !== n) changed = true;
    return next;
  });
  const outputs = graph.outputs.map((o) => (o.name === from ? ((changed = true), { ...o, name: to }) : o));
  return changed ? { ...graph, nodes, outputs } : graph;
}

/** A node reading `to` instead of `from`, directly and in its subgraphs; the same node when it reads neither. */
function renameInNode(n: Node, from: string, to: string): Node {
  let attrs: Record<string, Attr> | undefined;
  if (subgraphsOf(n).length) {
    for (const [k, a] of Object.entries(n.attrs)) {
      if (a.type === 'graph') {
        const g = renameOuterRead(a.value, from, to);
        if (g !== a.value) (attrs ??= { ...n.attrs })[k] = { type: 'graph', value: g };
      } else if (a.type === 'graphs') {
        const gs = a.value.map((g) => renameOuterRead(g, from, to));
        if (gs.some((g, i) => g !== a.value[i])) (attrs ??= { ...n.attrs })[k] = { type: 'graphs', value: gs };
      }
    }
  }
  const reads = n.inputs.includes(from);
  if (!reads && !attrs) return n;
  return { ...n, inputs: reads ? n.inputs.map((i) => (i === from ? to : i)) : n.inputs, attrs: attrs ?? n.attrs };
}

export class GraphRewriter {
  readonly source: Graph;
  private nodeList: Node[];
  readonly initializers: Map<string, Tensor>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  readonly opsets: Record<string, number>;
  private valueInfo: Map<string, ValueInfo>;
  private readonly taken = new Set<string>();
  private readonly takenNodeNames = new Set<string>();
  private readonly replacedBy = new Map<Node, Node>();
  /**
   * Each node's place: increasing along the node list (a new node is appended, a replacement takes
   * its predecessor's key, removals keep the order), so consumers can be kept in node order and a
   * node found by binary search.
   */
  private readonly order = new Map<Node, number>();
  private nextKey = 0;
  /**
   * Built on the first query, then kept up to date by every edit (rebuilding it after each edit
   * made passes quadratic: 0.4 s to lower densenet121). A source graph with a value produced
   * twice (invalid, reported by validation) is indexed from scratch after every edit instead.
   */
  private index?: { producer: Map<string, Node>; consumers: Map<string, Node[]>; subgraphReads: Map<string, number>; exact: boolean };

  constructor(graph: Graph) {
    this.source = graph;
    this.nodeList = [...graph.nodes];
    for (const n of this.nodeList) this.order.set(n, this.nextKey++);
    this.initializers = new Map(graph.initializers);
    this.inputs = [...graph.inputs];
    this.outputs = [...graph.outputs];
    this.opsets = { ...graph.opsets };
    this.valueInfo = new Map((graph.valueInfo ?? []).map((v) => [v.name, v]));
    for (const v of graph.inputs) this.taken.add(v.name);
    for (const v of graph.outputs) this.taken.add(v.name);
    for (const k of graph.initializers.keys()) this.taken.add(k);
    for (const n of graph.nodes) {
      for (const o of n.outputs) if (o) this.taken.add(o);
      for (const i of n.inputs) if (i) this.taken.add(i);
      if (n.name) this.takenNodeNames.add(n.name);
    }
    for (const v of graph.valueInfo ?? []) this.taken.add(v.name);
  }

  /** The current nodes, in insertion order (not necessarily topological until `toGraph`). */
  get nodes(): readonly Node[] {
    return this.nodeList;
  }

  // ---- names ----

  /** A value name not used anywhere in the graph, based on `base`; reserved at once. */
  freshName(base: string): string {
    let name = base || 'value';
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  /** A node name not used by another node, based on `base`; reserved at once. */
  freshNodeName(base: string): string {
    let name = base || 'node';
    for (let i = 1; this.takenNodeNames.has(name); i++) name = `${base}_${i}`;
    this.takenNodeNames.add(name);
    return name;
  }

  // ---- queries ----

  private idx() {
    if (!this.index) {
      this.index = { producer: new Map(), consumers: new Map(), subgraphReads: new Map(), exact: true };
      for (const n of this.nodeList) this.indexAdd(n);
    }
    return this.index;
  }

  /** Enter `n` in the index (when one is built); its key must be set. */
  private indexAdd(n: Node): void {
    const ix = this.index;
    if (!ix) return;
    for (const o of n.outputs) {
      if (!o) continue;
      if (ix.producer.has(o)) ix.exact = false;
      ix.producer.set(o, n);
    }
    const key = this.order.get(n)!;
    for (const i of new Set(n.inputs)) {
      if (!i) continue;
      const c = ix.consumers.get(i);
      if (!c) {
        ix.consumers.set(i, [n]);
        continue;
      }
      let at = c.length; // usually appended: the node is the newest
      while (at > 0 && this.order.get(c[at - 1]!)! > key) at--;
      // a new array: a caller may be iterating the one consumers() gave it
      ix.consumers.set(i, [...c.slice(0, at), n, ...c.slice(at)]);
    }
    for (const v of subgraphReads([n])) ix.subgraphReads.set(v, (ix.subgraphReads.get(v) ?? 0) + 1);
  }

  /** Take `n` out of the index (when one is built). */
  private indexRemove(n: Node): void {
    const ix = this.index;
    if (!ix) return;
    if (!ix.exact) {
      this.index = undefined;
      return;
    }
    for (const o of n.outputs) if (o && ix.producer.get(o) === n) ix.producer.delete(o);
    for (const i of new Set(n.inputs)) {
      const c = i ? ix.consumers.get(i) : undefined;
      if (!c) continue;
      const rest = c.filter((m) => m !== n);
      if (rest.length) ix.consumers.set(i, rest);
      else ix.consumers.delete(i);
    }
    for (const v of subgraphReads([n])) {
      const k = ix.subgraphReads.get(v)! - 1;
      if (k > 0) ix.subgraphReads.set(v, k);
      else ix.subgraphReads.delete(v);
    }
  }

  /** Where `node` is in the node list (binary search on the order keys), or -1. */
  private position(node: Node): number {
    const key = this.order.get(node);
    if (key === undefined) return -1;
    let lo = 0;
    let hi = this.nodeList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = this.order.get(this.nodeList[mid]!)!;
      if (k === key) return this.nodeList[mid] === node ? mid : -1;
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The node producing `value`, if a node does. */
  producer(value: string): Node | undefined {
    return this.idx().producer.get(value);
  }

  /** The nodes reading `value` (each once, in node order). */
  consumers(value: string): readonly Node[] {
    return this.idx().consumers.get(value) ?? [];
  }

  isGraphOutput(value: string): boolean {
    return this.outputs.some((o) => o.name === value);
  }

  isGraphInput(value: string): boolean {
    return this.inputs.some((v) => v.name === value) && !this.initializers.has(value);
  }

  /** Read by a subgraph (If/Loop/Scan body): such a value must keep its name and meaning. */
  isReadBySubgraph(value: string): boolean {
    return this.idx().subgraphReads.has(value);
  }

  /** True when something other than the nodes (a graph output or a subgraph) sees `value`. */
  isPinned(value: string): boolean {
    return this.isGraphOutput(value) || this.isReadBySubgraph(value);
  }

  /** The node reading `value` when it is its only reader and nothing else sees it. */
  soleConsumer(value: string): Node | undefined {
    const c = this.consumers(value);
    return c.length === 1 && !this.isPinned(value) ? c[0] : undefined;
  }

  /** A constant value: an initializer or the output of a (default-domain) Constant node. */
  constant(value: string): Tensor | undefined {
    if (!value) return undefined;
    const t = this.initializers.get(value);
    if (t) return t;
    const p = this.producer(value);
    if (!p || p.opType !== 'Constant' || !isOnnxDomain(p.domain) || p.outputs.length !== 1) return undefined;
    try {
      return constantValue(p);
    } catch {
      return undefined; // a malformed Constant is left for the runtime to report with its node
    }
  }

  valueInfoOf(value: string): ValueInfo | undefined {
    return this.valueInfo.get(value) ?? this.inputs.find((v) => v.name === value) ?? this.outputs.find((v) => v.name === value);
  }

  // ---- edits ----

  /** Add a node (appended; `toGraph` orders). Returns the node, with fresh names where not given. */
  addNode(spec: NodeSpec): Node {
    const name = this.freshNodeName(spec.name ?? spec.opType);
    const outputs = spec.outputs ?? [this.freshName(name)];
    for (const o of outputs) {
      if (o && this.producer(o)) throw new GraphError(`value '${o}' is already produced by node '${this.producer(o)!.name}'`);
      if (o) this.taken.add(o);
    }
    const node: Node = { name, opType: spec.opType, domain: spec.domain ?? '', inputs: [...spec.inputs], outputs, attrs: { ...(spec.attrs ?? {}) } };
    if (spec.doc !== undefined) node.doc = spec.doc;
    this.nodeList.push(node);
    this.order.set(node, this.nextKey++);
    this.indexAdd(node);
    if (node.domain && !isOnnxDomain(node.domain) && this.opsets[node.domain] === undefined) this.opsets[node.domain] = 1;
    return node;
  }

  /** Add one node and return its (first) output's name. */
  add(spec: NodeSpec): string {
    return this.addNode(spec).outputs[0]!;
  }

  /** Add an initializer under a fresh name based on `base`; returns the name. */
  addInitializer(base: string, t: Tensor): string {
    const name = this.freshName(base);
    this.initializers.set(name, t);
    return name;
  }

  /** Replace `old` by `next` (same place in the node list); the replacement keeps old's name unless given one. */
  replaceNode(old: Node, next: Partial<Node>): Node {
    const i = this.position(old);
    if (i < 0) throw new GraphError(`node '${old.name}' is not in the graph`);
    const node: Node = { ...old, ...next, inputs: [...(next.inputs ?? old.inputs)], outputs: [...(next.outputs ?? old.outputs)], attrs: { ...(next.attrs ?? old.attrs) } };
    this.indexRemove(old);
    this.nodeList[i] = node;
    this.order.set(node, this.order.get(old)!);
    this.order.delete(old);
    this.indexAdd(node);
    this.replacedBy.set(old, node);
    if (node.domain && !isOnnxDomain(node.domain) && this.opsets[node.domain] === undefined) this.opsets[node.domain] = 1;
    return node;
  }

  /** The node that stands for `node` now (following replaceNode / replaceUses / renameValue), or `node`. */
  latest(node: Node): Node {
    let n = node;
    for (let next = this.replacedBy.get(n); next; next = this.replacedBy.get(n)) n = next;
    return n;
  }

  removeNode(node: Node): void {
    const i = this.position(node);
    if (i < 0) throw new GraphError(`node '${node.name}' is not in the graph`);
    this.indexRemove(node);
    this.nodeList.splice(i, 1);
    this.order.delete(node);
  }

  /**
   * Make every node that reads `from` read `to` instead (except the nodes in `except`), the
   * subgraphs of If / Loop / Scan nodes that read it included. With `outputs`, a graph output
   * named `from` becomes `to` too (keeping its declared type).
   */
  replaceUses(from: string, to: string, options: { except?: ReadonlySet<Node>; outputs?: boolean } = {}): void {
    if (from === to) return;
    for (const n of [...this.consumers(from)]) {
      if (options.except?.has(n)) continue;
      this.replaceNode(n, { inputs: n.inputs.map((i) => (i === from ? to : i)) });
    }
    if (this.isReadBySubgraph(from)) {
      for (const n of this.nodeList.filter((m) => !options.except?.has(m) && implicitInputs(m).includes(from))) {
        const next = renameInNode(n, from, to);
        if (next !== n) this.replaceNode(n, { inputs: next.inputs, attrs: next.attrs });
      }
    }
    if (options.outputs) this.outputs = this.outputs.map((o) => (o.name === from ? { ...o, name: to } : o));
  }

  /**
   * Give the value `from` the name `to` where it is produced (node output, graph input) and
   * everywhere it is read. Used to keep graph output names when a pass replaces their producer.
   */
  renameValue(from: string, to: string): void {
    if (from === to) return;
    if (this.producer(to) || this.initializers.has(to) || this.inputs.some((v) => v.name === to)) throw new GraphError(`cannot rename '${from}' to '${to}': '${to}' exists`);
    const p = this.producer(from);
    if (p) this.replaceNode(p, { outputs: p.outputs.map((o) => (o === from ? to : o)) });
    this.inputs = this.inputs.map((v) => (v.name === from ? { ...v, name: to } : v));
    const t = this.initializers.get(from);
    if (t) {
      this.initializers.delete(from);
      this.initializers.set(to, t);
    }
    this.replaceUses(from, to, { outputs: true });
    const vi = this.valueInfo.get(from);
    if (vi) {
      this.valueInfo.delete(from);
      this.valueInfo.set(to, { ...vi, name: to });
    }
    this.taken.add(to);
  }

  setValueInfo(v: ValueInfo): void {
    this.valueInfo.set(v.name, v);
  }

  dropValueInfo(name: string): void {
    this.valueInfo.delete(name);
  }

  // ---- sweeps ----

  /**
   * Remove nodes none of whose outputs is read (by a node, a subgraph or the graph's outputs),
   * repeatedly, so whole dead chains go. Returns how many were removed.
   */
  sweepDeadNodes(): number {
    const isDead = (n: Node) => this.order.has(n) && n.outputs.length > 0 && n.outputs.every((o) => !o || (!this.consumers(o).length && !this.isPinned(o)));
    let removed = 0;
    // the first round looks at every node, later rounds only at the producers of what the last one removed
    let candidates: Iterable<Node> = this.nodeList;
    for (;;) {
      const dead = [...new Set(candidates)].filter(isDead);
      if (!dead.length) return removed;
      const d = new Set(dead);
      this.nodeList = this.nodeList.filter((n) => !d.has(n));
      for (const n of dead) {
        this.indexRemove(n);
        this.order.delete(n);
      }
      const next = new Set<Node>();
      for (const n of dead) {
        for (const i of n.inputs) {
          const p = i ? this.producer(i) : undefined;
          if (p) next.add(p);
        }
      }
      removed += dead.length;
      candidates = next;
    }
  }

  /** Remove initializers nothing reads (graph inputs that are initializers too are kept). Returns how many. */
  sweepDeadInitializers(): number {
    let removed = 0;
    const declared = new Set(this.inputs.map((v) => v.name));
    for (const name of [...this.initializers.keys()]) {
      if (declared.has(name) || this.consumers(name).length || this.isPinned(name)) continue;
      this.initializers.delete(name);
      removed++;
    }
    return removed;
  }

  /** Both sweeps. */
  sweep(): void {
    this.sweepDeadNodes();
    this.sweepDeadInitializers();
  }

  // ---- result ----

  /** The rewritten graph, nodes in topological order (stable: the insertion order where it can). */
  toGraph(): Graph {
    const g: Graph = {
      ...this.source,
      nodes: [...this.nodeList],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: new Map(this.initializers),
      opsets: { ...this.opsets },
    };
    g.nodes = topologicalOrder(g);
    const live = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
    for (const n of g.nodes) for (const o of n.outputs) if (o) live.add(o);
    const vi = [...this.valueInfo.values()].filter((v) => live.has(v.name));
    if (this.source.valueInfo || vi.length) g.valueInfo = vi;
    else delete g.valueInfo;
    const used = new Set(g.nodes.map((n) => n.domain).filter((d) => d && !isOnnxDomain(d)));
    for (const d of Object.keys(g.opsets)) if (d && !isOnnxDomain(d) && !used.has(d) && this.source.opsets[d] === undefined) delete g.opsets[d];
    return g;
  }
}
