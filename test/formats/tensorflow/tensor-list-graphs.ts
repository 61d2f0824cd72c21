// TensorFlow graphs with TensorLists and TensorArrays, written node by node in the shapes TensorFlow
// freezes them into (tf-graph-spec.ts writes them as TF.js graph-model JSON and binary GraphDef):
// a TF2 Keras LSTM loop, a tf.function TensorArray loop in the TensorList and TensorArrayV3
// spellings, a list written then read back in a loop, every list op outside loops. Used by
// tensor-lists.test.ts and as fuzzing seeds.
import { rng } from '../../support/rng.js';
import { cst, F, I, op, ph, type AttrSpec, type DT, type ModelSpec, type NodeSpec } from './tf-graph-spec.js';

export const EF: Record<string, AttrSpec> = { element_dtype: { type: 'DT_FLOAT' } };
export const ci = (name: string, data: number[] | number): NodeSpec => (typeof data === 'number' ? cst(name, 'int32', [], [data]) : cst(name, 'int32', [data.length], data));

/**
 * A Keras LSTM layer (return_sequences) as TF2 freezes it (keras.backend.rnn): the input made
 * time-major and a TensorList (TensorListFromTensor), a TensorListReserve for the outputs, and a
 * While over (loop_counter, maximum_iterations, time, output list, h, c) plus the captured input
 * list and weights, cond = loop_counter < maximum_iterations and time < steps; the body reads the
 * input at `time`, writes h at `time`; TensorListStack after the loop.
 */
