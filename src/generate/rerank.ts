import { ValidationError } from '../core/index.js';

/** Mean log-probability per token: comparable across lengths, where the sum would favour short scripts. */
export function lengthNormalisedLogProb(logProbs: readonly number[]): number {
  if (logProbs.length === 0) return Number.NEGATIVE_INFINITY;
  let s = 0;
  for (const x of logProbs) s += x;
  return s / logProbs.length;
}

/** What the rerank needs of a candidate. */
export interface Rerankable {
  /** Length-normalised log P(c) under the LM. */
  logProbNorm: number;
  /** The ViralScore after the policy penalty. */
  vPenalised: number;
}

/** score(c) = logP_norm(c) + η · V(c), with V after the policy penalty. */
export function rerankScore(c: Rerankable, eta: number): number {
  return c.logProbNorm + eta * c.vPenalised;
}

/**
 * The candidates sorted by `rerankScore`, best first (ties keep input order), each with its `score`.
 * @example
 * rerank([{ logProbNorm: -2, vPenalised: 0.9 }, { logProbNorm: -1.5, vPenalised: 0.1 }], 1); // V wins
 */
export function rerank<T extends Rerankable>(
  candidates: readonly T[],
  eta: number,
): (T & { score: number })[] {
  if (!(eta >= 0 && Number.isFinite(eta)))
    throw new ValidationError(`\`eta\` must be a finite number >= 0, got ${eta}`);
  return candidates
    .map((c, i) => ({ c: { ...c, score: rerankScore(c, eta) }, i }))
    .sort((a, b) => b.c.score - a.c.score || a.i - b.i)
    .map(({ c }) => c);
}
