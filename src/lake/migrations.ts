import { ConfigError } from '../core/index.js';

/** One step of the lake schema: applied once, in order, inside a transaction. */
export interface Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

/**
 * The lake schema as an ordered list of steps. A lake records the highest step it has; opening it with a
 * newer TKLLM applies the missing steps, so a lake made by an older version keeps working. Steps are never
 * edited once released: a change is a new step.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'posts, authors, hashtags, engagement snapshots, media references, rejected rows',
    // No primary keys on the data tables: DuckDB's ART indexes made bulk merges several times slower, so
    // the merge statements (upsert.ts) keep (post_key), (post_key, observed_at), (post_key, tag),
    // (post_key, kind) and (author_key) unique themselves, and the tests check that they do.
    statements: [
      `CREATE TABLE authors (
        author_key VARCHAR NOT NULL,   -- platform || ':' || name
        platform VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        followers BIGINT,
        observed_at TIMESTAMP             -- when followers was seen; the newest observation wins
      )`,
      `CREATE TABLE posts (
        post_key VARCHAR NOT NULL,       -- platform || ':' || source_id: stable across exports
        platform VARCHAR NOT NULL,
        source_id VARCHAR NOT NULL,
        author_key VARCHAR,
        title VARCHAR,
        text VARCHAR,
        transcript VARCHAR,
        posted_at TIMESTAMP,
        duration_seconds DOUBLE,
        region VARCHAR,
        music_id VARCHAR,
        music_title VARCHAR,
        plays BIGINT, likes BIGINT, comments BIGINT, shares BIGINT, saves BIGINT,
        observed_at TIMESTAMP NOT NULL,   -- the observation the engagement columns come from (the newest)
        attributes JSON,                  -- source columns with no lake column, kept as they came
        source_file VARCHAR NOT NULL
      )`,
      `CREATE TABLE hashtags (
        post_key VARCHAR NOT NULL,
        tag VARCHAR NOT NULL,             -- lower case, without '#'
        origin VARCHAR NOT NULL           -- 'field' (the export's tag list) or 'text' (found in the text)
      )`,
      `CREATE TABLE snapshots (
        post_key VARCHAR NOT NULL,
        observed_at TIMESTAMP NOT NULL,
        plays BIGINT, likes BIGINT, comments BIGINT, shares BIGINT, saves BIGINT,
        watch_through DOUBLE,             -- share of viewers who watched to the end, 0..1, where known
        avg_watch_seconds DOUBLE,
        hours_since_posting DOUBLE,
        source_file VARCHAR NOT NULL
      )`,
      `CREATE TABLE media (
        post_key VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,            -- 'video', 'thumbnail', 'music'
        uri VARCHAR NOT NULL
      )`,
      `CREATE TABLE rejects (
        file VARCHAR NOT NULL,
        line BIGINT,                      -- CSV/JSONL: line in the file (header = line 1); JSON array: element
        field VARCHAR,
        reason VARCHAR NOT NULL,          -- a code: missing_id, not_a_number, negative_count, ...
        detail VARCHAR NOT NULL,
        raw VARCHAR
      )`,
    ],
  },
  {
    version: 2,
    description: 'ingested files, so that a re-ingest replaces its own rejects and summaries',
    statements: [
      `CREATE TABLE ingested_files (
        file VARCHAR PRIMARY KEY,
        shape VARCHAR NOT NULL,
        reader VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_accepted BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        ingested_at TIMESTAMP NOT NULL
      )`,
    ],
  },
];

/** Minimal SQL runner the migrator needs, so it can run on any connection. */
export interface SqlRunner {
  run(sql: string): Promise<unknown>;
  scalar(sql: string): Promise<unknown>;
}

/**
 * Brings a lake up to the last of `steps`, one transaction per step, and returns the resulting version.
 * Throws a ConfigError when the lake was made by a newer TKLLM than this one.
 */
export async function migrate(db: SqlRunner, steps: readonly Migration[] = migrations): Promise<number> {
  await db.run(
    `CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`,
  );
  const current = Number((await db.scalar('SELECT coalesce(max(version), 0) FROM schema_version')) ?? 0);
  const latest = steps.at(-1)?.version ?? 0;
  if (current > latest)
    throw new ConfigError(
      `the lake has schema version ${current}, but this TKLLM knows versions up to ${latest}: upgrade TKLLM`,
    );
  for (const step of steps) {
    if (step.version <= current) continue;
    await db.run('BEGIN TRANSACTION');
    try {
      for (const sql of step.statements) await db.run(sql);
      await db.run(
        `INSERT INTO schema_version VALUES (${step.version}, '${step.description.replaceAll("'", "''")}', now()::TIMESTAMP)`,
      );
      await db.run('COMMIT');
    } catch (error) {
      await db.run('ROLLBACK');
      throw error;
    }
  }
  return Math.max(current, latest);
}

/**
 * Brings one component's own tables (features, models, audit, experiments: the modules above the lake) up to
 * the last of `steps`, tracked apart from the lake's core schema so that each module owns its steps and a
 * new module never renumbers another's. Same rules as `migrate`: one transaction per step, never edited once
 * released, and a ConfigError when the lake was made by a newer TKLLM.
 */
export async function migrateComponent(
  db: SqlRunner,
  component: string,
  steps: readonly Migration[],
): Promise<number> {
  if (!/^[a-z][a-z0-9_-]*$/.test(component))
    throw new ConfigError(`component name "${component}" must be lower case letters, digits, '-' or '_'`);
  await db.run(
    `CREATE TABLE IF NOT EXISTS component_schema (
      component VARCHAR NOT NULL, version INTEGER NOT NULL, description VARCHAR NOT NULL,
      applied_at TIMESTAMP NOT NULL, PRIMARY KEY (component, version))`,
  );
  const current = Number(
    (await db.scalar(
      `SELECT coalesce(max(version), 0) FROM component_schema WHERE component = '${component}'`,
    )) ?? 0,
  );
  const latest = steps.at(-1)?.version ?? 0;
  if (current > latest)
    throw new ConfigError(
      `the lake's ${component} tables have schema version ${current}, but this TKLLM knows versions up to ${latest}: upgrade TKLLM`,
    );
  for (const step of steps) {
    if (step.version <= current) continue;
    await db.run('BEGIN TRANSACTION');
    try {
      for (const sql of step.statements) await db.run(sql);
      await db.run(
        `INSERT INTO component_schema VALUES ('${component}', ${step.version}, '${step.description.replaceAll("'", "''")}', now()::TIMESTAMP)`,
      );
      await db.run('COMMIT');
    } catch (error) {
      await db.run('ROLLBACK');
      throw error;
    }
  }
  return Math.max(current, latest);
}
