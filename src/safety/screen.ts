import { PolicyPenalty, type PenaltyResult } from './penalty.js';
import { policyFor, type Policy, type PolicyVerdict } from './policy.js';
import type { PolicyPack } from './pack.js';

/** A scored candidate to screen. */
export interface ScreenInput {
  text: string;
  /** Its ViralScore, in [0, 1]. */
  v: number;
  /** V of `withoutCues(text, verdict)`, when the caller scored it: cues then never lift the score. */
  vWithoutCues?: number;
  /** The estimator's subscores, carried through to the audit. */
  subscores?: unknown;
}

/** A screened candidate: the input with its verdict and penalty; ready for `recordAudit`. */
export interface ScreenedCandidate extends ScreenInput {
  verdict: PolicyVerdict;
  penalty: PenaltyResult;
  /** True when the penalty blocks it: such a candidate must never be returned. */
  blocked: boolean;
}

/** Options of `screenCandidates`. */
export interface ScreenOptions {
  policy?: Policy;
  packs?: readonly PolicyPack[];
  region?: string;
  penalty?: PolicyPenalty;
}

/**
 * Checks each candidate against policy and applies the PolicyPenalty to its V, in input order; the caller
 * drops the blocked ones, reranks on `penalty.v` and passes the list to `recordAudit`.
 * @example
 * const screened = screenCandidates(scored, { region: 'US' });
 * const returned = screened.filter((c) => !c.blocked).sort((a, b) => b.penalty.v - a.penalty.v);
 */
export function screenCandidates(
  candidates: readonly ScreenInput[],
  options: ScreenOptions = {},
): ScreenedCandidate[] {
  const policy = policyFor(options);
  const penalty = options.penalty ?? new PolicyPenalty();
  const check = options.region === undefined ? {} : { region: options.region };
  return candidates.map((c) => {
    const verdict = policy.check(c.text, check);
    const result = penalty.apply(
      c.v,
      verdict,
      c.vWithoutCues === undefined ? {} : { vWithoutCues: c.vWithoutCues },
    );
    return { ...c, verdict, penalty: result, blocked: result.blocked };
  });
}
