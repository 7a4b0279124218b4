/**
 * Online updates of the estimator from fresh engagement (issue 9, item 4): a few small optimiser steps
 * from the active registry version on the new posts mixed with a replay buffer of older training rows, a
 * guard that compares candidate and active on the same held-out rows, every update saved as a new
 * version (activated only when the guard passes), and rollback to the previous version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelStateError, Random, ValidationError, mix32 } from '../core/index.js';
import { AdamW, clipGradNorm } from '../nn/index.js';
import { mse, tensor } from '../tensor/index.js';
import type { Lake } from '../lake/index.js';
import { loadDataset, selectRows } from './dataset.js';
import type { FeatureSource } from './dataset.js';
import type { FeatureMatrix } from './feature-types.js';
import { loadFeatureMatrix } from './feature-types.js';
import { batchTensors, predict } from './fit.js';
import { exportGraphs } from './graph.js';
import { regressionMetrics } from './metrics.js';
import type { RegressionMetrics } from './metrics.js';
import type { ViralScoreModel } from './model.js';
import { ViralScoreRegistry } from './registry.js';
import type { FeatureSchema, PackedFeatures } from './schema.js';
import { packFeatures } from './schema.js';

/** Rows of features with their labels: row i of `matrix` has label `labels[i]`. */
export interface OnlineRows {
  matrix: FeatureMatrix;
  labels: ArrayLike<number>;
}

/** The data of one update: what is new, what is replayed, and what the guard judges on. */
export interface OnlineUpdateData {
  fresh: OnlineRows;
  replay: OnlineRows;
  heldOut: OnlineRows;
}

/** Options of an online update; the guard's margins are part of the update's record. */
export interface OnlineUpdateOptions {
  /** Optimiser steps (default 30). */
  steps?: number;
  /** Rows per step, new and replayed together (default 40). */
  batchSize?: number;
  /** Replayed old rows per new row in each step (default 4, i.e. 4:1 old to new). */
  replayRatio?: number;
  /** AdamW step size (default 5e-4: a tenth of nothing like a fresh training run, so one batch nudges). */
  lr?: number;
  seed?: number;
  /** Largest relative rise of the held-out MSE the guard lets through (default 0.02 = 2%). */
  mseMargin?: number;
  /** Largest fall of the held-out Spearman the guard lets through (default 0.01). */
  spearmanMargin?: number;
  /** Extra facts saved in the version's training.json (the events' time range, the experiment). */
  provenance?: Record<string, unknown>;
}

/** The defaults of every online option, resolved in one place. */
export const defaultOnlineOptions = {
  steps: 30,
  batchSize: 40,
  replayRatio: 4,
  lr: 5e-4,
  seed: 42,
  mseMargin: 0.02,
  spearmanMargin: 0.01,
} as const;

/** What an update did: the new version, whether it serves, and the figures the guard compared. */
export interface OnlineUpdateResult {
  version: string;
  parent: string;
  activated: boolean;
  /** Why the guard kept the candidate inactive; null when it was activated. */
  reason: string | null;
  candidate: RegressionMetrics;
  active: RegressionMetrics;
  freshRows: number;
  replayRows: number;
  seconds: number;
}

function resolve(options: OnlineUpdateOptions) {
  const o = { ...defaultOnlineOptions, ...options };
  for (const name of ['steps', 'batchSize'] as const)
    if (!Number.isInteger(o[name]) || o[name] <= 0)
      throw new ValidationError(`\`${name}\` must be a positive integer, got ${o[name]}`);
  for (const name of ['replayRatio', 'mseMargin', 'spearmanMargin'] as const)
    if (!(o[name] >= 0)) throw new ValidationError(`\`${name}\` must be >= 0, got ${o[name]}`);
  if (!(o.lr > 0)) throw new ValidationError(`\`lr\` must be a positive number, got ${o.lr}`);
  return o;
}

