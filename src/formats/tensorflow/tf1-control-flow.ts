// TensorFlow 1's dataflow control flow, as frozen GraphDefs (and TF.js graph models converted from
// them) hold it, rewritten before import into the functional form control-flow.ts reads:
// - a while loop (tf.while_loop, dynamic_rnn) is a frame: Enter -> Merge <- NextIteration,
//   LoopCond on the Merges, Switch(Merge, LoopCond) whose output 1 runs the body and output 0
//   leaves through Exit. Each frame becomes one While over synthesized cond / body functions;
//   its loop variables are the non-constant Enters, then the constant (is_constant) Enters, then
//   any value the frame reads from outside without an Enter (a Const is copied in instead).
// - a cond (tf.cond, smart_cond in batch norm and dropout) is a Switch(x, pred) whose outputs 0
//   and 1 start the false and true branches and a Merge that joins them. Every node gets the
//   branches it lies in from its inputs (control inputs too: a branch's Consts hang on the
//   pivot by '^cond/switch_t'); each Merge outside any branch becomes one output of an If whose
//   then / else functions are the nodes of that branch, reading the Switches' inputs. A constant
//   predicate (a Const, or a placeholder fixed by --set) then takes its branch in line (ifOp),
//   so only the branch TensorFlow would run is ever converted: a dead branch is never read.
// Frames and conds nested in a body or branch stay in its function, as TF1 nodes, and are
// rewritten when that function is converted (graphDefToIr calls this again on it).
import { FormatError, GraphError, UnsupportedError } from '../../ir/errors.js';
import type { tensorflow } from '../generated/tensorflow.js';
import { outputKey, parseInput, type AttrValue, type GraphDef, type InputRef, type NodeDef } from './graph-def.js';
import { candidateOutputs, type GraphDefReadOptions } from './to-ir.js';

type FunctionDef = tensorflow.FunctionDef.$Properties;

const DT_INT32 = 3;
const DT_BOOL = 10;

