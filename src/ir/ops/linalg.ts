// Einsum (opset 12) and Det (opset 11). The Einsum equation is parsed here once, for shape
// inference and the runtime kernel alike: every axis of every operand gets an integer label (a
// letter's char code, or ELLIPSIS_LABEL + k for the k-th of the ellipsis dims counted from the right).
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrString, type Dim } from '../graph.js';
import { defineOpDef, fmtShape, input, mergeDim, noAttrs, type OpDefTable } from './op-def.js';

export interface EinsumAttrs {
  /** the operand terms, spaces removed; '...' kept as written */
  terms: string[];
  /** the right-hand side; undefined in implicit mode */
  output?: string;
  equation: string;
}

/** Labels at or above this are ellipsis dims (char codes stay below). */
export const ELLIPSIS_LABEL = 1 << 16;

const LETTER = /^[A-Za-z]$/;

function checkTerm(term: string, equation: string): void {
  const rest = term.replace('...', '');
  if (rest.includes('.')) throw new ShapeError(`Einsum equation '${equation}': term '${term}' has a '.' outside one ellipsis`);
  for (const ch of rest) if (!LETTER.test(ch)) throw new ShapeError(`Einsum equation '${equation}': '${ch}' is not a letter`);
}

export function parseEinsumEquation(equation: string): EinsumAttrs {
  const eq = equation.replace(/ /g, '');
  const sides = eq.split('->');
  if (sides.length > 2) throw new ShapeError(`Einsum equation '${equation}' has more than one '->'`);
  const terms = sides[0]!.split(',');
  for (const t of terms) checkTerm(t, equation);
  const output = sides.length === 2 ? sides[1]! : undefined;
  if (output !== undefined) {
    checkTerm(output, equation);
    const letters = output.replace('...', '');
    if (new Set(letters).size !== letters.length) throw new ShapeError(`Einsum equation '${equation}': the output repeats a letter`);
    const lhs = new Set(sides[0]!.replace(/[.,]/g, ''));
    for (const ch of letters) if (!lhs.has(ch)) throw new ShapeError(`Einsum equation '${equation}': output letter '${ch}' is in no operand`);
    if (output.includes('...') && !terms.some((t) => t.includes('...'))) throw new ShapeError(`Einsum equation '${equation}': the output has an ellipsis no operand has`);
  }
  return { terms, output, equation };
}

export interface EinsumLabels {
  /** per operand, one label per axis */
  inputs: number[][];
  output: number[];
}

/** The labels of each operand's axes and of the output, given the operands' ranks. */
export function einsumLabels(a: EinsumAttrs, ranks: readonly number[]): EinsumLabels {
  if (ranks.length !== a.terms.length) throw new ShapeError(`Einsum equation '${a.equation}' has ${a.terms.length} operand terms, the node ${ranks.length} inputs`);
  let ellipsis = 0;
  const inputs = a.terms.map((term, i) => {
    const letters = term.replace('...', '');
    const rank = ranks[i]!;
    if (!term.includes('...')) {
      if (letters.length !== rank) throw new ShapeError(`Einsum equation '${a.equation}': term '${term}' has ${letters.length} letters for an operand of rank ${rank}`);
      return [...letters].map((c) => c.charCodeAt(0));
    }
    const n = rank - letters.length;
    if (n < 0) throw new ShapeError(`Einsum equation '${a.equation}': term '${term}' has more letters than operand ${i}'s rank ${rank}`);
    ellipsis = Math.max(ellipsis, n);
    const [before, after] = term.split('...') as [string, string];
    const ell = Array.from({ length: n }, (_, k) => ELLIPSIS_LABEL + n - 1 - k);
    return [...[...before].map((c) => c.charCodeAt(0)), ...ell, ...[...after].map((c) => c.charCodeAt(0))];
  });
  const ellLabels = Array.from({ length: ellipsis }, (_, k) => ELLIPSIS_LABEL + ellipsis - 1 - k);
  let output: number[];
  if (a.output !== undefined) {
    const [before, after] = a.output.includes('...') ? (a.output.split('...') as [string, string]) : [a.output, undefined];
    output = [...before].map((c) => c.charCodeAt(0));
    if (after !== undefined) output.push(...ellLabels, ...[...after].map((c) => c.charCodeAt(0)));
  } else {
    // implicit: the ellipsis dims first, then the letters seen exactly once, in order of their codes
    const count = new Map<number, number>();
    for (const l of inputs.flat()) if (l < ELLIPSIS_LABEL) count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, n]) => n === 1).map(([l]) => l);
    output = [...ellLabels, ...once.sort((x, y) => x - y)];
  }
  return { inputs, output };
}

