// Malformed files: every one is a FormatError (or GraphError when planning) naming the file,
// never a crash, a hang, or an allocation of what the file merely claims.
import { corpusPath } from '../../support/corpus.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, GraphError, UsageError } from '../../../src/ir/errors.js';
import { topologicalOrder } from '../../../src/ir/graph.js';
import { readOnnx, readTensorProto } from '../../../src/formats/onnx/read.js';
import { rng } from './ort-helpers.js';

const BAD = new URL('../../fixtures/onnx-bad/', import.meta.url);
const bad = (name: string) => new Uint8Array(readFileSync(new URL(name, BAD)));
const MNIST = corpusPath('onnx/utensor-mlp-torch13-opset9/model.onnx');
const TENSOR = corpusPath('onnx/onnx-backend-maxpool2d/test_data_set_0/input_0.pb');

async function readError(bytes: Uint8Array, fileName: string, readSibling?: (p: string) => Promise<Uint8Array>): Promise<Error> {
  try {
    await readOnnx(bytes, { fileName, readSibling });
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${fileName} was read without error`);
}

async function expectFormatError(bytes: Uint8Array, fileName: string, message: RegExp, readSibling?: (p: string) => Promise<Uint8Array>) {
  const e = await readError(bytes, fileName, readSibling);
  expect(e).toBeInstanceOf(FormatError);
  expect(e.message).toContain(fileName);
  expect(e.message).toMatch(message);
}

describe('readOnnx rejects bytes that are not an ONNX model', () => {
  it('a truncated model', async () => {
    const whole = new Uint8Array(readFileSync(MNIST));
    for (const n of [1, 7, 100, 5000, whole.length - 1]) {
      await expectFormatError(whole.subarray(0, n), 'cut.onnx', /not a valid ONNX model|no graph|needs \d+ bytes/);
    }
  });

  it('random bytes', async () => {
    const r = rng(42);
    for (let k = 0; k < 50; k++) {
      const b = new Uint8Array(64 + k * 37).map(() => Math.floor(r() * 256));
      const e = await readError(b, `random-${k}.onnx`);
      expect(e, `random-${k}`).toBeInstanceOf(FormatError);
      expect(e.message).toContain(`random-${k}.onnx`);
    }
  });

  it('an empty message and a TensorProto are not models', async () => {
    await expectFormatError(new Uint8Array(0), 'empty.onnx', /not an ONNX model: no graph/);
    await expectFormatError(new Uint8Array(readFileSync(TENSOR)), 'input_0.pb', /not an ONNX model: no graph|not a valid ONNX model/);
  });
});

describe('readOnnx rejects initializers whose claims the bytes do not back', () => {
  it('raw_data length that disagrees with dims', async () => {
    await expectFormatError(bad('raw-length-mismatch.onnx'), 'raw-length-mismatch.onnx', /initializer 'w'.*needs 24 bytes of raw_data, has 20/);
  });
  it('dims claiming billions of elements', async () => {
    await expectFormatError(bad('huge-dims.onnx'), 'huge-dims.onnx', /initializer 'w'.*10000000000000 elements.*needs 40000000000000 bytes of raw_data, has 24/);
    await expectFormatError(bad('overflow-dims.onnx'), 'overflow-dims.onnx', /initializer 'w' claims .* elements, more than any file can hold/);
  });
  it('negative dims', async () => {
    await expectFormatError(bad('negative-dims.onnx'), 'negative-dims.onnx', /initializer 'w' has a negative dimension/);
  });
  it('an unknown data_type', async () => {
    await expectFormatError(bad('unknown-dtype.onnx'), 'unknown-dtype.onnx', /initializer 'w' has unknown data_type 99/);
  });
});

describe('readOnnx external data', () => {
  const sibling = (p: string) => Promise.resolve(new Uint8Array(readFileSync(new URL(p, BAD))));
  it('a reference past the end of the data file', async () => {
    await expectFormatError(bad('external-past-end.onnx'), 'external-past-end.onnx', /needs bytes 16\.\.40 of external data file 'external-past-end\.bin', which has only 32 bytes/, sibling);
  });
  it('locations outside the model folder are refused before anything is read', async () => {
    const never = () => Promise.reject(new Error('must not be called'));
    await expectFormatError(bad('external-parent-dir.onnx'), 'external-parent-dir.onnx', /'\.\.\/secret\.bin', outside the model's folder/, never);
    await expectFormatError(bad('external-absolute.onnx'), 'external-absolute.onnx', /'\/etc\/passwd', outside the model's folder/, never);
  });
  it('a missing data file, and no way to read one', async () => {
    const missing = () => Promise.reject(new Error('ENOENT: no such file'));
    await expectFormatError(bad('external-past-end.onnx'), 'm.onnx', /cannot read external data file 'external-past-end\.bin'.*ENOENT/, missing);
    await expect(readOnnx(bad('external-past-end.onnx'), { fileName: 'm.onnx' })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('graph structure problems surface when the graph is planned', () => {
  it('a cycle', async () => {
    const g = await readOnnx(bad('cycle.onnx'), { fileName: 'cycle.onnx' });
    expect(() => topologicalOrder(g)).toThrow(GraphError);
    expect(() => topologicalOrder(g)).toThrow(/cycle through node\(s\) first, second/);
  });
  it('a node reading a value nobody provides', async () => {
    const g = await readOnnx(bad('missing-value.onnx'), { fileName: 'missing-value.onnx' });
    expect(() => topologicalOrder(g)).toThrow(/node 'reader' reads 'nobody', which no node, input or initializer provides/);
  });
});

describe('readTensorProto rejects bad tensors', () => {
  it('truncated, and a model given as a tensor', () => {
    const t = new Uint8Array(readFileSync(TENSOR));
    expect(() => readTensorProto(t.subarray(0, t.length - 3), 'cut.pb')).toThrow(FormatError);
    expect(() => readTensorProto(t.subarray(0, t.length - 3), 'cut.pb')).toThrow(/cut\.pb/);
    expect(() => readTensorProto(new Uint8Array(readFileSync(MNIST)), 'model.onnx')).toThrow(FormatError);
  });
});

describe('names from the file stay data', () => {
  it("an attribute named '__proto__' is an own attribute, not the prototype of the node's attrs", async () => {
    const { onnx } = await import('../../../src/formats/generated/onnx.js');
    const bytes = onnx.ModelProto.encode({
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: [{ op_type: 'Relu', input: ['x'], output: ['y'], attribute: [{ name: '__proto__', type: 2, i: 1 }] }],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } }],
      },
    }).finish();
    const g = await readOnnx(bytes, { fileName: 'proto.onnx' });
    const attrs = g.nodes[0]!.attrs;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.keys(attrs)).toEqual(['__proto__']);
    expect((attrs as Record<string, unknown>).type).toBeUndefined();
  });
});
