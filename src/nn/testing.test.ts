import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { mul, randn } from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import { gradientCheck } from './testing.js';

describe('gradientCheck', () => {
  it('passes a correct gradient and reports a wrong one', () => {
    const x = randn([5], new Random(1));
    x.requiresGrad = true;
    expect(gradientCheck(() => mul(mul(x, x), 3), { x }).mismatches).toEqual([]);
    // The same op with a backward rule that forgets the factor 2 of d(x^2)/dx.
    const wrong = (): Tensor => {
      const y = mul(mul(x, x), 3);
      y.gradFn = { name: 'wrong', inputs: [x], backward: (g) => [mul(mul(g, x), 3)] };
      return y;
    };
    const { mismatches, checked } = gradientCheck(wrong, { x });
    expect(checked).toBe(5);
    expect(mismatches).toHaveLength(5);
  });
});
