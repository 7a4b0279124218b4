import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { silentProgress, ValidationError, type ProgressReporter } from '../core/index.js';
import type { Lake, LakeTable } from './lake.js';
import {
  guessReader,
  jsonTable,
  openSource,
  type ReadFailure,
  type ReaderKind,
  type Source,
} from './readers.js';
import { resolveShape } from './shapes.js';
import { stageSql } from './stage.js';
import { jsonText, sqlString } from './sql.js';
import { upsertSteps, type MergedTable, type StageKeys, type UpsertStep } from './upsert.js';

/** How to read the files given to `ingestFiles`. */
export interface IngestOptions {
  /** Shape name (`tiktok-research`, `youtube-trending`, ...); guessed from the columns when absent. */
  format?: string;
  /** File format; guessed from the extension when absent. */
  reader?: ReaderKind;
  /** Year of "dd.mm" dates (YouTube trending); taken from a 4-digit year in the file name when absent. */
  year?: number;
  /** When the export was taken, for rows without their own time; the file's modification time when absent. */
  observedAt?: Date;
  /** Told `step/steps` within each file, labelled with the file name and the step. */
  progress?: ProgressReporter;
}

/** What ingesting one file did. */
export interface IngestResult {
  file: string;
  shape: string;
  reader: ReaderKind;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rejectsByReason: Record<string, number>;
  /** Accepted rows that repeat a post at the same observation time (the one with most plays is kept). */
  duplicatesMerged: number;
  newPosts: number;
  newSnapshots: number;
  seconds: number;
}

const stage = 'tk_stage';

/**
 * Ingests each file in its own transaction: rows are read with DuckDB's readers, checked and typed in SQL,
 * rejected rows are stored with their line and reason, and the rest is merged into the lake. A file that
 * fails midway leaves the lake as it was before that file; the files before it stay ingested.
 *
 * @example
 * const [result] = await ingestFiles(lake, ['posts.csv']);
 * console.log(result.rowsAccepted, result.rejectsByReason);
 */
export async function ingestFiles(
  lake: Lake,
  files: readonly string[],
  options: IngestOptions = {},
): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  for (const file of files) results.push(await ingestFile(lake, file, options));
  return results;
}

/** Ingests one file in one transaction; see `ingestFiles`. */
export async function ingestFile(
  lake: Lake,
  file: string,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const started = performance.now();
  const path = resolve(file);
  const reader = options.reader ?? guessReader(path);
  const progress = options.progress ?? silentProgress;
  const source = await openSource(lake, path, reader);
  const shape = resolveShape(basename(path), source.columns, options.format);
  const year = options.year ?? yearInName(path);
  if (shape.observedAtFormat === 'dayMonth' && year === undefined)
    throw new ValidationError(
      `${basename(path)}: dates are dd.mm without a year; pass the year (--year 2017)`,
    );
  const observedAt = options.observedAt ?? statSync(path).mtime;
  const before = await lake.tableCounts();
  const total = 10;
  const label = (step: string) => `${basename(path)}: ${step}`;

  let steps: UpsertStep[] = [];
  try {
    // The staging table is temporary, so it can be built before the file's transaction: a crash loses it
    // with nothing else. Built inside, it became transaction-local storage that the merge read more slowly.
    progress.update(0, total, label('reading'));
    await buildStage(
      lake,
      source,
      stageSql(stage, source, shape, { observedAt, ...(year === undefined ? {} : { year }) }),
    );
    const failures = await source.readFailures(lake);
    await numberLines(lake, source, failures);
    return await lake.transaction(async () => {
      progress.update(1, total, label('rejects'));
      await lake.run(`DELETE FROM rejects WHERE file = ${sqlString(path)}`);
      await lake.run(`INSERT INTO rejects SELECT ${sqlString(path)}, _line, rej_field, rej_reason, rej_detail, left(rej_raw, 500)
        FROM ${stage} WHERE rej_reason IS NOT NULL`);
      for (const f of failures)
        await lake.run(`INSERT INTO rejects VALUES (${sqlString(path)}, ${f.line}, NULL, ${sqlString(f.reason)},
          ${sqlString(f.detail)}, ${sqlString(f.raw.slice(0, 500))})`);
      progress.update(2, total, label('merging'));
      const counts = await stageCounts(lake, before);
      steps = upsertSteps(stage, path, shape, counts.keys);
      // Each label names the step about to run, so a reporter can time the steps.
      for (const [i, step] of steps.entries()) {
        progress.update(3 + i, total, label(step.name));
        await lake.run(step.sql);
      }
      progress.update(total, total, label('summary'));
      const summary = await summarise(lake, path, before, counts, failures.length);
      await lake.run(`INSERT OR REPLACE INTO ingested_files VALUES (${sqlString(path)}, ${sqlString(shape.name)},
        ${sqlString(reader)}, ${summary.rowsRead}, ${summary.rowsAccepted}, ${summary.rowsRejected}, now()::TIMESTAMP)`);
      return {
        file: path,
        shape: shape.name,
        reader,
        ...summary,
        seconds: (performance.now() - started) / 1000,
      };
    });
  } finally {
    progress.finish();
    for (const step of steps.reverse())
      if (step.temp) await lake.run(`DROP ${step.temp.kind} IF EXISTS ${step.temp.name}`);
    await lake.run(`DROP TABLE IF EXISTS ${stage}; DROP TABLE IF EXISTS ${jsonTable}`);
  }
}

