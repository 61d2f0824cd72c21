// Focused check of QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear against the ONNX
// backend node tests (Debian libonnx-testdata): exact equality, as the reference is exact.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnx, readTensorProto } from '../../src/formats/onnx/read.js';
import { runGraph } from '../../src/runtime/executor.js';
import type { Tensor } from '../../src/ir/tensor.js';

const NODE = join(process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data', 'node');
const CASES = existsSync(NODE) ? readdirSync(NODE).filter((n) => /^test_(de)?quantizelinear|^test_dynamicquantizelinear/.test(n)) : [];

function bits(t: Tensor): number[] {
  return Array.from(new Uint8Array(t.bytes()));
}

it('the ONNX backend test data (libonnx-testdata) has the quantization cases', () => expect(CASES.length, `none under ${NODE}`).toBeGreaterThan(3));

describe('ONNX backend tests: quantization ops', () => {
  it.each(CASES)('%s', async (name) => {
    const dir = join(NODE, name);
    const graph = await readOnnx(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
    for (const set of readdirSync(dir).filter((d) => d.startsWith('test_data_set_'))) {
      const read = (prefix: string) =>
        readdirSync(join(dir, set))
          .filter((f) => f.startsWith(prefix))
          .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]))
          .map((f) => readTensorProto(new Uint8Array(readFileSync(join(dir, set, f))), f));
      const inputs = read('input_');
      const outputs = read('output_');
      const feeds = new Map<string, Tensor>();
      graph.inputs.filter((v) => !graph.initializers.has(v.name)).forEach((v, i) => feeds.set(v.name, inputs[i]!));
      const result = await runGraph(graph, feeds);
      graph.outputs.forEach((o, i) => {
        const got = result.outputs.get(o.name)!;
        const want = outputs[i]!;
        expect(got.dtype).toBe(want.dtype);
        expect(got.shape).toEqual(want.shape);
        expect(bits(got)).toEqual(bits(want));
      });
    }
  });
});