export function kerasLstm(batch: number, steps: number, features: number, units: number): ModelSpec {
  const r = rng(41);
  const mat = (n: number) => Array.from({ length: n }, () => (r() * 2 - 1) * 0.5);
  const T: DT[] = ['DT_INT32', 'DT_INT32', 'DT_INT32', 'DT_VARIANT', 'DT_FLOAT', 'DT_FLOAT', 'DT_VARIANT', 'DT_FLOAT', 'DT_FLOAT', 'DT_FLOAT'];
  const args: [string, DT][] = [
    ['lstm_while_loop_counter', 'DT_INT32'],
    ['lstm_while_maximum_iterations', 'DT_INT32'],
    ['placeholder', 'DT_INT32'],
    ['placeholder_1', 'DT_VARIANT'],
    ['placeholder_2', 'DT_FLOAT'],
    ['placeholder_3', 'DT_FLOAT'],
    ['tensorarrayunstack_tensorlistfromtensor_0', 'DT_VARIANT'],
    ['lstm_cell_matmul_readvariableop_resource_0', 'DT_FLOAT'],
    ['lstm_cell_matmul_1_readvariableop_resource_0', 'DT_FLOAT'],
    ['lstm_cell_biasadd_readvariableop_resource_0', 'DT_FLOAT'],
  ];
  return {
    nodes: [
      ph('input', [batch, steps, features]),
      ci('lstm/transpose/perm', [1, 0, 2]),
      op('lstm/transpose', 'Transpose', ['input', 'lstm/transpose/perm'], { T: { type: 'DT_FLOAT' }, Tperm: { type: 'DT_INT32' } }),
      ci('lstm/TensorArrayV2/element_shape', [-1, units]),
      ci('lstm/TensorArrayV2/num_elements', steps),
      op('lstm/TensorArrayV2', 'TensorListReserve', ['lstm/TensorArrayV2/element_shape', 'lstm/TensorArrayV2/num_elements'], { element_dtype: { type: 'DT_FLOAT' }, shape_type: { type: 'DT_INT32' } }),
      ci('lstm/TensorArrayUnstack/TensorListFromTensor/element_shape', [-1, features]),
      op('lstm/TensorArrayUnstack/TensorListFromTensor', 'TensorListFromTensor', ['lstm/transpose', 'lstm/TensorArrayUnstack/TensorListFromTensor/element_shape'], { element_dtype: { type: 'DT_FLOAT' }, shape_type: { type: 'DT_INT32' } }),
      cst('lstm/zeros', 'float32', [batch, units], Array<number>(batch * units).fill(0)),
      cst('lstm/zeros_1', 'float32', [batch, units], Array<number>(batch * units).fill(0)),
      ci('lstm/time', 0),
      ci('lstm/while/maximum_iterations', steps),
      ci('lstm/while/loop_counter', 0),
      cst('lstm/lstm_cell/kernel', 'float32', [features, 4 * units], mat(features * 4 * units)),
      cst('lstm/lstm_cell/recurrent_kernel', 'float32', [units, 4 * units], mat(units * 4 * units)),
      cst('lstm/lstm_cell/bias', 'float32', [4 * units], mat(4 * units)),
      op(
        'lstm/while',
        'While',
        [
          'lstm/while/loop_counter',
          'lstm/while/maximum_iterations',
          'lstm/time',
          'lstm/TensorArrayV2',
          'lstm/zeros',
          'lstm/zeros_1',
          'lstm/TensorArrayUnstack/TensorListFromTensor',
          'lstm/lstm_cell/kernel',
          'lstm/lstm_cell/recurrent_kernel',
          'lstm/lstm_cell/bias',
        ],
        {
          T: { types: T },
          cond: { func: 'lstm_while_cond_1234' },
          body: { func: 'lstm_while_body_1235' },
          output_shapes: { shapes: [[], [], [], [], [-1, units], [-1, units], [], [features, 4 * units], [units, 4 * units], [4 * units]] },
          parallel_iterations: { i: 32 },
          _num_original_outputs: { i: 10 },
        },
      ),
      ci('lstm/TensorArrayV2Stack/TensorListStack/element_shape', [-1, units]),
      op('lstm/TensorArrayV2Stack/TensorListStack', 'TensorListStack', ['lstm/while:3', 'lstm/TensorArrayV2Stack/TensorListStack/element_shape'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: steps } }),
      ci('lstm/transpose_1/perm', [1, 0, 2]),
      op('lstm/transpose_1', 'Transpose', ['lstm/TensorArrayV2Stack/TensorListStack', 'lstm/transpose_1/perm'], { T: { type: 'DT_FLOAT' }, Tperm: { type: 'DT_INT32' } }),
      op('h', 'Identity', ['lstm/while:4']),
    ],
    functions: [
      {
        name: 'lstm_while_cond_1234',
        inputs: args,
        outputs: [['identity', 'DT_BOOL']],
        nodes: [
          ci('lstm/while/Less/y', steps),
          op('lstm/while/Less', 'Less', ['placeholder', 'lstm/while/Less/y:output:0'], I),
          op('lstm/while/Less_1', 'Less', ['lstm_while_loop_counter', 'lstm_while_maximum_iterations'], I),
          op('lstm/while/LogicalAnd', 'LogicalAnd', ['lstm/while/Less_1:z:0', 'lstm/while/Less:z:0'], {}),
          op('lstm/while/Identity', 'Identity', ['lstm/while/LogicalAnd:z:0'], { T: { type: 'DT_BOOL' } }),
        ],
        ret: { identity: 'lstm/while/Identity:output:0' },
      },
      {
        name: 'lstm_while_body_1235',
        inputs: args,
        outputs: [
          ['identity', 'DT_INT32'],
          ['identity_1', 'DT_INT32'],
          ['identity_2', 'DT_INT32'],
          ['identity_3', 'DT_VARIANT'],
          ['identity_4', 'DT_FLOAT'],
          ['identity_5', 'DT_FLOAT'],
          ['tensorarrayunstack_tensorlistfromtensor', 'DT_VARIANT'],
          ['lstm_cell_matmul_readvariableop_resource', 'DT_FLOAT'],
          ['lstm_cell_matmul_1_readvariableop_resource', 'DT_FLOAT'],
          ['lstm_cell_biasadd_readvariableop_resource', 'DT_FLOAT'],
        ],
        nodes: [
          ci('lstm/while/TensorArrayV2Read/TensorListGetItem/element_shape', [-1, features]),
          op('lstm/while/TensorArrayV2Read/TensorListGetItem', 'TensorListGetItem', ['tensorarrayunstack_tensorlistfromtensor_0', 'placeholder', 'lstm/while/TensorArrayV2Read/TensorListGetItem/element_shape:output:0'], EF),
          op('lstm/while/lstm_cell/MatMul', 'MatMul', ['lstm/while/TensorArrayV2Read/TensorListGetItem:item:0', 'lstm_cell_matmul_readvariableop_resource_0']),
          op('lstm/while/lstm_cell/MatMul_1', 'MatMul', ['placeholder_2', 'lstm_cell_matmul_1_readvariableop_resource_0']),
          op('lstm/while/lstm_cell/add', 'AddV2', ['lstm/while/lstm_cell/MatMul:product:0', 'lstm/while/lstm_cell/MatMul_1:product:0']),
          op('lstm/while/lstm_cell/BiasAdd', 'BiasAdd', ['lstm/while/lstm_cell/add:z:0', 'lstm_cell_biasadd_readvariableop_resource_0']),
          ci('lstm/while/lstm_cell/split/split_dim', 1),
          op('lstm/while/lstm_cell/split', 'Split', ['lstm/while/lstm_cell/split/split_dim:output:0', 'lstm/while/lstm_cell/BiasAdd:output:0'], { T: { type: 'DT_FLOAT' }, num_split: { i: 4 } }),
          op('lstm/while/lstm_cell/Sigmoid', 'Sigmoid', ['lstm/while/lstm_cell/split:output:0']),
          op('lstm/while/lstm_cell/Sigmoid_1', 'Sigmoid', ['lstm/while/lstm_cell/split:output:1']),
          op('lstm/while/lstm_cell/mul', 'Mul', ['lstm/while/lstm_cell/Sigmoid_1:y:0', 'placeholder_3']),
          op('lstm/while/lstm_cell/Tanh', 'Tanh', ['lstm/while/lstm_cell/split:output:2']),
          op('lstm/while/lstm_cell/mul_1', 'Mul', ['lstm/while/lstm_cell/Sigmoid:y:0', 'lstm/while/lstm_cell/Tanh:y:0']),
          op('lstm/while/lstm_cell/add_1', 'AddV2', ['lstm/while/lstm_cell/mul:z:0', 'lstm/while/lstm_cell/mul_1:z:0']),
          op('lstm/while/lstm_cell/Sigmoid_2', 'Sigmoid', ['lstm/while/lstm_cell/split:output:3']),
          op('lstm/while/lstm_cell/Tanh_1', 'Tanh', ['lstm/while/lstm_cell/add_1:z:0']),
          op('lstm/while/lstm_cell/mul_2', 'Mul', ['lstm/while/lstm_cell/Sigmoid_2:y:0', 'lstm/while/lstm_cell/Tanh_1:y:0']),
          op('lstm/while/TensorArrayV2Write/TensorListSetItem', 'TensorListSetItem', ['placeholder_1', 'placeholder', 'lstm/while/lstm_cell/mul_2:z:0'], EF),
          ci('lstm/while/add/y', 1),
          op('lstm/while/add', 'AddV2', ['placeholder', 'lstm/while/add/y:output:0'], I),
          ci('lstm/while/add_1/y', 1),
          op('lstm/while/add_1', 'AddV2', ['lstm_while_loop_counter', 'lstm/while/add_1/y:output:0'], I),
          op('lstm/while/Identity', 'Identity', ['lstm/while/add_1:z:0'], I),
          op('lstm/while/Identity_1', 'Identity', ['lstm_while_maximum_iterations'], I),
          op('lstm/while/Identity_2', 'Identity', ['lstm/while/add:z:0'], I),
          op('lstm/while/Identity_3', 'Identity', ['lstm/while/TensorArrayV2Write/TensorListSetItem:output_handle:0'], { T: { type: 'DT_VARIANT' } }),
          op('lstm/while/Identity_4', 'Identity', ['lstm/while/lstm_cell/mul_2:z:0']),
          op('lstm/while/Identity_5', 'Identity', ['lstm/while/lstm_cell/add_1:z:0']),
        ],
        ret: {
          identity: 'lstm/while/Identity:output:0',
          identity_1: 'lstm/while/Identity_1:output:0',
          identity_2: 'lstm/while/Identity_2:output:0',
          identity_3: 'lstm/while/Identity_3:output:0',
          identity_4: 'lstm/while/Identity_4:output:0',
          identity_5: 'lstm/while/Identity_5:output:0',
          tensorarrayunstack_tensorlistfromtensor: 'tensorarrayunstack_tensorlistfromtensor_0',
          lstm_cell_matmul_readvariableop_resource: 'lstm_cell_matmul_readvariableop_resource_0',
          lstm_cell_matmul_1_readvariableop_resource: 'lstm_cell_matmul_1_readvariableop_resource_0',
          lstm_cell_biasadd_readvariableop_resource: 'lstm_cell_biasadd_readvariableop_resource_0',
        },
      },
    ],
    outputs: ['lstm/transpose_1', 'h'],
  };
}

