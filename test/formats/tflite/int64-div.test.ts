// ONNX Div of int64 tensors written to .tflite (write-int64-div.ts: TFLite has no int64 DIV /
// FLOOR_DIV kernel; float32 estimates corrected in int64) on quotients up to 2^62, both signs, run
// by the real TFLite interpreter against onnxruntime on the same ONNX graph. The browser interpreter
// takes and returns no int64, so the graph takes int32, widens in int64 (a·3^20 + a, up to ±7.4e18)
// and returns the quotient as int32 pieces: its value mod 1000003, its high part (q / 2^32), and the
// plain quotient of the int32 operands.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const oracle = useTfliteOracle();

const node = (opType: string, inputs: string[], output: string, attrs: Node['attrs'] = {}): Node => ({ name: output, opType, domain: '', inputs, outputs: [output], attrs });

describe('TFLite writer: int64 Div', () => {
  it('quotients up to 2^62 of both signs equal onnxruntime, in the interpreter', async () => {
    const a = [2147483647, -2147483647, 123456789, -987654321, 7, -7, 0, 1000, 999999999, -1];
    const b = [3, 7, -5, 13, -2, 2, 9, 1, -1000003, 4];
    const n = a.length;
    const g: Graph = {
      name: 'int64_div',
      inputs: [
        { name: 'a', dtype: 'int32', shape: [n] },
        { name: 'b', dtype: 'int32', shape: [n] },
      ],
      outputs: ['low', 'high', 'small'].map((name) => ({ name, dtype: 'int32' as const, shape: [n] })),
      nodes: [
        node('Cast', ['a'], 'a64', { to: { type: 'int', value: 7 } }),
        node('Cast', ['b'], 'b64', { to: { type: 'int', value: 7 } }),
        node('Mul', ['a64', 'k'], 'scaled'),
        node('Add', ['scaled', 'a64'], 'big'),
        node('Div', ['big', 'b64'], 'q'),
        node('Mod', ['q', 'prime'], 'q_mod'),
        node('Cast', ['q_mod'], 'low', { to: { type: 'int', value: 6 } }),
        node('Div', ['q', 'two32'], 'q_high'),
        node('Cast', ['q_high'], 'high', { to: { type: 'int', value: 6 } }),
        node('Div', ['a64', 'b64'], 'q_small'),
        node('Cast', ['q_small'], 'small', { to: { type: 'int', value: 6 } }),
      ],
      initializers: new Map([
        ['k', Tensor.int64([], [3 ** 20])],
        ['prime', Tensor.int64([], [1000003])],
        ['two32', Tensor.int64([], [2 ** 32])],
      ]),
      opsets: { '': 13 },
    };
    const feeds = { a: new Tensor('int32', [n], Int32Array.from(a)), b: new Tensor('int32', [n], Int32Array.from(b)) };
    const want = await runOrt(writeOnnx(g), feeds);
    const bytes = await writeTflite(g);
    expect(tfliteOpNames(bytes, 'int64-div.tflite')).toContain('FLOOR_MOD');
    const outs = await oracle.run(bytes, [feeds.a.data as Int32Array, feeds.b.data as Int32Array]);
    for (const name of ['low', 'high', 'small']) {
      const got = outs.find((o) => o.name === name)!;
      const bytesOf = want[name]!.bytes as Uint8Array;
      expect(Array.from(got.data), name).toEqual(Array.from(new Int32Array(bytesOf.slice().buffer)));
    }
  });
});
