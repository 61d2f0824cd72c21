import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 40, write: (s: string) => writes.push(s) } };
}

describe('CLI progress line', () => {
  it('draws on a terminal, throttles, shows the final step, and erases itself', () => {
    const { writes, stream } = fakeStream(true);
    const p = new Progress(stream, true, 1_000_000);
    p.update('running Conv', 1, 200);
    p.update('running Relu', 2, 200); // throttled
    p.update('running Gemm', 200, 200); // the last step is always drawn
    p.done();
    expect(writes).toHaveLength(3);
    expect(writes[0]).toMatch(/^\rrunning Conv 1\/200 \(0%\)/);
    expect(writes[1]).toMatch(/^\rrunning Gemm 200\/200 \(100%\)/);
    expect(writes[2]).toMatch(/^\r +\r$/);
    expect(writes.every((w) => w.length <= 41)).toBe(true);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const { writes, stream } = fakeStream(false);
    const p = new Progress(stream);
    p.update('reading x', 1, 2);
    p.done();
    expect(p.enabled).toBe(false);
    expect(writes).toEqual([]);
  });
});
