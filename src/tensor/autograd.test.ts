import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { executedKernelCount, withGrad } from './exec.js';
import { checkGradients } from './grad-check.js';
import type { Tensor } from './index.js';
import {
  add,
  configureEngine,
  matmul,
  mean,
  mul,
  noGrad,
  parameter,
  randn,
  sub,
  sum,
  tanh,
  tensor,
} from './index.js';

describe('autograd', () => {
  it('accumulates gradients across backward calls until zeroGrad', () => {
    const w = parameter([1, 2], [2]);
    sum(mul(w, 3)).backward();
    sum(mul(w, 3)).backward();
    expect(w.grad?.toArray()).toEqual([6, 6]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
  });

  it('gives each leaf its own gradient array, even when a rule shares one', () => {
    const a = parameter([1, 2], [2]);
    const b = parameter([3, 4], [2]);
    sum(add(a, b)).backward();
    expect(a.grad!.data).not.toBe(b.grad!.data);
    a.grad!.data[0] = 100;
    expect(b.grad!.toArray()).toEqual([1, 1]);
    sum(add(a, b)).backward();
    expect(a.grad!.toArray()).toEqual([101, 2]);
    expect(b.grad!.toArray()).toEqual([2, 2]);
  });

  it('sums the gradients of a tensor used twice', () => {
    const x = parameter([2], [1]);
    sum(mul(x, x)).backward();
    expect(x.grad?.toArray()).toEqual([4]);
  });

  it('gives a frozen parameter no gradient and skips computing it', () => {
    const rng = new Random(1);
    const x = randn([8, 16], rng).asParameter();
    const w = randn([16, 4], rng).asParameter();
    const before = executedKernelCount();
    sum(matmul(x, w)).backward();
    const live = executedKernelCount() - before;
    expect(w.grad).not.toBeNull();

    w.freeze();
    x.zeroGrad();
    const start = executedKernelCount();
    sum(matmul(x, w)).backward();
    expect(w.grad).toBeNull();
    expect(w.frozen).toBe(true);
    expect(x.grad).not.toBeNull();
    expect(executedKernelCount() - start).toBe(live - 1);

    w.unfreeze();
    sum(matmul(x, w)).backward();
    expect(w.grad).not.toBeNull();
  });

  it('records nothing inside noGrad', () => {
    const w = parameter([1, 2], [2]);
    const y = noGrad(() => mul(w, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() => y.backward()).toThrow(/does not require grad/);
  });

  it('releases the graph after backward', () => {
    const w = parameter([1, 2], [2]);
    const y = sum(mul(w, 2));
    y.backward();
    expect(y.gradFn).toBeNull();
  });

  it('detach cuts the graph but shares the data', () => {
    const w = parameter([1, 2], [2]);
    const d = w.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.data).toBe(w.data);
  });

  it('gradient check catches a wrong backward rule', () => {
    // A deliberately wrong rule (d/dx x^2 taken as x instead of 2x) must fail the check.
    const square = (x: Tensor): Tensor =>
      withGrad(
        noGrad(() => mul(x, x)),
        'badSquare',
        [x],
        (g) => [mul(g, x)],
      );
    const result = checkGradients(square, [parameter([0.5, 1, 2], [3])]);
    expect(result.ok).toBe(false);
    expect(result.worst).not.toBeNull();
  });
});

describe('training from raw ops', () => {
  it('a 2-layer tanh MLP learns XOR with plain SGD', () => {
    const rng = new Random(3);
    const w1 = randn([2, 8], rng, 1).asParameter();
    const b1 = parameter(new Float32Array(8), [8]);
    const w2 = randn([8, 1], rng, 1).asParameter();
    const b2 = parameter(new Float32Array(1), [1]);
    const params = [w1, b1, w2, b2];
    const x = tensor([0, 0, 0, 1, 1, 0, 1, 1], [4, 2]);
    const y = tensor([0, 1, 1, 0], [4, 1]);
    const forward = (): Tensor => add(matmul(tanh(add(matmul(x, w1), b1)), w2), b2);
    const loss = (): Tensor => {
      const d = sub(forward(), y);
      return mean(mul(d, d));
    };
    const first = noGrad(loss).item();
    for (let step = 0; step < 500; step++) {
      for (const p of params) p.zeroGrad();
      loss().backward();
      for (const p of params) {
        const g = p.grad!.data;
        for (let i = 0; i < p.size; i++) p.data[i] -= 0.2 * g[i];
      }
    }
    const last = noGrad(loss).item();
    expect(first).toBeGreaterThan(0.2);
    expect(last).toBeLessThan(0.01);
    const out = noGrad(forward).toArray();
    expect(out.map((v) => Math.round(v))).toEqual([0, 1, 1, 0]);
  });
});

describe('configureEngine', () => {
  it('rejects a thread count that is not a positive integer', () => {
    expect(() => configureEngine({ maxThreads: 0 })).toThrow(
      /`maxThreads` must be a positive integer, got 0/,
    );
  });

  it('gives the same products with one thread as with the default', () => {
    const rng = new Random(4);
    const a = randn([256, 384], rng);
    const b = randn([384, 512], rng);
    const many = matmul(a, b).toArray();
    const previous = configureEngine({ maxThreads: 1 });
    try {
      const one = matmul(a, b).toArray();
      expect(one.every((v, i) => Math.abs(v - many[i]) < 1e-3)).toBe(true);
    } finally {
      configureEngine(previous);
    }
  });
});
