// Ops whose output size comes from a value in the file (a window's size, a DFT length, a mel
// matrix's bins, MaxUnpool's output_shape) and Loops whose trip count does: each is stopped with a
// ResourceError before it allocates or iterates past the budget — not a RangeError from the typed
// array constructor, an allocation of what the file claims, or a command busy for days.
import { afterEach, describe, expect, it } from 'vitest';
import { resetResourceLimits, setResourceLimits } from '../../../src/ir/budget.js';
import { ResourceError } from '../../../src/ir/errors.js';
import type { Attr, Graph, Node, ValueInfo } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';

const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: `${opType}_0`, opType, domain: '', inputs, outputs, attrs });
const out = (name: string, dtype: ValueInfo['dtype'] = 'float32'): ValueInfo => ({ name, dtype });
const graph = (nodes: Node[], initializers: Record<string, Tensor>, outputs: ValueInfo[], opset = 17): Graph => ({
  name: 'g',
  nodes,
  inputs: [],
  outputs,
  initializers: new Map(Object.entries(initializers)),
  opsets: { '': opset },
});
const i64 = (...v: number[]): Tensor => Tensor.int64(v.length === 1 ? [] : [v.length], v);

async function refusal(g: Graph): Promise<ResourceError> {
  const e = await runGraph(g, {}).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, String(e)).toBeInstanceOf(ResourceError);
  return e as ResourceError;
}

afterEach(() => resetResourceLimits());

describe('sizes from the data are checked before allocating', () => {
  it('HannWindow of 4e9 points', async () => {
    const e = await refusal(graph([node('HannWindow', ['n'], ['y'])], { n: i64(4_000_000_000) }, [out('y')]));
    expect(e.message).toMatch(/HannWindow of size 4000000000/);
  });

  it('DFT with a dft_length of 1.5e9 on a 4-sample signal', async () => {
    const x = Tensor.float32([1, 4, 1], [1, 2, 3, 4]);
    const e = await refusal(graph([node('DFT', ['x', 'L'], ['y'], { axis: { type: 'int', value: 1 } })], { x, L: i64(1_500_000_000) }, [out('y')]));
    expect(e.message).toMatch(/DFT of length 1500000000/);
  });

  it('MelWeightMatrix of 1e5 bins over a 1e6-point DFT', async () => {
    const g = graph([node('MelWeightMatrix', ['a', 'b', 'c', 'd', 'e'], ['y'])], { a: i64(100_000), b: i64(1_000_000), c: i64(16_000), d: Tensor.float32([], [0]), e: Tensor.float32([], [8000]) }, [out('y')]);
    expect((await refusal(g)).message).toMatch(/MelWeightMatrix of 100000 bins/);
  });

  it("MaxUnpool to an output_shape of 200000 x 200000", async () => {
    const g = graph(
      [node('MaxUnpool', ['x', 'i', 's'], ['y'], { kernel_shape: { type: 'ints', value: [2, 2] }, strides: { type: 'ints', value: [2, 2] } })],
      { x: Tensor.float32([1, 1, 2, 2], [1, 2, 3, 4]), i: Tensor.int64([1, 1, 2, 2], [0, 1, 4, 5]), s: Tensor.int64([4], [1, 1, 200_000, 200_000]) },
      [out('y')],
    );
    expect((await refusal(g)).message).toMatch(/MaxUnpool output_shape/);
  });
});

describe('Loop', () => {
  const body: Graph = {
    name: 'body',
    nodes: [node('Identity', ['c_in'], ['c_out']), node('Identity', ['row'], ['v'])],
    inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c_in', dtype: 'bool', shape: [] }],
    outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'v', dtype: 'float32', shape: [1000] }],
    initializers: new Map([['row', Tensor.float32([1000], new Float32Array(1000).fill(1))]]),
    opsets: { '': 16 },
  };
  const loop = (m: number): Graph => graph([{ ...node('Loop', ['M', 'c'], ['scan'], { body: { type: 'graph', value: body } }), name: 'decode' }], { M: i64(m), c: new Tensor('bool', [], Uint8Array.of(1)) }, [out('scan')], 16);

  it('a trip count of 1e12 stops at the iteration bound, naming the node', async () => {
    setResourceLimits({ maxLoopIterations: 50 });
    const e = await refusal(loop(1e12));
    expect(e.message).toMatch(/Loop 'decode': its iterations reach 51, over the limit of 50/);
  });

  it('scan outputs stop at the memory bound as they grow', async () => {
    setResourceLimits({ maxMemory: 100 * 4000 });
    const e = await refusal(loop(1000));
    expect(e.message).toMatch(/Loop 'decode' scan output 0 after 101 iterations/);
  });

  it('within the bounds the loop runs (the 1000-row scan output)', async () => {
    const r = await runGraph(loop(1000), {});
    expect(r.outputs.get('scan')!.shape).toEqual([1000, 1000]);
  });
});

describe('outputs larger than their inputs', () => {
  it("Einsum's outer product of four 1000-vectors (10^12 elements)", async () => {
    const v = Tensor.float32([1000], new Float32Array(1000).fill(1));
    const g = graph([node('Einsum', ['a', 'b', 'c', 'd'], ['y'], { equation: { type: 'string', value: 'i,j,k,l->ijkl' } })], { a: v, b: v, c: v, d: v }, [out('y')], 12);
    expect((await refusal(g)).message).toMatch(/Einsum/);
  });

  it('RoiAlign with output_height x output_width of 10^5 x 10^5', async () => {
    const g = graph(
      [node('RoiAlign', ['x', 'rois', 'bi'], ['y'], { output_height: { type: 'int', value: 100_000 }, output_width: { type: 'int', value: 100_000 } })],
      { x: Tensor.float32([1, 1, 4, 4], new Float32Array(16)), rois: Tensor.float32([1, 4], [0, 0, 2, 2]), bi: Tensor.int64([1], [0]) },
      [out('y')],
      16,
    );
    expect((await refusal(g)).message).toMatch(/RoiAlign output/);
  });
});
