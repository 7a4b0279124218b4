import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/index.js';
import { AdamW, Sgd, clipGradNorm, warmupCosineSchedule } from './index.js';
import type { TrainableParameter } from './index.js';

function param(values: number[], requiresGrad = true): TrainableParameter {
  return { data: new Float32Array(values), grad: null, requiresGrad };
}

function setGrad(p: TrainableParameter, values: number[]): void {
  p.grad = { data: new Float32Array(values) };
}

function expectClose(actual: Float32Array, expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

describe('AdamW', () => {
  it('matches hand-computed and PyTorch reference values over two steps', () => {
    // Step 1 by hand: m/(1-b1) = g and v/(1-b2) = g^2, so the update is lr * g/|g| = ±0.1,
    // after decoupled decay by 1 - lr*wd = 0.99: 1*0.99 - 0.1 = 0.89, -2*0.99 + 0.1 = -1.88, 0.5*0.99 - 0.1 = 0.395.
    // Step 2 from torch 1.13: torch.optim.AdamW([p], lr=0.1, weight_decay=0.1) with the same gradients.
    const p = param([1, -2, 0.5]);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    setGrad(p, [0.1, -0.2, 0.3]);
    opt.step();
    expectClose(p.data, [0.89, -1.88, 0.395]);
    setGrad(p, [0.05, 0.4, -0.1]);
    opt.step();
    expectClose(p.data, [0.78788203, -1.89781034, 0.351028144]);
  });

  it('gives frozen parameters and parameters without gradient no state and no change', () => {
    const trained = param([1, 2]);
    const frozen = param([3, 4], false);
    const idle = param([5, 6]);
    const opt = new AdamW([trained, frozen, idle], { lr: 0.1, weightDecay: 0.5 });
    setGrad(trained, [1, 1]);
    // A stale gradient on a frozen parameter must not move it either.
    setGrad(frozen, [1, 1]);
    for (let i = 0; i < 3; i++) opt.step();
    expect(opt.stateCount).toBe(1);
    expect(opt.stateOf(trained)?.step).toBe(3);
    expect(opt.stateOf(frozen)).toBeUndefined();
    expect(opt.stateOf(idle)).toBeUndefined();
    expect([...frozen.data]).toEqual([3, 4]);
    expect([...idle.data]).toEqual([5, 6]);
    expect(trained.data[0]).toBeLessThan(1);
  });

  it('starts the bias correction of a parameter at its own first gradient', () => {
    // A parameter unfrozen later behaves like a fresh one: its first update is again lr * sign(g).
    const early = param([0]);
    const late = { ...param([0]), requiresGrad: false };
    const opt = new AdamW([early, late], { lr: 0.1, weightDecay: 0 });
    setGrad(early, [1]);
    opt.step();
    opt.step();
    late.requiresGrad = true;
    setGrad(late, [1]);
    opt.step();
    expectClose(late.data, [-0.1]);
  });

  it('rejects invalid hyper-parameters', () => {
    expect(() => new AdamW([], { lr: -1 })).toThrow('`lr` must be a finite number >= 0, got -1');
    expect(() => new AdamW([], { lr: 1, beta2: 1 })).toThrow(ValidationError);
  });
});

describe('Sgd', () => {
  it('applies momentum as PyTorch does', () => {
    // By hand, lr 0.1, momentum 0.9: b1 = g1 = [1, 2], p = [0.9, -2.2];
    // b2 = 0.9*[1, 2] + [0.5, -1] = [1.4, 0.8], p = [0.9 - 0.14, -2.2 - 0.08] = [0.76, -2.28].
    const p = param([1, -2]);
    const opt = new Sgd([p], { lr: 0.1, momentum: 0.9 });
    setGrad(p, [1, 2]);
    opt.step();
    expectClose(p.data, [0.9, -2.2]);
    setGrad(p, [0.5, -1]);
    opt.step();
    expectClose(p.data, [0.76, -2.28]);
  });

  it('matches torch.optim.SGD with nesterov and weight decay', () => {
    // torch 1.13: SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01).
    const p = param([1, -2]);
    const opt = new Sgd([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    setGrad(p, [1, 2]);
    opt.step();
    expectClose(p.data, [0.808099985, -2.37619996]);
    setGrad(p, [0.5, -1]);
    opt.step();
    expectClose(p.data, [0.629754603, -2.3420651]);
  });

  it('keeps no buffer without momentum, and refuses nesterov without it', () => {
    const p = param([1]);
    const opt = new Sgd([p], { lr: 0.5 });
    setGrad(p, [2]);
    opt.step();
    expectClose(p.data, [0]);
    expect(opt.stateOf(p)?.buffer).toBeUndefined();
    expect(() => new Sgd([], { lr: 0.1, nesterov: true })).toThrow(/`nesterov` needs a momentum > 0/);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients by one factor to the global norm', () => {
    // Norm of [3, 4, 12] = 13; factor 6.5 / 13 = 0.5 (torch's clip_grad_norm_ gives the same).
    const a = param([0, 0]);
    const b = param([0]);
    const none = param([0]);
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    expect(clipGradNorm([a, b, none], 6.5)).toBeCloseTo(13, 6);
    expectClose(a.grad!.data, [1.5, 2]);
    expectClose(b.grad!.data, [6]);
    expect(none.grad).toBeNull();
  });

  it('leaves gradients under the limit untouched', () => {
    const a = param([0, 0]);
    setGrad(a, [3, 4]);
    expect(clipGradNorm([a], 5.5)).toBeCloseTo(5, 6);
    expect([...a.grad!.data]).toEqual([3, 4]);
  });
});

describe('warmupCosineSchedule', () => {
  it('warms up linearly, decays along a cosine and holds the floor', () => {
    const s = warmupCosineSchedule({ lr: 1, warmupSteps: 4, totalSteps: 14, minLr: 0.1 });
    expect([0, 1, 2, 3].map(s)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(s(4)).toBeCloseTo(1, 12);
    // Half-way through the 10 decay steps: 0.1 + 0.9 * (1 + cos(pi/2)) / 2 = 0.55.
    expect(s(9)).toBeCloseTo(0.55, 12);
    expect(s(14)).toBeCloseTo(0.1, 12);
    expect(s(100)).toBeCloseTo(0.1, 12);
  });

  it('rejects inconsistent step counts', () => {
    expect(() => warmupCosineSchedule({ lr: 1, warmupSteps: 5, totalSteps: 3 })).toThrow(
      '`totalSteps` must be an integer >= warmupSteps (5), got 3',
    );
    expect(() => warmupCosineSchedule({ lr: 1, warmupSteps: 0, totalSteps: 3, minLr: 2 })).toThrow(
      ValidationError,
    );
  });
});
