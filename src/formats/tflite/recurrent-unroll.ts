// ONNX recurrent layers TFLite has no builtin for, before the TFLite writer runs: TFLite has no GRU
// builtin (TF's converter writes a Keras GRU as a WHILE loop, or unrolled with unroll=True), and its
// UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN compute sigmoid gates and one fused tanh or relu only (an old
// Keras LSTM's hard_sigmoid gates, relu gates or a linear cell are none of those), start from their
// zeroed variable state tensors and do not output the cell state. Such a layer becomes its steps in
// plain ops (src/passes/unroll-recurrent.ts; over a run-time sequence length, a Loop of one step, WHILE), which the writer turns into FULLY_CONNECTED /
// BATCH_MATMUL, ADD, LOGISTIC, TANH, RELU, MUL, SUB, MAXIMUM / MINIMUM (HardSigmoid), GATHER, SPLIT
// and CONCATENATION.
import type { Graph, Node } from '../../ir/graph.js';
import { parseRecurrentAttrs, type RecurrentAttrs, type RecurrentOp } from '../../ir/ops/recurrent.js';
import { recurrentToLoop } from '../../passes/recurrent-to-loop.js';
import { knownZeros, unrollRecurrent } from '../../passes/unroll-recurrent.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';

/** TFLite's fused activation for ONNX's cell / hidden activation (LSTM g = h, RNN f). */
const FUSED: Partial<Record<string, ActivationFunctionType>> = { Tanh: ActivationFunctionType.TANH, Relu: ActivationFunctionType.RELU };

/**
 * The one fused activation of TFLite's sequence op that computes an LSTM's / RNN's activations:
 * sigmoid gates (LSTM), and the same tanh or relu for the rest; undefined where it has none.
 */
export function fusedActivation(a: RecurrentAttrs): ActivationFunctionType | undefined {
  const acts = a.activations.map((d) => d.map((f) => f.name));
  const rest = acts.map((d) => (a.op === 'LSTM' ? d.slice(1) : d)).flat();
  if (a.op === 'LSTM' && acts.some((d) => d[0] !== 'Sigmoid')) return undefined;
  return rest.every((r) => r === rest[0]) ? FUSED[rest[0]!] : undefined;
}

/**
 * Whether the writer unrolls recurrent node `n` of `g`: an ONNX GRU, or an ONNX LSTM / RNN that
 * TFLite's sequence op cannot compute: activations it has no fused form of, an initial state not
 * known to be zeros (a model input, say), an LSTM's cell state (Y_c) read.
 */
export function unrolledForTflite(g: Graph, n: Node): boolean {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return false;
  if (n.opType === 'GRU') return true;
  if (n.opType !== 'LSTM' && n.opType !== 'RNN') return false;
  if (fusedActivation(parseRecurrentAttrs(n, n.opType as RecurrentOp)) === undefined) return true;
  if ((n.opType === 'LSTM' ? [5, 6] : [5]).some((i) => n.inputs[i] && !knownZeros(g, n.inputs[i]!))) return true;
  const yc = n.opType === 'LSTM' ? n.outputs[2] : undefined;
  return !!yc && (g.outputs.some((o) => o.name === yc) || g.nodes.some((m) => m.inputs.includes(yc)));
}

/**
 * The recurrent layers unrolledForTflite picks unrolled into plain ops (the graph as it is when it has none); under
 * `int8` quantization an RNN too (TFLite has no integer RNN). Those over a run-time sequence length become a Loop
 * over their steps instead (src/passes/recurrent-to-loop.ts), which the writer keeps as WHILE.
 */
export function unrollForTflite(g: Graph, int8 = false): Graph {
  const only = (n: Node) => unrolledForTflite(g, n) || (int8 && n.opType === 'RNN');
  return unrollRecurrent(recurrentToLoop(g, 'a TFLite file', { only }), ['GRU', 'LSTM', 'RNN'], 'a TFLite file', { only });
}
