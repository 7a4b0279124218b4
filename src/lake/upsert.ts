import type { Shape } from './shapes.js';
import { sqlString } from './sql.js';

/** One step of the merge, named for progress: statements run in order; `temp` lists what it creates. */
export interface UpsertStep {
  name: string;
  sql: string;
  temp?: { name: string; kind: 'TABLE' | 'VIEW' };
}

/** What a cheap count over the staging table found, so the merge can skip deduplication it does not need. */
export interface StageKeys {
  /** Every accepted row has its own (post, observation time). */
  uniqueSnapshots: boolean;
  /** Every accepted row is a different post. */
  uniquePosts: boolean;
  /** Every accepted row has its own posting time, so snapshots need not look it up on the post. */
  postedAtKnown: boolean;
  /**
   * Lake tables that held no rows before this file: merging into them needs no update of existing keys and
   * no anti-join, since the staged rows are already one per key.
   */
  emptyTables: ReadonlySet<MergedTable>;
}

/** The lake tables a merge writes to, besides rejects. */
export type MergedTable = 'authors' | 'posts' | 'snapshots' | 'hashtags' | 'media';

/** `sql` unless `table` was empty before the file (then nothing: there is no existing key to meet). */
const unlessEmpty = (keys: StageKeys, table: MergedTable, sql: string) =>
  keys.emptyTables.has(table) ? '' : sql;

// tk_text_tags's pattern (macros.ts): '#' then letters, digits, marks or '_'.
const textTag = sqlString('#([\\p{L}\\p{N}\\p{M}_]+)');

const postColumns = [
  'author_key',
  'title',
  'text',
  'transcript',
  'posted_at',
  'duration_seconds',
  'region',
  'music_id',
  'music_title',
  'plays',
  'likes',
  'comments',
  'shares',
  'saves',
  'attributes',
];

/**
 * The statements that merge the accepted rows of a staging table into the lake, in order. Each is an
 * update of existing keys followed by an insert of new keys (an anti-join), set-wise; re-running them with
 * the same file changes nothing, and a newer observation only moves a post's values forward.
 */
