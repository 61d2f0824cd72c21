// nnport's TFLite reader on a hand-built file of REVERSE_SEQUENCE, SCATTER_ND (a repeated index) and
// ATAN2 (every quadrant and both axes), run by nnport's runtime against plain loops of the builtins'
// definitions (TFLite's reference kernels: reverse the first length[b] steps, scatter into zeros
// summing repeats, Math.atan2) and against the real interpreter.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { GAP_OP_SHAPES, gapOpFile } from './gap-op-model.js';

const oracle = useTfliteOracle();

describe('TFLite reader: REVERSE_SEQUENCE, SCATTER_ND, ATAN2', () => {
  it('read as ReverseSequence / ScatterND / the quadrant-fixed Atan, within 1e-6 of the definitions and of the interpreter', { timeout: 60_000 }, async () => {
    const { x: xs, u: us, lengths, rows } = GAP_OP_SHAPES;
    const r = rng(41);
    // values on both sides of 0, and exact zeros so that ATAN2 meets its axes
    const draw = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : r() * 4 - 2));
    const x = draw(4 * 2 * 3);
    const u = draw(3 * 2 * 3);
    const rev = new Float32Array(x.length);
    for (let t = 0; t < 4; t++)
      for (let b = 0; b < 2; b++) {
        const from = t < lengths[b]! ? lengths[b]! - 1 - t : t;
        for (let k = 0; k < 3; k++) rev[(t * 2 + b) * 3 + k] = x[(from * 2 + b) * 3 + k]!;
      }
    const sc = new Float32Array(x.length);
    rows.forEach((row, i) => {
      for (let j = 0; j < 6; j++) sc[row * 6 + j] = Math.fround(sc[row * 6 + j]! + u[i * 6 + j]!);
    });
    const at = Float32Array.from(rev, (v, i) => Math.atan2(v, sc[i]!));
    const bytes = gapOpFile();
    const g = await readTflite(bytes, { fileName: 'gap-ops.tflite' });
    expect(g.nodes.map((n) => n.opType)).toEqual(expect.arrayContaining(['ReverseSequence', 'ScatterND', 'Atan']));
    const out = [...(await runGraph(g, { [g.inputs[0]!.name]: Tensor.float32([...xs], x), [g.inputs[1]!.name]: Tensor.float32([...us], u) })).outputs.values()].map((t) => t.toFloat32());
    expect(maxAbsDiff(out[0]!, rev)).toBe(0);
    expect(maxAbsDiff(out[1]!, sc)).toBe(0);
    expect(maxAbsDiff(out[2]!, at)).toBeLessThanOrEqual(1e-6);
    const interp = (await oracle.run(bytes, [x, u])).map((t) => t.data as Float32Array);
    expect(maxAbsDiff(interp[0]!, rev)).toBe(0);
    expect(maxAbsDiff(interp[1]!, sc)).toBe(0);
    expect(maxAbsDiff(interp[2]!, at)).toBeLessThanOrEqual(1e-6);
  });
});