/**
 * A tf.function cumulative sum into a TensorArray: ta = TensorArray(float32, size=n) (element
 * shape unknown), for i in range(n): acc += x[i]; ta = ta.write(i, acc); return ta.stack().
 * `n` a placeholder (a Loop of computed trip count) or a constant (counted).
 */
export function cumsumList(n: number | 'input'): ModelSpec {
  const T: DT[] = ['DT_INT32', 'DT_INT32', 'DT_VARIANT', 'DT_FLOAT', 'DT_FLOAT'];
  const args: [string, DT][] = [['i', 'DT_INT32'], ['n', 'DT_INT32'], ['ta', 'DT_VARIANT'], ['acc', 'DT_FLOAT'], ['x', 'DT_FLOAT']];
  return {
    nodes: [
      ph('x', [6, 3]),
      n === 'input' ? ph('n', [], 'DT_INT32') : ci('n', n),
      ci('es', -1),
      op('ta', 'TensorListReserve', ['es', 'n'], { element_dtype: { type: 'DT_FLOAT' }, shape_type: { type: 'DT_INT32' } }),
      cst('acc0', 'float32', [3], [0, 0, 0]),
      ci('i0', 0),
      op('loop', 'StatelessWhile', ['i0', 'n', 'ta', 'acc0', 'x'], {
        T: { types: T },
        cond: { func: 'cumsum_cond' },
        body: { func: 'cumsum_body' },
        output_shapes: { shapes: [[], [], [], [3], [6, 3]] },
      }),
      ci('es2', -1),
      op('stack', 'TensorListStack', ['loop:2', 'es2'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: -1 } }),
      op('acc', 'Identity', ['loop:3']),
    ],
    functions: [
      {
        name: 'cumsum_cond',
        inputs: args,
        outputs: [['identity', 'DT_BOOL']],
        nodes: [op('Less', 'Less', ['i', 'n'], I)],
        ret: { identity: 'Less:z:0' },
      },
      {
        name: 'cumsum_body',
        inputs: args,
        outputs: [['i_1', 'DT_INT32'], ['n_1', 'DT_INT32'], ['ta_1', 'DT_VARIANT'], ['acc_1', 'DT_FLOAT'], ['x_1', 'DT_FLOAT']],
        nodes: [
          ci('axis', 0),
          op('row', 'GatherV2', ['x', 'i', 'axis:output:0'], { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: 0 } }),
          op('sum', 'AddV2', ['acc', 'row:output:0']),
          op('write', 'TensorListSetItem', ['ta', 'i', 'sum:z:0'], EF),
          ci('one', 1),
          op('next', 'AddV2', ['i', 'one:output:0'], I),
        ],
        ret: { i_1: 'next:z:0', n_1: 'n', ta_1: 'write:output_handle:0', acc_1: 'sum:z:0', x_1: 'x' },
      },
    ],
    outputs: ['stack', 'acc'],
  };
}

