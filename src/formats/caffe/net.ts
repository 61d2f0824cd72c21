// A Caffe NetParameter (from a prototxt or a caffemodel, V2 `layer` or legacy V1 `layers`) as one
// list of layers: V1 layers upgraded to V2's string types, the net reduced to the TEST phase,
// inputs collected from `input` + `input_dim` / `input_shape`, and blobs turned into tensors.
import { FormatError } from '../../ir/errors.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import { enumValues, has, newMessage, num, nums, str, strs, sub, subs, type Message, type TextLocation } from './schema.js';

export interface CaffeLayer {
  name: string;
  /** V2 type name ('Convolution'); V1 enum types are upgraded */
  type: string;
  bottom: string[];
  top: string[];
  /** the LayerParameter (a V1 layer's parameter messages are carried over under the same names) */
  msg: Message;
  blobs: Message[];
  at?: TextLocation;
}

export interface CaffeInput {
  name: string;
  shape?: number[];
}

export interface CaffeNet {
  name: string;
  inputs: CaffeInput[];
  layers: CaffeLayer[];
  /** the file held legacy V1 layers */
  v1: boolean;
  /** data layers left out by the phase filter (a train/test net's other stages), by top */
  droppedData: Map<string, CaffeLayer>;
}

/** V1LayerParameter.LayerType -> the V2 type string (Caffe's UpgradeV1LayerType). */
const V1_TYPES: Record<string, string> = {
  ABSVAL: 'AbsVal',
  ACCURACY: 'Accuracy',
  ARGMAX: 'ArgMax',
  BNLL: 'BNLL',
  CONCAT: 'Concat',
  CONTRASTIVE_LOSS: 'ContrastiveLoss',
  CONVOLUTION: 'Convolution',
  DATA: 'Data',
  DECONVOLUTION: 'Deconvolution',
  DROPOUT: 'Dropout',
  DUMMY_DATA: 'DummyData',
  EUCLIDEAN_LOSS: 'EuclideanLoss',
  ELTWISE: 'Eltwise',
  EXP: 'Exp',
  FLATTEN: 'Flatten',
  HDF5_DATA: 'HDF5Data',
  HDF5_OUTPUT: 'HDF5Output',
  HINGE_LOSS: 'HingeLoss',
  IM2COL: 'Im2col',
  IMAGE_DATA: 'ImageData',
  INFOGAIN_LOSS: 'InfogainLoss',
  INNER_PRODUCT: 'InnerProduct',
  LRN: 'LRN',
  MEMORY_DATA: 'MemoryData',
  MULTINOMIAL_LOGISTIC_LOSS: 'MultinomialLogisticLoss',
  MVN: 'MVN',
  POOLING: 'Pooling',
  POWER: 'Power',
  RELU: 'ReLU',
  SIGMOID: 'Sigmoid',
  SIGMOID_CROSS_ENTROPY_LOSS: 'SigmoidCrossEntropyLoss',
  SILENCE: 'Silence',
  SOFTMAX: 'Softmax',
  SOFTMAX_LOSS: 'SoftmaxWithLoss',
  SPLIT: 'Split',
  SLICE: 'Slice',
  TANH: 'TanH',
  WINDOW_DATA: 'WindowData',
  THRESHOLD: 'Threshold',
};

/** V1 fields that are not a parameter message carried over by name. */
const V1_OWN_FIELDS = new Set(['bottom', 'top', 'name', 'include', 'exclude', 'type', 'blobs', 'param', 'blobs_lr', 'weight_decay', 'loss_weight']);

const PHASE_TEST = 1;

/**
 * Every layer of the net, upgraded, in file order. With `testPhase`, layers whose include/exclude
 * rules leave them out of the TEST phase are dropped (Caffe's NetState filtering).
 */
export function netLayers(net: Message, file: string, testPhase: boolean): CaffeNet {
  const v2 = subs(net, 'layer');
  const v1 = subs(net, 'layers');
  if (v2.length && v1.length) throw new FormatError("the net has both 'layer' (V2) and legacy 'layers' (V1) entries; Caffe reads one kind only", { file });
  const state = sub(net, 'state');
  const phase = state && has(state, 'phase') ? num(state, 'phase') : PHASE_TEST;
  const level = state ? num(state, 'level') : 0;
  const stages = state ? strs(state, 'stage') : [];
  const layers: CaffeLayer[] = [];
  const droppedData = new Map<string, CaffeLayer>();
  for (const m of v2.length ? v2 : v1) {
    const layer = v2.length ? fromV2(m) : fromV1(m, file);
    if (testPhase && !included(layer.msg, phase, level, stages)) {
      for (const t of layer.top) droppedData.set(t, layer);
      continue;
    }
    layers.push(layer);
  }
  return { name: str(net, 'name'), inputs: netInputs(net, file), layers, v1: !v2.length && v1.length > 0, droppedData };
}

