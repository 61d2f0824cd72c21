// Shape inference against the ONNX backend test data: for every case the runtime runs,
// inferShapes (given the test inputs' shapes, and the values of small integer inputs as the
// shape computations need them) must give each output the dtype and shape of the expected
// output tensor that ONNX stored. Outputs whose size depends on float data are listed.

import { describe, expect, test } from 'vitest';
import { inferShapes } from '../../src/ir/ops/index.js';
import type { Dim, ValueKind } from '../../src/ir/graph.js';
import { OptionalValue, TensorSequence } from '../../src/ir/seq-values.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { ONNX_OPS } from '../../src/runtime/ops/index.js';
import { classifyCase, conformanceCases, loadDataSets } from './harness.js';

/** Outputs whose extent depends on the values of float (or otherwise uncarried) inputs: the dims left unknown. */
const DATA_DEPENDENT: Record<string, string> = {
  test_nonzero_example: 'NonZero counts non-zero values',
  test_compress_0: 'Compress keeps what the condition selects',
  test_compress_1: 'Compress keeps what the condition selects',
  test_compress_default_axis: 'Compress keeps what the condition selects',
  test_compress_negative_axis: 'Compress keeps what the condition selects',
  // inference does not count a sequence's tensors (ir/ops/seq-values.ts): the concatenated dim is unknown
  test_sequence_model1: 'ConcatFromSequence of a sequence whose length inference does not track',
  test_sequence_model4: 'ConcatFromSequence of a sequence whose length inference does not track',
};

/** Cases the runtime does not run by design (their attributes are rejected): as in onnx-backend.test.ts. */
const NOT_RUN: Record<string, string> = {
  test_loop16_seq_none: "the model declares its sequences' tensors rank 0 (an empty shape), its data holds 1-D tensors",
};

const cases = conformanceCases(['node', 'pytorch-converted', 'pytorch-operator', 'simple']);

/** Inferred dims vs the actual shape: undefined when they agree (unknown dims only where allowed). */
function mismatch(inferred: readonly Dim[] | undefined, actual: readonly number[], allowUnknown: boolean): string | undefined {
  const fmt = (s: readonly Dim[] | undefined) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : 'unknown');
  if (!inferred) return allowUnknown ? undefined : `shape unknown, actual [${actual.join(', ')}]`;
  if (inferred.length !== actual.length) return `shape ${fmt(inferred)}, actual [${actual.join(', ')}]`;
  for (let i = 0; i < actual.length; i++) {
    const d = inferred[i];
    if (d === actual[i] || ((d === null || typeof d === 'string') && allowUnknown)) continue;
    return `shape ${fmt(inferred)}, actual [${actual.join(', ')}]`;
  }
  return undefined;
}

describe('inferShapes vs the ONNX backend node tests', async () => {
  let checked = 0;
  for (const c of cases) {
    const cls = await classifyCase(c, ONNX_OPS, NOT_RUN);
    if (cls.kind !== 'run') continue;
    const graph = cls.graph;
    test(`${c.suite}/${c.name}`, () => {
      const problems: string[] = [];
      const names = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
      for (const set of loadDataSets(c.dir, graph)) {
        const inputs = new Map<string, { dtype: Tensor['dtype']; shape?: Dim[]; value?: Tensor; kind?: ValueKind }>();
        set.inputs.forEach((t, i) => {
          const declared = graph.inputs.find((v) => v.name === names[i]);
          // a sequence / optional: its declared type (what its tensors share)
          if (names[i] && declared?.kind) inputs.set(names[i]!, { dtype: declared.dtype, shape: declared.shape, kind: declared.kind });
          else if (names[i]) inputs.set(names[i]!, { dtype: declared?.dtype ?? t.dtype, shape: [...t.shape], value: t });
        });
        const { values, unknownOps } = inferShapes(graph, { inputs });
        expect(unknownOps).toEqual([]);
        set.outputs.forEach((t, i) => {
          const out = graph.outputs[i]!;
          const v = values.get(out.name);
          const want = t.dtype === 'uint16' && out.dtype === 'bfloat16' ? 'bfloat16' : t.dtype;
          if (v?.dtype !== want) problems.push(`${set.name} output '${out.name}': dtype ${v?.dtype}, actual ${want}`);
          // a sequence's or an optional's tensors each against the shape inferred for them (unknown dims allowed: they may differ)
          const held = t instanceof TensorSequence ? t.elements : t instanceof OptionalValue ? (t.value instanceof TensorSequence ? t.value.elements : t.value ? [t.value] : []) : undefined;
          if (held && v?.kind !== (t as TensorSequence | OptionalValue).kind) problems.push(`${set.name} output '${out.name}': kind ${v?.kind ?? 'tensor'}, actual ${(t as TensorSequence).kind}`);
          for (const e of held ?? [t]) {
            const m = mismatch(v?.shape, e.shape, !!held || c.name in DATA_DEPENDENT);
            if (m) problems.push(`${set.name} output '${out.name}': ${m}`);
          }
        });
      }
      checked++;
      expect(problems).toEqual([]);
    });
  }
  test('checked many cases', () => {
    expect(checked).toBeGreaterThan(500);
  });
});
