// TF1 control-flow graphs written node for node as TF1 emits them (tf1-graphs.ts' constructors):
// the models tf1-control-flow.test.ts runs against TensorFlow.js and tf1-fuzz.test.ts mutates.
import { rng } from '../../support/rng.js';
import { condHead, loopVar, tf1, type NodeSpec, type Tf1Model } from './tf1-graphs.js';

// (1) y = tf.cond(s > 0, lambda: x * 2 + w, lambda: relu(x - w)), and a second output
// z = tf.cond(same, lambda: x, lambda: x - c): an outer tensor passed straight through
// (cond/Switch_1) and a Const of the false branch. (Not c itself: TF.js' executor takes every
// Const as live, whatever its control input, so its Merge would return c on either branch.)
const W23 = [0.5, -1, 2, 0.25, -0.75, 1.5];
export const condModel = (): Tf1Model => ({
  nodes: [
    tf1.ph('x', [2, 3]),
    tf1.ph('s', []),
    tf1.cst('w', 'float32', [2, 3], W23),
    tf1.cst('zero', 'float32', [], [0]),
    tf1.op('Greater', 'Greater', ['s', 'zero']),
    ...condHead('cond', 'Greater'),
    tf1.sw('cond/mul/Switch', 'x', 'cond/pred_id'),
    tf1.cst('cond/mul/y', 'float32', [], [2], ['cond/switch_t']),
    tf1.op('cond/mul', 'Mul', ['cond/mul/Switch:1', 'cond/mul/y']),
    tf1.sw('cond/add/Switch', 'w', 'cond/pred_id'),
    tf1.op('cond/add', 'AddV2', ['cond/mul', 'cond/add/Switch:1']),
    tf1.sw('cond/sub/Switch', 'x', 'cond/pred_id'),
    tf1.sw('cond/sub/Switch_1', 'w', 'cond/pred_id'),
    tf1.op('cond/sub', 'Sub', ['cond/sub/Switch', 'cond/sub/Switch_1']),
    tf1.op('cond/Relu', 'Relu', ['cond/sub']),
    tf1.merge('cond/Merge', 'cond/Relu', 'cond/add'),
    tf1.sw('cond/Switch_1', 'x', 'cond/pred_id'),
    tf1.cst('cond/Const', 'float32', [2, 3], [6, 5, 4, 3, 2, 1], ['cond/switch_f']),
    tf1.sw('cond/sub_1/Switch', 'x', 'cond/pred_id'),
    tf1.op('cond/sub_1', 'Sub', ['cond/sub_1/Switch', 'cond/Const']),
    tf1.merge('cond/Merge_1', 'cond/sub_1', 'cond/Switch_1:1'),
    tf1.op('y', 'Identity', ['cond/Merge']),
    tf1.op('z', 'Identity', ['cond/Merge_1']),
  ],
  functions: [],
  outputs: ['y', 'z'],
});

// (2) i, x = tf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, x * 0.5 + w), (0, x)), n fed
export const accumulateModel = (): Tf1Model => ({
  nodes: [
    tf1.ph('x', [4]),
    tf1.ph('n', [], 'DT_INT32'),
    tf1.cst('w', 'float32', [4], [0.1, -0.2, 0.3, 1]),
    tf1.cst('Const', 'int32', [], [0]),
    ...loopVar('while', '', 'Const', 'while/add', 'DT_INT32'),
    ...loopVar('while', '_1', 'x', 'while/add_1'),
    tf1.enter('while/Less/Enter', 'n', 'while/while_context', true, 'DT_INT32'),
    tf1.op('while/Less', 'Less', ['while/Merge', 'while/Less/Enter'], 'DT_INT32'),
    tf1.op('while/LoopCond', 'LoopCond', ['while/Less'], 'DT_BOOL'),
    tf1.cst('while/add/y', 'int32', [], [1], ['while/Identity']),
    tf1.op('while/add', 'AddV2', ['while/Identity', 'while/add/y'], 'DT_INT32'),
    tf1.cst('while/mul/y', 'float32', [], [0.5], ['while/Identity']),
    tf1.op('while/mul', 'Mul', ['while/Identity_1', 'while/mul/y']),
    tf1.enter('while/add_1/Enter', 'w', 'while/while_context', true),
    tf1.op('while/add_1', 'AddV2', ['while/mul', 'while/add_1/Enter']),
    tf1.op('y', 'Identity', ['while/Exit_1']),
  ],
  functions: [],
  outputs: ['y'],
});

