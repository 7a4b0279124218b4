import type { Lake } from '../lake/index.js';
import { trendWindowMs } from './history.js';
import { str } from './json.js';

// The trend group of every lake post in one set-wise query: DuckDB window frames over each tag's (and each
// sound's) uses ordered by time. Frames end one millisecond before the post's own time (times are whole
// milliseconds), so a post never counts itself, posts at the same moment, or anything later. Drafts use the
// in-memory History with the same definitions; a test checks that both give the same values.

const W = trendWindowMs;

/** The per-(post, tag or sound) counts; region-scoped where the post has a region. */
const trendSql = `
  WITH first_seen AS (SELECT post_key, min(observed_at) AS first_seen FROM snapshots GROUP BY post_key),
  pt AS (
    SELECT p.post_key, coalesce(p.author_key, '') AS author, p.region,
      epoch_ms(coalesce(p.posted_at, least(f.first_seen, p.observed_at)))::DOUBLE AS t,
      coalesce(p.music_id, p.music_title) AS sound
    FROM posts p LEFT JOIN first_seen f USING (post_key)),
  uses AS (
    SELECT DISTINCT post_key, 'tag' AS kind, tag AS item FROM hashtags
    UNION ALL SELECT post_key, 'sound', sound FROM pt WHERE sound IS NOT NULL),
  u AS (SELECT uses.*, pt.t, pt.region, pt.author FROM uses JOIN pt USING (post_key)),
  counted AS (
    SELECT post_key, kind, region,
      count(*) OVER g_recent AS g_recent, count(*) OVER g_prior AS g_prior,
      count(*) OVER g_seen AS g_seen, count(DISTINCT author) OVER g_recent AS g_reach,
      count(*) OVER r_recent AS r_recent, count(*) OVER r_prior AS r_prior,
      count(*) OVER r_seen AS r_seen, count(DISTINCT author) OVER r_recent AS r_reach
    FROM u
    WINDOW
      g_recent AS (PARTITION BY kind, item ORDER BY t RANGE BETWEEN ${W} PRECEDING AND 1 PRECEDING),
      g_prior AS (PARTITION BY kind, item ORDER BY t RANGE BETWEEN ${2 * W} PRECEDING AND ${W + 1} PRECEDING),
      g_seen AS (PARTITION BY kind, item ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
      r_recent AS (PARTITION BY kind, item, region ORDER BY t RANGE BETWEEN ${W} PRECEDING AND 1 PRECEDING),
      r_prior AS (PARTITION BY kind, item, region ORDER BY t RANGE BETWEEN ${2 * W} PRECEDING AND ${W + 1} PRECEDING),
      r_seen AS (PARTITION BY kind, item, region ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)),
  scoped AS (
    SELECT post_key, kind, region IS NOT NULL AS regional,
      CASE WHEN region IS NULL THEN g_recent ELSE r_recent END AS recent,
      CASE WHEN region IS NULL THEN g_prior ELSE r_prior END AS prior,
      CASE WHEN region IS NULL THEN g_seen ELSE r_seen END AS seen,
      CASE WHEN region IS NULL THEN g_reach ELSE r_reach END AS reach
    FROM counted),
  scored AS (
    SELECT *, ln((recent + 1) / (prior + 1)) AS growth,
      ln(1 + recent) + greatest(0, ln((recent + 1) / (prior + 1))) AS strength
    FROM scoped)
  SELECT post_key,
    count(*) FILTER (WHERE kind = 'tag')::DOUBLE AS tag_count,
    coalesce(avg(CASE WHEN seen > 0 THEN 1 ELSE 0 END) FILTER (WHERE kind = 'tag'), 0) AS seen_share,
    ln(1 + coalesce(max(recent) FILTER (WHERE kind = 'tag'), 0)) AS recent_max,
    coalesce(max(growth) FILTER (WHERE kind = 'tag'), 0) AS growth_max,
    coalesce(avg(growth) FILTER (WHERE kind = 'tag'), 0) AS growth_mean,
    ln(1 + coalesce(max(reach) FILTER (WHERE kind = 'tag'), 0)) AS reach_max,
    coalesce(max(strength) FILTER (WHERE kind = 'tag'), 0) AS strength_max,
    coalesce(avg(strength) FILTER (WHERE kind = 'tag'), 0) AS strength_mean,
    count(*) FILTER (WHERE kind = 'sound')::DOUBLE AS has_sound,
    ln(1 + coalesce(max(recent) FILTER (WHERE kind = 'sound'), 0)) AS sound_recent,
    coalesce(max(growth) FILTER (WHERE kind = 'sound'), 0) AS sound_growth,
    ln(1 + coalesce(max(reach) FILTER (WHERE kind = 'sound'), 0)) AS sound_reach,
    coalesce(max(strength) FILTER (WHERE kind = 'sound'), 0) AS sound_strength,
    max(regional::INTEGER)::DOUBLE AS regional
  FROM scored GROUP BY post_key`;

const columns = [
  'tag_count',
  'seen_share',
  'recent_max',
  'growth_max',
  'growth_mean',
  'reach_max',
  'strength_max',
  'strength_mean',
  'has_sound',
  'sound_recent',
  'sound_growth',
  'sound_reach',
  'sound_strength',
  'regional',
] as const;

/**
 * The trend group (trendFeatureNames order) of every post that has a tag or a sound, computed in DuckDB from
 * data before each post's time. Posts missing from the map have no trend group.
 */
export async function trendBySql(lake: Lake): Promise<Map<string, number[]>> {
  const rows = await lake.all(trendSql);
  return new Map(rows.map((r) => [str(r.post_key), columns.map((c) => Number(r[c]))]));
}