/** The same loop in TF1's TensorArrayV3 spelling: the handle and the flow carried, WriteV3 in the body, GatherV3 of range(SizeV3) after. */
export function cumsumArray(n: number | 'input'): ModelSpec {
  const T: DT[] = ['DT_INT32', 'DT_INT32', 'DT_RESOURCE', 'DT_FLOAT', 'DT_FLOAT', 'DT_FLOAT'];
  const args: [string, DT][] = [['i', 'DT_INT32'], ['n', 'DT_INT32'], ['handle', 'DT_RESOURCE'], ['flow', 'DT_FLOAT'], ['acc', 'DT_FLOAT'], ['x', 'DT_FLOAT']];
  return {
    nodes: [
      ph('x', [6, 3]),
      n === 'input' ? ph('n', [], 'DT_INT32') : ci('n', n),
      op('ta', 'TensorArrayV3', ['n'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: 'unknown' }, dynamic_size: { b: false }, clear_after_read: { b: true }, identical_element_shapes: { b: true } }),
      cst('acc0', 'float32', [3], [0, 0, 0]),
      ci('i0', 0),
      op('loop', 'While', ['i0', 'n', 'ta', 'ta:1', 'acc0', 'x'], {
        T: { types: T },
        cond: { func: 'ta_cond' },
        body: { func: 'ta_body' },
        output_shapes: { shapes: [[], [], [], [], [3], [6, 3]] },
      }),
      op('size', 'TensorArraySizeV3', ['ta', 'loop:3'], {}),
      ci('zero', 0),
      ci('one', 1),
      op('range', 'Range', ['zero', 'size', 'one'], { Tidx: { type: 'DT_INT32' } }),
      op('stack', 'TensorArrayGatherV3', ['ta', 'range', 'loop:3'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: 'unknown' } }),
      op('acc', 'Identity', ['loop:4']),
    ],
    functions: [
      {
        name: 'ta_cond',
        inputs: args,
        outputs: [['identity', 'DT_BOOL']],
        nodes: [op('Less', 'Less', ['i', 'n'], I)],
        ret: { identity: 'Less:z:0' },
      },
      {
        name: 'ta_body',
        inputs: args,
        outputs: [['i_1', 'DT_INT32'], ['n_1', 'DT_INT32'], ['handle_1', 'DT_RESOURCE'], ['flow_1', 'DT_FLOAT'], ['acc_1', 'DT_FLOAT'], ['x_1', 'DT_FLOAT']],
        nodes: [
          ci('axis', 0),
          op('row', 'GatherV2', ['x', 'i', 'axis:output:0'], { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: 0 } }),
          op('sum', 'AddV2', ['acc', 'row:output:0']),
          op('write', 'TensorArrayWriteV3', ['handle', 'i', 'sum:z:0', 'flow'], F),
          ci('one', 1),
          op('next', 'AddV2', ['i', 'one:output:0'], I),
        ],
        ret: { i_1: 'next:z:0', n_1: 'n', handle_1: 'handle', flow_1: 'write:flow_out:0', acc_1: 'sum:z:0', x_1: 'x' },
      },
    ],
    outputs: ['stack', 'acc'],
  };
}

