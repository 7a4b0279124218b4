import { str } from './json.js';
import { DuckDBListType, DuckDBTimestampValue, FLOAT, VARCHAR, type DuckDBAppender } from '@duckdb/node-api';
import { ModelStateError } from '../core/index.js';
import type { Lake, Migration } from '../lake/index.js';
import type { RowGroups } from './groups.js';
import { PpmiTextEncoder, type PpmiModel } from './ppmi.js';
import {
  featureGroupNames,
  type FeatureGroupMatrix,
  type FeatureGroupName,
  type FeatureMatrix,
} from './types.js';

/** The features component's tables, as ordered schema steps (never edited once released: add a step). */
export const featureSchema: readonly Migration[] = [
  {
    version: 1,
    description:
      'per-post feature groups with the extractor version and a hash of the inputs; group column names',
    // No primary keys, as in the lake's own tables: the writer deletes a post's rows before appending them.
    statements: [
      `CREATE TABLE feature_posts (
        post_key VARCHAR NOT NULL,
        extractor_version INTEGER NOT NULL,
        input_hash VARCHAR NOT NULL,      -- md5 of the post's own inputs (see inputHashSql) and the encoder id
        ref_time TIMESTAMP NOT NULL,      -- the time history was cut at: posted_at, or the first observation
        computed_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE feature_values (
        post_key VARCHAR NOT NULL,
        group_name VARCHAR NOT NULL,
        present BOOLEAN NOT NULL,
        vals FLOAT[] NOT NULL             -- empty when the group is absent
      )`,
      `CREATE TABLE feature_names (
        group_name VARCHAR NOT NULL,
        extractor_version INTEGER NOT NULL,
        names VARCHAR[] NOT NULL
      )`,
      `CREATE TABLE feature_encoders (
        encoder_id VARCHAR NOT NULL,      -- kind and a fingerprint of the fitted parameters
        kind VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        config JSON NOT NULL,
        vocab VARCHAR[] NOT NULL,
        vectors FLOAT[] NOT NULL          -- vocab.length x dimensions, row-major
      )`,
    ],
  },
];

/** Creates or upgrades the feature tables. */
export async function ensureFeatureSchema(lake: Lake): Promise<void> {
  await lake.ensureSchema('features', featureSchema);
}

/**
 * One md5 per post over everything of its own that a feature reads: text fields, time, creator and followers,
 * region, sound, duration, tags, media and snapshots. History-dependent groups also change when earlier posts
 * change; the extractor handles that by recomputing every post at or after the earliest changed one.
 */
export const inputHashSql = `
  WITH t AS (SELECT post_key, string_agg(tag || ':' || origin, ',' ORDER BY tag, origin) AS v FROM hashtags GROUP BY post_key),
  s AS (SELECT post_key, string_agg(concat_ws('/', observed_at, plays, likes, comments, shares, saves, watch_through,
          avg_watch_seconds, hours_since_posting), ',' ORDER BY observed_at) AS v FROM snapshots GROUP BY post_key),
  m AS (SELECT post_key, string_agg(kind || '=' || uri, ',' ORDER BY kind, uri) AS v FROM media GROUP BY post_key)
  SELECT p.post_key, md5(concat_ws(chr(31), p.text, p.title, p.transcript, p.posted_at, p.author_key, a.name,
      a.followers, a.observed_at, p.region, p.music_id, p.music_title, p.duration_seconds, p.observed_at,
      t.v, s.v, m.v)) AS input_hash
  FROM posts p LEFT JOIN authors a USING (author_key) LEFT JOIN t USING (post_key) LEFT JOIN s USING (post_key)
    LEFT JOIN m USING (post_key)`;

/** A computed row ready to store. */
export interface StoredRow {
  key: string;
  hash: string;
  refTime: number;
  groups: RowGroups;
}

const floatList = new DuckDBListType(FLOAT);

function micros(ms: number) {
  return BigInt(Math.round(ms)) * 1000n;
}

/**
 * Replaces the stored features of `rows` (and the group names) in one transaction, so a crash leaves the
 * previous features as they were.
 */
export async function writeFeatureRows(
  lake: Lake,
  rows: readonly StoredRow[],
  names: Record<FeatureGroupName, readonly string[]>,
  version: number,
  encoder?: PpmiModel,
): Promise<void> {
  await lake.transaction(async () => {
    await lake.run('CREATE OR REPLACE TEMP TABLE feature_recompute (post_key VARCHAR NOT NULL)');
    await append(lake, 'feature_recompute', (a) => {
      for (const r of rows) {
        a.appendVarchar(r.key);
        a.endRow();
      }
    });
    await lake.run('DELETE FROM feature_values WHERE post_key IN (SELECT post_key FROM feature_recompute)');
    await lake.run('DELETE FROM feature_posts WHERE post_key IN (SELECT post_key FROM feature_recompute)');
    await lake.run('DROP TABLE feature_recompute');
    const now = micros(Date.now());
    await append(lake, 'feature_posts', (a) => {
      for (const r of rows) {
        a.appendVarchar(r.key);
        a.appendInteger(version);
        a.appendVarchar(r.hash);
        a.appendTimestamp(new DuckDBTimestampValue(micros(r.refTime)));
        a.appendTimestamp(new DuckDBTimestampValue(now));
        a.endRow();
      }
    });
    // The values travel as text and DuckDB casts them to FLOAT[] in one statement: the Node API builds a list
    // value number by number (about 9 us each on the shared machine), the cast ran 4-5 times faster. The text
    // is exact (see floatsText), so the stored floats are those a Float32Array would hold.
    await lake.run(`CREATE OR REPLACE TEMP TABLE feature_stage (
      post_key VARCHAR NOT NULL, group_name VARCHAR NOT NULL, present BOOLEAN NOT NULL, vals VARCHAR NOT NULL)`);
    await append(lake, 'feature_stage', (a) => {
      for (const r of rows)
        for (const g of featureGroupNames) {
          const v = r.groups[g];
          a.appendVarchar(r.key);
          a.appendVarchar(g);
          a.appendBoolean(v.present);
          a.appendVarchar(v.present ? floatsText(v.values) : '[]');
          a.endRow();
        }
    });
    await lake.run(
      'INSERT INTO feature_values SELECT post_key, group_name, present, vals::FLOAT[] FROM feature_stage',
    );
    await lake.run('DROP TABLE feature_stage');
    if (encoder) await storeEncoder(lake, encoder);
    await lake.run(`DELETE FROM feature_names WHERE extractor_version = ${version}`);
    await append(lake, 'feature_names', (a) => {
      for (const g of featureGroupNames) {
        a.appendVarchar(g);
        a.appendInteger(version);
        a.appendList([...names[g]], new DuckDBListType(VARCHAR));
        a.endRow();
      }
    });
  });
}

