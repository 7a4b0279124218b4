/**
 * Offline metrics of a virality estimate against its label: MSE, Spearman's rank correlation, NDCG@k and
 * a calibration summary. Plain numbers in, plain numbers out, so baselines and the estimator share them.
 */
import { ValidationError } from '../core/index.js';

/** The metrics of one model on one split. */
export interface RegressionMetrics {
  /** Rows scored. */
  n: number;
  mse: number;
  spearman: number;
  /** NDCG@10 with the label as the gain: how good the model's top 10 is against the best possible 10. */
  ndcg10: number;
  /** Expected calibration error over 10 equal-count bins of the prediction: mean |mean pred - mean label|. */
  calibrationError: number;
  /** Slope of the label regressed on the prediction (1 = calibrated spread, < 1 over-confident). */
  calibrationSlope: number;
}

function requireSameLength(predicted: ArrayLike<number>, actual: ArrayLike<number>): void {
  if (predicted.length !== actual.length)
    throw new ValidationError(
      `predictions and labels must have the same length, got ${predicted.length} and ${actual.length}`,
    );
}

/** Mid-ranks (ties share their average rank), 0-based. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const mid = (i + j) / 2;
    for (let k = i; k <= j; k++) out[order[k]] = mid;
    i = j + 1;
  }
  return out;
}

/** Pearson correlation; 0 when either side is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  requireSameLength(a, b);
  const n = a.length;
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rank correlation (Pearson on mid-ranks). */
export function spearman(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  return pearson(ranks(predicted), ranks(actual));
}

/** Mean squared error. */
export function meanSquaredError(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  requireSameLength(predicted, actual);
  let s = 0;
  for (let i = 0; i < predicted.length; i++) s += (predicted[i] - actual[i]) ** 2;
  return predicted.length === 0 ? 0 : s / predicted.length;
}

/** NDCG@k with linear gains (the label, in [0, 1]) and log2 discounts; ties in the prediction keep row order. */
export function ndcgAt(k: number, predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  requireSameLength(predicted, actual);
  const idx = Array.from({ length: predicted.length }, (_, i) => i);
  const dcg = (order: number[]) => order.slice(0, k).reduce((s, i, r) => s + actual[i] / Math.log2(r + 2), 0);
  const ideal = dcg([...idx].sort((a, b) => actual[b] - actual[a]));
  return ideal === 0 ? 0 : dcg([...idx].sort((a, b) => predicted[b] - predicted[a])) / ideal;
}

/** Calibration: error over equal-count bins of the prediction, and the slope of label on prediction. */
export function calibration(
  predicted: ArrayLike<number>,
  actual: ArrayLike<number>,
  bins = 10,
): { error: number; slope: number } {
  requireSameLength(predicted, actual);
  const n = predicted.length;
  if (n === 0) return { error: 0, slope: 0 };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => predicted[a] - predicted[b]);
  let error = 0;
  for (let b = 0; b < bins; b++) {
    const part = order.slice(Math.floor((b * n) / bins), Math.floor(((b + 1) * n) / bins));
    if (part.length === 0) continue;
    const mp = part.reduce((s, i) => s + predicted[i], 0) / part.length;
    const ma = part.reduce((s, i) => s + actual[i], 0) / part.length;
    error += (part.length / n) * Math.abs(mp - ma);
  }
  let mp = 0;
  let ma = 0;
  for (let i = 0; i < n; i++) {
    mp += predicted[i] / n;
    ma += actual[i] / n;
  }
  let cov = 0;
  let varP = 0;
  for (let i = 0; i < n; i++) {
    cov += (predicted[i] - mp) * (actual[i] - ma);
    varP += (predicted[i] - mp) ** 2;
  }
  return { error, slope: varP === 0 ? 0 : cov / varP };
}

/** Every metric of `predicted` against `actual`. */
export function regressionMetrics(
  predicted: ArrayLike<number>,
  actual: ArrayLike<number>,
): RegressionMetrics {
  const { error, slope } = calibration(predicted, actual);
  return {
    n: predicted.length,
    mse: meanSquaredError(predicted, actual),
    spearman: spearman(predicted, actual),
    ndcg10: ndcgAt(10, predicted, actual),
    calibrationError: error,
    calibrationSlope: slope,
  };
}