// (3) an RNN-like recurrence h = tanh((h + x) W + b) for 6 steps: the limit a Const of the cond
// hung on the first Merge (TF1's control pivot there), x, W and b captured by constant Enters.
// (Not x U inside the body: TF.js' executor computes a node of loop invariants only once and
// then never finishes the loop.)
export const rnnModel = (steps = 6): Tf1Model => {
  const r = rng(31);
  const mat = (n: number) => Array.from({ length: n }, () => (r() * 2 - 1) * 0.6);
  return {
    nodes: [
      tf1.ph('x', [1, 4]),
      tf1.cst('h0', 'float32', [1, 4], [0, 0, 0, 0]),
      tf1.cst('W', 'float32', [4, 4], mat(16)),
      tf1.cst('b', 'float32', [4], mat(4)),
      tf1.cst('Const', 'int32', [], [0]),
      ...loopVar('rnn', '', 'Const', 'rnn/add', 'DT_INT32'),
      ...loopVar('rnn', '_1', 'h0', 'rnn/Tanh'),
      tf1.cst('rnn/Less/y', 'int32', [], [steps], ['rnn/Merge']),
      tf1.op('rnn/Less', 'Less', ['rnn/Merge', 'rnn/Less/y'], 'DT_INT32'),
      tf1.op('rnn/LoopCond', 'LoopCond', ['rnn/Less'], 'DT_BOOL'),
      tf1.cst('rnn/add/y', 'int32', [], [1], ['rnn/Identity']),
      tf1.op('rnn/add', 'AddV2', ['rnn/Identity', 'rnn/add/y'], 'DT_INT32'),
      tf1.enter('rnn/add_1/Enter', 'x', 'rnn/while_context', true),
      tf1.op('rnn/add_1', 'AddV2', ['rnn/Identity_1', 'rnn/add_1/Enter']),
      tf1.enter('rnn/MatMul/Enter', 'W', 'rnn/while_context', true),
      tf1.op('rnn/MatMul', 'MatMul', ['rnn/add_1', 'rnn/MatMul/Enter'], 'DT_FLOAT', { transpose_a: { b: false }, transpose_b: { b: false } }),
      tf1.enter('rnn/add_2/Enter', 'b', 'rnn/while_context', true),
      tf1.op('rnn/add_2', 'AddV2', ['rnn/MatMul', 'rnn/add_2/Enter']),
      tf1.op('rnn/Tanh', 'Tanh', ['rnn/add_2']),
      tf1.op('h', 'Identity', ['rnn/Exit_1']),
    ],
    functions: [],
    outputs: ['h'],
  };
};

// (4) a cond in a while body: while i < 5: x = tf.cond(i < 2, lambda: x * 2, lambda: x - 1); i += 1
export const condInWhileModel = (): Tf1Model => ({
  nodes: [
    tf1.ph('x', [3]),
    tf1.cst('Const', 'int32', [], [0]),
    ...loopVar('while', '', 'Const', 'while/add', 'DT_INT32'),
    ...loopVar('while', '_1', 'x', 'while/cond/Merge'),
    tf1.cst('while/Less/y', 'int32', [], [5], ['while/Merge']),
    tf1.op('while/Less', 'Less', ['while/Merge', 'while/Less/y'], 'DT_INT32'),
    tf1.op('while/LoopCond', 'LoopCond', ['while/Less'], 'DT_BOOL'),
    tf1.cst('while/Less_1/y', 'int32', [], [2], ['while/Identity']),
    tf1.op('while/Less_1', 'Less', ['while/Identity', 'while/Less_1/y'], 'DT_INT32'),
    ...condHead('while/cond', 'while/Less_1'),
    tf1.sw('while/cond/mul/Switch', 'while/Identity_1', 'while/cond/pred_id'),
    tf1.cst('while/cond/mul/y', 'float32', [], [2], ['while/cond/switch_t']),
    tf1.op('while/cond/mul', 'Mul', ['while/cond/mul/Switch:1', 'while/cond/mul/y']),
    tf1.sw('while/cond/sub/Switch', 'while/Identity_1', 'while/cond/pred_id'),
    tf1.cst('while/cond/sub/y', 'float32', [], [1], ['while/cond/switch_f']),
    tf1.op('while/cond/sub', 'Sub', ['while/cond/sub/Switch', 'while/cond/sub/y']),
    tf1.merge('while/cond/Merge', 'while/cond/sub', 'while/cond/mul'),
    tf1.cst('while/add/y', 'int32', [], [1], ['while/Identity']),
    tf1.op('while/add', 'AddV2', ['while/Identity', 'while/add/y'], 'DT_INT32'),
    tf1.op('y', 'Identity', ['while/Exit_1']),
  ],
  functions: [],
  outputs: ['y'],
});

