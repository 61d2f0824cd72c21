// The backend seam: a second backend (a stand-in for WebGPU: asynchronous kernels whose outputs
// stay in "device" memory) takes the ops it has and accepts, the wasm backend the rest; device
// tensors are downloaded exactly where a host kernel needs them, and the results match a
// wasm-only run.
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor, type TensorStorage } from '../../../src/ir/tensor.js';
import { registerBackend, unregisterBackend, type Backend } from '../../../src/runtime/backend.js';
import { runGraph, runGraphSync } from '../../../src/runtime/executor.js';
import { defineOp, noAttrs } from '../../../src/runtime/op.js';

function chain(ops: string[]): Graph {
  return {
    name: 'chain',
    nodes: ops.map((opType, i) => ({ name: `n${i}`, opType, domain: '', inputs: [i ? `v${i}` : 'x'], outputs: [i === ops.length - 1 ? 'y' : `v${i + 1}`], attrs: {} })),
    inputs: [{ name: 'x', dtype: 'float32', shape: [null] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': 17 },
  };
}

/** A fake device: Neg runs "there" (asynchronously) for inputs of at least `minSize` elements. */
function fakeDevice(minSize: number) {
  const log: string[] = [];
  const memory = new WeakMap<TensorStorage, Float32Array>();
  const storage = (data: Float32Array): TensorStorage => {
    const s: TensorStorage = {
      location: 'fake-device',
      async read() {
        log.push('read');
        return data.slice();
      },
    };
    memory.set(s, data);
    return s;
  };
  const deviceData = async (t: Tensor) => memory.get(t.storage!)!;
  const backend: Backend = {
    name: 'fake',
    location: 'fake-device',
    priority: 10,
    kernels: {
      Neg: defineOp({
        attrs: noAttrs,
        accepts: (inputs) => inputs[0]!.size >= minSize,
        async run(inputs) {
          const x = inputs[0]!;
          // a device kernel takes its own tensors as they are and uploads host ones
          log.push(x.onHost ? 'neg(host)' : 'neg(device)');
          const src = x.onHost ? (x.data as Float32Array) : await deviceData(x);
          return [Tensor.onDevice('float32', x.shape, storage(src.map((v) => -v)))];
        },
      }),
    },
  };
  return { backend, log };
}

afterEach(() => unregisterBackend('fake'));

describe('runtime backends', () => {
  const x = Tensor.float32([6], [1, -2, 3, -4, 5, -6]);
  const graph = chain(['Neg', 'Neg', 'Abs', 'Neg']);

  it('run each op on the preferred backend that has it and accepts the inputs, downloading only for host kernels', async () => {
    const { backend, log } = fakeDevice(4);
    registerBackend(backend);
    const want = runGraphSync(graph, { x }, { backends: ['wasm'] }).outputs.get('y')!;
    const got = (await runGraph(graph, { x })).outputs.get('y')!;
    expect(got.onHost).toBe(true);
    expect(got.toNumbers()).toEqual(want.toNumbers());
    expect(got.toNumbers()).toEqual([-1, -2, -3, -4, -5, -6]);
    // Neg, Neg on the device (the second takes the first's output as is), one download for Abs
    // (wasm), the last Neg on the device again from a host input, and the output downloaded.
    expect(log).toEqual(['neg(host)', 'neg(device)', 'read', 'neg(host)', 'read']);
  });

  it('fall back to the next backend when the preferred kernel declines the inputs', async () => {
    const { backend, log } = fakeDevice(100);
    registerBackend(backend);
    const got = (await runGraph(graph, { x })).outputs.get('y')!;
    expect(got.toNumbers()).toEqual([-1, -2, -3, -4, -5, -6]);
    expect(log).toEqual([]);
    // nothing asynchronous happened, so the synchronous entry point runs it too
    expect(runGraphSync(graph, { x }).outputs.get('y')!.toNumbers()).toEqual([-1, -2, -3, -4, -5, -6]);
  });

  it('refuse to run asynchronous kernels synchronously', async () => {
    registerBackend(fakeDevice(1).backend);
    expect(() => runGraphSync(graph, { x })).toThrow(UsageError);
    expect(() => runGraphSync(graph, { x }, { backends: ['nope'] })).toThrow(/unknown runtime backend 'nope'/);
  });

  it('keep device tensors behind the Tensor interface until downloaded', async () => {
    const t = Tensor.onDevice('float32', [2, 3], { location: 'fake-device', read: async () => new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(t.onHost).toBe(false);
    expect(t.size).toBe(6);
    expect(() => t.data).toThrow(UsageError);
    const r = t.reshape([3, 2]);
    expect(r.storage).toBe(t.storage);
    expect(Array.from((await t.download()) as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.onHost).toBe(true);
    expect(t.toNumbers()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
