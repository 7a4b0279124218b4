import { ValidationError, type Random } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { ArmPolicy } from './bandit.js';
import { getExperiment } from './experiment.js';
import { kpiExpressions, type Kpi } from './kpis.js';
import { sql, text } from './sql.js';

/** One logged pick: the arm a unit got and the reward it brought. */
export interface LoggedDecision {
  arm: number;
  reward: number;
}

/** Options of `replayEvaluate`. */
export interface ReplayOptions {
  /** Draws the acceptance of logged picks when the logging policy was not uniform. */
  random: Random;
  /** Probabilities with which the logging policy chose each arm (default: uniform). */
  propensities?: readonly number[];
  /** Stop after this many matched picks (default: use the whole log). */
  steps?: number;
}

/** What a replay measured. */
export interface ReplayResult {
  /** Logged picks read. */
  events: number;
  /** Picks where the policy agreed with the log: the policy's simulated plays. */
  matched: number;
  /** Mean reward over the matched picks. */
  meanReward: number;
  /** Sum over matched picks of (best arm's mean reward in the log - reward). */
  regret: number;
  bestArm: number;
  /** Matched picks per arm. */
  picks: number[];
}

/**
 * Offline replay evaluation (Li, Chu, Langford & Wang, "Unbiased offline evaluation of contextual-bandit-based
 * news article recommendation algorithms", WSDM 2011): walk the log in order; where the policy picks the
 * arm the log holds, it sees that reward and learns, otherwise the event is skipped. With uniformly logged
 * picks this is an unbiased simulation of running the policy live. Non-uniform logs are first thinned to
 * uniform by keeping a pick of arm a with probability min(p) / p_a.
 */
export function replayEvaluate(
  log: readonly LoggedDecision[],
  policy: ArmPolicy,
  options: ReplayOptions,
): ReplayResult {
  const arms = policy.arms;
  const propensities = options.propensities ?? new Array<number>(arms).fill(1 / arms);
  if (propensities.length !== arms || propensities.some((p) => !(p > 0)))
    throw new ValidationError(
      `\`propensities\` must hold ${arms} positive probabilities, got ${propensities.join(', ')}`,
    );
  const sums = new Array<number>(arms).fill(0);
  const counts = new Array<number>(arms).fill(0);
  for (const { arm, reward } of log) {
    if (!Number.isInteger(arm) || arm < 0 || arm >= arms)
      throw new ValidationError(`logged arm must be an integer in [0, ${arms}), got ${arm}`);
    sums[arm] = (sums[arm] ?? 0) + reward;
    counts[arm] = (counts[arm] ?? 0) + 1;
  }
  const means = sums.map((s, k) => (counts[k] ? s / (counts[k] ?? 1) : -Infinity));
  const bestArm = means.indexOf(Math.max(...means));
  const best = means[bestArm] ?? 0;
  const least = Math.min(...propensities);
  const picks = new Array<number>(arms).fill(0);
  const steps = options.steps ?? Infinity;
  let matched = 0;
  let total = 0;
  for (const { arm, reward } of log) {
    if (matched >= steps) break;
    if (options.random.next() >= least / (propensities[arm] ?? 1)) continue;
    if (policy.choose() !== arm) continue;
    policy.update(arm, reward);
    matched++;
    total += reward;
    picks[arm] = (picks[arm] ?? 0) + 1;
  }
  return {
    events: log.length,
    matched,
    meanReward: matched ? total / matched : Number.NaN,
    regret: matched * best - total,
    bestArm,
    picks,
  };
}

/** Options of `loggedDecisions`. */
export interface LoggedDecisionsOptions {
  kpi: Kpi;
  /** Horizon of the events (default 24). */
  horizon?: number;
}

/**
 * The logged picks of an experiment in the lake, in the order their engagement arrived: arm indices in the
 * experiment's arm order, the KPI as reward, and the logging propensities (the arm weights under hash
 * allocation). Units without the KPI are left out.
 */
export async function loggedDecisions(
  lake: Lake,
  experimentId: string,
  options: LoggedDecisionsOptions,
): Promise<{ arms: string[]; log: LoggedDecision[]; propensities?: number[] }> {
  const experiment = await getExperiment(lake, experimentId);
  const arms = experiment.arms.map((a) => a.name);
  const rows = await lake.all(
    `SELECT arm, ${kpiExpressions[options.kpi]} AS reward FROM experiment_events
     WHERE experiment_id = ${sql(experimentId)} AND horizon_hours = ${options.horizon ?? 24}
       AND ${kpiExpressions[options.kpi]} IS NOT NULL
     ORDER BY observed_at, unit_id`,
  );
  const index = new Map(arms.map((a, i) => [a, i]));
  const log = rows.map((r) => ({ arm: index.get(text(r.arm)) ?? -1, reward: Number(r.reward) }));
  const total = experiment.arms.reduce((s, a) => s + a.weight, 0);
  return experiment.allocation === 'hash'
    ? { arms, log, propensities: experiment.arms.map((a) => a.weight / total) }
    : { arms, log };
}
