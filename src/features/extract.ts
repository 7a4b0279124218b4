import { str } from './json.js';
import { silentProgress, type ProgressReporter } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { TextEncoder } from './embedding.js';
import { absent, checkWidths, extractorVersion, rowGroups, type RowGroups } from './groups.js';
import { trendBySql } from './trend-sql.js';
import { loadHistory, type History, type HistoryPost } from './history.js';
import { groupNamesFor, resolveEncoder } from './names.js';
import type { PpmiConfig } from './ppmi.js';
import {
  ensureFeatureSchema,
  inputHashSql,
  readFeatureMatrix,
  writeFeatureRows,
  type StoredRow,
} from './store.js';
import { featureGroupNames, type FeatureGroupName, type FeatureMatrix } from './types.js';
import { mediaFeatures, type MediaOptions } from './media.js';

/** Options of `extractFeatures`. */
export interface ExtractOptions {
  progress?: ProgressReporter;
  /** Recompute every post, even those whose inputs and extractor version are unchanged. */
  force?: boolean;
  /** Text encoder for the embedding group; default: the lake's own PPMI + SVD encoder (fitted if missing). */
  encoder?: TextEncoder;
  /** Fit the lake's PPMI + SVD encoder again (every embedding is then recomputed). */
  refitEncoder?: boolean;
  /** Settings of the PPMI + SVD encoder when one is fitted. */
  ppmi?: Partial<PpmiConfig>;
  /** Media decoding settings (ffmpeg path); posts whose media is not a local file get no media groups. */
  media?: MediaOptions;
}

/** What `extractFeatures` did. */
export interface ExtractReport {
  posts: number;
  /** Posts whose features were (re)computed in this run. */
  computed: number;
  /** Posts whose stored features were kept. */
  unchanged: number;
  extractorVersion: number;
  encoderId: string;
  /** Rows with each group present, among the computed ones. */
  present: Record<FeatureGroupName, number>;
  /** Media files that could not be decoded (their media groups are absent), with the reason. */
  mediaErrors: { postKey: string; path: string; reason: string }[];
  seconds: number;
}

/**
 * Computes and stores every post's feature groups with the extractor version. Only posts whose own inputs
 * changed, and the posts at or after the earliest of them (whose history changed), are recomputed, unless
 * `force` is set or the extractor version or the encoder changed. One transaction: a crash stores nothing.
 *
 * @example
 * const report = await extractFeatures(lake, { progress: terminalProgress() });
 * console.log(`${report.computed} posts featurised`);
 */