function packRows(schema: FeatureSchema, rows: OnlineRows, what: string) {
  if (rows.labels.length !== rows.matrix.keys.length)
    throw new ValidationError(
      `${what}: ${rows.matrix.keys.length} feature rows but ${rows.labels.length} labels`,
    );
  return { features: packFeatures(schema, rows.matrix), labels: Float32Array.from(rows.labels) };
}

/** The guard's verdict: null when the candidate may serve, else the reason it may not. */
export function guardVerdict(
  candidate: RegressionMetrics,
  active: RegressionMetrics,
  margins: { mseMargin: number; spearmanMargin: number },
): string | null {
  const rise = (candidate.mse - active.mse) / Math.max(active.mse, 1e-12);
  const fall = active.spearman - candidate.spearman;
  const reasons: string[] = [];
  if (rise > margins.mseMargin)
    reasons.push(
      `held-out MSE rose ${(100 * rise).toFixed(1)}% (${active.mse.toFixed(5)} -> ${candidate.mse.toFixed(5)}), more than the ${(100 * margins.mseMargin).toFixed(1)}% margin`,
    );
  if (fall > margins.spearmanMargin)
    reasons.push(
      `held-out Spearman fell ${fall.toFixed(4)} (${active.spearman.toFixed(4)} -> ${candidate.spearman.toFixed(4)}), more than the ${margins.spearmanMargin} margin`,
    );
  return reasons.length === 0 ? null : reasons.join('; ');
}

/** Small MSE steps on batches of `newRows` new rows and the rest replayed, drawn with replacement. */
function takeSteps(
  model: ViralScoreModel,
  fresh: { features: PackedFeatures; labels: Float32Array },
  replay: { features: PackedFeatures; labels: Float32Array },
  o: ReturnType<typeof resolve>,
): void {
  const rng = new Random(o.seed);
  const newRows =
    replay.features.rows === 0 ? o.batchSize : Math.max(1, Math.round(o.batchSize / (1 + o.replayRatio)));
  const oldRows = replay.features.rows === 0 ? 0 : o.batchSize - newRows;
  const params = model.trainableParameters();
  const optimizer = new AdamW(params, { lr: o.lr, weightDecay: 0 });
  model.train();
  for (let step = 0; step < o.steps; step++) {
    const pickNew = Array.from({ length: newRows }, () => rng.int(fresh.features.rows));
    const pickOld = Array.from({ length: oldRows }, () => rng.int(replay.features.rows));
    // One batch of both sources: the replayed rows are what keeps the update from forgetting.
    const a = batchTensors(fresh.features, pickNew);
    const b = oldRows > 0 ? batchTensors(replay.features, pickOld) : null;
    const x = b ? concatRows(a.x.data, b.x.data, fresh.features.width) : a.x;
    const present = b ? concatRows(a.present.data, b.present.data, a.present.shape[1]) : a.present;
    const y = tensor(
      Float32Array.from([...pickNew.map((r) => fresh.labels[r]), ...pickOld.map((r) => replay.labels[r])]),
      [newRows + oldRows],
    );
    const loss = mse(model.forward(x, present).v, y);
    loss.backward();
    clipGradNorm(params, 1);
    optimizer.step();
    optimizer.zeroGrad();
  }
  model.eval();
}

function concatRows(a: Float32Array, b: Float32Array, width: number) {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return tensor(out, [out.length / width, width]);
}

/**
 * Updates the active estimator of `registry` on `data` and saves the result as the next version; the
 * guard scores candidate and active on `data.heldOut` and activates the candidate only when the held-out
 * MSE rose by at most `mseMargin` (relative) and the Spearman fell by at most `spearmanMargin`.
 * A rejected candidate stays in the registry, inactive, with the reason in its metrics.json.
 * @example
 * const r = updateEstimator(new ViralScoreRegistry('./tkllm-data'), { fresh, replay, heldOut });
 * if (!r.activated) console.log(`kept ${r.parent}: ${r.reason}`);
 */
