// `nnport inspect` on TensorFlow files: a frozen graph's own nodes (op, inputs, device, attrs,
// output shapes), a checkpoint's variables with optimizer slots marked, a SavedModel's
// signatures and the ops a freeze leaves out; --json carries the same tables.
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { ModelSummary } from '../../../src/api/summary.js';
import { corpusPath } from '../../support/corpus.js';

async function inspectJson(...args: string[]): Promise<ModelSummary> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['inspect', ...args, '--json'], (s) => out.push(s), (s) => err.push(s));
  expect(err).toEqual([]);
  expect(code).toBe(0);
  return JSON.parse(out.join('\n')) as ModelSummary;
}

const table = (s: ModelSummary, title: string) => {
  const l = s.listings?.find((x) => x.title === title);
  expect(l, title).toBeDefined();
  return l!.rows.map((r) => Object.fromEntries(l!.columns.map((c, i) => [c, r[i]])));
};

describe('inspect TensorFlow files', () => {
  it('a frozen .pb lists every node with op, inputs, attrs and output shapes', async () => {
    const s = await inspectJson(corpusPath('tf-graphdef/tensorspace-mnist-conv/frozen_model.pb'));
    const nodes = table(s, 'TensorFlow nodes');
    expect(nodes.length).toBe(46);
    const conv = nodes.find((n) => n.op === 'Conv2D')!;
    expect(conv.attrs).toMatch(/padding="VALID"/);
    expect(conv.attrs).toMatch(/data_format="NHWC"/);
    expect(conv['output shapes']).toBe('[?, 24, 24, 6]');
    expect(nodes.find((n) => n.name === 'MySoftMax')!['output shapes']).toBe('[?, 10]');
    expect(s.weights.length).toBeGreaterThan(0);
  });

  it('a checkpoint lists its variables, optimizer slots marked', async () => {
    const s = await inspectJson(corpusPath('tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.index'));
    const vars = table(s, 'checkpoint variables');
    expect(vars.length).toBe(32);
    expect(vars.find((v) => v.name === 'Variable/Adam')!.kind).toBe('optimizer slot');
    expect(vars.find((v) => v.name === 'Variable')).toMatchObject({ kind: 'variable', dtype: 'float32', shape: '[5, 5, 1, 6]', bytes: '600' });
  });

  it('a SavedModel folder shows signatures, variables and the ops outside the inference subgraph', async () => {
    const s = await inspectJson(corpusPath('tf-checkpoint/tensorspace-mnist-savedmodel'));
    expect(table(s, 'signatures')[0]).toMatchObject({ name: 'serving_default', inputs: 'input=MyInput:0 float32 [?, 28, 28, 1]' });
    const outside = table(s, 'ops outside the inference subgraph').map((r) => r.op);
    expect(outside).toEqual(expect.arrayContaining(['ApplyAdam', 'SaveV2', 'RestoreV2', 'Assign']));
    expect(s.inputs.map((i) => i.name)).toEqual(['MyInput']);
  });
});
