// TRANSPOSE's operator version follows the input's rank as TF's op_version.cc sets it (5-D: 4,
// 6-D: 6) and the file's min_runtime_version the first runtime with that kernel (runtime_version.cc:
// 2.3.0, 2.12.0). The 5-D file runs in the interpreter; a 6-D Transpose is written as transposes of
// at most 5 dims (collapse-transpose.ts) except with two dims known only at run time, which no
// RESHAPE between can carry: that TRANSPOSE needs TFLite 2.12, newer than the Web API's.
import { describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

function transposeGraph(shape: (number | string)[], perm: number[]): Graph {
  return {
    name: 't',
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [{ name: 'y', dtype: 'float32', shape: perm.map((p) => shape[p]!) }],
    initializers: new Map(),
    nodes: [{ name: 'transpose', opType: 'Transpose', domain: '', inputs: ['x'], outputs: ['y'], attrs: { perm: { type: 'ints', value: perm } } }],
    opsets: { '': 17 },
  };
}

interface Json {
  operator_codes: { builtin_code: string; version?: number }[];
  metadata: { name: string; buffer: number }[];
  buffers: { data?: number[] }[];
}

const minRuntime = (json: Json): string => {
  const meta = json.metadata.find((m) => m.name === 'min_runtime_version')!;
  return new TextDecoder().decode(Uint8Array.from(json.buffers[meta.buffer]!.data ?? [])).replace(/\0+$/, '');
};

describe('TFLite writer: TRANSPOSE version by rank', () => {
  it('4-D: version 1; 5-D: version 4 (runtime 2.3.0), run by the interpreter; 6-D with two dynamic dims: version 6 (runtime 2.12.0)', async () => {
    const four = flatcJson<Json>(await writeTflite(transposeGraph([2, 3, 4, 5], [0, 2, 3, 1])), 't4', { defaults: true });
    expect(four.operator_codes.map((c) => [c.builtin_code, c.version])).toEqual([['TRANSPOSE', 1]]);

    const shape5 = [2, 3, 1, 4, 5];
    const perm5 = [4, 0, 3, 1, 2];
    const bytes5 = await writeTflite(transposeGraph(shape5, perm5));
    const five = flatcJson<Json>(bytes5, 't5', { defaults: true });
    expect(five.operator_codes.map((c) => [c.builtin_code, c.version])).toEqual([['TRANSPOSE', 4]]);
    expect(minRuntime(five)).toBe('2.3.0');
    // the interpreter's output against the transpose computed element by element
    const x = Float32Array.from({ length: 120 }, (_, i) => i);
    const [y] = await oracle.run(bytes5, [x]);
    const strides = [60, 20, 20, 5, 1];
    const out = perm5.map((p) => shape5[p]!);
    const want: number[] = [];
    const idx = [0, 0, 0, 0, 0];
    for (let o = 0; o < 120; o++) {
      want.push(x[idx.reduce((s, v, i) => s + v * strides[perm5[i]!]!, 0)]!);
      for (let i = 4; i >= 0; i--) {
        if (++idx[i]! < out[i]!) break;
        idx[i] = 0;
      }
    }
    expect(Array.from(y!.data)).toEqual(want);

    const six = flatcJson<Json>(await writeTflite(transposeGraph(['N', 'M', 2, 3, 2, 3], [1, 0, 3, 2, 5, 4])), 't6', { defaults: true });
    expect(six.operator_codes.map((c) => [c.builtin_code, c.version])).toEqual([['TRANSPOSE', 6]]);
    expect(minRuntime(six)).toBe('2.12.0');
  });
});
