import { silentProgress, type ProgressReporter } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { armIndexFor } from './assignment.js';
import { ensureExperimentTables, getExperiment, type Experiment } from './experiment.js';
import { sql } from './sql.js';
import { readLabels, writeFeedback, type FeedbackSink } from './feedback.js';

/** Hours after publication at which engagement is measured. */
export const horizons = [1, 24] as const;
/** One of the measurement horizons. */
export type Horizon = (typeof horizons)[number];

/** The count metrics an event may carry (watch-through is the one rate). */
export const countMetrics = ['plays', 'likes', 'comments', 'shares', 'rewatches', 'conversions'] as const;
/** One of the count metrics. */
export type CountMetric = (typeof countMetrics)[number];

/**
 * Engagement of one unit at one horizon. The event's identity is (experiment, unit, horizon): the same event
 * sent twice, or a later copy of it, counts once (the first one recorded stays). Fields are loose (strings
 * from files are accepted) because validation names the field and the row of anything unusable.
 */
export interface EngagementEvent {
  unitId: string;
  /** 1 or 24 (also "1h", "24h"). */
  horizon: number | string;
  observedAt: Date | string | number;
  /** Required under bandit allocation; under hash allocation it is computed, and checked when given. */
  arm?: string | null;
  plays?: number | string | null;
  likes?: number | string | null;
  comments?: number | string | null;
  shares?: number | string | null;
  rewatches?: number | string | null;
  conversions?: number | string | null;
  watchThrough?: number | string | null;
  /** Line in the source file (header = line 1), for rejects; defaults to the 1-based index in the batch. */
  line?: number;
}

/** Options of `recordEvents`. */
export interface RecordEventsOptions {
  /** Where the events came from, stored with rejects (default "api"). */
  source?: string;
  /** Receives newly recorded engagement of posts known to the lake, after the commit (online updates). */
  feedback?: FeedbackSink;
  /** Also write new engagement of posts known to the lake as lake snapshots (default true for post units). */
  snapshots?: boolean;
  progress?: ProgressReporter;
  /** Makes a run fail after the merge, before the commit: tests use it to check that nothing is kept. */
  failBeforeCommit?: boolean;
}

/** What `recordEvents` did. */
export interface RecordEventsResult {
  received: number;
  /** Events new to the lake. */
  recorded: number;
  /** Valid events already in the lake or repeated within the batch: counted once. */
  duplicates: number;
  rejected: number;
  rejectsByReason: Record<string, number>;
  /** The first few rejects as messages naming the source, line and field (all are in experiment_rejects). */
  rejectExamples: string[];
  /** Lake snapshots written from new engagement of known posts. */
  snapshots: number;
}

interface Reject {
  line: number;
  field: string | null;
  reason: string;
  detail: string;
}

function toHorizon(value: unknown): Horizon | undefined {
  const text = typeof value === 'string' ? value.trim().toLowerCase().replace(/h$/, '') : value;
  const n = typeof text === 'string' ? Number(text) : text;
  return n === 1 || n === 24 ? n : undefined;
}

function toTime(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const text = value.trim();
    // Zone-less times are UTC, as everywhere in the lake.
    return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || text.length <= 10 ? text : `${text}Z`);
  }
  return Number.NaN;
}

/** A number from a loose field: undefined when absent, NaN when unreadable. */
function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? undefined : Number(value);
  return Number.NaN;
}

const shown = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value));

const stageColumns = `seq INTEGER, line INTEGER, unit_id VARCHAR, arm VARCHAR, horizon_hours INTEGER, observed_ms DOUBLE,
  plays DOUBLE, likes DOUBLE, comments DOUBLE, shares DOUBLE, rewatches DOUBLE, conversions DOUBLE, watch_through DOUBLE`;

/**
 * Records engagement events of one experiment: rows are checked in JavaScript, appended to a staging table,
 * and merged set-wise into `experiment_events` (skipping events already there), all in one transaction with
 * the rejects and the lake snapshots, so a crash leaves the lake as it was. Rejected rows are stored in
 * `experiment_rejects` with their line and field, and counted.
 *
 * @example
 * await recordEvents(lake, 'hook-test', [{ unitId: 'tiktok:1', horizon: 24, observedAt: new Date(), plays: 900 }]);
 */
