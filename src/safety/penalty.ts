import { ValidationError } from '../core/index.js';
import type { Severity } from './pack.js';
import {
  brandSafetyScore,
  isCueKind,
  severityWeights,
  type PolicyHit,
  type PolicyVerdict,
} from './policy.js';

/** Options of `PolicyPenalty`. */
export interface PolicyPenaltyOptions {
  /** Brand-safety cost per severity (default `severityWeights`: low 0.1, medium 0.25, high 0.5). */
  weights?: Readonly<Record<Severity, number>>;
  /** Controversy and misinformation cues cost this many times their severity's weight (default 1.5). */
  cueMultiplier?: number;
  /** The least a cue costs, whatever its severity, so that a cue never leaves V unchanged (default 0.1). */
  minCueWeight?: number;
  /** Candidates whose penalised brand safety falls below this are blocked too (default 0.2). */
  blockBelow?: number;
}

/** What the penalty did to one candidate's ViralScore. */
export interface PenaltyResult {
  /** True when the candidate must not be returned. */
  blocked: boolean;
  /** V after the penalty (0 when blocked). */
  v: number;
  /** The multiplier applied to V, in [0, 1]. */
  factor: number;
  /** One line per rule that cost something, for the audit and the user. */
  reasons: string[];
}

/** Extra figures of `PolicyPenalty.apply`. */
export interface PenaltyInputs {
  /**
   * V of the same candidate with its controversy and misinformation cues removed (`withoutCues`). When
   * given, the penalised V starts from the smaller of the two, so a cue that lifts predicted engagement
   * never lifts the score.
   */
  vWithoutCues?: number;
}

/**
 * Lowers a candidate's ViralScore by its policy verdict, or blocks it. V is multiplied by a brand-safety
 * factor in which controversy and misinformation cues weigh more than other hits; a `block` hit or a factor
 * under `blockBelow` blocks. Cues are penalised, never rewarded: they always cost at least `minCueWeight`,
 * and with `vWithoutCues` the engagement they would add is taken away first.
 * @example
 * const penalty = new PolicyPenalty();
 * const { v, blocked } = penalty.apply(0.8, checkPolicy(text), { vWithoutCues: 0.7 });
 */
export class PolicyPenalty {
  private readonly weights: Readonly<Record<Severity, number>>;
  private readonly cueMultiplier: number;
  private readonly minCueWeight: number;
  private readonly blockBelow: number;

  constructor({
    weights = severityWeights,
    cueMultiplier = 1.5,
    minCueWeight = 0.1,
    blockBelow = 0.2,
  }: PolicyPenaltyOptions = {}) {
    for (const [name, value] of Object.entries(weights))
      if (!(value >= 0 && value <= 1))
        throw new ValidationError(`\`weights.${name}\` must be in [0, 1], got ${value}`);
    if (!(cueMultiplier >= 1))
      throw new ValidationError(
        `\`cueMultiplier\` must be at least 1 (cues are never rewarded), got ${cueMultiplier}`,
      );
    if (!(minCueWeight > 0 && minCueWeight <= 1))
      throw new ValidationError(`\`minCueWeight\` must be in (0, 1], got ${minCueWeight}`);
    if (!(blockBelow >= 0 && blockBelow <= 1))
      throw new ValidationError(`\`blockBelow\` must be in [0, 1], got ${blockBelow}`);
    this.weights = weights;
    this.cueMultiplier = cueMultiplier;
    this.minCueWeight = minCueWeight;
    this.blockBelow = blockBelow;
  }

  /** Penalises `v` (in [0, 1]) by `verdict`. */
  apply(v: number, verdict: PolicyVerdict, inputs: PenaltyInputs = {}): PenaltyResult {
    if (!(v >= 0 && v <= 1)) throw new ValidationError(`\`v\` must be a ViralScore in [0, 1], got ${v}`);
    const { vWithoutCues } = inputs;
    if (vWithoutCues !== undefined && !(vWithoutCues >= 0 && vWithoutCues <= 1))
      throw new ValidationError(`\`vWithoutCues\` must be a ViralScore in [0, 1], got ${vWithoutCues}`);
    const reasons = [...new Map(verdict.hits.map((h) => [h.ruleId, h])).values()].map(
      (h) => `${h.ruleId} (${h.kind}, ${h.severity}): "${h.text}" — ${h.why}`,
    );
    const factor = brandSafetyScore(verdict.hits, this.weights, (hit, w) => this.weightOf(hit, w));
    const blocked = verdict.blocked || factor < this.blockBelow;
    if (blocked) return { blocked, v: 0, factor: 0, reasons };
    const hasCue = verdict.hits.some((h) => isCueKind(h.kind));
    const base = hasCue && vWithoutCues !== undefined ? Math.min(v, vWithoutCues) : v;
    return { blocked, v: base * factor, factor, reasons };
  }

  private weightOf(hit: PolicyHit, weight: number): number {
    if (hit.severity === 'block') return 1;
    if (!isCueKind(hit.kind)) return weight;
    return Math.min(1, Math.max(this.minCueWeight, weight * this.cueMultiplier));
  }
}

/**
 * `text` with the spans of its controversy and misinformation hits cut out: score it with the estimator to
 * get `vWithoutCues`, the engagement the candidate would earn without its cues.
 */
export function withoutCues(text: string, verdict: PolicyVerdict): string {
  const spans = verdict.hits.filter((h) => isCueKind(h.kind)).map((h) => h.span);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (end <= at) continue;
    out += text.slice(at, Math.max(at, start));
    at = end;
  }
  out += text.slice(at);
  return out.replace(/[ \t]{2,}/g, ' ').trim();
}