async function storeEncoder(lake: Lake, model: PpmiModel): Promise<void> {
  const id = new PpmiTextEncoder(model).id;
  await lake.run(`DELETE FROM feature_encoders WHERE kind = 'ppmi-svd'`);
  await append(lake, 'feature_encoders', (a) => {
    a.appendVarchar(id);
    a.appendVarchar('ppmi-svd');
    a.appendTimestamp(new DuckDBTimestampValue(micros(Date.now())));
    a.appendVarchar(JSON.stringify({ ...model.config, counts: model.counts }));
    a.appendList(model.vocab, new DuckDBListType(VARCHAR));
    a.appendList([], floatList);
    a.endRow();
  });
  // As for the feature values: one text cast instead of a list value built number by number.
  await lake.run(
    `UPDATE feature_encoders SET vectors = ${sqlString(floatsText(model.vectors))}::FLOAT[] WHERE encoder_id = ${sqlString(id)}`,
  );
}

/**
 * Text of numbers rounded to float32 that DuckDB's cast to FLOAT[] reads back bit for bit, as the appender
 * stored them. `String` of a float32 value is a decimal that parses back to it, but `String(-0)` is "0": the
 * SVD's sign flip turns a word's all-zero vector (a word with no positive PMI) into -0s, and an encoder's id
 * hashes the bytes of its vectors, so the stored copy loaded with another id. -0 is spelt out; NaN, Infinity
 * and -Infinity are read by DuckDB as those values.
 */
function floatsText(values: ArrayLike<number>): string {
  const parts: string[] = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.fround(values[i]);
    parts[i] = Object.is(v, -0) ? '-0' : String(v);
  }
  return `[${parts.join(',')}]`;
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

async function append(lake: Lake, table: string, fill: (a: DuckDBAppender) => void): Promise<void> {
  const appender = await lake.appender(table);
  try {
    fill(appender);
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Reads the stored groups, rows by post_key; throws when they were made by another extractor version. */
export async function readFeatureMatrix(
  lake: Lake,
  version: number,
  postKeys?: readonly string[],
): Promise<FeatureMatrix> {
  await ensureFeatureSchema(lake);
  const stale = await lake.count(`SELECT count(*) FROM feature_posts WHERE extractor_version <> ${version}`);
  if (stale > 0)
    throw new ModelStateError(
      `${stale} posts have features from another extractor version (this one is ${version}): run \`tkllm features\``,
    );
  const nameRows = await lake.all(
    `SELECT group_name, names FROM feature_names WHERE extractor_version = ${version}`,
  );
  const names = new Map(nameRows.map((r) => [str(r.group_name), (r.names as string[]) ?? []]));
  let keys: string[];
  if (postKeys) {
    keys = [...postKeys];
  } else {
    keys = (await lake.all('SELECT post_key FROM feature_posts ORDER BY post_key')).map((r) =>
      str(r.post_key),
    );
  }
  const index = new Map(keys.map((k, i) => [k, i]));
  const groups = {} as Record<FeatureGroupName, FeatureGroupMatrix>;
  const mats = {} as Record<FeatureGroupName, { names: string[]; values: Float32Array; present: Uint8Array }>;
  for (const g of featureGroupNames) {
    const n = names.get(g) ?? [];
    mats[g] = {
      names: n,
      values: new Float32Array(keys.length * n.length),
      present: new Uint8Array(keys.length),
    };
  }
  const filter = postKeys ? `WHERE post_key IN (SELECT unnest(${listLiteral(keys)}))` : '';
  const rows = await lake.all(`SELECT post_key, group_name, present, vals FROM feature_values ${filter}`);
  const seen = new Set<string>();
  for (const r of rows) {
    const i = index.get(str(r.post_key));
    const m = mats[str(r.group_name) as FeatureGroupName];
    if (i === undefined || !m) continue;
    seen.add(str(r.post_key));
    if (!r.present) continue;
    m.present[i] = 1;
    const vals = r.vals as number[];
    m.values.set(vals.slice(0, m.names.length), i * m.names.length);
  }
  const missing = keys.filter((k) => !seen.has(k));
  if (missing.length)
    throw new ModelStateError(
      `no stored features for ${missing.length} post(s), e.g. "${missing[0]}": run \`tkllm features\``,
    );
  for (const g of featureGroupNames) groups[g] = mats[g];
  return { keys, groups };
}

function listLiteral(keys: readonly string[]): string {
  return `[${keys.map((k) => `'${k.replaceAll("'", "''")}'`).join(',')}]::VARCHAR[]`;
}