/** The Ref variants (RefSwitch, ...) of graphs frozen from variables behave as the plain ops. */
const REF_OPS: Record<string, string> = { RefSwitch: 'Switch', RefMerge: 'Merge', RefEnter: 'Enter', RefExit: 'Exit', RefNextIteration: 'NextIteration', RefIdentity: 'Identity' };
const FLOW_OPS = new Set(['Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'LoopCond']);

function kind(n: NodeDef): string {
  const op = n.op ?? '';
  return REF_OPS[op] ?? op;
}

const text = new TextDecoder('utf-8');

/**
 * The GraphDef with its TF1 control flow (what `outputs` need of it) as If / While nodes over new
 * library functions, and the options to read it with (that library, the outputs made explicit);
 * the same objects when it has none.
 */
export function functionalizeTf1(gd: GraphDef, options: GraphDefReadOptions): { gd: GraphDef; options: GraphDefReadOptions } {
  const nodes = gd.node ?? [];
  if (!nodes.some((n) => FLOW_OPS.has(kind(n)))) return { gd, options };
  const outputs = options.outputs?.length ? options.outputs : candidateOutputs(nodes);
  const rw = new Rewriter(nodes, options.file, outputs, options.library ?? gd.library);
  if (!rw.touched()) return { gd, options };
  rw.loops();
  rw.conds();
  rw.leftovers();
  const library = { ...(options.library ?? gd.library ?? {}), function: [...(options.library ?? gd.library)?.function ?? [], ...rw.functions] };
  return { gd: { ...gd, node: rw.nodes, library }, options: { ...options, outputs, library } };
}

/** Where a node lies among a graph's conds: the (predicate, side) of each Switch output it follows, outermost first. */
type Ctx = readonly { pred: string; side: number }[];

/**
 * What a reference inside a body or branch becomes: a function argument, a node of the function,
 * nothing (a control input to what stays outside), or another reference (a Const that an Enter or
 * a Switch passes in, copied into the function so that it stays a constant there).
 */
type Resolved = { arg: string } | { node: NodeDef } | { drop: true } | { alias: string };

const isConst = (n: NodeDef): boolean => kind(n) === 'Const' && !(n.input ?? []).some((i) => !i.startsWith('^'));

/** The data input of a node (an Enter's, a Switch's) when it is a Const: the reference to it. */
function constInput(n: NodeDef, byName: Map<string, NodeDef>): string | undefined {
  const x = (n.input ?? [])[0];
  if (!x || x.startsWith('^')) return undefined;
  const p = byName.get(parseInput(x).node);
  return p && isConst(p) ? x : undefined;
}

/** The TF node names cannot hold '#' (TensorFlow's node name pattern), so arguments cannot clash with body nodes. */
const argName = (i: number) => `arg#${i}`;

class Rewriter {
  nodes: NodeDef[];
  readonly functions: FunctionDef[] = [];
  private byName = new Map<string, NodeDef>();
  private readonly names = new Set<string>();
  private readonly fnNames: Set<string>;

  constructor(
    nodes: readonly NodeDef[],
    readonly file: string,
    readonly outputs: string[],
    library: GraphDef['library'],
  ) {
    this.nodes = [...nodes];
    for (const n of nodes) this.names.add(n.name ?? '');
    this.fnNames = new Set((library?.function ?? []).map((f) => f.signature?.name ?? ''));
    this.index();
  }

  private index(): void {
    this.byName = new Map(this.nodes.map((n) => [n.name ?? '', n]));
  }

  private node(r: InputRef, from: string): NodeDef {
    const n = this.byName.get(r.node);
    if (!n) throw new FormatError(`node '${from}' reads '${r.control ? '^' : ''}${outputKey(r.node, r.index)}', which is not a node of the graph`, { file: this.file });
    return n;
  }

  /** Inputs of a node, control inputs to nodes that are gone (a rewritten frame's) left out. */
  private inputs(n: NodeDef): InputRef[] {
    return (n.input ?? []).map(parseInput).filter((r) => !r.control || this.byName.has(r.node));
  }

  /** The nodes the outputs need, through data and control inputs. */
  private needed(): Set<string> {
    const need = new Set<string>();
    const stack = this.outputs.map((o) => parseInput(o).node).filter((n) => this.byName.has(n));
    while (stack.length) {
      const name = stack.pop()!;
      if (need.has(name) || !this.byName.has(name)) continue;
      need.add(name);
      for (const r of this.inputs(this.byName.get(name)!)) if (!need.has(r.node)) stack.push(r.node);
    }
    return need;
  }

  touched(): boolean {
    for (const name of this.needed()) if (FLOW_OPS.has(kind(this.byName.get(name)!))) return true;
    return false;
  }

  /** The needed nodes, producers first; a while loop's NextIteration -> Merge back edges left out when `loops`. */
  private order(need: Set<string>, loops: boolean): NodeDef[] {
    const state = new Map<string, 1 | 2>();
    const out: NodeDef[] = [];
    for (const root of need) {
      if (state.has(root)) continue;
      const stack: [NodeDef, InputRef[], number][] = [];
      const push = (n: NodeDef) => {
        state.set(n.name ?? '', 1);
        const merge = loops && kind(n) === 'Merge';
        stack.push([n, this.inputs(n).filter((r) => !(merge && kind(this.node(r, n.name ?? '')) === 'NextIteration')), 0]);
      };
      push(this.byName.get(root)!);
      while (stack.length) {
        const top = stack[stack.length - 1]!;
        if (top[2] < top[1].length) {
          const r = top[1][top[2]++]!;
          const dep = this.node(r, top[0].name ?? '');
          const s = state.get(r.node);
          if (s === 1) throw new GraphError(`'${this.file}': the graph has a cycle through node '${r.node}'${loops ? " (not a while loop's NextIteration -> Merge)" : ''}`);
          if (s !== 2) push(dep);
        } else {
          state.set(top[0].name ?? '', 2);
          out.push(top[0]);
          stack.pop();
        }
      }
    }
    return out;
  }

  private unique(base: string, taken: Set<string>): string {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  }

  // ---- while frames -------------------------------------------------------------------------

  /** Every while frame whose Enters read values outside any frame becomes a While. */
  loops(): void {
    const need = this.needed();
    const order = this.order(need, true);
    const frameOf = new Map<string, string>();
    const parent = new Map<string, string>();
    const within = (f: string, outer: string): boolean => {
      for (let x = f, hops = 0; hops <= parent.size + 1; x = parent.get(x) ?? '', hops++) {
        if (x === outer) return true;
        if (x === '') return false;
      }
      return false;
    };
    const join = (a: string, b: string, at: string): string => {
      if (within(b, a)) return b;
      if (within(a, b)) return a;
      throw new FormatError(`node '${at}' reads values of two while frames, '${a}' and '${b}'`, { file: this.file });
    };
    for (const n of order) {
      const name = n.name ?? '';
      const k = kind(n);
      const ins = this.inputs(n);
      const data = ins.filter((r) => !r.control);
      let frame = '';
      if (k === 'Enter') {
        if (!data.length) throw new FormatError(`Enter '${name}' has no input`, { file: this.file });
        const fname = n.attr?.frame_name?.s ? text.decode(n.attr.frame_name.s) : '';
        if (!fname) throw new FormatError(`Enter '${name}' names no frame (attribute frame_name)`, { file: this.file });
        const outer = frameOf.get(data[0]!.node) ?? '';
        const known = parent.get(fname);
        if (known === undefined) {
          if (within(outer, fname)) throw new FormatError(`Enter '${name}' enters while frame '${fname}' from inside it`, { file: this.file });
          parent.set(fname, outer);
        } else if (known !== outer) {
          throw new FormatError(`while frame '${fname}' is entered from two frames ('${known}' by Enter '${name}' and '${outer}')`, { file: this.file });
        }
        frame = fname;
      } else if (k === 'Exit') {
        const inner = data.length ? (frameOf.get(data[0]!.node) ?? '') : '';
        if (!inner) throw new FormatError(`Exit '${name}' reads '${n.input?.[0] ?? ''}', which is in no while frame`, { file: this.file });
        frame = parent.get(inner)!;
      } else {
        const merge = k === 'Merge';
        for (const r of ins) {
          if (merge && kind(this.byName.get(r.node)!) === 'NextIteration') continue;
          frame = join(frame, frameOf.get(r.node) ?? '', name);
        }
        if (merge && data.length && data.every((r) => kind(this.byName.get(r.node)!) === 'NextIteration')) {
          throw new FormatError(`Merge '${name}' merges only NextIterations, no Enter`, { file: this.file });
        }
      }
      frameOf.set(name, frame);
    }
    // a NextIteration feeds a loop's Merge, nothing else
    const fedMerge = new Set<string>();
    for (const n of order) {
      for (const r of this.inputs(n)) {
        if (r.control || kind(this.byName.get(r.node)!) !== 'NextIteration') continue;
        if (kind(n) !== 'Merge') throw new FormatError(`node '${n.name ?? ''}' reads NextIteration '${r.node}', which only a while loop's Merge may`, { file: this.file });
        fedMerge.add(r.node);
      }
    }
    for (const n of order) {
      if (kind(n) === 'NextIteration' && !fedMerge.has(n.name ?? '')) throw new FormatError(`NextIteration '${n.name ?? ''}' feeds no Merge`, { file: this.file });
    }

    const top = [...new Set(order.filter((n) => kind(n) === 'Enter').map((n) => frameOf.get(n.name ?? '')!))].filter((f) => parent.get(f) === '');
    if (!top.length) return;
    const remove = new Set<string>();
    const add: NodeDef[] = [];
    const replace = new Map<string, NodeDef>();
    for (const frame of top) {
      const members = order.filter((n) => within(frameOf.get(n.name ?? '')!, frame));
      const isMember = new Set(members.map((n) => n.name ?? ''));
      this.frame(frame, members, (n) => frameOf.get(n.name ?? '') === frame, isMember, order, add, replace);
      for (const m of isMember) remove.add(m);
    }
    // (a node reading a frame's value without an Exit lies in that frame: only an output can)
    for (const o of this.outputs) {
      const r = parseInput(o);
      if (remove.has(r.node)) throw new UnsupportedError('an output inside a TF1 while loop', `'${o}' of while frame '${frameOf.get(r.node)}' in '${this.file}': name its Exit`);
    }
    this.nodes = [...this.nodes.filter((n) => !remove.has(n.name ?? '')).map((n) => replace.get(n.name ?? '') ?? n), ...add];
    this.index();
  }

  /** One top-level frame as a While (added to `add`) and its Exits as Identities of its outputs (in `replace`). */
  private frame(
    frame: string,
    members: NodeDef[],
    inFrame: (n: NodeDef) => boolean,
    isMember: Set<string>,
    order: NodeDef[],
    add: NodeDef[],
    replace: Map<string, NodeDef>,
  ): void {
    const file = this.file;
    const own = members.filter(inFrame);
    const loopConds = own.filter((n) => kind(n) === 'LoopCond');
    if (loopConds.length !== 1) throw new FormatError(`while frame '${frame}' has ${loopConds.length} LoopCond nodes, not 1`, { file });
    const loopCond = loopConds[0]!;
    const condIn = this.inputs(loopCond).find((r) => !r.control);
    if (!condIn) throw new FormatError(`LoopCond '${loopCond.name ?? ''}' has no input`, { file });

    const enters = own.filter((n) => kind(n) === 'Enter');
    const vars = enters.filter((e) => !e.attr?.is_constant?.b);
    const invariants = enters.filter((e) => e.attr?.is_constant?.b);
    const varOfMerge = new Map<string, number>();
    const nextOf: string[] = [];
    const nextIterations = new Set<string>();
    for (const [i, e] of vars.entries()) {
      const en = e.name ?? '';
      const merges = own.filter((n) => kind(n) === 'Merge' && this.inputs(n).some((r) => !r.control && r.node === en));
      if (merges.length !== 1) throw new FormatError(`Enter '${en}' of while frame '${frame}' feeds ${merges.length} Merges, not 1`, { file });
      const m = merges[0]!;
      const data = this.inputs(m).filter((r) => !r.control);
      const back = data.find((r) => r.node !== en);
      const ni = back && this.byName.get(back.node);
      if (data.length !== 2 || !ni || kind(ni) !== 'NextIteration') {
        throw new FormatError(`Merge '${m.name ?? ''}' of while frame '${frame}' merges Enter '${en}' with ${back ? `'${back.node}', not a NextIteration` : 'nothing'}`, { file });
      }
      const next = this.inputs(ni).find((r) => !r.control);
      if (!next) throw new FormatError(`NextIteration '${ni.name ?? ''}' has no input`, { file });
      varOfMerge.set(m.name ?? '', i);
      nextOf.push(outputKey(next.node, next.index));
      nextIterations.add(ni.name ?? '');
    }
    for (const n of own) {
      if (kind(n) === 'NextIteration' && !nextIterations.has(n.name ?? '')) {
        throw new FormatError(`NextIteration '${n.name ?? ''}' of while frame '${frame}' feeds no Merge of a loop variable's Enter`, { file });
      }
    }
    const lc = loopCond.name ?? '';
    const varOfSwitch = new Map<string, number>();
    for (const n of own) {
      if (kind(n) !== 'Switch') continue;
      const [x, p] = this.inputs(n).filter((r) => !r.control);
      const i = x && x.index === 0 ? varOfMerge.get(x.node) : undefined;
      if (p?.node === lc && i !== undefined) varOfSwitch.set(n.name ?? '', i);
    }

    // arguments: loop variables, invariants, then values read from outside without an Enter
    const outer: string[] = [...vars, ...invariants].map((e) => {
      const r = this.inputs(e).find((x) => !x.control)!;
      return outputKey(r.node, r.index);
    });
    const types: number[] = [...vars, ...invariants].map((e) => e.attr?.T?.type ?? 0);
    const invariantArg = new Map(invariants.map((e, j) => [e.name ?? '', vars.length + j]));
    const captured = new Map<string, number>();
    const resolve = (r: InputRef, from: string): Resolved => {
      if (r.control && !this.byName.has(r.node)) return { drop: true };
      const n = this.node(r, from);
      const name = n.name ?? '';
      const key = outputKey(r.node, r.index);
      if (!isMember.has(name)) {
        if (isConst(n)) return { node: n };
        if (r.control) return { drop: true };
        let k = captured.get(key);
        if (k === undefined) {
          k = outer.length;
          captured.set(key, k);
          outer.push(key);
          types.push(outputType(n, r.index));
        }
        return { arg: argName(k) };
      }
      if (!inFrame(n)) return { node: n };
      const what = kind(n);
      const merge = varOfMerge.get(name);
      const sw = varOfSwitch.get(name);
      const inv = invariantArg.get(name);
      if (merge === undefined && sw === undefined && inv === undefined && !['Enter', 'LoopCond', 'NextIteration'].includes(what)) return { node: n };
      if (r.control) return { drop: true };
      if (merge !== undefined && r.index === 0) return { arg: argName(merge) };
      if (sw !== undefined && r.index === 1) return { arg: argName(sw) };
      if (inv !== undefined) {
        const c = constInput(n, this.byName);
        return c ? { alias: c } : { arg: argName(inv) };
      }
      const part =
        sw !== undefined
          ? "the exit side (output 0) of the loop variable's Switch"
          : merge !== undefined
            ? "its loop variable's Merge output value_index"
            : `${what} '${name}' of the frame itself`;
      throw new UnsupportedError('a TF1 while loop reading its own control flow', `node '${from}' of while frame '${frame}' in '${file}' reads ${part}`);
    };
    if (!vars.length) throw new FormatError(`while frame '${frame}' has no loop variable (an Enter with is_constant false)`, { file });
    const base = scopeOf(vars[0]!.name ?? frame);
    const whileName = this.unique(base, this.names);
    const condFn = extract([outputKey(condIn.node, condIn.index)], resolve);
    const bodyFn = extract(nextOf, resolve);
    const n = outer.length;
    const argDefs = types.map((t, i) => ({ name: argName(i), type: t || 1 }));
    const condName = this.unique(`${whileName}_cond`, this.fnNames);
    const bodyName = this.unique(`${whileName}_body`, this.fnNames);
    this.functions.push({
      signature: { name: condName, input_arg: argDefs, output_arg: [{ name: 'cond', type: DT_BOOL }] },
      node_def: condFn.nodes,
      ret: { cond: condFn.rets[0]! },
    });
    const bodyRets = [...bodyFn.rets, ...Array.from({ length: n - vars.length }, (_, j) => argName(vars.length + j))];
    this.functions.push({
      signature: { name: bodyName, input_arg: argDefs, output_arg: argDefs.map((a, i) => ({ name: `out_${i}`, type: a.type })) },
      node_def: bodyFn.nodes,
      ret: Object.fromEntries(bodyRets.map((r, i) => [`out_${i}`, r])),
    });
    const attr: Record<string, AttrValue> = { cond: { func: { name: condName } }, body: { func: { name: bodyName } } };
    if (types.every((t) => t)) attr.T = { list: { type: types } };
    const pi = vars[0]!.attr?.parallel_iterations;
    if (pi) attr.parallel_iterations = pi;
    add.push({ name: whileName, op: 'While', input: outer, attr });

    // each Exit: the While's output of the loop variable whose Switch it reads (its exit side)
    for (const x of order) {
      if (kind(x) !== 'Exit' || isMember.has(x.name ?? '')) continue;
      const r = this.inputs(x).find((i) => !i.control);
      if (!r || !isMember.has(r.node) || !inFrame(this.byName.get(r.node)!)) continue;
      const i = varOfSwitch.get(r.node);
      if (i === undefined || r.index !== 0) {
        throw new UnsupportedError("a TF1 while loop's Exit of other than a loop variable's Switch", `Exit '${x.name ?? ''}' of while frame '${frame}' in '${file}' reads '${outputKey(r.node, r.index)}'`);
      }
      replace.set(x.name ?? '', { name: x.name, op: 'Identity', input: [outputKey(whileName, i)], attr: types[i] ? { T: { type: types[i] } } : {} });
    }
  }

  // ---- conds --------------------------------------------------------------------------------

  private ctxOf = new Map<string, Ctx>();
  private predOf = new Map<string, string>();
  /** each Merge's inputs' contexts */
  private mergeIn = new Map<string, [Ctx, Ctx]>();

  /** The context of output `r` (a Switch's outputs are its branches). */
  private outCtx(r: InputRef, from: string): Ctx {
    const n = this.node(r, from);
    const c = this.ctxOf.get(n.name ?? '') ?? [];
    if (r.control || kind(n) !== 'Switch') return c;
    if (r.index > 1) throw new FormatError(`node '${from}' reads output ${r.index} of Switch '${r.node}', which has 2`, { file: this.file });
    return [...c, { pred: this.predOf.get(r.node)!, side: r.index }];
  }

  /** The predicate a Switch tests, through the Identities TF1 puts in its way (cond/pred_id). */
  private predicate(sw: NodeDef): string {
    const data = this.inputs(sw).filter((r) => !r.control);
    if (data.length !== 2) throw new FormatError(`Switch '${sw.name ?? ''}' has ${data.length} inputs, not 2 (data, predicate)`, { file: this.file });
    let r = data[1]!;
    for (let hops = 0; hops < 64; hops++) {
      const p = this.node(r, sw.name ?? '');
      const x = kind(p) === 'Identity' && r.index === 0 ? this.inputs(p).find((i) => !i.control) : undefined;
      if (!x) break;
      r = x;
    }
    return outputKey(r.node, r.index);
  }

  private join(a: Ctx, b: Ctx, at: string): Ctx {
    const [short, long] = a.length <= b.length ? [a, b] : [b, a];
    for (const [i, s] of short.entries()) {
      const l = long[i]!;
      if (s.pred === l.pred && s.side === l.side) continue;
      if (s.pred === l.pred) throw new FormatError(`node '${at}' reads both branches of the cond on '${s.pred}'`, { file: this.file });
      throw new UnsupportedError('a node reading branches of two TF1 conds', `node '${at}' in '${this.file}' reads a branch of the cond on '${s.pred}' and one of the cond on '${l.pred}' without a Merge between`);
    }
    return long;
  }

  /** Every Merge outside any branch becomes (with the Merges sharing its branches' nodes) one If. */
  conds(): void {
    const need = this.needed();
    const order = this.order(need, false);
    for (const n of order) {
      const name = n.name ?? '';
      const k = kind(n);
      if (k === 'Enter' || k === 'Exit' || k === 'NextIteration' || k === 'LoopCond') {
        throw new FormatError(`${k} '${name}' is in no well-formed while frame`, { file: this.file });
      }
      if (k === 'Switch') this.predOf.set(name, this.predicate(n));
      if (k === 'Merge') {
        const data = this.inputs(n).filter((r) => !r.control);
        if (data.length !== 2) throw new UnsupportedError(`a Merge of ${data.length} inputs`, `node '${name}' in '${this.file}' (a TF1 cond's Merge has 2)`);
        let [a, b] = [this.outCtx(data[0]!, name), this.outCtx(data[1]!, name)];
        const same = (x: Ctx, y: Ctx, len: number) => x.slice(0, len).every((s, i) => s.pred === y[i]!.pred && s.side === y[i]!.side);
        // a Const that lost the control input putting it in its branch (freezing a .meta drops
        // them) lies in the branch the other input does not
        const other = (x: Ctx): Ctx => [...x.slice(0, -1), { pred: x[x.length - 1]!.pred, side: 1 - x[x.length - 1]!.side }];
        const bare = (r: InputRef, x: Ctx, y: Ctx) => y.length === x.length + 1 && same(x, y, x.length) && isConst(this.byName.get(r.node)!);
        if (bare(data[0]!, a, b)) a = other(b);
        else if (bare(data[1]!, b, a)) b = other(a);
        this.mergeIn.set(name, [a, b]);
        const la = a[a.length - 1];
        const lb = b[b.length - 1];
        if (!la || !lb || a.length !== b.length || la.pred !== lb.pred || la.side === lb.side || !same(a, b, a.length - 1)) {
          throw new UnsupportedError(
            'a Merge that does not join the two branches of one TF1 cond',
            `Merge '${name}' in '${this.file}' reads '${n.input?.[0] ?? ''}' and '${n.input?.[1] ?? ''}'`,
          );
        }
        this.ctxOf.set(name, a.slice(0, -1));
        continue;
      }
      let c: Ctx = [];
      for (const r of this.inputs(n)) c = this.join(c, this.outCtx(r, name), name);
      this.ctxOf.set(name, c);
    }

    const merges = order.filter((n) => kind(n) === 'Merge' && !this.ctxOf.get(n.name ?? '')!.length);
    if (!merges.length) return this.strayBranches(need, new Set());
    // the branch regions of each root Merge, side by side
    const regions = merges.map((m) => {
      const data = this.inputs(m).filter((r) => !r.control);
      const ins = this.mergeIn.get(m.name ?? '')!.map((c) => c.at(-1)!);
      const pred = ins[0]!.pred;
      const sides = [0, 1].map((side) => {
        const i = ins.findIndex((c) => c.side === side);
        return { input: i, ref: outputKey(data[i]!.node, data[i]!.index) };
      });
      return { merge: m, pred, sides };
    });
    const resolver = (pred: string, side: number, args: Map<string, number> | undefined, outer: string[]) => {
      return (r: InputRef, from: string): Resolved => {
        if (r.control && !this.byName.has(r.node)) return { drop: true };
        const n = this.node(r, from);
        const c = this.outCtx(r, from);
        if (!c.length) {
          if (isConst(n)) return { node: n };
          if (r.control) return { drop: true };
          return { arg: argOf(outputKey(r.node, r.index)) };
        }
        if (c[0]!.pred === pred && c[0]!.side === side) {
          if (r.control) return { node: n };
          // a Switch on the predicate, outside any branch: the branch reads its data input
          if (c.length === 1 && kind(n) === 'Switch' && !this.ctxOf.get(n.name ?? '')!.length) {
            const x = this.inputs(n).find((i) => !i.control)!;
            const c = constInput(n, this.byName);
            return c ? { alias: c } : { arg: argOf(outputKey(x.node, x.index)) };
          }
          return { node: n };
        }
        if (r.control) return { drop: true };
        throw new FormatError(
          `node '${from}' in the ${side ? 'true' : 'false'} branch of the cond on '${pred}' reads '${outputKey(r.node, r.index)}' of the ${c[0]!.side ? 'true' : 'false'} branch of the cond on '${c[0]!.pred}'`,
          { file: this.file },
        );
      };
      function argOf(key: string): string {
        if (!args) return argName(0);
        let k = args.get(key);
        if (k === undefined) {
          k = outer.length;
          args.set(key, k);
          outer.push(key);
        }
        return argName(k);
      }
    };

    // Merges whose branches share nodes, or that one tf.cond made (one name scope, one predicate), are one If
    const group = regions.map((_, i) => i);
    const find = (i: number): number => (group[i] === i ? i : (group[i] = find(group[i]!)));
    const owner = new Map<string, number>();
    const scopes = new Map<string, number>();
    for (const [i, g] of regions.entries()) {
      const key = `${scopeOf(g.merge.name ?? '')}\u0000${g.pred}`;
      const s = scopes.get(key);
      if (s === undefined) scopes.set(key, i);
      else group[find(i)] = find(s);
      for (const [side, s] of g.sides.entries()) {
        const names = collect([s.ref], resolver(g.pred, side, undefined, []), g.merge.name ?? '');
        for (const name of names) {
          const o = owner.get(name);
          if (o === undefined) owner.set(name, i);
          else group[find(i)] = find(o);
        }
      }
    }
    const groups = new Map<number, number[]>();
    for (const i of regions.keys()) {
      const g = find(i);
      (groups.get(g) ?? groups.set(g, []).get(g)!).push(i);
    }

    const remove = new Set<string>();
    const replace = new Map<string, NodeDef>();
    const add: NodeDef[] = [];
    // which input a Merge took (its output 1, value_index) has no If counterpart
    for (const x of need) {
      for (const r of this.inputs(this.byName.get(x)!)) {
        if (!r.control && r.index === 1 && merges.some((m) => m.name === r.node)) {
          throw new UnsupportedError("a TF1 cond Merge's value_index (output 1)", `node '${x}' in '${this.file}' reads '${r.node}:1'`);
        }
      }
    }
    for (const members of groups.values()) {
      const rs = members.map((i) => regions[i]!);
      const pred = rs[0]!.pred;
      const ifName = this.unique(scopeOf(rs[0]!.merge.name ?? '') || `${rs[0]!.merge.name ?? ''}_if`, this.names);
      const args = new Map<string, number>();
      const outer: string[] = [];
      const fns = [0, 1].map((side) => {
        const res = resolver(pred, side, args, outer);
        const roots = rs.map((g) => g.sides[side]!.ref);
        return extract(roots, res);
      });
      const types = rs.map((g) => g.merge.attr?.T?.type ?? 0);
      const rets = [0, 1].map((side) => fns[side]!.rets);
      const names = [this.unique(`${ifName}_else`, this.fnNames), this.unique(`${ifName}_then`, this.fnNames)];
      const argTypes = outer.map((key) => {
        const r = parseInput(key);
        return outputType(this.byName.get(r.node)!, r.index);
      });
      for (const side of [0, 1]) {
        const f = { nodes: fns[side]!.nodes, rets: rets[side]! };
        this.functions.push({
          signature: {
            name: names[side],
            input_arg: argTypes.map((t, i) => ({ name: argName(i), type: t || 1 })),
            output_arg: f.rets.map((_, i) => ({ name: `out_${i}`, type: types[i] || 1 })),
          },
          node_def: f.nodes,
          ret: Object.fromEntries(f.rets.map((r, i) => [`out_${i}`, r])),
        });
        for (const n of f.nodes) if (this.byName.has(n.name ?? '') && this.ctxOf.get(n.name ?? '')?.length) remove.add(n.name ?? '');
      }
      const attr: Record<string, AttrValue> = { Tcond: { type: DT_BOOL }, then_branch: { func: { name: names[1] } }, else_branch: { func: { name: names[0] } } };
      if (argTypes.every((t) => t)) attr.Tin = { list: { type: argTypes } };
      if (types.every((t) => t)) attr.Tout = { list: { type: types } };
      add.push({ name: ifName, op: 'If', input: [pred, ...outer], attr });
      for (const [i, g] of rs.entries()) {
        const m = g.merge;
        replace.set(m.name ?? '', { name: m.name, op: 'Identity', input: [outputKey(ifName, i)], attr: m.attr?.T ? { T: m.attr.T } : {} });
      }
    }
    this.strayBranches(need, remove);
    this.nodes = [...this.nodes.filter((n) => !remove.has(n.name ?? '')).map((n) => replace.get(n.name ?? '') ?? n), ...add];
    this.index();
  }

  /** A branch's value that no Merge takes out (an output inside a branch): refused by name. */
  private strayBranches(need: Set<string>, taken: Set<string>): void {
    for (const name of need) {
      const c = this.ctxOf.get(name);
      if (c?.length && !taken.has(name)) {
        throw new UnsupportedError(
          'a value of a TF1 cond branch read outside its Merge',
          `node '${name}' in '${this.file}' lies in the ${c[0]!.side ? 'true' : 'false'} branch of the cond on '${c[0]!.pred}' and is needed by no Merge`,
        );
      }
    }
  }

  /** After the rewrite no TF1 control-flow node is left among what the outputs need. */
  leftovers(): void {
    for (const name of this.needed()) {
      const n = this.byName.get(name)!;
      if (FLOW_OPS.has(kind(n))) throw new GraphError(`'${this.file}': ${kind(n)} '${name}' is left after rewriting TF1 control flow`);
    }
  }
}

/** The node names `roots` need through `resolve`'s nodes (data and control inputs). */
function collect(roots: string[], resolve: (r: InputRef, from: string) => Resolved, from: string): Set<string> {
  const seen = new Set<string>();
  const stack: [InputRef, string][] = roots.map((r) => [parseInput(r), from]);
  while (stack.length) {
    const [r, at] = stack.pop()!;
    const res = resolve(r, at);
    if ('alias' in res) stack.push([parseInput(res.alias), at]);
    if (!('node' in res)) continue;
    const name = res.node.name ?? '';
    if (seen.has(name)) continue;
    seen.add(name);
    for (const i of res.node.input ?? []) stack.push([parseInput(i), name]);
  }
  return seen;
}

/** A function body: the nodes `roots` need, their inputs re-pointed at the arguments `resolve` gives. */
function extract(roots: string[], resolve: (r: InputRef, from: string) => Resolved): { nodes: NodeDef[]; rets: string[] } {
  const refOf = (raw: string, from: string): string | undefined => {
    const r = parseInput(raw);
    const res = resolve(r, from);
    if ('alias' in res) return r.control ? undefined : refOf(res.alias, from);
    if ('arg' in res) return r.control ? undefined : res.arg;
    if ('drop' in res) return undefined;
    return r.control ? `^${r.node}` : outputKey(r.node, r.index);
  };
  const rets = roots.map((r) => refOf(r, 'the result')!);
  const included = new Map<string, NodeDef>();
  const stack: [string, string][] = roots.map((r) => [r, 'the result']);
  while (stack.length) {
    const [raw, from] = stack.pop()!;
    const res = resolve(parseInput(raw), from);
    if ('alias' in res) stack.push([res.alias, from]);
    if (!('node' in res)) continue;
    const n = res.node;
    const name = n.name ?? '';
    if (included.has(name)) continue;
    included.set(name, n);
    for (const i of n.input ?? []) stack.push([i, name]);
  }
  const nodes = [...included.values()].map((n) => ({
    ...n,
    input: (n.input ?? []).map((i) => refOf(i, n.name ?? '')).filter((i): i is string => i !== undefined),
  }));
  return { nodes, rets };
}

/** A node name's scope ('while/Enter' -> 'while'). */
function scopeOf(name: string): string {
  const i = name.lastIndexOf('/');
  return i > 0 ? name.slice(0, i) : name;
}

/** The DataType of output `index` of a node, when its attributes say (0 when they do not). */
function outputType(n: NodeDef, index: number): number {
  const a = n.attr ?? {};
  const k = kind(n);
  if (k === 'Merge' && index === 1) return DT_INT32;
  if (index === 0 || k === 'Switch') return a.T?.type ?? a.dtype?.type ?? a.DstT?.type ?? a.out_type?.type ?? 0;
  return a.T?.list?.type?.[index] ?? 0;
}