export function updateEstimator(
  registry: ViralScoreRegistry,
  data: OnlineUpdateData,
  options: OnlineUpdateOptions = {},
): OnlineUpdateResult {
  const started = performance.now();
  const o = resolve(options);
  const active = registry.load();
  const fresh = packRows(active.schema, data.fresh, 'fresh');
  const replay = packRows(active.schema, data.replay, 'replay');
  const heldOut = packRows(active.schema, data.heldOut, 'heldOut');
  if (fresh.features.rows === 0)
    throw new ValidationError('an online update needs at least one fresh labelled row, got 0');
  if (heldOut.features.rows < 2)
    throw new ValidationError(`the guard needs at least 2 held-out rows, got ${heldOut.features.rows}`);
  // A second copy of the active version trains; the first stays as it is for the guard.
  const candidate = registry.load(active.version).model;
  takeSteps(candidate, fresh, replay, o);
  const activeMetrics = regressionMetrics(predict(active.model, heldOut.features), heldOut.labels);
  const candidateMetrics = regressionMetrics(predict(candidate, heldOut.features), heldOut.labels);
  const reason = guardVerdict(candidateMetrics, activeMetrics, o);
  const { provenance, ...settings } = o;
  const version = registry.save(
    {
      model: candidate,
      schema: active.schema,
      metrics: {
        heldOut: candidateMetrics,
        parentHeldOut: activeMetrics,
        guard: {
          activated: reason === null,
          reason,
          mseMargin: o.mseMargin,
          spearmanMargin: o.spearmanMargin,
        },
      },
      training: {
        ...active.training,
        createdAt: new Date().toISOString(),
        kind: 'online',
        parent: active.version,
        online: {
          rows: { fresh: fresh.features.rows, replay: replay.features.rows, heldOut: heldOut.features.rows },
          options: settings,
          ...(provenance ?? {}),
        },
      },
      ...exportGraphs(candidate),
    },
    { activate: reason === null },
  );
  return {
    version,
    parent: active.version,
    activated: reason === null,
    reason,
    candidate: candidateMetrics,
    active: activeMetrics,
    freshRows: fresh.features.rows,
    replayRows: replay.features.rows,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Activates the version before the active one (its recorded `parent`, else the next older version) and
 * returns both names; nothing is deleted, so a rollback can itself be undone with `activate`.
 * @example const { from, to } = rollbackEstimator(new ViralScoreRegistry('./tkllm-data'));
 */
export function rollbackEstimator(registry: ViralScoreRegistry): { from: string; to: string } {
  const from = registry.active();
  if (from === null) throw new ModelStateError(`no viralscore model in ${registry.root} to roll back`);
  const versions = registry.versions();
  let parent: unknown = null;
  try {
    parent = (
      JSON.parse(readFileSync(join(registry.dirOf(from), 'training.json'), 'utf8')) as Record<string, unknown>
    ).parent;
  } catch {
    // A version without a readable training.json falls back to the version order.
  }
  const to =
    typeof parent === 'string' && versions.includes(parent) ? parent : versions[versions.indexOf(from) - 1];
  if (to === undefined)
    throw new ModelStateError(
      `${from} is the oldest viralscore version in ${registry.root}: nothing to roll back to`,
    );
  registry.activate(to);
  return { from, to };
}

/** The part of fresh engagement an update needs: which post, at what age (experiments' LabelledPost fits). */
export interface FreshEngagement {
  postKey: string;
  horizonHours: number;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * Fresh labels of `postKeys` from their lake snapshots: the mid-rank percentile of the label's raw reach
 * (label.ts: ln(1+plays) + ln(1+shares+saves) + 0.5 ln(1+likes) + 0.5 ln(1+comments) + 2 watch_through)
 * among every post's snapshot at the same age (hours since posting), taking each post's oldest age. Posts
 * observed at the same age compare as posts of one week do in the training label; a percentile keeps the
 * label on the training label's (0, 1) scale.
 */
export async function freshSnapshotLabels(
  lake: Lake,
  postKeys: readonly string[],
): Promise<Map<string, number>> {
  if (postKeys.length === 0) return new Map();
  const rows = await lake.all(
    `WITH reach AS (
       SELECT post_key, round(hours_since_posting) AS h,
         ln(1 + plays) + coalesce(ln(1 + shares + coalesce(saves, 0)), 0) + coalesce(0.5 * ln(1 + likes), 0)
           + coalesce(0.5 * ln(1 + comments), 0) + coalesce(2 * watch_through, 0) AS r
       FROM snapshots WHERE plays IS NOT NULL AND hours_since_posting IS NOT NULL
       QUALIFY row_number() OVER (PARTITION BY post_key, round(hours_since_posting) ORDER BY observed_at DESC) = 1
     ), ranked AS (
       SELECT post_key, h,
         (rank() OVER (PARTITION BY h ORDER BY r) - 1 + (count(*) OVER (PARTITION BY h, r) - 1) / 2.0 + 0.5)
           / count(*) OVER (PARTITION BY h) AS label
       FROM reach
     )
     SELECT post_key, label FROM ranked WHERE post_key IN (${postKeys.map(quote).join(', ')})
     QUALIFY row_number() OVER (PARTITION BY post_key ORDER BY h DESC) = 1`,
  );
  return new Map(rows.map((r) => [r.post_key as string, Number(r.label)]));
}

/** Options of `updateEstimatorOnline` and `estimatorFeedbackSink`. */
export interface OnlineLakeOptions extends OnlineUpdateOptions {
  /** Where the features come from (default: the features module's stored matrix). */
  features?: FeatureSource;
  /** Share of posts with fresh engagement held out for the guard, fixed per post key (default 0.2). */
  heldOutShare?: number;
  /** Fewest held-out rows; the newest older labelled posts fill up to it (default 50). */
  minHeldOut?: number;
}

// FNV-1a of the key, finalised: a post is held out or not on every call, whatever batch it arrives in.
function heldOutPoint(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  // MurmurHash3's finaliser: keys that differ only in their last characters (tiktok:240, tiktok:241)
  // otherwise land close together in FNV's high bits.
  return mix32(h) / 2 ** 32;
}

/** Labelled rows of `keys` that have both a fresh label and features. */
async function labelledRows(
  lake: Lake,
  source: FeatureSource,
  keys: readonly string[],
): Promise<{ matrix: FeatureMatrix; labels: number[] }> {
  const labels = await freshSnapshotLabels(lake, keys);
  const matrix = labels.size === 0 ? null : await source(lake, { postKeys: [...labels.keys()] });
  if (matrix === null || matrix.keys.length === 0) return { matrix: emptyMatrix(), labels: [] };
  return { matrix, labels: matrix.keys.map((k) => labels.get(k) as number) };
}

function emptyMatrix(): FeatureMatrix {
  return { keys: [], groups: {} as FeatureMatrix['groups'] };
}

/**
 * An online update from fresh engagement of lake posts: labels them from their snapshots and runs
 * `updateEstimator` on `dataDir`'s registry. The guard's rows are the present: a fixed share (by post key)
 * of every post the experiments brought engagement for so far, never trained on, topped up with the newest
 * older labelled posts while fewer than `minHeldOut`. Older labelled posts (oldest 80% of the lake's
 * labelled posts without fresh engagement) are the replay buffer. Returns null when no fresh post outside
 * the held-out share has a label and features (nothing to learn from).
 */
export async function updateEstimatorOnline(
  lake: Lake,
  dataDir: string,
  fresh: readonly FreshEngagement[],
  options: OnlineLakeOptions = {},
): Promise<OnlineUpdateResult | null> {
  const source = options.features ?? ((l, o) => loadFeatureMatrix(l, o));
  const share = options.heldOutShare ?? 0.2;
  if (!(share > 0 && share < 1))
    throw new ValidationError(`\`heldOutShare\` must be in (0, 1), got ${share}`);
  const keys = [...new Set(fresh.map((p) => p.postKey))];
  const train = await labelledRows(
    lake,
    source,
    keys.filter((k) => heldOutPoint(k) >= share),
  );
  if (train.labels.length === 0) return null;
  const touched = await lake.all(
    `SELECT DISTINCT post_key FROM snapshots WHERE source_file LIKE 'experiment:%' ORDER BY post_key`,
  );
  const held = await labelledRows(
    lake,
    source,
    touched.map((r) => r.post_key as string).filter((k) => heldOutPoint(k) < share),
  );
  const dataset = await loadDataset(lake, source);
  const withFresh = new Set(touched.map((r) => r.post_key as string));
  const old = dataset.posts.map((_, i) => i).filter((i) => !withFresh.has(dataset.posts[i].postKey));
  // Posts are oldest first: the newest fifth of the older posts is kept out of the replay buffer.
  const cut = Math.round(old.length * 0.8);
  const replayRows = old.slice(0, cut);
  const missing = (options.minHeldOut ?? 50) - held.labels.length;
  const topUp = missing > 0 ? old.slice(cut).slice(-missing) : [];
  const heldOut: OnlineRows =
    topUp.length === 0
      ? held
      : {
          matrix: concatMatrices(held.matrix, selectRows(dataset.matrix, topUp)),
          labels: [...held.labels, ...topUp.map((i) => dataset.posts[i].label)],
        };
  return updateEstimator(
    new ViralScoreRegistry(dataDir),
    {
      fresh: train,
      replay: {
        matrix: selectRows(dataset.matrix, replayRows),
        labels: replayRows.map((i) => dataset.posts[i].label),
      },
      heldOut,
    },
    {
      ...options,
      provenance: { ...options.provenance, freshPosts: keys.length, lake: lake.path },
    },
  );
}

/** Rows of `a` then rows of `b` (same groups and feature names). */
function concatMatrices(a: FeatureMatrix, b: FeatureMatrix): FeatureMatrix {
  if (a.keys.length === 0) return b;
  const groups = {} as Record<string, FeatureMatrix['groups'][keyof FeatureMatrix['groups']]>;
  for (const [name, g] of Object.entries(a.groups)) {
    const h = b.groups[name as keyof FeatureMatrix['groups']];
    const values = new Float32Array(g.values.length + h.values.length);
    values.set(g.values);
    values.set(h.values, g.values.length);
    const present = new Uint8Array(g.present.length + h.present.length);
    present.set(g.present);
    present.set(h.present, g.present.length);
    groups[name] = { names: g.names, values, present };
  }
  return { keys: [...a.keys, ...b.keys], groups: groups as FeatureMatrix['groups'] };
}

/** A feedback sink (experiments' `FeedbackSink`) that runs an online update on every batch it accepts. */
export interface EstimatorFeedbackSink {
  accept(posts: readonly FreshEngagement[]): Promise<void>;
  /** Every update the sink ran, oldest first (null where a batch had nothing to learn from). */
  readonly results: (OnlineUpdateResult | null)[];
}

/**
 * Wraps `updateEstimatorOnline` as a feedback sink, so `recordEvents(lake, id, events, { feedback })`
 * returns only once the estimator has learned from the events (the freshness target is seconds).
 * @example
 * const feedback = estimatorFeedbackSink(lake, './tkllm-data');
 * await recordEvents(lake, 'hooks', events, { feedback });
 * console.log(feedback.results.at(-1)?.activated);
 */
export function estimatorFeedbackSink(
  lake: Lake,
  dataDir: string,
  options: OnlineLakeOptions = {},
): EstimatorFeedbackSink {
  const results: (OnlineUpdateResult | null)[] = [];
  return {
    results,
    async accept(posts) {
      results.push(await updateEstimatorOnline(lake, dataDir, posts, options));
    },
  };
}