export async function extractFeatures(lake: Lake, options: ExtractOptions = {}): Promise<ExtractReport> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  try {
    await ensureFeatureSchema(lake);
    progress.update(0, undefined, 'features: reading the lake');
    let loaded: History | undefined;
    const history = async () => (loaded ??= await loadHistory(lake));
    const { encoder, fitted } = await resolveEncoder(
      lake,
      { encoder: options.encoder, refit: options.refitEncoder, ppmi: options.ppmi },
      history,
      progress,
    );
    const hashes = await lake.all(`
      SELECT h.post_key, h.input_hash, f.input_hash AS stored_hash, f.extractor_version
      FROM (${inputHashSql}) h LEFT JOIN feature_posts f USING (post_key)`);
    const salt = `${extractorVersion}|${encoder?.id ?? 'none'}`;
    const current = new Map(hashes.map((r) => [str(r.post_key), `${str(r.input_hash)}|${salt}`]));
    const changed = new Set(
      hashes
        .filter(
          (r) =>
            options.force ||
            `${str(r.input_hash)}|${salt}` !== (r.stored_hash === null ? '' : str(r.stored_hash)),
        )
        .map((r) => str(r.post_key)),
    );
    const present = Object.fromEntries(featureGroupNames.map((g) => [g, 0])) as Record<
      FeatureGroupName,
      number
    >;
    const report: ExtractReport = {
      posts: hashes.length,
      computed: 0,
      unchanged: hashes.length,
      extractorVersion,
      encoderId: encoder?.id ?? 'none',
      present,
      mediaErrors: [],
      seconds: 0,
    };
    if (changed.size === 0) return { ...report, seconds: (performance.now() - started) / 1000 };

    const hist = await history();
    // A changed post changes the history of every post after it, so recompute from the earliest change on.
    let earliest = Number.POSITIVE_INFINITY;
    for (const key of changed) earliest = Math.min(earliest, hist.byKey.get(key)?.time ?? earliest);
    const todo = hist.posts.filter((p) => changed.has(p.key) || p.time >= earliest);
    const names = groupNamesFor(encoder?.dimensions ?? 0);
    const widths = Object.fromEntries(featureGroupNames.map((g) => [g, names[g].length])) as Record<
      FeatureGroupName,
      number
    >;
    const embeddings = encoder ? await encodeAll(encoder, todo, progress) : undefined;
    progress.update(0, todo.length, 'features: trends');
    // Lake posts take their trend group from one set-wise SQL query; drafts compute the same from the history.
    const trends = await trendBySql(lake);
    const rows: StoredRow[] = [];
    for (let i = 0; i < todo.length; i++) {
      const post = todo[i];
      const extras = await postExtras(hist, post, options.media, report);
      const trend = trends.get(post.key);
      extras.trend = trend ? { present: true, values: trend } : absent;
      const emb = embeddings?.[i];
      const groups = rowGroups(hist, subjectOf(post), emb ? { ...extras, embedding: emb } : extras);
      checkWidths(groups, widths);
      for (const g of featureGroupNames) if (groups[g].present) present[g]++;
      rows.push({ key: post.key, hash: current.get(post.key) ?? '', refTime: post.time, groups });
      if (i % 256 === 0) progress.update(i, todo.length, 'features: computing');
    }
    progress.update(todo.length, todo.length, 'features: storing');
    await writeFeatureRows(lake, rows, names, extractorVersion, fitted);
    return {
      ...report,
      computed: rows.length,
      unchanged: hashes.length - rows.length,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    progress.finish();
  }
}

async function encodeAll(encoder: TextEncoder, posts: readonly HistoryPost[], progress: ProgressReporter) {
  const out: Float32Array[] = [];
  const batch = 512;
  for (let i = 0; i < posts.length; i += batch) {
    progress.update(i, posts.length, 'features: embedding');
    out.push(...(await encoder.encode(posts.slice(i, i + batch).map((p) => p.script))));
  }
  return out;
}

async function postExtras(
  history: History,
  post: HistoryPost,
  media: MediaOptions | undefined,
  report: ExtractReport,
) {
  const extras: Parameters<typeof rowGroups>[2] = {
    timeIsFirstSeen: post.timeIsFirstSeen,
    postedAt: post.timeIsFirstSeen ? null : post.time,
    durationSeconds: post.durationSeconds,
    snapshots: history.snapshots.get(post.key) ?? [],
  };
  if (post.mediaPath) {
    const m = await mediaFeatures(post.mediaPath, media);
    if (m.ok) {
      if (m.value.audio) extras.audio = m.value.audio;
      if (m.value.video) extras.video = m.value.video;
    }
    // A media reference that is not a local file (a URL from an export) is simply not analysed.
    else if (m.error.code !== 'NOT_FOUND')
      report.mediaErrors.push({ postKey: post.key, path: post.mediaPath, reason: m.error.message });
  }
  return extras;
}

/** The history subject of a lake post. */
export function subjectOf(post: HistoryPost) {
  return {
    key: post.key,
    time: post.time,
    author: post.author,
    region: post.region,
    sound: post.sound,
    tags: post.tags,
    analysis: post.analysis,
  };
}

/** Options of `loadFeatureMatrix`. */
export interface LoadFeatureOptions {
  /** Rows for these posts, in this order; default: every post with stored features, by post_key. */
  postKeys?: readonly string[];
}

/**
 * The stored feature groups as matrices (rows by post_key, or in `postKeys` order). Throws a ModelStateError
 * when features are missing or were made by another extractor version.
 */
export async function loadFeatureMatrix(
  lake: Lake,
  options: LoadFeatureOptions = {},
): Promise<FeatureMatrix> {
  return readFeatureMatrix(lake, extractorVersion, options.postKeys);
}

export type { RowGroups };