/**
 * The LSTM for TensorFlow.js' executor: the body gives h back as mul_2 itself rather than through
 * its Identity (the same value). TF.js 4.9 frees a tensor written into a TensorList when an
 * Identity of it was carried by the loop ('Cannot read properties of undefined (reading
 * backend)' at TensorListStack), so it cannot run TF2's own spelling.
 */
export function kerasLstmForTfjs(batch: number, steps: number, features: number, units: number): ModelSpec {
  const m = kerasLstm(batch, steps, features, units);
  m.functions[1]!.ret.identity_4 = 'lstm/while/lstm_cell/mul_2:z:0';
  return m;
}

export const LT: Record<string, AttrSpec> = { element_dtype: { type: 'DT_FLOAT' }, shape_type: { type: 'DT_INT32' } };
export const TA = (extra: Record<string, AttrSpec> = {}): Record<string, AttrSpec> => ({ dtype: { type: 'DT_FLOAT' }, dynamic_size: { b: false }, clear_after_read: { b: false }, identical_element_shapes: { b: true }, ...extra });

/**
 * Every list op outside loops, each list built, written and read back once (TF.js changes its lists
 * in place). `forTfjs`: the split
 * TensorArray of known element shape, which TF.js 4.9 needs (TensorFlow takes both as written).
 */
export function straightLine(forTfjs = false): ModelSpec {
  return {
    nodes: [
      ph('a', [3]),
      ph('b', [3]),
      ph('c', [3]),
      ph('y', [2, 3]),
      ph('d1', [3]),
      ph('d2', [3]),
      ph('z', [2, 3]),
      ph('w', [3, 2, 2]),
      ph('v', [6, 2]),
      ph('u', [3, 2]),
      ci('es3', [3]),
      ci('n3', 3),
      ci('i0', 0),
      ci('i1', 1),
      ci('i2', 2),
      ci('idx20', [2, 0]),
      ci('idx10', [1, 0]),
      ci('idx201', [2, 0, 1]),
      ci('idx12', [1, 2]),
      ci('idx012', [0, 1, 2]),
      ci('minus1', -1),
      ci('es22', [2, 2]),
      ci('es_2', [-1, 2]),
      ci('len222', [2, 2, 2]),
      ci('n2', 2),
      // Reserve, SetItem out of order, then Stack / GetItem / Gather / Length
      op('L', 'TensorListReserve', ['es3', 'n3'], LT),
      op('L1', 'TensorListSetItem', ['L', 'i2', 'a'], EF),
      op('L2', 'TensorListSetItem', ['L1', 'i0', 'b'], EF),
      op('L3', 'TensorListSetItem', ['L2', 'i1', 'c'], EF),
      op('stack', 'TensorListStack', ['L3', 'es3'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: 3 } }),
      op('item', 'TensorListGetItem', ['L3', 'i2', 'es3'], EF),
      op('gathered', 'TensorListGather', ['L3', 'idx20', 'es3'], EF),
      op('length', 'TensorListLength', ['L3'], {}),
      // FromTensor, PushBack twice, PopBack
      op('P', 'TensorListFromTensor', ['y', 'es3'], LT),
      op('P1', 'TensorListPushBack', ['P', 'd1'], EF),
      op('P2', 'TensorListPushBack', ['P1', 'd2'], EF),
      op('pop', 'TensorListPopBack', ['P2', 'es3'], EF),
      op('popped', 'TensorListStack', ['pop', 'es3'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: -1 } }),
      op('last', 'Identity', ['pop:1']),
      // Scatter (V1, V2)
      op('S', 'TensorListScatterV2', ['z', 'idx10', 'es3', 'minus1'], EF),
      op('scattered', 'TensorListStack', ['S', 'es3'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: -1 } }),
      op('S1', 'TensorListScatter', ['z', 'idx10', 'es3'], EF),
      op('scattered1', 'TensorListStack', ['S1', 'es3'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: -1 } }),
      // Concat, Split
      op('C', 'TensorListFromTensor', ['w', 'es22'], LT),
      op('cat', 'TensorListConcat', ['C'], { element_dtype: { type: 'DT_FLOAT' }, element_shape: { shape: [-1, 2] } }),
      op('Sp', 'TensorListSplit', ['v', 'es_2', 'len222'], LT),
      op('split', 'TensorListStack', ['Sp', 'es_2'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: -1 } }),
      // TensorArrayV3: Scatter, Read, Gather, Size, Concat; Split; Write
      op('ta', 'TensorArrayV3', ['n3'], TA({ element_shape: { shape: [2] } })),
      op('f1', 'TensorArrayScatterV3', ['ta', 'idx201', 'u', 'ta:1'], F),
      op('read', 'TensorArrayReadV3', ['ta', 'i0', 'f1'], { dtype: { type: 'DT_FLOAT' } }),
      op('tgather', 'TensorArrayGatherV3', ['ta', 'idx12', 'f1'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: [2] } }),
      op('tsize', 'TensorArraySizeV3', ['ta', 'f1'], {}),
      op('tconcat', 'TensorArrayConcatV3', ['ta', 'f1'], { dtype: { type: 'DT_FLOAT' }, element_shape_except0: { shape: 'unknown' } }),
      op('ta2', 'TensorArrayV3', ['n3'], TA({ element_shape: { shape: forTfjs ? [2, 2] : 'unknown' } })),
      op('f2', 'TensorArraySplitV3', ['ta2', 'v', 'len222', 'ta2:1'], F),
      op('tgather2', 'TensorArrayGatherV3', ['ta2', 'idx012', 'f2'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: 'unknown' } }),
      op('ta3', 'TensorArrayV3', ['n2'], TA({ element_shape: { shape: [3] } })),
      op('w1', 'TensorArrayWriteV3', ['ta3', 'i1', 'a', 'ta3:1'], F),
      op('w2', 'TensorArrayWriteV3', ['ta3', 'i0', 'b', 'w1'], F),
      op('tgather3', 'TensorArrayGatherV3', ['ta3', 'idx10', 'w2'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: [3] } }),
    ],
    functions: [],
    outputs: ['stack', 'item', 'gathered', 'length', 'scattered', 'scattered1', 'cat', 'read', 'tgather', 'tsize', 'tconcat', 'tgather2', 'tgather3'],
  };
}

