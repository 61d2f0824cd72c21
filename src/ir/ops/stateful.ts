// TFLite's stateful ops as the TFLite reader writes them (src/runtime/integer/{svdf,lstm}.ts run
// them): nnport::Svdf and nnport::QuantizedLstm, their attributes and output shapes.
import { QuantizationError, ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Node } from '../graph.js';
import { defineOpDef, input, type OpDefTable } from './op-def.js';

/** TFLite's input indices of UNIDIRECTIONAL_SEQUENCE_LSTM (optional ones are -1 in a file): the float reader's
 * and nnport.QuantizedLstm's input order. */
export const LSTM_INPUT = {
  input: 0,
  inputToInput: 1,
  inputToForget: 2,
  inputToCell: 3,
  inputToOutput: 4,
  recurrentToInput: 5,
  recurrentToForget: 6,
  recurrentToCell: 7,
  recurrentToOutput: 8,
  cellToInput: 9,
  cellToForget: 10,
  cellToOutput: 11,
  inputGateBias: 12,
  forgetGateBias: 13,
  cellGateBias: 14,
  outputGateBias: 15,
  projectionWeights: 16,
  projectionBias: 17,
  outputState: 18,
  cellState: 19,
  inputLayerNorm: 20,
  forgetLayerNorm: 21,
  cellLayerNorm: 22,
  outputLayerNorm: 23,
} as const;

/** The fused activations of SVDF's float kernel (ApplyActivationToVector). */
export const SVDF_ACTIVATIONS = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT', 'SIGMOID'] as const;

/** The quantization of an integer SVDF, from the node's attributes. */
export interface SvdfQuant {
  inputScale: number;
  inputZeroPoint: number;
  weightsFeatureScale: number;
  weightsTimeScale: number;
  biasScale: number;
  stateScale: number;
  stateZeroPoint: number;
  outputScale: number;
  outputZeroPoint: number;
}

export interface SvdfAttrs {
  rank: number;
  activation: string;
  quant?: SvdfQuant;
}

/** The attribute names of SvdfQuant on the node (the TFLite reader writes them). */
export const SVDF_QUANT_ATTRS: Record<keyof SvdfQuant, string> = {
  inputScale: 'input_scale',
  inputZeroPoint: 'input_zero_point',
  weightsFeatureScale: 'weights_feature_scale',
  weightsTimeScale: 'weights_time_scale',
  biasScale: 'bias_scale',
  stateScale: 'state_scale',
  stateZeroPoint: 'state_zero_point',
  outputScale: 'output_scale',
  outputZeroPoint: 'output_zero_point',
};

export function parseSvdfAttrs(node: Node): SvdfAttrs {
  const rank = attrInt(node, 'rank', 0);
  if (!Number.isInteger(rank) || rank < 1) throw new ShapeError(`Svdf '${node.name}': rank ${rank} must be a positive integer`);
  const activation = attrString(node, 'activation', 'NONE');
  if (!(SVDF_ACTIVATIONS as readonly string[]).includes(activation)) throw new UnsupportedError(`Svdf activation ${activation}`, `node '${node.name}'`);
  if (!(SVDF_QUANT_ATTRS.inputScale in node.attrs)) return { rank, activation };
  const quant = {} as SvdfQuant;
  for (const [key, name] of Object.entries(SVDF_QUANT_ATTRS) as [keyof SvdfQuant, string][]) {
    if (!(name in node.attrs)) throw new QuantizationError(`Svdf '${node.name}': quantized, but attribute '${name}' is missing`);
    quant[key] = key.endsWith('ZeroPoint') ? attrInt(node, name, 0) : attrFloat(node, name, 0);
  }
  return { rank, activation, quant };
}

/** The attributes of nnport::QuantizedLstm (TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM). */
export interface QuantizedLstmAttrs {
  timeMajor: boolean;
  /** the cell gate's activation: TANH (or SIGMOID) */
  activation: string;
  cellClip: number;
  projClip: number;
  scales: number[];
  zeroPoints: number[];
  intermediateScales: number[];
  intermediateZeroPoints: number[];
  outputScale: number;
  outputZeroPoint: number;
}

export function parseQuantizedLstmAttrs(node: Node): QuantizedLstmAttrs {
  const scales = attrFloats(node, 'scales');
  const zeroPoints = attrInts(node, 'zero_points');
  const intermediateScales = attrFloats(node, 'intermediate_scales');
  const intermediateZeroPoints = attrInts(node, 'intermediate_zero_points');
  if (!scales || scales.length !== 24 || !zeroPoints || zeroPoints.length !== 24) throw new QuantizationError(`QuantizedLstm '${node.name}': needs 24 scales and zero points (one per TFLite input)`);
  if (!intermediateScales || intermediateScales.length !== 5 || !intermediateZeroPoints || intermediateZeroPoints.length !== 5) throw new QuantizationError(`QuantizedLstm '${node.name}': needs the 5 intermediates' scales and zero points`);
  const activation = attrString(node, 'activation', 'TANH');
  if (activation !== 'TANH' && activation !== 'SIGMOID') throw new UnsupportedError(`QuantizedLstm cell activation ${activation}`, `node '${node.name}': TFLite's integer LSTM takes TANH or SIGMOID`);
  return {
    timeMajor: attrInt(node, 'time_major', 0) !== 0,
    activation,
    cellClip: attrFloat(node, 'cell_clip', 0),
    projClip: attrFloat(node, 'proj_clip', 0),
    scales,
    zeroPoints,
    intermediateScales,
    intermediateZeroPoints,
    outputScale: attrFloat(node, 'output_scale', 0),
    outputZeroPoint: attrInt(node, 'output_zero_point', 0),
  };
}


export const statefulDefs = {
  /** (batch, input) -> (batch, filters / rank), int8 or float as the input */
  'nnport::Svdf': defineOpDef<SvdfAttrs>({
    opType: 'Svdf',
    domain: 'nnport',
    // its state is laid out per filter and frame: moving axes changes what it computes
    layout: 'shape',
    attrs: parseSvdfAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const filters = input(ctx, 1, 'weights_feature').shape?.[0];
      return [{ dtype: x.dtype, shape: [x.shape?.[0] ?? null, typeof filters === 'number' ? filters / ctx.attrs.rank : null] }];
    },
  }),
  /** (batch, time, input) or time-major (time, batch, input) -> the same leading dims, n_output int8; each state [batch, n], or one row [1, n] for every batch row (a dynamic batch) */
  'nnport::QuantizedLstm': defineOpDef<QuantizedLstmAttrs>({
    opType: 'QuantizedLstm',
    domain: 'nnport',
    layout: 'shape',
    attrs: parseQuantizedLstmAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const r = input(ctx, 6, 'recurrent_to_forget_weights');
      return [{ dtype: 'int8', shape: [x.shape?.[0] ?? null, x.shape?.[1] ?? null, r.shape?.[1] ?? null] }];
    },
  }),
} satisfies OpDefTable;