export async function recordEvents(
  lake: Lake,
  experimentId: string,
  events: Iterable<EngagementEvent>,
  options: RecordEventsOptions = {},
): Promise<RecordEventsResult> {
  const experiment = await getExperiment(lake, experimentId);
  await ensureExperimentTables(lake);
  const progress = options.progress ?? silentProgress;
  const source = options.source ?? 'api';
  const rejects: Reject[] = [];
  let received = 0;
  let newRows = 'tk_event_stage';
  await lake.run(`CREATE OR REPLACE TEMP TABLE tk_event_stage (${stageColumns})`);
  try {
    const result = await lake.transaction(async () => {
      const appender = await lake.appender('tk_event_stage');
      try {
        const check = eventChecker(experiment);
        for (const event of events) {
          received++;
          const line = event.line ?? received;
          const outcome = check(event, line, appender);
          // Copies within the batch are caught in JavaScript, so the merge needs no window over the batch.
          if (outcome && outcome !== 'duplicate') rejects.push(outcome);
          if (received % 50_000 === 0) progress.update(received, undefined, 'checking events');
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      progress.update(received, received, 'merging events');
      const counts = await mergeStage(lake, experiment);
      newRows = counts.table;
      await storeRejects(lake, experiment.id, source, rejects);
      progress.update(received, received, 'writing snapshots');
      const snapshots =
        experiment.unit === 'post' && options.snapshots !== false
          ? await writeFeedback(lake, experiment.id, newRows)
          : 0;
      if (options.failBeforeCommit) throw new Error('failBeforeCommit: stopping before the commit');
      progress.update(received, received, 'committing');
      return { recorded: counts.recorded, snapshots };
    });
    if (options.feedback) await options.feedback.accept(await readLabels(lake, newRows, experiment.id));
    const rejectsByReason: Record<string, number> = {};
    for (const r of rejects) rejectsByReason[r.reason] = (rejectsByReason[r.reason] ?? 0) + 1;
    return {
      received,
      recorded: result.recorded,
      duplicates: received - rejects.length - result.recorded,
      rejected: rejects.length,
      rejectsByReason,
      rejectExamples: rejects.slice(0, 5).map((r) => `${source} ${r.detail}`),
      snapshots: result.snapshots,
    };
  } finally {
    progress.finish();
    await lake.run('DROP TABLE IF EXISTS tk_event_new');
    await lake.run('DROP TABLE IF EXISTS tk_event_stage');
  }
}

type Appender = Awaited<ReturnType<Lake['appender']>>;

/** Builds the per-row check for one experiment; it appends a valid row or returns the reason it is not. */
function eventChecker(experiment: Experiment) {
  const armNames = experiment.arms.map((a) => a.name);
  const weights = experiment.arms.map((a) => a.weight);
  const from = experiment.startsAt.getTime();
  // Engagement of a unit published just before the end still arrives up to the longest horizon later.
  const until = experiment.endsAt === null ? Infinity : experiment.endsAt.getTime() + 24 * 3600_000;
  const metrics = new Array<number | undefined>(countMetrics.length);
  const seen = new Set<string>();
  let seq = 0;
  return (event: EngagementEvent, line: number, appender: Appender): Reject | 'duplicate' | undefined => {
    const bad = (field: string | null, reason: string, detail: string): Reject => ({
      line,
      field,
      reason,
      detail: `line ${line}: ${detail}`,
    });
    const unitId = typeof event.unitId === 'string' ? event.unitId.trim() : '';
    if (unitId === '') return bad('unit_id', 'missing_unit', '`unit_id` is empty, expected the unit id');
    const horizon = toHorizon(event.horizon);
    if (horizon === undefined)
      return bad(
        'horizon',
        'bad_horizon',
        `\`horizon\` is ${shown(event.horizon)}, expected 1 or 24 (hours)`,
      );
    const time = toTime(event.observedAt);
    if (!Number.isFinite(time))
      return bad('observed_at', 'bad_time', `\`observed_at\` is ${shown(event.observedAt)}, expected a date`);
    if (time < from || time > until)
      return bad(
        'observed_at',
        'outside_window',
        `\`observed_at\` ${new Date(time).toISOString()} is outside the experiment's window`,
      );
    let any = false;
    for (let m = 0; m < countMetrics.length; m++) {
      const name = countMetrics[m];
      const value = toNumber(event[name]);
      if (value !== undefined) {
        if (!Number.isFinite(value))
          return bad(name, 'not_a_number', `\`${name}\` is ${shown(event[name])}, expected a count`);
        if (value < 0 || !Number.isInteger(value))
          return bad(name, 'negative_count', `\`${name}\` is ${value}, expected a non-negative whole count`);
        any = true;
      }
      metrics[m] = value;
    }
    const watch = toNumber(event.watchThrough);
    if (watch !== undefined) {
      if (!(watch >= 0 && watch <= 1))
        return bad(
          'watch_through',
          'out_of_range',
          `\`watch_through\` is ${shown(event.watchThrough)}, expected 0..1`,
        );
      any = true;
    }
    if (!any) return bad(null, 'no_metrics', 'the event carries no engagement metric');
    let arm: string;
    if (experiment.allocation === 'hash') {
      arm = armNames[armIndexFor(experiment.salt, unitId, weights)] ?? '';
      if (event.arm != null && event.arm !== '' && event.arm !== arm)
        return bad(
          'arm',
          'arm_mismatch',
          `\`arm\` is "${event.arm}", but unit "${unitId}" belongs to arm "${arm}"`,
        );
    } else {
      arm = typeof event.arm === 'string' ? event.arm : '';
      if (!armNames.includes(arm))
        return bad(
          'arm',
          'unknown_arm',
          `\`arm\` is ${shown(event.arm)}, expected one of ${armNames.join(', ')}`,
        );
    }
    const key = `${horizon}:${unitId}`;
    if (seen.has(key)) return 'duplicate';
    seen.add(key);
    appender.appendInteger(seq++);
    appender.appendInteger(line);
    appender.appendVarchar(unitId);
    appender.appendVarchar(arm);
    appender.appendInteger(horizon);
    appender.appendDouble(time);
    for (const value of metrics) {
      if (value === undefined) appender.appendNull();
      else appender.appendDouble(value);
    }
    if (watch === undefined) appender.appendNull();
    else appender.appendDouble(watch);
    appender.endRow();
    return undefined;
  };
}

/**
 * Inserts the staged events (already unique within the batch) that the lake does not hold yet; returns the
 * count and the table holding exactly the new rows. The anti-join runs only when the experiment has events.
 */
async function mergeStage(lake: Lake, experiment: Experiment): Promise<{ recorded: number; table: string }> {
  const id = sql(experiment.id);
  let table = 'tk_event_stage';
  const existing = await lake.count(`SELECT count(*) FROM experiment_events WHERE experiment_id = ${id}`);
  if (existing > 0) {
    table = 'tk_event_new';
    await lake.run(
      `CREATE OR REPLACE TEMP TABLE tk_event_new AS
       SELECT s.* FROM tk_event_stage s
       ANTI JOIN (SELECT unit_id, horizon_hours FROM experiment_events WHERE experiment_id = ${id}) e
         ON e.unit_id = s.unit_id AND e.horizon_hours = s.horizon_hours`,
    );
  }
  const recorded = await lake.count(
    `INSERT INTO experiment_events
     SELECT ${id}, unit_id, arm, horizon_hours, make_timestamp((observed_ms * 1000)::BIGINT),
       plays::BIGINT, likes::BIGINT, comments::BIGINT, shares::BIGINT, rewatches::BIGINT, conversions::BIGINT,
       watch_through, now()::TIMESTAMP
     FROM ${table}`,
  );
  return { recorded, table };
}

async function storeRejects(
  lake: Lake,
  experimentId: string,
  source: string,
  rejects: Reject[],
): Promise<void> {
  if (rejects.length === 0) return;
  const appender = await lake.appender('experiment_rejects');
  try {
    const now = new Date().toISOString();
    for (const r of rejects) {
      appender.appendVarchar(experimentId);
      appender.appendVarchar(source);
      appender.appendBigInt(BigInt(r.line));
      if (r.field === null) appender.appendNull();
      else appender.appendVarchar(r.field);
      appender.appendVarchar(r.reason);
      appender.appendVarchar(r.detail);
      appender.appendVarchar(now);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