/**
 * A list written then read back in a loop (dense): L = list(x); for i in 1..5: L[i] = L[i-1] + L[i]
 * (a prefix sum in place), and R reserved of known element shape written backwards, R[5-i] = 2 x[i]
 * for i in 0..5 (the index not the counter: carried dense, not a scan output).
 */
export function denseLoop(): ModelSpec {
  const T: DT[] = ['DT_INT32', 'DT_VARIANT', 'DT_VARIANT', 'DT_FLOAT'];
  const args: [string, DT][] = [['i', 'DT_INT32'], ['L', 'DT_VARIANT'], ['R', 'DT_VARIANT'], ['x', 'DT_FLOAT']];
  return {
    nodes: [
      ph('x', [6, 3]),
      ci('es', [3]),
      ci('six', 6),
      ci('i0', 0),
      op('L', 'TensorListFromTensor', ['x', 'es'], LT),
      op('R', 'TensorListReserve', ['es', 'six'], LT),
      op('loop', 'While', ['i0', 'L', 'R', 'x'], { T: { types: T }, cond: { func: 'd_cond' }, body: { func: 'd_body' }, output_shapes: { shapes: [[], [], [], [6, 3]] } }),
      op('prefix', 'TensorListStack', ['loop:1', 'es'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: 6 } }),
      op('reversed', 'TensorListStack', ['loop:2', 'es'], { element_dtype: { type: 'DT_FLOAT' }, num_elements: { i: 6 } }),
    ],
    functions: [
      { name: 'd_cond', inputs: args, outputs: [['identity', 'DT_BOOL']], nodes: [ci('six', 6), op('Less', 'Less', ['i', 'six:output:0'], I)], ret: { identity: 'Less:z:0' } },
      {
        name: 'd_body',
        inputs: args,
        outputs: [['i_1', 'DT_INT32'], ['L_1', 'DT_VARIANT'], ['R_1', 'DT_VARIANT'], ['x_1', 'DT_FLOAT']],
        nodes: [
          ci('one', 1),
          ci('five', 5),
          ci('es', [3]),
          ci('axis', 0),
          cst('two', 'float32', [], [2]),
          op('next', 'AddV2', ['i', 'one:output:0'], I),
          // the prefix sum: from i = 1 on, L[i] = L[i-1] + L[i]
          op('prev_i', 'Maximum', ['i', 'one:output:0'], I),
          op('prev_at', 'Sub', ['prev_i:z:0', 'one:output:0'], I),
          op('prev', 'TensorListGetItem', ['L', 'prev_at:z:0', 'es:output:0'], EF),
          op('cur', 'TensorListGetItem', ['L', 'prev_i:z:0', 'es:output:0'], EF),
          op('sum', 'AddV2', ['prev:item:0', 'cur:item:0']),
          op('L_set', 'TensorListSetItem', ['L', 'prev_i:z:0', 'sum:z:0'], EF),
          // R[5 - i] = 2 x[i]
          op('row', 'GatherV2', ['x', 'i', 'axis:output:0'], { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: 0 } }),
          op('twice', 'Mul', ['row:output:0', 'two:output:0']),
          op('back', 'Sub', ['five:output:0', 'i'], I),
          op('R_set', 'TensorListSetItem', ['R', 'back:z:0', 'twice:z:0'], EF),
        ],
        ret: { i_1: 'next:z:0', L_1: 'L_set:output_handle:0', R_1: 'R_set:output_handle:0', x_1: 'x' },
      },
    ],
    outputs: ['prefix', 'reversed'],
  };
}

