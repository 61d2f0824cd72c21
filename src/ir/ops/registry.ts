// The registry: every op definition, keyed as the runtime's op tables are: the ONNX op type for the default
// domain, 'domain::OpType' for others (nnport::Conv, nnport::FusedConv).
import type { Graph, Node } from '../graph.js';
import { castDefs } from './cast.js';
import { CHANNELS_LAST_ONNX_OPSET, channelsLastDefs } from './channels-last.js';
import { controlFlowDefs } from './control-flow.js';
import { convDefs } from './conv.js';
import { detectionDefs } from './detection.js';
import { elementwiseDefs } from './elementwise.js';
import { gemmDefs } from './gemm.js';
import { indexingDefs } from './indexing.js';
import { linalgDefs } from './linalg.js';
import { lossDefs } from './loss.js';
import { momentsDefs } from './moments.js';
import { normalizationDefs } from './normalization.js';
import type { OpDef, OpDefTable } from './op-def.js';
import { poolDefs } from './pool.js';
import { quantizeDefs } from './quantize.js';
import { qlinearDefs } from './qlinear.js';
import { qlinearContribDefs } from './qlinear-contrib.js';
import { recurrentDefs } from './recurrent.js';
import { reduceDefs } from './reduce.js';
import { resizeDefs } from './resize.js';
import { samplingDefs } from './sampling.js';
import { sequenceDefs } from './sequence.js';
import { seqValueDefs } from './seq-values.js';
import { shapeDefs } from './shape.js';
import { signalDefs } from './signal.js';
import { statefulDefs } from './stateful.js';
import { unaryDefs } from './unary.js';

const tables: OpDefTable[] = [
  convDefs,
  gemmDefs,
  poolDefs,
  elementwiseDefs,
  unaryDefs,
  normalizationDefs,
  shapeDefs,
  reduceDefs,
  resizeDefs,
  castDefs,
  indexingDefs,
  quantizeDefs,
  qlinearDefs,
  qlinearContribDefs,
  channelsLastDefs,
  statefulDefs,
  recurrentDefs,
  detectionDefs,
  signalDefs,
  lossDefs,
  linalgDefs,
  samplingDefs,
  sequenceDefs,
  seqValueDefs,
  momentsDefs,
  controlFlowDefs,
];

export const OP_DEFS: Readonly<OpDefTable> = Object.freeze(Object.assign({}, ...tables));

/** The domain of a node with 'ai.onnx' spelled as ''. */
export const domainOf = (node: Node): string => (node.domain === 'ai.onnx' ? '' : node.domain);

/** The key of a node's op in OP_DEFS and the runtime's op tables. */
export const opKey = (node: Node): string => (domainOf(node) ? `${domainOf(node)}::${node.opType}` : node.opType);

/** The definition of a node's op, or undefined for an op nnport does not define. */
export function opDefOf(node: Node): OpDef<unknown> | undefined {
  return OP_DEFS[opKey(node)];
}

/**
 * The opset a node's attributes are read under: its domain's version; `nnport` ops mirror
 * ONNX ops of CHANNELS_LAST_ONNX_OPSET (their domain's version numbers the convention).
 */
export function opsetOf(graph: Graph, node: Node): number {
  const d = domainOf(node);
  if (d === 'nnport') return CHANNELS_LAST_ONNX_OPSET;
  return graph.opsets[d] ?? graph.opsets[''] ?? 1;
}

