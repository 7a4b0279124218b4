import type { Shape } from './shapes.js';
import { sqlString } from './sql.js';

/** One SQL statement of the merge, named for progress; `temp` is a table it creates, dropped afterwards. */
export interface UpsertStep {
  name: string;
  sql: string;
  temp?: string;
}

/**
 * The statements that merge an accepted staging table into the lake, in order. Every one is idempotent:
 * re-running them with the same file changes nothing, and a newer observation only moves values forward.
 */
export function upsertSteps(stage: string, file: string, shape: Shape): UpsertStep[] {
  const src = sqlString(file);
  const platform = sqlString(shape.platform);
  const snap = 'tk_snap';
  const latest = 'tk_latest';
  return [
    {
      name: 'snapshots',
      temp: snap,
      // One observation per post and time: a repeated row (the trending list lists some videos twice a
      // day) keeps the one with the most plays, that is the later reading.
      sql: `CREATE TEMP TABLE ${snap} AS SELECT * FROM ${stage} WHERE rej_reason IS NULL
        QUALIFY row_number() OVER (PARTITION BY post_key, observed_at ORDER BY plays DESC NULLS LAST, _line DESC) = 1`,
    },
    {
      name: 'latest',
      temp: latest,
      sql: `CREATE TEMP TABLE ${latest} AS SELECT *,
          CASE WHEN author IS NOT NULL THEN ${platform} || ':' || author END AS author_key
        FROM ${snap} QUALIFY row_number() OVER (PARTITION BY post_key ORDER BY observed_at DESC, _line DESC) = 1`,
    },
    {
      name: 'authors',
      sql: `INSERT INTO authors
        SELECT author_key, ${platform}, author, followers, observed_at FROM ${latest} WHERE author_key IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY author_key ORDER BY observed_at DESC, followers DESC NULLS LAST) = 1
        ON CONFLICT (author_key) DO UPDATE SET
          followers = coalesce(excluded.followers, authors.followers), observed_at = excluded.observed_at
        WHERE excluded.observed_at >= authors.observed_at`,
    },
    {
      name: 'posts',
      // The newest observation wins; a value the newer export lacks keeps the one already known.
      sql: `INSERT INTO posts
        SELECT post_key, ${platform}, raw_id, author_key, title, text, transcript, posted_at, duration_seconds,
          region, music_id, music_title, plays, likes, comments, shares, saves, observed_at, attributes, ${src}
        FROM ${latest}
        ON CONFLICT (post_key) DO UPDATE SET
          ${[
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
          ]
            .map((c) => `${c} = coalesce(excluded.${c}, posts.${c})`)
            .join(', ')},
          observed_at = excluded.observed_at, source_file = excluded.source_file
        WHERE excluded.observed_at >= posts.observed_at`,
    },
    {
      name: 'engagement',
      sql: `INSERT INTO snapshots
        SELECT s.post_key, s.observed_at, s.plays, s.likes, s.comments, s.shares, s.saves, s.watch_through,
          s.avg_watch_seconds, date_diff('second', coalesce(s.posted_at, p.posted_at), s.observed_at) / 3600.0, ${src}
        FROM ${snap} s LEFT JOIN posts p USING (post_key)
        ON CONFLICT DO NOTHING`,
    },
    {
      name: 'hashtags',
      // Tags from the export's own list win over the same tag found in the text.
      sql: `INSERT INTO hashtags
        SELECT post_key, tag, min(origin) FROM (
          SELECT post_key, unnest(field_tags) AS tag, 'field' AS origin FROM ${latest}
          UNION ALL
          SELECT post_key, unnest(tk_text_tags(concat_ws(' ', text, transcript))), 'text' FROM ${latest})
        GROUP BY post_key, tag
        ON CONFLICT DO NOTHING`,
    },
    {
      name: 'media',
      sql: `INSERT INTO media
        SELECT post_key, kind, uri FROM (
          SELECT post_key, 'video' AS kind, video_url AS uri FROM ${latest}
          UNION ALL SELECT post_key, 'thumbnail', thumbnail_url FROM ${latest})
        WHERE uri IS NOT NULL
        ON CONFLICT (post_key, kind) DO UPDATE SET uri = excluded.uri`,
    },
  ];
}