// (5) a while in a while body: for i < 3: (a = acc; for j = rank(acc); j < 6: acc = acc * 0.9 + a);
// acc += x, a and acc entering the inner frame and x the outer one. (Not TF1's Const hung on
// while/Identity for the inner counter's start, nor x entered twice: TF.js' executor runs a
// Const, and a node of loop invariants, once only, outside the frame that needs it each time.)
export const whileInWhileModel = (): Tf1Model => {
  const inner = 'while/while/while_context';
  return {
    nodes: [
      tf1.ph('x', [2, 2]),
      tf1.cst('acc0', 'float32', [2, 2], [0.5, -0.5, 0.25, 1]),
      tf1.cst('Const', 'int32', [], [0]),
      ...loopVar('while', '', 'Const', 'while/add', 'DT_INT32'),
      ...loopVar('while', '_1', 'acc0', 'while/add_1'),
      tf1.cst('while/Less/y', 'int32', [], [3], ['while/Merge']),
      tf1.op('while/Less', 'Less', ['while/Merge', 'while/Less/y'], 'DT_INT32'),
      tf1.op('while/LoopCond', 'LoopCond', ['while/Less'], 'DT_BOOL'),
      tf1.op('while/Rank', 'Rank', ['while/Identity_1']),
      ...loopVar('while/while', '', 'while/Rank', 'while/while/add', 'DT_INT32', inner),
      ...loopVar('while/while', '_1', 'while/Identity_1', 'while/while/add_1', 'DT_FLOAT', inner),
      tf1.cst('while/while/Less/y', 'int32', [], [6], ['while/while/Merge']),
      tf1.op('while/while/Less', 'Less', ['while/while/Merge', 'while/while/Less/y'], 'DT_INT32'),
      tf1.op('while/while/LoopCond', 'LoopCond', ['while/while/Less'], 'DT_BOOL'),
      tf1.cst('while/while/add/y', 'int32', [], [1], ['while/while/Identity']),
      tf1.op('while/while/add', 'AddV2', ['while/while/Identity', 'while/while/add/y'], 'DT_INT32'),
      tf1.cst('while/while/mul/y', 'float32', [], [0.9], ['while/while/Identity']),
      tf1.op('while/while/mul', 'Mul', ['while/while/Identity_1', 'while/while/mul/y']),
      tf1.enter('while/while/add_1/Enter', 'while/Identity_1', inner, true),
      tf1.op('while/while/add_1', 'AddV2', ['while/while/mul', 'while/while/add_1/Enter']),
      tf1.enter('while/add_1/Enter', 'x', 'while/while_context', true),
      tf1.op('while/add_1', 'AddV2', ['while/while/Exit_1', 'while/add_1/Enter']),
      tf1.cst('while/add/y', 'int32', [], [1], ['while/Identity']),
      tf1.op('while/add', 'AddV2', ['while/Identity', 'while/add/y'], 'DT_INT32'),
      tf1.op('y', 'Identity', ['while/Exit_1']),
    ],
    functions: [],
    outputs: ['y'],
  };
};

// (6) TF1 dropout behind an is_training switch (tf.layers.dropout(training=is_training)): the true
// branch draws RandomUniform, which nnport refuses; with is_training fixed to false only the
// false branch (x passed on) is ever converted
export const dropoutModel = (): Tf1Model => ({
  nodes: [
    tf1.ph('x', [2, 4]),
    tf1.ph('is_training', [], 'DT_BOOL'),
    tf1.cst('w', 'float32', [4, 3], [0.5, -1, 2, 0.25, -0.75, 1.5, 1, 0.1, -0.3, 0.7, 0.2, -0.9]),
    tf1.op('dense/MatMul', 'MatMul', ['x', 'w'], 'DT_FLOAT', { transpose_a: { b: false }, transpose_b: { b: false } }),
    ...condHead('dropout/cond', 'is_training'),
    tf1.sw('dropout/cond/dropout/Shape/Switch', 'dense/MatMul', 'dropout/cond/pred_id'),
    tf1.op('dropout/cond/dropout/Shape', 'Shape', ['dropout/cond/dropout/Shape/Switch:1'], 'DT_FLOAT', { out_type: { type: 'DT_INT32' } }),
    tf1.op('dropout/cond/dropout/random_uniform/RandomUniform', 'RandomUniform', ['dropout/cond/dropout/Shape'], 'DT_INT32', { dtype: { type: 'DT_FLOAT' }, seed: { i: 0 }, seed2: { i: 0 } }),
    tf1.cst('dropout/cond/dropout/rate', 'float32', [], [0.5], ['dropout/cond/switch_t']),
    tf1.op('dropout/cond/dropout/GreaterEqual', 'GreaterEqual', ['dropout/cond/dropout/random_uniform/RandomUniform', 'dropout/cond/dropout/rate']),
    tf1.op('dropout/cond/dropout/Cast', 'Cast', ['dropout/cond/dropout/GreaterEqual'], 'DT_BOOL', { SrcT: { type: 'DT_BOOL' }, DstT: { type: 'DT_FLOAT' } }),
    tf1.op('dropout/cond/dropout/mul', 'Mul', ['dropout/cond/dropout/Shape/Switch:1', 'dropout/cond/dropout/Cast']),
    tf1.sw('dropout/cond/Identity/Switch', 'dense/MatMul', 'dropout/cond/pred_id'),
    tf1.op('dropout/cond/Identity', 'Identity', ['dropout/cond/Identity/Switch']),
    tf1.merge('dropout/cond/Merge', 'dropout/cond/Identity', 'dropout/cond/dropout/mul'),
    tf1.op('out', 'Relu', ['dropout/cond/Merge']),
  ],
  functions: [],
  outputs: ['out'],
});

