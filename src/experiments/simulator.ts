import { ValidationError, type Random } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { betaFromMoments, sampleBeta } from './distributions.js';
import type { EngagementEvent } from './events.js';
import { assignArm, type Experiment } from './experiment.js';

/** The engagement figures the simulator can draw, each only when the lake supports a fit. */
export const simulatedMetrics = ['plays', 'likes', 'comments', 'shares', 'watchThrough'] as const;
/** One simulated figure; a lift on a count other than plays scales that count's per-play rate. */
export type SimulatedMetric = (typeof simulatedMetrics)[number];

/** A per-play rate fitted as a Beta distribution across posts. */
export interface RateFit {
  alpha: number;
  beta: number;
  /** Posts the fit used. */
  posts: number;
}

/**
 * The engagement model, fitted on a lake by `calibrateSimulator`. Each post draws its own plays and rates:
 * plays at 24 h are log-normal; likes, comments and shares are binomial on plays with a Beta per-play rate;
 * watch-through is Beta; plays at 1 h follow a power law plays(h) = plays(24) (h / 24)^k with a normal k.
 * Figures the lake cannot support are absent (and their events stay empty), never invented.
 */
export interface EngagementModel {
  logPlays: { mean: number; sd: number; posts: number };
  rates: Partial<Record<'likes' | 'comments' | 'shares', RateFit>>;
  watchThrough?: RateFit;
  growth?: { exponent: number; sd: number; pairs: number };
  /** Where each part came from, for documentation and reports. */
  notes: string[];
}

/** Options of `calibrateSimulator`. */
export interface CalibrateOptions {
  /** Fewest posts (or snapshot pairs) a part of the fit needs (default 20). */
  minPosts?: number;
}

// Age in hours of each snapshot: the recorded age, or the time since the post's publication.
const agedSnapshots = `SELECT s.post_key, s.plays, s.watch_through,
    coalesce(s.hours_since_posting, date_diff('second', p.posted_at, s.observed_at) / 3600.0) AS age
  FROM snapshots s LEFT JOIN posts p USING (post_key)`;

/**
 * Fits the engagement model on the lake's posts and snapshots. Throws a ValidationError when the lake has
 * too few posts with plays to fit anything; `model.notes` says which figures came from where.
 */
export async function calibrateSimulator(
  lake: Lake,
  options: CalibrateOptions = {},
): Promise<EngagementModel> {
  const minPosts = options.minPosts ?? 20;
  const notes: string[] = [];
  const num = (v: unknown) => Number(v ?? Number.NaN);
  // Plays at 24 h: the snapshot nearest 24 h old (12..48 h) where ages are known, else the newest plays per post.
  const [aged] = await lake.all(
    `SELECT count(*)::INTEGER AS n, avg(ln(plays)) AS m, stddev_samp(ln(plays)) AS s FROM (
       SELECT post_key, arg_min(plays, abs(age - 24)) AS plays FROM (${agedSnapshots})
       WHERE age BETWEEN 12 AND 48 AND plays > 0 GROUP BY post_key)`,
  );
  let logPlays = { mean: num(aged?.m), sd: num(aged?.s), posts: num(aged?.n) };
  if (logPlays.posts >= minPosts)
    notes.push(`plays: log-normal over ${logPlays.posts} posts seen 12-48 h after posting`);
  else {
    const [newest] = await lake.all(
      `SELECT count(*)::INTEGER AS n, avg(ln(plays)) AS m, stddev_samp(ln(plays)) AS s FROM posts WHERE plays > 0`,
    );
    logPlays = { mean: num(newest?.m), sd: num(newest?.s), posts: num(newest?.n) };
    if (!(logPlays.posts >= minPosts))
      throw new ValidationError(
        `the lake has ${logPlays.posts} posts with plays, fewer than the ${minPosts} the simulator needs: ingest more posts`,
      );
    notes.push(`plays: log-normal over the newest plays of ${logPlays.posts} posts (their ages are unknown)`);
  }
  const rates: EngagementModel['rates'] = {};
  for (const metric of ['likes', 'comments', 'shares'] as const) {
    const [row] = await lake.all(
      `SELECT count(*)::INTEGER AS n, avg(r) AS m, var_samp(r) AS v FROM (
         SELECT ${metric}::DOUBLE / plays AS r FROM posts WHERE plays > 0 AND ${metric} IS NOT NULL AND ${metric} <= plays)`,
    );
    const fit = betaFromMoments(num(row?.m), num(row?.v));
    if (fit && num(row?.n) >= minPosts) {
      rates[metric] = { ...fit, posts: num(row?.n) };
      notes.push(`${metric}: Beta per-play rate over ${num(row?.n)} posts`);
    } else notes.push(`${metric}: not simulated (the lake has ${num(row?.n)} posts with it)`);
  }
  const model: EngagementModel = { logPlays, rates, notes };
  const [watch] = await lake.all(
    `SELECT count(*)::INTEGER AS n, avg(watch_through) AS m, var_samp(watch_through) AS v FROM snapshots
     WHERE watch_through > 0 AND watch_through < 1`,
  );
  const watchFit = betaFromMoments(num(watch?.m), num(watch?.v));
  if (watchFit && num(watch?.n) >= minPosts) {
    model.watchThrough = { ...watchFit, posts: num(watch?.n) };
    notes.push(`watchThrough: Beta over ${num(watch?.n)} snapshots`);
  } else notes.push(`watchThrough: not simulated (${num(watch?.n)} snapshots have it)`);
  // Growth exponent from consecutive snapshots of a post whose ages are known: k = ln(p2/p1) / ln(a2/a1).
  const [growth] = await lake.all(
    `SELECT count(*)::INTEGER AS n, avg(k) AS m, stddev_samp(k) AS s FROM (
       SELECT ln(plays / lag(plays) OVER w) / ln(age / lag(age) OVER w) AS k
       FROM (${agedSnapshots}) WHERE age > 0 AND plays > 0
       WINDOW w AS (PARTITION BY post_key ORDER BY age)) WHERE k IS NOT NULL AND isfinite(k)`,
  );
  if (num(growth?.n) >= minPosts) {
    model.growth = { exponent: num(growth?.m), sd: num(growth?.s) || 0, pairs: num(growth?.n) };
    notes.push(`growth: power-law exponent over ${num(growth?.n)} pairs of snapshots of known age`);
  } else notes.push(`growth: not fitted (${num(growth?.n)} snapshot pairs of known age); no 1 h events`);
  return model;
}