export function upsertSteps(stage: string, file: string, shape: Shape, keys: StageKeys): UpsertStep[] {
  const src = sqlString(file);
  const platform = sqlString(shape.platform);
  const snap = 'tk_snap';
  const latest = 'tk_latest';
  const authors = 'tk_new_authors';
  const accepted = `SELECT * FROM ${stage} WHERE rej_reason IS NULL`;
  return [
    {
      name: 'snapshots',
      // One observation per post and time: a repeated row (the trending list lists some videos twice a
      // day) keeps the one with the most plays, that is the later reading.
      ...(keys.uniqueSnapshots
        ? { temp: { name: snap, kind: 'VIEW' }, sql: `CREATE TEMP VIEW ${snap} AS ${accepted}` }
        : {
            temp: { name: snap, kind: 'TABLE' },
            sql: `CREATE TEMP TABLE ${snap} AS ${accepted}
              QUALIFY row_number() OVER (PARTITION BY post_key, observed_at ORDER BY plays DESC NULLS LAST, _line DESC) = 1`,
          }),
    },
    {
      name: 'latest',
      temp: { name: latest, kind: keys.uniquePosts ? 'VIEW' : 'TABLE' },
      sql: `CREATE TEMP ${keys.uniquePosts ? 'VIEW' : 'TABLE'} ${latest} AS SELECT *,
          CASE WHEN author IS NOT NULL THEN ${platform} || ':' || author END AS author_key
        FROM ${snap}
        ${keys.uniquePosts ? '' : 'QUALIFY row_number() OVER (PARTITION BY post_key ORDER BY observed_at DESC, _line DESC) = 1'}`,
    },
    {
      name: 'authors',
      temp: { name: authors, kind: 'TABLE' },
      // The newest observation of each author, and the most followers seen then (followers are never
      // negative, so -1 puts a missing count last). A GROUP BY cost a quarter of the equivalent window.
      sql: `CREATE TEMP TABLE ${authors} AS
          SELECT author_key, any_value(author) AS author,
            arg_max(followers, (observed_at, coalesce(followers, -1))) AS followers, max(observed_at) AS observed_at
          FROM ${latest} WHERE author_key IS NOT NULL GROUP BY author_key;
        ${unlessEmpty(
          keys,
          'authors',
          `UPDATE authors SET followers = coalesce(n.followers, authors.followers), observed_at = n.observed_at
          FROM ${authors} n WHERE authors.author_key = n.author_key AND n.observed_at >= authors.observed_at;`,
        )}
        INSERT INTO authors SELECT author_key, ${platform}, author, followers, observed_at FROM ${authors} n
          ${unlessEmpty(keys, 'authors', 'WHERE NOT EXISTS (SELECT 1 FROM authors a WHERE a.author_key = n.author_key)')}`,
    },
    {
      name: 'posts',
      // The newest observation wins; a value the newer export lacks keeps the one already known.
      sql: `${unlessEmpty(
        keys,
        'posts',
        `UPDATE posts SET ${postColumns.map((c) => `${c} = coalesce(l.${c}, posts.${c})`).join(', ')},
          observed_at = l.observed_at, source_file = ${src}
          FROM ${latest} l WHERE posts.post_key = l.post_key AND l.observed_at >= posts.observed_at;`,
      )}
        INSERT INTO posts
          SELECT post_key, ${platform}, raw_id, author_key, title, text, transcript, posted_at, duration_seconds,
            region, music_id, music_title, plays, likes, comments, shares, saves, observed_at, attributes, ${src}
          FROM ${latest} l
          ${unlessEmpty(keys, 'posts', 'WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.post_key = l.post_key)')}`,
    },
    {
      name: 'engagement',
      // A row without its own posting time takes the post's (merged above, so possibly an older export's).
      sql: `INSERT INTO snapshots
        SELECT s.post_key, s.observed_at, s.plays, s.likes, s.comments, s.shares, s.saves, s.watch_through,
          s.avg_watch_seconds,
          date_diff('second', ${keys.postedAtKnown ? 's.posted_at' : 'coalesce(s.posted_at, p.posted_at)'}, s.observed_at) / 3600.0,
          ${src}
        FROM ${snap} s ${keys.postedAtKnown ? '' : 'LEFT JOIN posts p USING (post_key)'}
        ${unlessEmpty(
          keys,
          'snapshots',
          'WHERE NOT EXISTS (SELECT 1 FROM snapshots x WHERE x.post_key = s.post_key AND x.observed_at = s.observed_at)',
        )}`,
    },
    {
      name: 'hashtags',
      // Tags from the export's own list win over the same tag found in the text. `latest` has one row per
      // post, so deduplicating within the row is enough (field_tags is NULL where the export has no list): no GROUP BY over all (post, tag) pairs, which cost
      // more than the regular expression. Lower-casing the text before matching finds the same tags as
      // lower-casing each match (tk_text_tags), since the lower case of a letter is a letter.
      sql: `INSERT INTO hashtags SELECT * FROM (
          SELECT post_key, unnest(field_tags) AS tag, 'field' AS origin FROM ${latest}
          UNION ALL
          SELECT post_key, tag, 'text' FROM (
            SELECT post_key, field_tags,
              unnest(list_distinct(regexp_extract_all(lower(concat_ws(' ', text, transcript)), ${textTag}, 1))) AS tag
            FROM ${latest} WHERE contains(text, '#') OR contains(transcript, '#'))
          WHERE NOT coalesce(list_contains(field_tags, tag), false)) n
        ${unlessEmpty(keys, 'hashtags', 'WHERE NOT EXISTS (SELECT 1 FROM hashtags h WHERE h.post_key = n.post_key AND h.tag = n.tag)')}`,
    },
    {
      name: 'media',
      sql: `CREATE TEMP VIEW tk_media AS SELECT post_key, kind, uri FROM (
          SELECT post_key, 'video' AS kind, video_url AS uri FROM ${latest}
          UNION ALL SELECT post_key, 'thumbnail', thumbnail_url FROM ${latest}) WHERE uri IS NOT NULL;
        ${unlessEmpty(keys, 'media', 'UPDATE media SET uri = n.uri FROM tk_media n WHERE media.post_key = n.post_key AND media.kind = n.kind;')}
        INSERT INTO media SELECT * FROM tk_media n
          ${unlessEmpty(keys, 'media', 'WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.post_key = n.post_key AND m.kind = n.kind)')}`,
      temp: { name: 'tk_media', kind: 'VIEW' },
    },
  ];
}
