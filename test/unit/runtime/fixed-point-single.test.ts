// MultiplyByQuantizedMultiplier with one rounding (the interpreter's builtin FULLY_CONNECTED)
// against its definition in 64-bit integers (BigInt): the float64 paths (small accumulators; the
// multiplier split in 16-bit halves for the rest) over the whole int32 range and every shift.
import { describe, expect, test } from 'vitest';
import { multiplyByQuantizedMultiplierSingle } from '../../../src/runtime/integer/fixed-point.js';
import { rng } from '../../support/rng.js';

const definition = (x: number, m: number, shift: number): number => Number((BigInt(x) * BigInt(m) + (1n << BigInt(30 - shift))) >> BigInt(31 - shift));

describe('multiplyByQuantizedMultiplierSingle', () => {
  test('equals (x·M + 2^(s-1)) >> s in 64-bit integers', () => {
    const r = rng(5);
    const xs = [0, 1, -1, 2 ** 21 - 1, -(2 ** 21), 2 ** 21, 2 ** 31 - 1, -(2 ** 31), 65535, -65536];
    let checked = 0;
    for (let t = 0; t < 20000; t++) {
      const x = t < xs.length ? xs[t]! : r() < 0.5 ? Math.floor((r() * 2 - 1) * 2 ** 31) : Math.floor((r() * 2 - 1) * 2 ** (r() * 31));
      const m = r() < 0.1 ? [0, 2 ** 30, 2 ** 31 - 1][t % 3]! : 2 ** 30 + Math.floor(r() * 2 ** 30);
      const shift = r() < 0.2 ? [-31, -15, -14, 0, 14, 15, 30][t % 7]! : Math.floor(r() * 62) - 31;
      const got = multiplyByQuantizedMultiplierSingle(x, m, shift);
      if (got !== definition(x, m, shift)) expect.fail(`x ${x}, multiplier ${m}, shift ${shift}: ${got}, want ${definition(x, m, shift)}`);
      checked++;
    }
    expect(checked).toBe(20000);
  });
});