/** Options of `EngagementSimulator`. */
export interface SimulatorOptions {
  random: Random;
  /** Planted relative lifts per arm, e.g. `{ B: { plays: 0.1 } }`: B's plays are 10% higher on average. */
  lifts?: Record<string, Partial<Record<SimulatedMetric, number>>>;
}

/** Options of `simulateExperiment`. */
export interface SimulateExperimentOptions {
  units: number;
  /** Publication time of the first unit (default: the experiment's start). */
  start?: Date;
  /** Seconds between publications (default 60). */
  spacingSeconds?: number;
  /** Prefix of the unit ids (default "sim-"). */
  unitPrefix?: string;
}

/**
 * Draws engagement events from a calibrated model, for tests and benchmarks only: its figures are
 * simulations, never results. One unit's 1 h and 24 h events come from the same draw, so they agree.
 */
export class EngagementSimulator {
  private readonly random: Random;
  private readonly lifts: Record<string, Partial<Record<SimulatedMetric, number>>>;

  constructor(
    readonly model: EngagementModel,
    options: SimulatorOptions,
  ) {
    this.random = options.random;
    this.lifts = options.lifts ?? {};
    for (const [arm, lift] of Object.entries(this.lifts))
      for (const [metric, value] of Object.entries(lift))
        if (!(Number.isFinite(value) && value > -1))
          throw new ValidationError(
            `lift of arm "${arm}" on \`${metric}\` must be a number above -1, got ${value}`,
          );
  }

  /** The events (24 h, and 1 h where the model has growth) of one unit on `arm`, published at `publishedAt`. */
  unitEvents(unitId: string, arm: string, publishedAt: Date): EngagementEvent[] {
    const lift = this.lifts[arm] ?? {};
    const { mean, sd } = this.model.logPlays;
    // Scaling a log-normal draw by 1 + lift raises its mean (and every quantile) by exactly the lift.
    const plays24 = Math.exp(mean + sd * this.random.normal()) * (1 + (lift.plays ?? 0));
    const rates: Partial<Record<'likes' | 'comments' | 'shares', number>> = {};
    for (const [metric, fit] of Object.entries(this.model.rates) as [keyof typeof rates, RateFit][])
      rates[metric] = Math.min(1, sampleBeta(fit.alpha, fit.beta, this.random) * (1 + (lift[metric] ?? 0)));
    const watch = this.model.watchThrough;
    const watchThrough = watch
      ? Math.min(1, sampleBeta(watch.alpha, watch.beta, this.random) * (1 + (lift.watchThrough ?? 0)))
      : undefined;
    const growth = this.model.growth;
    const k = growth ? Math.max(0, growth.exponent + growth.sd * this.random.normal()) : 0;
    const horizonsHere = growth ? [1, 24] : [24];
    return horizonsHere.map((horizon) => {
      const plays = Math.round(plays24 * (horizon === 24 ? 1 : Math.pow(horizon / 24, k)));
      const event: EngagementEvent = {
        unitId,
        arm,
        horizon,
        observedAt: new Date(publishedAt.getTime() + horizon * 3600_000),
        plays,
      };
      for (const [metric, rate] of Object.entries(rates) as [keyof typeof rates, number][])
        event[metric] = this.binomial(plays, rate);
      if (watchThrough !== undefined) event.watchThrough = watchThrough;
      return event;
    });
  }

  /** Events of `units` new units assigned by the experiment's hash, published `spacingSeconds` apart. */
  simulateExperiment(experiment: Experiment, options: SimulateExperimentOptions): EngagementEvent[] {
    const start = (options.start ?? experiment.startsAt).getTime();
    const spacing = (options.spacingSeconds ?? 60) * 1000;
    const prefix = options.unitPrefix ?? 'sim-';
    const events: EngagementEvent[] = [];
    for (let i = 0; i < options.units; i++) {
      const unitId = `${prefix}${i}`;
      events.push(...this.unitEvents(unitId, assignArm(experiment, unitId), new Date(start + i * spacing)));
    }
    return events;
  }

  /** Binomial(n, p) by its normal approximation, exact enough for the play counts of published videos. */
  private binomial(n: number, p: number): number {
    const mean = n * p;
    return Math.max(0, Math.min(n, Math.round(mean + Math.sqrt(mean * (1 - p)) * this.random.normal())));
  }
}