/**
 * The model for TensorFlow.js' executor: the loop also carries the values its body writes into
 * lists (zeros first, unused after). TF.js 4.9 disposes a tensor written into a TensorList in a
 * While body at the end of the iteration unless the body gives it back as a loop value ('Cannot
 * read properties of undefined (reading backend)' when the list is read), so it cannot run such a
 * loop as TensorFlow writes it; the lists' values are the same.
 */
export function keepWritten(m: ModelSpec, loopName: string, written: { ref: string; shape: number[] }[]): ModelSpec {
  const out: ModelSpec = structuredClone(m);
  const loop = out.nodes.find((n) => n.name === loopName)!;
  const T = (loop.attr!.T as { types: DT[] }).types;
  const shapes = (loop.attr!.output_shapes as { shapes: number[][] }).shapes;
  const body = out.functions.find((f) => f.name === (loop.attr!.body as { func: string }).func)!;
  const cond = out.functions.find((f) => f.name === (loop.attr!.cond as { func: string }).func)!;
  written.forEach((w, k) => {
    const init = `${loopName}/kept_${k}`;
    out.nodes.push(cst(init, 'float32', w.shape, Array<number>(w.shape.reduce((a, b) => a * b, 1)).fill(0)));
    loop.input = [...loop.input!, init];
    T.push('DT_FLOAT');
    shapes.push(w.shape);
    for (const f of [body, cond]) f.inputs.push([`kept_${k}`, 'DT_FLOAT']);
    body.outputs.push([`kept_${k}_1`, 'DT_FLOAT']);
    body.ret[`kept_${k}_1`] = w.ref;
  });
  return out;
}

/** The same model with its While's loop values in another order (`order[j]`: the old position of new value j). */
export function reorderLoop(m: ModelSpec, loopName: string, order: number[]): ModelSpec {
  const out: ModelSpec = structuredClone(m);
  const loop = out.nodes.find((n) => n.name === loopName)!;
  const pick = <T>(xs: T[]): T[] => order.map((k) => xs[k]!);
  loop.input = pick(loop.input!);
  (loop.attr!.T as { types: DT[] }).types = pick((loop.attr!.T as { types: DT[] }).types);
  const shapes = loop.attr!.output_shapes as { shapes: number[][] };
  shapes.shapes = pick(shapes.shapes);
  for (const f of out.functions.filter((f) => [(loop.attr!.body as { func: string }).func, (loop.attr!.cond as { func: string }).func].includes(f.name))) {
    f.inputs = pick(f.inputs);
    if (f.outputs.length === order.length) f.outputs = pick(f.outputs);
  }
  const where = new Map(order.map((k, j) => [k, j]));
  const rename = (ref: string) => {
    const m = new RegExp(`^${loopName}:(\\d+)$`).exec(ref);
    return m ? `${loopName}:${where.get(Number(m[1]))}` : ref;
  };
  for (const n of out.nodes) n.input = n.input?.map(rename);
  return out;
}

/**
 * TF1's dynamic_rnn loop (tf1-control-flow.ts makes the frame a functional While): the input
 * unstacked into a TensorArrayV3 (ScatterV3 of range(T)), a While frame over (time, the output
 * array's flow, h) with the arrays' handles, the input flow and a weight entering as constants;
 * the body reads x[time] (ReadV3), h = tanh(h * w + x[time]), writes h at time (WriteV3); after
 * the loop GatherV3 of range(SizeV3). `elementShape` of the output array: declared or unknown.
 */
