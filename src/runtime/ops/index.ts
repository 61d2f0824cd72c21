import type { OpTable } from '../op.js';
import { castOps } from './cast.js';
import { CHANNELS_LAST_OPS, LRN_OPS } from './channels-last.js';
import { CONV_OPS } from './conv.js';
import { controlFlowOps } from './control-flow.js';
import { detectionOps } from './detection.js';
import { elementwiseOps } from './elementwise.js';
import { GEMM_OPS } from './gemm.js';
import { hybridQuantizeOps } from './hybrid-input-quantize.js';
import { indexingOps } from './indexing.js';
import { linalgOps } from './linalg.js';
import { lossOps } from './loss.js';
import { momentsOps } from './moments.js';
import { normalizationOps } from './normalization.js';
import { padOps } from './pad.js';
import { POOL_OPS } from './pool.js';
import { quantizeOps } from './quantize.js';
import { qlinearOps } from './qlinear.js';
import { qlinearContribOps } from './qlinear-contrib.js';
import { recurrentOps } from './recurrent.js';
import { reduceOps } from './reduce.js';
import { resizeOps } from './resize.js';
import { samplingOps } from './sampling.js';
import { sequenceOps } from './sequence.js';
import { seqValueOps } from './seq-values.js';
import { shapeOps } from './shape.js';
import { signalOps } from './signal.js';
import { softmaxOps } from './softmax.js';
import { unaryOps } from './unary.js';
import { QUANTIZED_LSTM_FLOAT_OPS } from '../integer/lstm.js';
import { SVDF_FLOAT_OPS } from '../integer/svdf.js';

/**
 * Every op the reference runtime executes, keyed by ONNX op type (default domain).
 * Each module contributes one table; a name must appear in exactly one of them.
 */
const tables: OpTable[] = [
  CONV_OPS,
  GEMM_OPS,
  POOL_OPS,
  elementwiseOps,
  unaryOps,
  softmaxOps,
  normalizationOps,
  shapeOps,
  padOps,
  reduceOps,
  resizeOps,
  castOps,
  indexingOps,
  quantizeOps,
  qlinearOps,
  qlinearContribOps,
  hybridQuantizeOps,
  LRN_OPS,
  CHANNELS_LAST_OPS,
  SVDF_FLOAT_OPS,
  QUANTIZED_LSTM_FLOAT_OPS,
  recurrentOps,
  detectionOps,
  signalOps,
  lossOps,
  linalgOps,
  samplingOps,
  sequenceOps,
  seqValueOps,
  momentsOps,
  controlFlowOps,
];

export const ONNX_OPS: OpTable = Object.assign({}, ...tables);
