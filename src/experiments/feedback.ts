import type { Lake } from '../lake/index.js';
import { ensureExperimentTables } from './experiment.js';
import { sql, text, utcDate } from './sql.js';

/**
 * Fresh engagement of a post known to the lake, measured in an experiment: the label an online learner
 * (the ViralScore estimator, the high-value sample pool) takes as new training signal.
 */
export interface LabelledPost {
  postKey: string;
  experimentId: string;
  arm: string;
  horizonHours: number;
  observedAt: Date;
  plays: number | null;
  likes: number | null;
  comments: number | null;
  shares: number | null;
  rewatches: number | null;
  conversions: number | null;
  watchThrough: number | null;
}

/**
 * Receives labelled posts right after the events that carry them are committed. The estimator's online
 * update implements it; `recordEvents` awaits it, so an update finishes before the call returns.
 */
export interface FeedbackSink {
  accept(posts: LabelledPost[]): Promise<void> | void;
}

/**
 * Writes the new rows of the current merge (temp `table`) whose unit is a post in the lake as
 * lake snapshots, with `hours_since_posting` set to the horizon and `source_file` "experiment:ID", skipping
 * (post, time) pairs the lake already has. Posts unknown to the lake get no snapshot: ingest them first.
 */
export async function writeFeedback(lake: Lake, experimentId: string, table: string): Promise<number> {
  return lake.count(
    `INSERT INTO snapshots (post_key, observed_at, plays, likes, comments, shares, saves, watch_through,
       avg_watch_seconds, hours_since_posting, source_file)
     SELECT n.unit_id, n.observed_at, n.plays::BIGINT, n.likes::BIGINT, n.comments::BIGINT, n.shares::BIGINT, NULL,
       n.watch_through, NULL, n.horizon_hours, ${sql(`experiment:${experimentId}`)}
     FROM (
       SELECT *, make_timestamp((observed_ms * 1000)::BIGINT) AS observed_at FROM ${table}
       QUALIFY row_number() OVER (PARTITION BY unit_id, observed_at ORDER BY seq) = 1
     ) n
     SEMI JOIN posts p ON p.post_key = n.unit_id
     ANTI JOIN snapshots s ON s.post_key = n.unit_id AND s.observed_at = n.observed_at`,
  );
}

const labelColumns = `unit_id AS post_key, arm, horizon_hours, observed_at::VARCHAR AS observed_at,
  plays::DOUBLE AS plays, likes::DOUBLE AS likes, comments::DOUBLE AS comments, shares::DOUBLE AS shares,
  rewatches::DOUBLE AS rewatches, conversions::DOUBLE AS conversions, watch_through`;

function toLabel(experimentId: string) {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return (r: Record<string, unknown>): LabelledPost => ({
    postKey: text(r.post_key),
    experimentId,
    arm: text(r.arm),
    horizonHours: Number(r.horizon_hours),
    observedAt: utcDate(r.observed_at),
    plays: num(r.plays),
    likes: num(r.likes),
    comments: num(r.comments),
    shares: num(r.shares),
    rewatches: num(r.rewatches),
    conversions: num(r.conversions),
    watchThrough: num(r.watch_through),
  });
}

/** Labelled posts among the rows of a staging table of the current merge (internal to `recordEvents`). */
export async function readLabels(lake: Lake, table: string, experimentId: string): Promise<LabelledPost[]> {
  const rows = await lake.all(
    `SELECT ${labelColumns} FROM (
       SELECT *, make_timestamp((observed_ms * 1000)::BIGINT) AS observed_at FROM ${table}
     ) n SEMI JOIN posts p ON p.post_key = n.unit_id ORDER BY seq`,
  );
  return rows.map(toLabel(experimentId));
}

/** Options of `freshLabels`. */
export interface FreshLabelsOptions {
  /** Only events recorded after this time (default: all). */
  since?: Date;
  experimentId?: string;
}

/**
 * Labelled posts from events recorded after `since`, oldest first: the pull side of the feedback stream for
 * learners that poll (the push side is `RecordEventsOptions.feedback`).
 */
export async function freshLabels(lake: Lake, options: FreshLabelsOptions = {}): Promise<LabelledPost[]> {
  await ensureExperimentTables(lake);
  const where = [
    `x.unit = 'post'`,
    ...(options.since ? [`e.recorded_at > ${sql(options.since.toISOString())}::TIMESTAMP`] : []),
    ...(options.experimentId ? [`e.experiment_id = ${sql(options.experimentId)}`] : []),
  ];
  const rows = await lake.all(
    `SELECT e.experiment_id, ${labelColumns}
     FROM experiment_events e JOIN experiments x USING (experiment_id) SEMI JOIN posts p ON p.post_key = e.unit_id
     WHERE ${where.join(' AND ')} ORDER BY e.recorded_at, e.unit_id, e.horizon_hours`,
  );
  return rows.map((r) => toLabel(text(r.experiment_id))(r));
}
