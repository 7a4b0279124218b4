import type { Random } from '../core/index.js';

/**
 * A Gamma(shape, 1) draw by Marsaglia & Tsang's squeeze method ("A simple method for generating gamma
 * variables", ACM TOMS 2000); shapes below 1 use the boost Gamma(a) = Gamma(a + 1) * U^(1/a).
 */
export function sampleGamma(shape: number, random: Random): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(1 - random.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = random.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random.next();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) draw as G_a / (G_a + G_b) with independent gammas. */
export function sampleBeta(a: number, b: number, random: Random): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x / (x + y);
}

/** Beta parameters with the given mean and variance (method of moments); undefined when none exists. */
export function betaFromMoments(mean: number, variance: number): { alpha: number; beta: number } | undefined {
  if (!(mean > 0 && mean < 1 && variance > 0 && variance < mean * (1 - mean))) return undefined;
  const common = (mean * (1 - mean)) / variance - 1;
  return { alpha: mean * common, beta: (1 - mean) * common };
}
