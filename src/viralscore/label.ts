/**
 * The propagation label: how far a post travelled compared with the posts it should be compared with.
 *
 * 1. Raw reach r, a weighted log-geometric mean of the engagement counts the lake has for the post:
 *    r = ln(1+plays) + ln(1+shares+saves) + 0.5 ln(1+likes) + 0.5 ln(1+comments) + 2 watch_through.
 *    Plays are realised reach and shares/saves carry a post to new audiences, so they weigh 1; likes and
 *    comments are interaction that feeds the ranking but spreads less, so they weigh 0.5. Logs make the
 *    terms multiplicative (a post with 10x plays and 10x shares is "twice as far" as one with 10x plays).
 *    A missing count is dropped, not zero-filled; every post of one export lacks the same columns, and
 *    the percentiles below compare posts within the lake, so a dropped column drops out evenly.
 * 2. Week percentile: the mid-rank percentile of r among posts published in the same ISO week. Posts of
 *    one week were observed at about the same age, so this removes the age effect (older posts had longer
 *    to collect plays) and the platform's week-to-week volume swings. Weeks with fewer than 20 posts use
 *    the percentile over the whole lake instead (a rank among 3 posts is noise).
 * 3. Creator percentile: the mid-rank percentile of r among the creator's own posts, which removes the
 *    audience-size effect (a 10M-follower account's flop beats a new account's hit in raw plays). Only
 *    for creators with at least 3 posts in the lake; fewer give no usable comparison.
 * 4. label = the mean of the week and creator percentiles where both exist, else the week percentile.
 *    It lies in (0, 1); 0.5 is an ordinary post for its week and its creator.
 *
 * Posts without a posting time use their first snapshot time. Posts with no plays are not labelled.
 */
import type { Lake } from '../lake/index.js';

/** One labelled post, with the engagement-derived weak labels the subscore heads learn from. */
export interface LabelledPost {
  postKey: string;
  /** author_key, or null when the export had none. */
  creator: string | null;
  /** Posting time (or first observation) in epoch milliseconds. */
  postedAt: number;
  /** The propagation label in (0, 1). */
  label: number;
  /** Percentile of (shares + saves) / plays over the lake, or null without shares: the weak label of S. */
  sharePct: number | null;
  /** Percentile of the newest watch-through over the lake, or null: the weak label of H where known. */
  watchPct: number | null;
}

/** Week groups smaller than this fall back to the lake-wide percentile. */
export const MIN_WEEK_POSTS = 20;
/** Creators with fewer posts than this get no creator percentile. */
export const MIN_CREATOR_POSTS = 3;

// Mid-rank percentile of `value` within `part` (ties share their mean rank), in (0, 1).
const pct = (value: string, part: string) =>
  `((rank() OVER (PARTITION BY ${part} ORDER BY ${value}) + count(*) OVER (PARTITION BY ${part})
     - rank() OVER (PARTITION BY ${part} ORDER BY ${value} DESC) + 1) / 2.0 - 0.5)
   / count(*) OVER (PARTITION BY ${part})`;

const term = (expr: string, weight: number) => `coalesce(${weight} * ${expr}, 0)`;

/** The SQL that labels every post with plays (see the module comment for the definition). */
export const labelSql = `
WITH seen AS (
  SELECT post_key, min(observed_at) AS first_seen,
         arg_max(watch_through, observed_at) FILTER (WHERE watch_through IS NOT NULL) AS watch
  FROM snapshots GROUP BY post_key
), base AS (
  SELECT p.post_key, p.author_key, coalesce(p.posted_at, s.first_seen, p.observed_at) AS t_post,
    ln(1 + p.plays)
      + ${term('ln(1 + p.shares + coalesce(p.saves, 0))', 1)}
      + ${term('ln(1 + p.likes)', 0.5)}
      + ${term('ln(1 + p.comments)', 0.5)}
      + ${term('s.watch', 2)} AS r,
    CASE WHEN p.plays > 0 AND p.shares IS NOT NULL
      THEN (p.shares + coalesce(p.saves, 0)) / p.plays::DOUBLE END AS share_rate,
    s.watch
  FROM posts p LEFT JOIN seen s USING (post_key)
  WHERE p.plays IS NOT NULL AND p.plays >= 0
), grouped AS (
  SELECT *, date_trunc('week', t_post) AS week, coalesce(author_key, 'post ' || post_key) AS who, 1 AS everything
  FROM base
), ranked AS (
  SELECT post_key, author_key, t_post,
    count(*) OVER (PARTITION BY week) AS week_n,
    ${pct('r', 'week')} AS week_pct,
    ${pct('r', 'everything')} AS all_pct,
    count(*) OVER (PARTITION BY who) AS creator_n,
    ${pct('r', 'who')} AS creator_pct,
    CASE WHEN share_rate IS NOT NULL THEN share_rate END AS share_rate,
    watch
  FROM grouped
), shares AS (
  SELECT post_key, ${pct('share_rate', 'everything')} AS share_pct
  FROM (SELECT post_key, share_rate, 1 AS everything FROM ranked WHERE share_rate IS NOT NULL)
), watches AS (
  SELECT post_key, ${pct('watch', 'everything')} AS watch_pct
  FROM (SELECT post_key, watch, 1 AS everything FROM ranked WHERE watch IS NOT NULL)
)
SELECT r.post_key AS "postKey", r.author_key AS creator, epoch_ms(r.t_post)::DOUBLE AS "postedAt",
  CASE WHEN r.author_key IS NOT NULL AND r.creator_n >= ${MIN_CREATOR_POSTS}
    THEN (CASE WHEN r.week_n >= ${MIN_WEEK_POSTS} THEN r.week_pct ELSE r.all_pct END + r.creator_pct) / 2
    ELSE CASE WHEN r.week_n >= ${MIN_WEEK_POSTS} THEN r.week_pct ELSE r.all_pct END
  END AS label,
  s.share_pct AS "sharePct", w.watch_pct AS "watchPct"
FROM ranked r LEFT JOIN shares s USING (post_key) LEFT JOIN watches w USING (post_key)
ORDER BY r.t_post, r.post_key`;

/** Labels every post of the lake that has a play count, oldest first. */
export async function labelPosts(lake: Lake): Promise<LabelledPost[]> {
  const rows = await lake.all(labelSql);
  return rows.map((row) => ({
    postKey: row.postKey as string,
    creator: row.creator as string | null,
    postedAt: Number(row.postedAt),
    label: Number(row.label),
    sharePct: row.sharePct === null ? null : Number(row.sharePct),
    watchPct: row.watchPct === null ? null : Number(row.watchPct),
  }));
}
