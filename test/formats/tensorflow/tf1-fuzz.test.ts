// Structural fuzzing of the TF1 control-flow rewrite (tf1-control-flow.ts): the TF1 graphs of
// tf1-models.ts with a node deleted, an input re-pointed at another node's output, an Enter's
// is_constant flipped or its frame renamed, a control-flow op swapped for another, a control
// input added. Every case either reads or fails with an NnportError; nothing may throw a
// TypeError / RangeError or hang (mutated loops are read, never run).
import { describe, expect, it } from 'vitest';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { NnportError } from '../../../src/ir/errors.js';
import { rng } from '../../support/rng.js';
import { graphDefBytes, type NodeSpec, type Tf1Model } from './tf1-graphs.js';
import { accumulateModel, condInWhileModel, condModel, dropoutModel, nestedInCondModel, rnnModel, whileInWhileModel } from './tf1-models.js';

const SEEDS: [string, () => Tf1Model][] = [
  ['cond', condModel],
  ['accumulate', accumulateModel],
  ['rnn', () => rnnModel()],
  ['cond-in-while', condInWhileModel],
  ['while-in-while', whileInWhileModel],
  ['dropout', dropoutModel],
  ['nested-in-cond', nestedInCondModel],
];
const FLOW = ['Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'LoopCond', 'Identity'];
const CASES = 60;

/** One mutation of the seed's nodes, drawn from `r`; what it did. */
function mutate(nodes: NodeSpec[], r: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = pick(nodes);
  switch (Math.floor(r() * 6)) {
    case 0:
      nodes.splice(nodes.indexOf(n), 1);
      return `delete '${n.name}'`;
    case 1: {
      if (!n.input?.length) return 'none';
      const k = Math.floor(r() * n.input.length);
      const to = pick(nodes).name + (r() < 0.3 ? ':1' : '');
      n.input[k] = n.input[k]!.startsWith('^') ? `^${to}` : to;
      return `'${n.name}' input ${k} -> '${to}'`;
    }
    case 2: {
      const e = pick(nodes.filter((x) => x.op === 'Enter'));
      if (!e) return 'none';
      const b = (e.attr?.is_constant as { b?: boolean } | undefined)?.b;
      e.attr = { ...e.attr, is_constant: { b: !b } };
      return `'${e.name}' is_constant flipped`;
    }
    case 3: {
      const e = pick(nodes.filter((x) => x.op === 'Enter'));
      if (!e) return 'none';
      e.attr = { ...e.attr, frame_name: { s: pick(['other', 'while/while_context', '']) } };
      return `'${e.name}' frame renamed`;
    }
    case 4: {
      const c = pick(nodes.filter((x) => FLOW.includes(x.op)));
      if (!c) return 'none';
      const op = pick(FLOW);
      c.op = op;
      return `'${c.name}' -> ${op}`;
    }
    default: {
      const from = pick(nodes).name;
      n.input = [...(n.input ?? []), `^${from}`];
      return `'${n.name}' ^'${from}'`;
    }
  }
}

describe('TF1 control flow: mutated frames and conds read or fail with a typed error', () => {
  for (const [name, seed] of SEEDS) {
    it(name, async () => {
      let read = 0;
      let refused = 0;
      for (let i = 0; i < CASES; i++) {
        const r = rng(1000 * SEEDS.findIndex(([s]) => s === name) + i);
        const m = seed();
        const what = [mutate(m.nodes, r), ...(r() < 0.5 ? [mutate(m.nodes, r)] : [])].join(', ');
        try {
          await readGraphDef(graphDefBytes(m), { fileName: `${name}-${i}.pb`, outputs: m.outputs });
          read++;
        } catch (e) {
          if (!(e instanceof NnportError)) throw new Error(`case ${i} (${what}): ${String(e)}`, { cause: e });
          refused++;
        }
      }
      // the mutations are not all harmless: some are refused, and some still read
      expect(read + refused).toBe(CASES);
      expect(refused).toBeGreaterThan(0);
    });
  }
});