// (7) conds and whiles in a cond's branch: y = tf.cond(s > 0, lambda: tf.cond(s > 1, lambda: x * 3,
// lambda: x * 2), lambda: tf.while_loop(i < 3: x = x - 0.5)[1]); the inner cond's predicate and
// data, and the loop's start, switched in by the outer cond first, as TF1 does
export const nestedInCondModel = (): Tf1Model => ({
  functions: [],
  nodes: [
    tf1.ph('x', [3]),
    tf1.ph('s', []),
    tf1.cst('zero', 'float32', [], [0]),
    tf1.op('Greater', 'Greater', ['s', 'zero']),
    ...condHead('cond', 'Greater'),
    tf1.sw('cond/Greater/Switch', 's', 'cond/pred_id'),
    tf1.cst('cond/Greater/y', 'float32', [], [1], ['cond/switch_t']),
    tf1.op('cond/Greater', 'Greater', ['cond/Greater/Switch:1', 'cond/Greater/y']),
    ...condHead('cond/cond', 'cond/Greater'),
    tf1.sw('cond/cond/mul/Switch/Switch', 'x', 'cond/pred_id'),
    tf1.sw('cond/cond/mul/Switch', 'cond/cond/mul/Switch/Switch:1', 'cond/cond/pred_id'),
    tf1.cst('cond/cond/mul/y', 'float32', [], [3], ['cond/cond/switch_t']),
    tf1.op('cond/cond/mul', 'Mul', ['cond/cond/mul/Switch:1', 'cond/cond/mul/y']),
    tf1.sw('cond/cond/mul_1/Switch', 'cond/cond/mul/Switch/Switch:1', 'cond/cond/pred_id'),
    tf1.cst('cond/cond/mul_1/y', 'float32', [], [2], ['cond/cond/switch_f']),
    tf1.op('cond/cond/mul_1', 'Mul', ['cond/cond/mul_1/Switch', 'cond/cond/mul_1/y']),
    tf1.merge('cond/cond/Merge', 'cond/cond/mul_1', 'cond/cond/mul'),
    tf1.sw('cond/while/Enter/Switch', 'x', 'cond/pred_id'),
    tf1.cst('cond/Const', 'int32', [], [0], ['cond/switch_f']),
    ...loopVar('cond/while', '', 'cond/Const', 'cond/while/add', 'DT_INT32'),
    ...loopVar('cond/while', '_1', 'cond/while/Enter/Switch', 'cond/while/sub'),
    tf1.cst('cond/while/Less/y', 'int32', [], [3], ['cond/while/Merge']),
    tf1.op('cond/while/Less', 'Less', ['cond/while/Merge', 'cond/while/Less/y'], 'DT_INT32'),
    tf1.op('cond/while/LoopCond', 'LoopCond', ['cond/while/Less'], 'DT_BOOL'),
    tf1.cst('cond/while/add/y', 'int32', [], [1], ['cond/while/Identity']),
    tf1.op('cond/while/add', 'AddV2', ['cond/while/Identity', 'cond/while/add/y'], 'DT_INT32'),
    tf1.cst('cond/while/sub/y', 'float32', [], [0.5], ['cond/while/Identity']),
    tf1.op('cond/while/sub', 'Sub', ['cond/while/Identity_1', 'cond/while/sub/y']),
    tf1.merge('cond/Merge', 'cond/while/Exit_1', 'cond/cond/Merge'),
    tf1.op('y', 'Identity', ['cond/Merge']),
  ],
  outputs: ['y'],
});
