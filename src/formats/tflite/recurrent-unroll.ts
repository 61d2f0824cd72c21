// ONNX GRU before the TFLite writer runs: TFLite has no GRU builtin (TF's converter writes a Keras
// GRU as a WHILE loop, or unrolled with unroll=True), so a GRU becomes its steps in plain ops
// (src/passes/unroll-recurrent.ts), which the writer turns into FULLY_CONNECTED / BATCH_MATMUL,
// ADD, LOGISTIC, TANH, MUL, SUB, GATHER, SPLIT and CONCATENATION.
import type { Graph } from '../../ir/graph.js';
import { unrollRecurrent } from '../../passes/unroll-recurrent.js';

/** Every ONNX GRU of the graph unrolled into plain ops (the graph as it is when it has none). */
export const unrollGrus = (g: Graph): Graph => unrollRecurrent(g, ['GRU'], 'a TFLite file');