/** What one pass over the staging table found: the merge's shortcuts and the summary's row counts. */
interface StageCounts {
  keys: StageKeys;
  rows: number;
  rejected: number;
  /** Distinct (post, observation time) among accepted rows. */
  snapshots: number;
}

async function stageCounts(lake: Lake, before: Record<LakeTable, number>): Promise<StageCounts> {
  const [row] = await lake.all(`SELECT count(*)::INTEGER AS rows, count(rej_reason)::INTEGER AS rejected,
    count(DISTINCT post_key) FILTER (rej_reason IS NULL)::INTEGER AS posts,
    count(posted_at) FILTER (rej_reason IS NULL)::INTEGER AS posted FROM ${stage}`);
  const accepted = Number(row.rows) - Number(row.rejected);
  // One row per post implies one per (post, time): the costlier distinct count only runs when it can differ.
  const snapshots =
    row.posts === accepted
      ? accepted
      : await lake.count(`SELECT count(*) FROM (SELECT DISTINCT post_key, observed_at FROM ${stage}
          WHERE rej_reason IS NULL)`);
  const merged: MergedTable[] = ['authors', 'posts', 'snapshots', 'hashtags', 'media'];
  return {
    keys: {
      uniquePosts: row.posts === accepted,
      uniqueSnapshots: snapshots === accepted,
      postedAtKnown: row.posted === accepted,
      emptyTables: new Set(merged.filter((table) => before[table] === 0)),
    },
    rows: Number(row.rows),
    rejected: Number(row.rejected),
    snapshots,
  };
}

/** A 4-digit year (1990..2099) standing alone in the file name, such as `youtube_us_trending_2017.csv`. */
export function yearInName(file: string): number | undefined {
  const match = /(?:^|[^0-9])((?:19|20)[0-9]{2})(?:[^0-9]|$)/.exec(basename(file));
  return match ? Number(match[1]) : undefined;
}

/**
 * Builds the staging table. A source without `_line` is staged in file order (so that a row's position in
 * the table is its position in the file): DuckDB still scans and types the rows in parallel, and only
 * reassembles them in order at the end.
 */
async function buildStage(lake: Lake, source: Source, sql: string): Promise<void> {
  if (source.firstLine === undefined) return lake.run(sql);
  await lake.run('SET preserve_insertion_order = true');
  try {
    await lake.run(sql);
  } finally {
    await lake.run('SET preserve_insertion_order = false');
  }
}

/**
 * Gives every staged row its line. A source staged in file order gets `firstLine` plus the row's position
 * (rowids of a table made by one ordered insert are consecutive). The CSV reader numbers only the rows it could
 * parse; each unparsable row before a record shifts that record's line by one, so add the number of failures
 * among the earlier rows.
 */
async function numberLines(lake: Lake, source: Source, failures: readonly ReadFailure[]): Promise<void> {
  const line =
    source.firstLine === undefined
      ? '_line'
      : `(rowid - (SELECT min(rowid) FROM ${stage}) + ${source.firstLine})`;
  if (failures.length === 0) {
    if (source.firstLine !== undefined) await lake.run(`UPDATE ${stage} SET _line = ${line}`);
    return;
  }
  // The i-th failure (1-based) at line L sits after L - 1 - i parsed records.
  const thresholds = failures.map((f, i) => f.line - 1 - (i + 1));
  await lake.run(`UPDATE ${stage} SET _line = ${line} + (
    SELECT count(*) FROM unnest([${thresholds.join(', ')}]::BIGINT[]) AS t(v) WHERE t.v < ${line} - 1)`);
}

async function summarise(
  lake: Lake,
  file: string,
  before: Record<string, number>,
  counts: StageCounts,
  readFailures: number,
) {
  const byReason = await lake.all(
    `SELECT reason, count(*)::INTEGER AS n FROM rejects WHERE file = ${sqlString(file)} GROUP BY reason ORDER BY reason`,
  );
  const after = await lake.tableCounts();
  const { rows: n, rejected } = counts;
  return {
    rowsRead: n + readFailures,
    rowsAccepted: n - rejected,
    rowsRejected: rejected + readFailures,
    rejectsByReason: Object.fromEntries(byReason.map((r) => [jsonText(r.reason), Number(r.n)])),
    duplicatesMerged: n - rejected - counts.snapshots,
    newPosts: after.posts - (before.posts ?? 0),
    newSnapshots: after.snapshots - (before.snapshots ?? 0),
  };
}
