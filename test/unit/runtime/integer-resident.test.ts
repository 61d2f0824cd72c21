// The integer runtime's resident mode (runInteger's default; src/wasm/resident.ts): 8-bit
// activations stay in WASM memory from one integer kernel to the next. The same bits as the
// mode that copies every activation out and back in and as the TypeScript kernels, on real int8
// models run on freshly read graphs (their weights are packed during the first run, so WASM
// memory grows while activations are held there); blocks are reused, not allocated again, on
// later runs; what the caller gets is on the host and not a view into WASM memory.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { ownedBuffer } from '../../../src/wasm/host-buffers.js';
import { initKernels, kernels } from '../../../src/wasm/loader.js';
import { ResidentBytes } from '../../../src/wasm/resident.js';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';

beforeAll(async () => {
  await initKernels();
});

const MODELS = [
  'tflite/tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite',
  'tflite/tflm-person-detect-int8/person_detect.tflite',
  'tflite/utensor-quant-mnist-cnn-int8-floatio/quant_mnist_cnn.tflite',
];

function randomFeeds(g: Awaited<ReturnType<typeof readTflite>>, seed: number): Record<string, Tensor> {
  const r = rng(seed);
  const input = g.inputs[0]!;
  const shape = input.shape!.map((d) => (typeof d === 'number' ? d : 1));
  const n = shape.reduce((a, b) => a * b, 1);
  const t =
    input.dtype === 'int8' ? new Tensor('int8', shape, Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128)) : new Tensor('float32', shape, Float32Array.from({ length: n }, () => r() * 2 - 1));
  return { [input.name]: t };
}

const bits = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>);

describe('integer runtime with resident activations', () => {
  for (const rel of MODELS) {
    test(rel.split('/')[2]!, async () => {
      const bytes = readFileSync(corpusPath(rel));
      for (const requantization of ['reference', 'xnnpack'] as const) {
        // resident first, on a graph whose weights nothing has packed yet
        const g = await readTflite(bytes);
        const feeds = randomFeeds(g, requantization === 'reference' ? 5 : 6);
        const resident = [...(await runInteger(g, feeds, { requantization })).outputs.values()][0]!;
        const memory = kernels().exports.memory.buffer;
        expect(resident.onHost).toBe(true);
        expect((resident.data as Int8Array).buffer).not.toBe(memory);
        const copied = [...(await runInteger(g, feeds, { requantization, resident: false })).outputs.values()][0]!;
        expect(bits(resident)).toEqual(bits(copied));
        // the scalar twins too (not on mobilenet_v2: seconds each)
        if (!rel.includes('mobilenet')) expect(bits(resident)).toEqual(bits([...(await runInteger(await readTflite(bytes), feeds, { requantization, kernels: 'typescript' })).outputs.values()][0]!));
        // later runs take their blocks from the pool: no new WASM memory
        await runInteger(g, feeds, { requantization });
        const held = kernels().arena.persistentBytes;
        for (let k = 0; k < 3; k++) expect(bits([...(await runInteger(g, feeds, { requantization })).outputs.values()][0]!)).toEqual(bits(copied));
        expect(kernels().arena.persistentBytes).toBe(held);
      }
    });
  }

  test('a download is a copy of its own, never a reusable host buffer (the executor counts those by the values it made)', async () => {
    const block = ResidentBytes.alloc(100, false);
    block.view().set(Int8Array.from({ length: 100 }, (_, i) => i - 50));
    const host = await block.read();
    expect(Array.from(host)).toEqual(Array.from({ length: 100 }, (_, i) => i - 50));
    expect(host.buffer).not.toBe(kernels().exports.memory.buffer);
    expect(ownedBuffer(host)).toBeUndefined();
    block.dispose();
    await expect(block.read()).rejects.toThrow(/after it was freed/);
  });

  test('values the caller keeps come from the copying mode, on the host', async () => {
    const g = await readTflite(readFileSync(corpusPath(MODELS[2]!)));
    const feeds = randomFeeds(g, 9);
    const { outputs, values } = await runInteger(g, feeds, { keepIntermediates: true });
    expect(values!.size).toBeGreaterThan(5);
    for (const t of values!.values()) expect(t.onHost).toBe(true);
    expect(bits([...outputs.values()][0]!)).toEqual(bits([...(await runInteger(g, feeds)).outputs.values()][0]!));
  });
});