/**
 * The extent of every label over the operands' shapes: a letter's dims must agree; an ellipsis
 * dim broadcasts (1 against n). A ShapeError when they do not fit.
 */
export function einsumDims(labels: EinsumLabels, shapes: ReadonlyArray<readonly Dim[]>, equation: string): Map<number, Dim> {
  const dims = new Map<number, Dim>();
  labels.inputs.forEach((ls, i) =>
    ls.forEach((l, ax) => {
      const d = shapes[i]![ax]!;
      if (!dims.has(l)) return dims.set(l, d);
      const prev = dims.get(l)!;
      const what = () => `Einsum '${equation}': ${l >= ELLIPSIS_LABEL ? 'an ellipsis dim' : `label '${String.fromCharCode(l)}'`} of operand ${i}`;
      if (l >= ELLIPSIS_LABEL && (prev === 1 || d === 1)) return dims.set(l, prev === 1 ? d : prev);
      if (typeof prev === 'number' && typeof d === 'number' && prev !== d) throw new ShapeError(`${what()}: ${prev} and ${d} differ`);
      return dims.set(l, mergeDim(prev, d, what));
    }),
  );
  return dims;
}

const EINSUM_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

export const linalgDefs = {
  Einsum: defineOpDef<EinsumAttrs>({
    opType: 'Einsum',
    domain: '',
    layout: 'matmul',
    attrs: (node) => {
      const equation = attrString(node, 'equation');
      if (equation === undefined) throw new ShapeError('Einsum needs the equation attribute');
      return parseEinsumEquation(equation);
    },
    infer: (ctx) => {
      const ins = ctx.node.inputs.map((_, i) => input(ctx, i, `Inputs ${i}`));
      const dtype = ins[0]?.dtype;
      if (dtype && !EINSUM_DTYPES.has(dtype)) throw new UnsupportedError(`Einsum on ${dtype}`);
      if (ins.some((v) => !v.shape)) {
        // the output's rank is known without shapes unless an ellipsis is involved
        const rank = ctx.attrs.output !== undefined && !ctx.attrs.output.includes('...') ? ctx.attrs.output.length : undefined;
        return [{ dtype, shape: rank === undefined ? undefined : new Array<Dim>(rank).fill(null) }];
      }
      const shapes = ins.map((v) => v.shape!);
      const labels = einsumLabels(ctx.attrs, shapes.map((s) => s.length));
      const dims = einsumDims(labels, shapes, ctx.attrs.equation);
      return [{ dtype, shape: labels.output.map((l) => dims.get(l) ?? null) }];
    },
  }),
  Det: defineOpDef<Record<string, never>>({
    opType: 'Det',
    domain: '',
    layout: 'matmul',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (x.dtype && !['float32', 'float64', 'float16', 'bfloat16'].includes(x.dtype)) throw new UnsupportedError(`Det on ${x.dtype}`);
      if (!x.shape) return [{ dtype: x.dtype }];
      const r = x.shape.length;
      if (r < 2) throw new ShapeError(`Det needs an input of rank >= 2 ([*, M, M]), got ${fmtShape(x.shape)}`);
      mergeDim(x.shape[r - 2]!, x.shape[r - 1]!, `Det input ${fmtShape(x.shape)} is not square`);
      return [{ dtype: x.dtype, shape: x.shape.slice(0, -2) }];
    },
  }),
} satisfies OpDefTable;