function fromV2(m: Message): CaffeLayer {
  return { name: str(m, 'name'), type: str(m, 'type'), bottom: strs(m, 'bottom'), top: strs(m, 'top'), msg: m, blobs: subs(m, 'blobs'), at: m.$at };
}

function fromV1(m: Message, file: string): CaffeLayer {
  const enumName = v1TypeName(num(m, 'type'));
  const type = enumName ? V1_TYPES[enumName] : undefined;
  if (!type) throw new FormatError(`legacy layer '${str(m, 'name')}' has unknown V1 type ${num(m, 'type')}`, { file });
  // Carry the parameter messages over: V1 and V2 name them alike.
  const msg = newMessage('caffe.LayerParameter');
  msg.name = str(m, 'name');
  msg.type = type;
  msg.bottom = strs(m, 'bottom');
  msg.top = strs(m, 'top');
  msg.include = subs(m, 'include');
  msg.exclude = subs(m, 'exclude');
  msg.blobs = subs(m, 'blobs');
  for (const [k, v] of Object.entries(m)) if (!k.startsWith('$') && !V1_OWN_FIELDS.has(k)) msg[k] = v;
  if (m.$unknown) msg.$unknown = m.$unknown;
  if (m.$at) msg.$at = m.$at;
  return { name: str(msg, 'name'), type, bottom: strs(msg, 'bottom'), top: strs(msg, 'top'), msg, blobs: subs(msg, 'blobs'), at: m.$at };
}

let v1Names: Map<number, string> | undefined;
function v1TypeName(value: number): string | undefined {
  if (!v1Names) {
    v1Names = new Map();
    for (const k of Object.keys(V1_TYPES)) v1Names.set(v1EnumValue(k), k);
  }
  return v1Names.get(value);
}

function v1EnumValue(name: string): number {
  return enumValues('caffe.V1LayerParameter.LayerType')[name]!;
}

/** Caffe's Net::StateMeetsRule over include (any rule met) / exclude (no rule met). */
function included(layer: Message, phase: number, level: number, stages: string[]): boolean {
  const meets = (rule: Message): boolean => {
    if (has(rule, 'phase') && num(rule, 'phase') !== phase) return false;
    if (has(rule, 'min_level') && level < num(rule, 'min_level')) return false;
    if (has(rule, 'max_level') && level > num(rule, 'max_level')) return false;
    for (const s of strs(rule, 'stage')) if (!stages.includes(s)) return false;
    for (const s of strs(rule, 'not_stage')) if (stages.includes(s)) return false;
    return true;
  };
  const inc = subs(layer, 'include');
  const exc = subs(layer, 'exclude');
  if (inc.length) return inc.some(meets);
  return !exc.some(meets);
}

/** The net's own inputs: `input` with `input_shape` or 4 `input_dim`s each. */
function netInputs(net: Message, file: string): CaffeInput[] {
  const names = strs(net, 'input');
  const shapes = subs(net, 'input_shape');
  const dims = nums(net, 'input_dim');
  if (shapes.length && dims.length) throw new FormatError("the net gives both 'input_shape' and 'input_dim'", { file });
  if (shapes.length && shapes.length !== names.length) throw new FormatError(`${names.length} input(s) but ${shapes.length} input_shape(s)`, { file });
  if (dims.length && dims.length !== 4 * names.length) throw new FormatError(`${names.length} input(s) need ${4 * names.length} input_dim values, found ${dims.length}`, { file });
  return names.map((name, i) => {
    const shape = shapes.length ? blobShapeDims(shapes[i]!) : dims.length ? dims.slice(4 * i, 4 * i + 4) : undefined;
    return shape ? { name, shape } : { name };
  });
}

export function blobShapeDims(m: Message): number[] {
  return nums(m, 'dim');
}

/** A blob's declared shape: `shape.dim`, or the legacy num/channels/height/width. */
export function blobDeclaredShape(blob: Message): number[] {
  const s = sub(blob, 'shape');
  if (s) return blobShapeDims(s);
  return [num(blob, 'num'), num(blob, 'channels'), num(blob, 'height'), num(blob, 'width')];
}

/** A blob's values as float32 (double_data narrowed), checked against its declared shape. */
export function blobTensor(blob: Message, where: string, file: string): Tensor<Float32Array> {
  const shape = blobDeclaredShape(blob);
  for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${where}: invalid dimension ${d} in shape [${shape.join(', ')}]`, { file });
  const raw = blob.data ?? blob.double_data;
  const data = raw === undefined ? new Float32Array(0) : raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
  const n = shapeSize(shape);
  if (data.length !== n) throw new FormatError(`${where}: holds ${data.length} values but its shape [${shape.join(', ')}] needs ${n}`, { file });
  return new Tensor('float32', shape, data);
}
