// ONNX LSTM / GRU / RNN over a run-time sequence length as an ONNX Loop over its time steps, for the
// writers that must compute such a layer in plain ops (src/passes/unroll-recurrent.ts) but cannot
// unroll a dynamic T: TF's converter writes a Keras GRU as a WHILE loop, and a TF1 / TF2 Keras LSTM
// frozen graph holds a While loop; the TFLite writer keeps a Loop as WHILE, the GraphDef writer as
// StatelessWhile. Per direction:
//   xp  = x · W + biases over the whole sequence (one MatMul, as the unroller)
//   T   = Shape(x)[time axis], the Loop's trip count; the carried values h (and c) start at the
//         initial states (zeros padded to the batch under a dynamic batch: one Pad, whose pads TF
//         and TFLite take at run time)
//   body: xt = Gather(xp, it) along the time axis (reverse: of xp read back, a Slice of step -1), then the step of the
//         unroller (recurrentBuild: the same ops), h' (and c') carried and h' a scan output
//   Y   = the scan output [T, B, H] (reverse: read back along axis 0, a Slice of step -1; layout 1:
//         transposed to [B, T, H]); Y_h / Y_c the final carried values, joined as the unroller does.
import { UnsupportedError } from '../ir/errors.js';
import { inferShapes } from '../ir/ops/index.js';
import { type RecurrentOp } from '../ir/ops/recurrent.js';
import { valueNamer, type Attr, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { knownZeros, recurrentBuild, recurrentOutputs, type UnrollOptions } from './unroll-recurrent.js';

const int = (value: number): Attr => ({ type: 'int', value });

const isRecurrent = (n: Node): boolean => ['LSTM', 'GRU', 'RNN'].includes(n.opType) && (n.domain === '' || n.domain === 'ai.onnx');

/** The time axis of recurrent node `n`'s input (0, or 1 under layout 1). */
const timeAxis = (n: Node): 0 | 1 => (n.attrs.layout?.type === 'int' && n.attrs.layout.value === 1 ? 1 : 0);

/**
 * The recurrent nodes of `g` that `only` picks (all by default) whose sequence length is not a
 * known number, each as an ONNX Loop over its time steps (the graph as it is when there are none).
 * `target` names the output format in errors.
 */
export function recurrentToLoop(g: Graph, target: string, options: Pick<UnrollOptions, 'only' | 'native'> = {}): Graph {
  if (!g.nodes.some(isRecurrent)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const picked = (n: Node) => isRecurrent(n) && (options.only?.(n) ?? true) && typeof shapes.get(n.inputs[0]!)?.shape?.[timeAxis(n)] !== 'number';
  if (!g.nodes.some(picked)) return g;
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (picked(n)) nodes.push(...loopOne(n, n.opType as RecurrentOp, g, shapes, fresh, initializers, target, options));
    else nodes.push(n);
  }
  // (what made the initial states known to be zeros -- PyTorch's ConstantOfShape of x's batch -- is read no more:
  // left, its Shape would keep the writers from leaving the dims open)
  const rw = new GraphRewriter({ ...g, nodes, initializers });
  rw.sweepDeadNodes();
  return rw.toGraph();
}

function loopOne(n: Node, opType: RecurrentOp, g: Graph, shapes: ReturnType<typeof inferShapes>['values'], fresh: (base: string) => string, inits: Map<string, Tensor>, target: string, options: Pick<UnrollOptions, 'native'>): Node[] {
  const out: Node[] = [];
  const bld = recurrentBuild(n, opType, g, shapes, fresh, inits, target, { native: options.native }, undefined);
  bld.into(out);
  const { op, constant, tAxis, D, H, bDim, where } = bld;
  if (!(g.opsets[''] === undefined || g.opsets[''] >= 11)) throw new UnsupportedError(`${opType} over a dynamic sequence length at opset ${g.opsets['']} in ${target}`, `${where}: its Loop form needs opset 11`);
  const x = n.inputs[0]!;
  const xShape = op('Shape', [x], 'x_shape');
  const trips = op('Gather', [xShape, constant('time_axis', Tensor.int64([], [tAxis]))], 'sequence_length', { axis: int(0) });
  const cond = constant('loop_condition', new Tensor('bool', [], Uint8Array.of(1)));
  const rows = typeof bDim === 'number' ? bDim : null;
  // an absent initial state under a dynamic batch: [1, H] zeros padded with B - 1 more rows (a loop's
  // carried value keeps its shape from one iteration to the next)
  let padding = '';
  // (a state known to be zeros counts as absent: PyTorch's zeros shaped from x's Shape would keep a shape
  // computation the writers cannot leave to run time)
  const initial = (input: number, what: string, d: number): string => {
    const given = !!n.inputs[input] && !knownZeros(g, n.inputs[input]!);
    const v = given ? bld.initial(input, what, d) : constant(`${what}0_${d}`, Tensor.float32([rows ?? 1, H], new Float32Array((rows ?? 1) * H)));
    if (given || rows !== null) return v;
    if (!padding) {
      const batch = op('Gather', [xShape, constant('batch_axis', Tensor.int64([1], [1 - tAxis]))], 'batch', { axis: int(0) });
      const more = op('Sub', [batch, constant('one_row', Tensor.int64([1], [1]))], 'more_rows');
      padding = op('Concat', [constant('pads_start', Tensor.int64([2], [0, 0])), more, constant('pads_end', Tensor.int64([1], [0]))], 'state_pads', { axis: int(0) });
    }
    return op('Pad', [v, padding], `${what}0_${d}_batch`);
  };
  // the sequence read back along an axis: Slice(-1 .. past the start, step -1), constant bounds whatever the length
  // (no int64 arithmetic on the length, which int8 quantization would take for data; as scan-to-loop.ts)
  const reversed = (v: string, axis: number, name: string) => {
    const bound = (what: string, k: number) => constant(`${name}_${what}`, Tensor.int64([1], [k]));
    return op('Slice', [v, bound('start', -1), bound('end', -(2 ** 31)), bound('axis', axis), bound('step', -1)], name);
  };
  const sequences: string[] = [];
  const lastH: string[] = [];
  const lastC: string[] = [];
  const state = (name: string): ValueInfo => ({ name: fresh(name), dtype: 'float32', shape: [rows, H] });
  for (let d = 0; d < D; d++) {
    const dir = bld.direction(d);
    const { p } = dir;
    const h0 = initial(5, 'h', d);
    const c0 = opType === 'LSTM' ? initial(6, 'c', d) : '';
    const xpInOrder = dir.reverse ? reversed(dir.xp, tAxis, p('input_projection_reversed')) : dir.xp;
    // the body: one step at iteration `it`
    const body: Node[] = [];
    bld.into(body);
    const iteration: ValueInfo = { name: fresh(p('loop/iteration')), dtype: 'int64', shape: [] };
    const condIn: ValueInfo = { name: fresh(p('loop/condition_in')), dtype: 'bool', shape: [] };
    const hIn = state(p('loop/h'));
    const cIn = c0 ? state(p('loop/c')) : undefined;
    // (a reverse direction reads the projected input from its end: iteration k is time step T - 1 - k)
    const xt = op('Gather', [xpInOrder, iteration.name], p('loop/input'), { axis: int(tAxis) });
    const next = dir.step(p('loop'), xt, hIn.name, cIn?.name ?? '');
    const condOut = op('Identity', [condIn.name], p('loop/condition_out'));
    const y = op('Identity', [next.h], p('loop/y'));
    const bodyGraph: Graph = {
      name: fresh(p(`${n.name || opType}_loop_body`)),
      nodes: body,
      inputs: [iteration, condIn, hIn, ...(cIn ? [cIn] : [])],
      outputs: [{ name: condOut, dtype: 'bool', shape: [] }, { name: next.h, dtype: 'float32', shape: [rows, H] }, ...(cIn ? [{ name: next.c, dtype: 'float32' as const, shape: [rows, H] }] : []), { name: y, dtype: 'float32', shape: [rows, H] }],
      initializers: new Map(),
      opsets: g.opsets,
    };
    bld.into(out);
    const hT = fresh(p('h_last'));
    const cT = cIn ? fresh(p('c_last')) : '';
    const stacked = fresh(p('sequence_stacked'));
    out.push({ name: fresh(p(`${n.name || opType}_loop`)), opType: 'Loop', domain: '', inputs: [trips, cond, h0, ...(c0 ? [c0] : [])], outputs: [hT, ...(cT ? [cT] : []), stacked], attrs: { body: { type: 'graph', value: bodyGraph } } });
    // the steps stacked [T, B, H] in iteration order: a reverse direction's read back along axis 0
    let seq = dir.reverse ? reversed(stacked, 0, p('sequence_reversed')) : stacked;
    if (tAxis === 1) seq = op('Transpose', [seq], p('sequence_batch_major'), { perm: { type: 'ints', value: [1, 0, 2] } });
    sequences.push(seq);
    lastH.push(hT);
    lastC.push(cT);
  }
  recurrentOutputs(bld, n, opType, sequences, lastH, lastC);
  return out;
}
