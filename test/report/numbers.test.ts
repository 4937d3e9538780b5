import { describe, expect, it } from 'vitest';
import { formatInteger } from '../../src/numbers.js';
import { createRandom } from '../robustness/mutate.js';

describe('formatInteger', () => {
  it('prints as toLocaleString(\'en-US\') does', () => {
    const values = [0, -0, 1, -1, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10000, 99999, 100000, 999999, 1000000, 1234567, -1234567, 105003,
      2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 2 ** 60, 0.5, 1234.5678, -0.25, NaN, Infinity, -Infinity, 1e21];
    for (let p = 0; p < 16; p++) values.push(10 ** p - 1, 10 ** p, 10 ** p + 1, -(10 ** p));
    const next = createRandom(0x5eed);
    for (let i = 0; i < 2000; i++) values.push(Math.floor((next() - 0.5) * 10 ** Math.floor(next() * 16)));
    for (const n of values) expect(formatInteger(n)).toBe(n.toLocaleString('en-US'));
  });
});
