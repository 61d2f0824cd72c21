// Invalid graphs are refused by the reader (the registry), so every command refuses them alike
// and nothing is written.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { emptyGraph, type Graph, type Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { cli } from '../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-graph-'));

const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({ name, opType, domain: '', inputs, outputs, attrs: {} });

function graph(nodes: Node[], outputs = ['y']): Graph {
  const g = emptyGraph('bad');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2] });
  for (const o of outputs) g.outputs.push({ name: o, dtype: 'float32', shape: [2] });
  g.nodes.push(...nodes);
  return g;
}

const CASES: Array<[string, Graph, RegExp]> = [
  ['cycle', graph([node('a', 'Add', ['x', 'c'], ['b']), node('b', 'Relu', ['b'], ['c']), node('y', 'Neg', ['c'], ['y'])]), /cycle through node\(s\) a, b/],
  ['self-loop', graph([node('loop', 'Add', ['x', 'y'], ['y'])]), /cycle through node\(s\) loop/],
  ['dangling input', graph([node('n', 'Add', ['x', 'ghost'], ['y'])]), /reads 'ghost', which no node, input or initializer provides/],
  ['duplicate producer', graph([node('n1', 'Relu', ['x'], ['y']), node('n2', 'Neg', ['x'], ['y'])]), /'y' is produced more than once/],
  ['missing output', graph([node('n', 'Relu', ['x'], ['h'])]), /graph output 'y' is never produced/],
];

describe('graph validation in the reader', () => {
  const x = join(tmp, 'x.npy');
  writeFileSync(x, writeNpy(Tensor.float32([2], [1, 2])));
  for (const [name, g, message] of CASES) {
    it(`${name}: inspect, run, convert and compare refuse it the same way`, async () => {
      const model = join(tmp, `${name.replace(/ /g, '-')}.onnx`);
      writeFileSync(model, writeOnnx(g));
      const out = join(tmp, `${name.replace(/ /g, '-')}-out.onnx`);
      const runs = [await cli('inspect', model), await cli('run', model, '--input', x), await cli('convert', model, '-o', out), await cli('compare', model, model, '--input', x)];
      for (const r of runs) {
        expect(r.code).toBe(1);
        expect(r.err).toMatch(message);
        expect(r.err).toContain(`${model}: invalid graph`);
        expect(r.err).not.toMatch(/internal error/);
      }
      expect(existsSync(out)).toBe(false);
    });
  }
});
