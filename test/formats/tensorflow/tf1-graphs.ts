// TF1 graphs for the control-flow tests, written node by node as TF1's tf.cond and tf.while_loop
// emit them (cond/Switch, cond/switch_t, cond/pred_id, cond/mul/Switch, cond/Merge; while/Enter,
// while/Merge, while/LoopCond, while/Switch, while/Identity, while/NextIteration, while/Exit;
// Consts hung on the pivot by a control input); tf-graph-spec.ts writes them as TF.js JSON and
// binary GraphDef and runs them in TensorFlow.js.
import type { AttrSpec, DT, ModelSpec, NodeSpec } from './tf-graph-spec.js';

export { graphDefBytes, tfjsModel, tfjsRun, type NodeSpec } from './tf-graph-spec.js';

/** A TF1 graph (its `functions` empty). */
export type Tf1Model = ModelSpec;

const T = (t: DT): Record<string, AttrSpec> => ({ T: { type: t } });

/** Node constructors in TF1's spelling. */
export const tf1 = {
  ph: (name: string, shape: number[], dtype: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape } } }),
  cst: (name: string, dtype: 'float32' | 'int32', shape: number[], data: number[], control: string[] = []): NodeSpec => ({
    name,
    op: 'Const',
    input: control.map((c) => `^${c}`),
    value: { dtype, shape, data },
  }),
  op: (name: string, op: string, input: string[], t: DT = 'DT_FLOAT', attr: Record<string, AttrSpec> = {}): NodeSpec => ({ name, op, input, attr: { ...T(t), ...attr } }),
  sw: (name: string, data: string, pred: string, t: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Switch', input: [data, pred], attr: T(t) }),
  merge: (name: string, a: string, b: string, t: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Merge', input: [a, b], attr: { ...T(t), N: { i: 2 } } }),
  enter: (name: string, x: string, frame: string, constant: boolean, t: DT = 'DT_FLOAT'): NodeSpec => ({
    name,
    op: 'Enter',
    input: [x],
    attr: { ...T(t), frame_name: { s: frame }, is_constant: { b: constant }, parallel_iterations: { i: 10 } },
  }),
};

/**
 * The nodes tf.cond(pred, ...) makes before its branches: cond/Switch, the pivots
 * cond/switch_t and cond/switch_f, and cond/pred_id.
 */
export function condHead(scope: string, pred: string): NodeSpec[] {
  return [
    tf1.sw(`${scope}/Switch`, pred, pred, 'DT_BOOL'),
    tf1.op(`${scope}/switch_t`, 'Identity', [`${scope}/Switch:1`], 'DT_BOOL'),
    tf1.op(`${scope}/switch_f`, 'Identity', [`${scope}/Switch`], 'DT_BOOL'),
    tf1.op(`${scope}/pred_id`, 'Identity', [pred], 'DT_BOOL'),
  ];
}

/**
 * A loop variable of tf.while_loop as TF1 names it (k = '' for the first, '_1', ...): Enter,
 * Merge(Enter, NextIteration), Switch(Merge, LoopCond), Identity(Switch:1), NextIteration of
 * `next`, Exit(Switch).
 */
export function loopVar(scope: string, k: string, init: string, next: string, t: DT = 'DT_FLOAT', frame = `${scope}/while_context`): NodeSpec[] {
  return [
    tf1.enter(`${scope}/Enter${k}`, init, frame, false, t),
    tf1.merge(`${scope}/Merge${k}`, `${scope}/Enter${k}`, `${scope}/NextIteration${k}`, t),
    tf1.sw(`${scope}/Switch${k}`, `${scope}/Merge${k}`, `${scope}/LoopCond`, t),
    tf1.op(`${scope}/Identity${k}`, 'Identity', [`${scope}/Switch${k}:1`], t),
    tf1.op(`${scope}/NextIteration${k}`, 'NextIteration', [next], t),
    tf1.op(`${scope}/Exit${k}`, 'Exit', [`${scope}/Switch${k}`], t),
  ];
}
