import { describe, expect, it } from 'vitest';
import { AdamW } from './adamw.js';
import type { AdamWState } from './adamw.js';
import { AdamWSlot } from './adamw-simd.js';
import type { TrainableParameter } from './optimizer.js';

/** torch.optim.AdamW's update written out in float64, as the reference for the SIMD loop. */
function referenceSteps(p0: number[], grads: number[][], lr: number, wd: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mHat = m[i] / (1 - b1 ** t);
      const vHat = v[i] / (1 - b2 ** t);
      p[i] = p[i] * (1 - lr * wd) - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return p;
}

function gradsFor(n: number, steps: number): number[][] {
  return Array.from({ length: steps }, (_, s) =>
    Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + 0.7 * s) * (i % 5 === 0 ? 1e-3 : 1)),
  );
}

describe('AdamW SIMD update', () => {
  it('equals the float64 formula for lengths that do not fill the four lanes', () => {
    for (const n of [1, 3, 4, 7, 33]) {
      const p0 = Array.from({ length: n }, (_, i) => (i - n / 2) / 3);
      const grads = gradsFor(n, 5);
      const param: TrainableParameter = { data: Float32Array.from(p0), grad: null, requiresGrad: true };
      const opt = new AdamW([param], { lr: 0.01, weightDecay: 0.1 });
      for (const g of grads) {
        param.grad = { data: Float32Array.from(g) };
        opt.step();
      }
      const expected = referenceSteps(p0, grads, 0.01, 0.1);
      param.data.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 5));
    }
  });

  it('keeps its moments in views that survive later slots', () => {
    const slot = new AdamWSlot(5);
    const other = new AdamWSlot(200_000);
    const data = new Float32Array(5);
    slot.update(data, Float32Array.of(1, 2, 3, 4, 5), {
      b1: 0.9,
      b2: 0.999,
      c2: 1000,
      eps: 1e-8,
      stepSize: 1,
      decay: 1,
    });
    expect(other.m.length).toBe(200_000);
    expect([...slot.m].map((x) => x.toFixed(4))).toEqual(['0.1000', '0.2000', '0.3000', '0.4000', '0.5000']);
  });

  it('continues a state restored from plain arrays as if it had never stopped', () => {
    const n = 6;
    const p0 = Array.from({ length: n }, (_, i) => i / 4);
    const grads = gradsFor(n, 4);
    const run = (restoreAfter: number | null): Float32Array => {
      const param: TrainableParameter = { data: Float32Array.from(p0), grad: null, requiresGrad: true };
      let opt = new AdamW([param], { lr: 0.05, weightDecay: 0.01 });
      grads.forEach((g, s) => {
        if (s === restoreAfter) {
          // A checkpoint: copies of the state go to a fresh optimiser, as src/lm's resumable AdamW does.
          const saved = opt.stateOf(param)!;
          const copy: AdamWState = {
            step: saved.step,
            m: Float32Array.from(saved.m),
            v: Float32Array.from(saved.v),
          };
          opt = new (class extends AdamW {
            protected override initState(): AdamWState {
              return copy;
            }
          })([param], { lr: 0.05, weightDecay: 0.01 });
        }
        param.grad = { data: Float32Array.from(g) };
        opt.step();
      });
      return param.data;
    };
    expect([...run(2)]).toEqual([...run(null)]);
  });
});
