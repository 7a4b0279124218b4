import { ValidationError } from '../core/index.js';

/**
 * The method behind `sequentialDifference`, named in reports: an asymptotic confidence sequence
 * (Waudby-Smith, Arnold, Wu & Ramdas, "Time-uniform central limit theory and asymptotic confidence
 * sequences", Annals of Statistics 2024, Robbins' normal-mixture boundary) on inverse-propensity-weighted
 * unit outcomes. It covers the true difference at every sample size at once, so it may be checked after
 * every event and stopped at any time without inflating the error rate.
 */
export const sequentialMethod =
  'asymptotic confidence sequence (Waudby-Smith et al. 2024, normal mixture) on IPW differences';

/** One point of a confidence sequence for mean(treatment) - mean(control). */
export interface SequentialPoint {
  /** Units of both arms seen so far. */
  n: number;
  difference: number;
  low: number;
  high: number;
}

/** Options of `sequentialDifference`. */
export interface SequentialOptions {
  /** Share of the two arms' units that go to the treatment by design (weights, not counts). */
  treatmentShare: number;
  /** Error rate over the whole sequence (default 0.05). */
  alpha?: number;
  /** Sample size where the interval is tightest (default 1000); it stays valid at every other size. */
  tightestAt?: number;
  /**
   * Units before the first look (default 30): the boundary is asymptotic, and the running standard deviation
   * of a handful of heavy-tailed outcomes is too unsteady to trust.
   */
  burnIn?: number;
  /** Sizes after which to emit a point (default: only the last); sizes below `burnIn` are skipped. */
  checkpoints?: readonly number[];
}

/**
 * The boundary's half-width factor at time t: sqrt(2(t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha)),
 * multiplied by the running standard deviation of the pseudo-outcomes.
 */
function radiusFactor(t: number, rho2: number, alpha: number): number {
  const a = t * rho2 + 1;
  return Math.sqrt(((2 * a) / (t * t * rho2)) * Math.log(Math.sqrt(a) / alpha));
}

/** Running mean and standard deviation of the pseudo-outcomes after each unit (index t - 1 for t units). */
function pseudoOutcomePath(
  outcomes: ArrayLike<number>,
  isTreatment: ArrayLike<boolean | number>,
  p: number,
): { mean: Float64Array; sd: Float64Array } {
  if (!(p > 0 && p < 1)) throw new ValidationError(`\`treatmentShare\` must be in (0, 1), got ${p}`);
  if (outcomes.length !== isTreatment.length)
    throw new ValidationError(`got ${outcomes.length} outcomes but ${isTreatment.length} arm flags`);
  const means = new Float64Array(outcomes.length);
  const sds = new Float64Array(outcomes.length);
  let mean = 0;
  let m2 = 0;
  // Centring each outcome on the mean of the outcomes before it (a predictable baseline) keeps the
  // pseudo-outcome's expectation at the difference, since E[T/p - (1-T)/(1-p)] = 0, and removes the
  // mean^2 term that the split's noise would otherwise add to its variance.
  let baseline = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const y = (outcomes[i] ?? 0) - baseline;
    baseline += y / (i + 1);
    const phi = isTreatment[i] ? y / p : -y / (1 - p);
    const delta = phi - mean;
    mean += delta / (i + 1);
    m2 += delta * (phi - mean);
    means[i] = mean;
    sds[i] = i > 0 ? Math.sqrt(m2 / i) : Number.POSITIVE_INFINITY;
  }
  return { mean: means, sd: sds };
}

/** The mixture parameter rho^2 that makes the boundary tightest at `tightestAt` units (the paper's choice). */
const mixtureRho2 = (alpha: number, tightestAt: number) =>
  (-2 * Math.log(alpha) + Math.log(-2 * Math.log(alpha) + 1)) / tightestAt;

/**
 * Confidence sequence for the difference of arm means, from outcomes in arrival order. Unit i's
 * pseudo-outcome is (y_i - m_{i-1}) (T_i/p - (1 - T_i)/(1 - p)), with p the design's treatment share and
 * m_{i-1} the mean of the earlier outcomes; its mean is the difference of arm means, and the asymptotic
 * confidence sequence of that mean is returned at each checkpoint.
 */
export function sequentialDifference(
  outcomes: ArrayLike<number>,
  isTreatment: ArrayLike<boolean | number>,
  options: SequentialOptions,
): SequentialPoint[] {
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new ValidationError(`\`alpha\` must be in (0, 1), got ${alpha}`);
  const path = pseudoOutcomePath(outcomes, isTreatment, options.treatmentShare);
  const rho2 = mixtureRho2(alpha, options.tightestAt ?? 1000);
  const burnIn = Math.max(2, options.burnIn ?? 30);
  const points: SequentialPoint[] = [];
  for (const t of options.checkpoints ?? [outcomes.length]) {
    if (t < burnIn || t > outcomes.length) continue;
    const mean = path.mean[t - 1] ?? 0;
    const radius = (path.sd[t - 1] ?? Infinity) * radiusFactor(t, rho2, alpha);
    points.push({ n: t, difference: mean, low: mean - radius, high: mean + radius });
  }
  return points;
}

/**
 * The always-valid p-value at the end of the sequence: the smallest alpha whose confidence sequence,
 * checked at every size so far, has excluded zero (found by bisection; the exclusion is monotone in alpha).
 */
export function sequentialPValue(
  outcomes: ArrayLike<number>,
  isTreatment: ArrayLike<boolean | number>,
  options: Omit<SequentialOptions, 'alpha' | 'checkpoints'>,
): number {
  const path = pseudoOutcomePath(outcomes, isTreatment, options.treatmentShare);
  const tightestAt = options.tightestAt ?? 1000;
  const burnIn = Math.max(2, options.burnIn ?? 30);
  const excluded = (alpha: number) => {
    const rho2 = mixtureRho2(alpha, tightestAt);
    for (let t = burnIn; t <= outcomes.length; t++)
      if (Math.abs(path.mean[t - 1] ?? 0) > (path.sd[t - 1] ?? Infinity) * radiusFactor(t, rho2, alpha))
        return true;
    return false;
  };
  if (!excluded(0.999)) return 1;
  let lo = 1e-12;
  let hi = 0.999;
  for (let k = 0; k < 40; k++) {
    const mid = Math.sqrt(lo * hi);
    if (excluded(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