export function tf1DynamicRnn(steps: number, elementShape: number[] | 'unknown'): ModelSpec {
  const r = rng(43);
  const frame = 'rnn/while/while_context';
  const enter = (name: string, x: string, constant: boolean, t: DT): NodeSpec => ({
    name,
    op: 'Enter',
    input: [x],
    attr: { T: { type: t }, frame_name: { s: frame }, is_constant: { b: constant }, parallel_iterations: { i: 32 } },
  });
  const loopVar = (k: string, init: string, next: string, t: DT): NodeSpec[] => [
    enter(`rnn/while/Enter${k}`, init, false, t),
    { name: `rnn/while/Merge${k}`, op: 'Merge', input: [`rnn/while/Enter${k}`, `rnn/while/NextIteration${k}`], attr: { T: { type: t }, N: { i: 2 } } },
    { name: `rnn/while/Switch${k}`, op: 'Switch', input: [`rnn/while/Merge${k}`, 'rnn/while/LoopCond'], attr: { T: { type: t } } },
    op(`rnn/while/Identity${k}`, 'Identity', [`rnn/while/Switch${k}:1`], { T: { type: t } }),
    op(`rnn/while/NextIteration${k}`, 'NextIteration', [next], { T: { type: t } }),
    op(`rnn/while/Exit${k}`, 'Exit', [`rnn/while/Switch${k}`], { T: { type: t } }),
  ];
  const taAttr = (shape: number[] | 'unknown'): Record<string, AttrSpec> => ({
    dtype: { type: 'DT_FLOAT' },
    element_shape: { shape },
    dynamic_size: { b: false },
    clear_after_read: { b: true },
    identical_element_shapes: { b: true },
  });
  return {
    nodes: [
      ph('x', [steps, 3]),
      ci('rnn/TensorArray/size', steps),
      op('rnn/TensorArray', 'TensorArrayV3', ['rnn/TensorArray/size'], taAttr(elementShape)),
      op('rnn/TensorArray_1', 'TensorArrayV3', ['rnn/TensorArray/size'], taAttr([3])),
      ci('rnn/range/start', 0),
      ci('rnn/range/delta', 1),
      op('rnn/range', 'Range', ['rnn/range/start', 'rnn/TensorArray/size', 'rnn/range/delta'], { Tidx: { type: 'DT_INT32' } }),
      op('rnn/TensorArrayUnstack/TensorArrayScatterV3', 'TensorArrayScatterV3', ['rnn/TensorArray_1', 'rnn/range', 'x', 'rnn/TensorArray_1:1'], F),
      ci('rnn/time', 0),
      cst('rnn/h0', 'float32', [3], [0, 0, 0]),
      cst('rnn/w', 'float32', [3], Array.from({ length: 3 }, () => r() * 2 - 1)),
      ...loopVar('', 'rnn/time', 'rnn/while/add', 'DT_INT32'),
      ...loopVar('_1', 'rnn/TensorArray:1', 'rnn/while/TensorArrayWrite/TensorArrayWriteV3', 'DT_FLOAT'),
      ...loopVar('_2', 'rnn/h0', 'rnn/while/Tanh', 'DT_FLOAT'),
      { ...ci('rnn/while/Less/y', steps), input: ['^rnn/while/Merge'] },
      op('rnn/while/Less', 'Less', ['rnn/while/Merge', 'rnn/while/Less/y'], I),
      op('rnn/while/LoopCond', 'LoopCond', ['rnn/while/Less'], {}),
      enter('rnn/while/TensorArrayReadV3/Enter', 'rnn/TensorArray_1', true, 'DT_RESOURCE'),
      enter('rnn/while/TensorArrayReadV3/Enter_1', 'rnn/TensorArrayUnstack/TensorArrayScatterV3', true, 'DT_FLOAT'),
      op('rnn/while/TensorArrayReadV3', 'TensorArrayReadV3', ['rnn/while/TensorArrayReadV3/Enter', 'rnn/while/Identity', 'rnn/while/TensorArrayReadV3/Enter_1'], { dtype: { type: 'DT_FLOAT' } }),
      enter('rnn/while/mul/Enter', 'rnn/w', true, 'DT_FLOAT'),
      op('rnn/while/mul', 'Mul', ['rnn/while/Identity_2', 'rnn/while/mul/Enter']),
      op('rnn/while/add_1', 'AddV2', ['rnn/while/mul', 'rnn/while/TensorArrayReadV3']),
      op('rnn/while/Tanh', 'Tanh', ['rnn/while/add_1']),
      enter('rnn/while/TensorArrayWrite/TensorArrayWriteV3/Enter', 'rnn/TensorArray', true, 'DT_RESOURCE'),
      op('rnn/while/TensorArrayWrite/TensorArrayWriteV3', 'TensorArrayWriteV3', ['rnn/while/TensorArrayWrite/TensorArrayWriteV3/Enter', 'rnn/while/Identity', 'rnn/while/Tanh', 'rnn/while/Identity_1'], F),
      { ...ci('rnn/while/add/y', 1), input: ['^rnn/while/Identity'] },
      op('rnn/while/add', 'AddV2', ['rnn/while/Identity', 'rnn/while/add/y'], I),
      op('rnn/TensorArrayStack/TensorArraySizeV3', 'TensorArraySizeV3', ['rnn/TensorArray', 'rnn/while/Exit_1'], {}),
      op('rnn/TensorArrayStack/range', 'Range', ['rnn/range/start', 'rnn/TensorArrayStack/TensorArraySizeV3', 'rnn/range/delta'], { Tidx: { type: 'DT_INT32' } }),
      op('rnn/TensorArrayStack/TensorArrayGatherV3', 'TensorArrayGatherV3', ['rnn/TensorArray', 'rnn/TensorArrayStack/range', 'rnn/while/Exit_1'], { dtype: { type: 'DT_FLOAT' }, element_shape: { shape: [3] } }),
      op('h', 'Identity', ['rnn/while/Exit_2']),
    ],
    functions: [],
    outputs: ['rnn/TensorArrayStack/TensorArrayGatherV3', 'h'],
  };
}
