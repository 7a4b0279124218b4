import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { sequentialDifference, sequentialPValue } from './sequential.js';
import { bootstrapLift, sampleRatioMismatch, summarize, welchTTest } from './statistics.js';

describe('welchTTest', () => {
  it('matches a textbook value', () => {
    // Reference: scipy.stats.ttest_ind(treatment, control, equal_var=False) on these values gives
    // t = 1.95901, df = 7.03056, p = 0.0907733.
    const r = welchTTest(
      [29.89, 29.93, 29.72, 29.98, 30.02, 29.98],
      [30.02, 29.99, 30.11, 29.97, 30.01, 29.99],
    );
    expect(r.t).toBeCloseTo(1.959, 3);
    expect(r.df).toBeCloseTo(7.03, 2);
    expect(r.pValue).toBeCloseTo(0.09077, 4);
  });

  it('refuses arms with fewer than two values', () => {
    expect(() => welchTTest([1], [1, 2])).toThrow(/at least 2 values per arm, got 1 and 2/);
  });
});

describe('bootstrapLift', () => {
  it('covers a planted lift and excludes no lift when the lift is large', () => {
    const random = new Random(7);
    const control = Array.from({ length: 2000 }, () => Math.exp(random.normal()));
    const treatment = Array.from({ length: 2000 }, () => 1.3 * Math.exp(random.normal()));
    const r = bootstrapLift(control, treatment, { random: new Random(1) });
    expect(r.low).toBeLessThan(0.3);
    expect(r.high).toBeGreaterThan(0.3);
    expect(r.low).toBeGreaterThan(0);
  });
});

describe('sampleRatioMismatch', () => {
  it('flags a skewed split and passes a fair one', () => {
    expect(sampleRatioMismatch([5000, 5400], [1, 1]).mismatch).toBe(true);
    expect(sampleRatioMismatch([5000, 5050], [1, 1]).mismatch).toBe(false);
    // Unequal weights: 1:3 held is fine, the same counts against 1:1 are not.
    expect(sampleRatioMismatch([2500, 7500], [1, 3]).mismatch).toBe(false);
    expect(sampleRatioMismatch([2500, 7500], [1, 1]).mismatch).toBe(true);
  });

  it('agrees with the chi-square reference value', () => {
    // (5000-5200)^2/5200 * 2 = 15.385 on 1 df: p = 8.768e-5 (scipy.stats.chi2.sf(15.385, 1)).
    const r = sampleRatioMismatch([5000, 5400], [1, 1]);
    expect(r.chiSquare).toBeCloseTo(15.385, 3);
    expect(r.pValue).toBeCloseTo(8.77e-5, 6);
  });
});

describe('A/A false-positive rates', () => {
  // Heavy-tailed outcomes like plays: log-normal with sigma 1, 400 units per arm, 500 experiments.
  const experiments = 500;
  const simulate = (seed: number) => {
    const random = new Random(seed);
    const values = Array.from({ length: 800 }, () => Math.exp(random.normal()));
    const treated = Array.from({ length: 800 }, () => random.next() < 0.5);
    return { values, treated };
  };

  it("Welch's test rejects about 5% of A/A experiments at alpha 0.05", () => {
    let rejections = 0;
    for (let s = 0; s < experiments; s++) {
      const { values, treated } = simulate(s);
      const r = welchTTest(
        values.filter((_, i) => !treated[i]),
        values.filter((_, i) => treated[i]),
      );
      if (r.pValue < 0.05) rejections++;
    }
    // Binomial(500, 0.05) has sd 0.0097: the band is about +-3 sd.
    expect(rejections / experiments).toBeGreaterThan(0.02);
    expect(rejections / experiments).toBeLessThan(0.08);
  });

  it('the confidence sequence stays below alpha even when checked after every unit', () => {
    let rejections = 0;
    for (let s = 0; s < experiments; s++) {
      const { values, treated } = simulate(1000 + s);
      const all = values.map((_, i) => i + 1);
      const path = sequentialDifference(values, treated, {
        treatmentShare: 0.5,
        checkpoints: all,
        tightestAt: 400,
      });
      if (path.some((p) => p.low > 0 || p.high < 0)) rejections++;
    }
    expect(rejections / experiments).toBeLessThan(0.05);
  });

  it('peeking at a fixed-horizon test after every 20 units inflates its error (why the sequence exists)', () => {
    let rejections = 0;
    for (let s = 0; s < 200; s++) {
      const { values, treated } = simulate(5000 + s);
      for (let n = 40; n <= 800; n += 20) {
        const v = values.slice(0, n);
        const t = treated.slice(0, n);
        if (
          welchTTest(
            v.filter((_, i) => !t[i]),
            v.filter((_, i) => t[i]),
          ).pValue < 0.05
        ) {
          rejections++;
          break;
        }
      }
    }
    expect(rejections / 200).toBeGreaterThan(0.1);
  });
});

describe('sequentialDifference', () => {
  it('finds a real difference and its always-valid p-value falls below alpha', () => {
    const random = new Random(3);
    const treated = Array.from({ length: 2000 }, () => random.next() < 0.5);
    const values = treated.map((t) => random.normal() + (t ? 0.3 : 0));
    const [last] = sequentialDifference(values, treated, { treatmentShare: 0.5 });
    expect(last.low).toBeGreaterThan(0);
    expect(last.low).toBeLessThan(0.3);
    expect(last.high).toBeGreaterThan(0.3);
    expect(sequentialPValue(values, treated, { treatmentShare: 0.5 })).toBeLessThan(0.01);
  });

  it('summarize is stable for large offsets', () => {
    const s = summarize([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]);
    expect(s.mean).toBe(1e9 + 10);
    expect(s.variance).toBeCloseTo(30, 6);
  });
});
