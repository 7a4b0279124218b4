import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { ValidationError, type Random } from '../core/index.js';

/** Count, mean and unbiased variance of a sample. */
export interface SampleSummary {
  n: number;
  mean: number;
  variance: number;
}

/** Count, mean and unbiased variance (Welford's update, stable for large counts). */
export function summarize(values: ArrayLike<number>): SampleSummary {
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] ?? 0;
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
  }
  const n = values.length;
  return { n, mean: n > 0 ? mean : Number.NaN, variance: n > 1 ? m2 / (n - 1) : Number.NaN };
}

/** Welch's two-sample t-test of treatment minus control. */
export interface WelchResult {
  difference: number;
  standardError: number;
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  pValue: number;
}

/**
 * Welch's t-test (unequal variances) of mean(treatment) - mean(control); the p-value is two-sided and
 * comes from Student's t distribution with Welch–Satterthwaite degrees of freedom.
 */
export function welchTTest(control: ArrayLike<number>, treatment: ArrayLike<number>): WelchResult {
  const c = summarize(control);
  const t = summarize(treatment);
  if (c.n < 2 || t.n < 2)
    throw new ValidationError(`Welch's t-test needs at least 2 values per arm, got ${c.n} and ${t.n}`);
  const vc = c.variance / c.n;
  const vt = t.variance / t.n;
  const difference = t.mean - c.mean;
  const standardError = Math.sqrt(vc + vt);
  if (standardError === 0) {
    // Both arms constant: equal means are no evidence of a difference, different ones are certain.
    return { difference, standardError, t: 0, df: c.n + t.n - 2, pValue: difference === 0 ? 1 : 0 };
  }
  const statistic = difference / standardError;
  const df = (vc + vt) ** 2 / (vc ** 2 / (c.n - 1) + vt ** 2 / (t.n - 1));
  const pValue = Math.min(1, 2 * tCdf(-Math.abs(statistic), df));
  return { difference, standardError, t: statistic, df, pValue };
}

/** Options of `bootstrapLift`. */
export interface BootstrapOptions {
  random: Random;
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Two-sided coverage (default 0.95). */
  confidence?: number;
}

/** A relative lift mean(t)/mean(c) - 1 with its percentile-bootstrap interval. */
export interface LiftInterval {
  lift: number;
  low: number;
  high: number;
}

/**
 * Relative lift of the treatment mean over the control mean with a percentile bootstrap interval: each
 * resample draws both arms again with replacement (units are independent, so arms resample separately).
 */
export function bootstrapLift(
  control: ArrayLike<number>,
  treatment: ArrayLike<number>,
  options: BootstrapOptions,
): LiftInterval {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 10)
    throw new ValidationError(`\`resamples\` must be an integer of at least 10, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1))
    throw new ValidationError(`\`confidence\` must be between 0 and 1, got ${confidence}`);
  if (control.length < 2 || treatment.length < 2)
    throw new ValidationError(
      `the bootstrap needs at least 2 values per arm, got ${control.length} and ${treatment.length}`,
    );
  const resampledMean = (values: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[options.random.int(values.length)] ?? 0;
    return sum / values.length;
  };
  const lifts = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) lifts[b] = resampledMean(treatment) / resampledMean(control) - 1;
  lifts.sort();
  const at = (q: number) =>
    lifts[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))] ?? NaN;
  const tail = (1 - confidence) / 2;
  return {
    lift: summarize(treatment).mean / summarize(control).mean - 1,
    low: at(tail),
    high: at(1 - tail),
  };
}

/** The sample-ratio-mismatch check: do the arms hold the shares of units their weights promise? */
export interface SampleRatioCheck {
  observed: number[];
  expected: number[];
  chiSquare: number;
  df: number;
  pValue: number;
  /** True when pValue is below the threshold: the split is broken and effects cannot be trusted. */
  mismatch: boolean;
}

/**
 * Pearson's chi-square goodness-of-fit test of unit counts per arm against the arms' weights. A p-value
 * below `threshold` (default 0.001, strict because the check runs on every report) flags a mismatch,
 * which usually means a bug in assignment or in event logging rather than a real effect.
 */
export function sampleRatioMismatch(
  counts: readonly number[],
  weights: readonly number[],
  threshold = 0.001,
): SampleRatioCheck {
  if (counts.length !== weights.length || counts.length < 2)
    throw new ValidationError(
      `need one count per arm and at least 2 arms, got ${counts.length} and ${weights.length}`,
    );
  const total = counts.reduce((a, b) => a + b, 0);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const expected = weights.map((w) => (total * w) / weightSum);
  let chiSquare = 0;
  counts.forEach((o, i) => {
    const e = expected[i] ?? 0;
    if (e > 0) chiSquare += (o - e) ** 2 / e;
  });
  const df = counts.length - 1;
  const pValue = total === 0 ? 1 : 1 - chisquareCdf(chiSquare, df);
  return { observed: [...counts], expected, chiSquare, df, pValue, mismatch: pValue < threshold };
}
