// Read-only chart queries for the studio, beside lakeStats: the plays histogram and hashtag trends.
import { ValidationError } from '../core/index.js';
import type { Lake } from './lake.js';

/** Posts per power-of-ten band of plays (1-9, 10-99, ...), for the engagement distribution chart. */
export async function playsHistogram(lake: Lake): Promise<{ from: number; to: number; posts: number }[]> {
  const rows =
    await lake.all(`SELECT CASE WHEN plays < 1 THEN 0 ELSE floor(log10(plays))::INTEGER + 1 END AS band,
      count(*)::INTEGER AS posts
    FROM posts WHERE plays IS NOT NULL GROUP BY 1 ORDER BY 1`);
  return rows.map((r) => {
    const band = Number(r.band);
    return { from: band === 0 ? 0 : 10 ** (band - 1), to: 10 ** band, posts: Number(r.posts) };
  });
}

/** Interval names DuckDB's date_trunc accepts that the API offers. */
export type TrendBucket = 'day' | 'week' | 'month';

/**
 * Posts per time bucket for the `tags` most used hashtags: posts posted in the bucket or, for exports without
 * posting times (trending lists such as the bundled sample), posts seen trending in the bucket.
 */
export async function hashtagTrends(
  lake: Lake,
  tags: number,
  bucket: TrendBucket,
): Promise<{ tag: string; posts: number; series: { start: string; posts: number }[] }[]> {
  const n = Math.max(1, Math.floor(tags));
  if (!['day', 'week', 'month'].includes(bucket))
    throw new ValidationError(`\`bucket\` must be day, week or month, got "${String(bucket)}"`);
  const rows = await lake.all(`WITH post_time AS (
      SELECT post_key, posted_at AS t FROM posts WHERE posted_at IS NOT NULL
      UNION ALL
      SELECT s.post_key, s.observed_at FROM snapshots s JOIN posts p USING (post_key) WHERE p.posted_at IS NULL),
    top AS (SELECT tag, count(DISTINCT post_key)::INTEGER AS posts FROM hashtags
      GROUP BY tag ORDER BY posts DESC, tag LIMIT ${n})
    SELECT top.tag, top.posts AS total, strftime(date_trunc('${bucket}', pt.t), '%Y-%m-%d') AS start,
      count(DISTINCT h.post_key)::INTEGER AS posts
    FROM top JOIN hashtags h USING (tag) JOIN post_time pt USING (post_key)
    WHERE pt.t IS NOT NULL
    GROUP BY top.tag, top.posts, start ORDER BY top.posts DESC, top.tag, start`);
  const byTag = new Map<string, { tag: string; posts: number; series: { start: string; posts: number }[] }>();
  for (const r of rows) {
    const tag = r.tag as string;
    let entry = byTag.get(tag);
    if (!entry) byTag.set(tag, (entry = { tag, posts: Number(r.total), series: [] }));
    entry.series.push({ start: r.start as string, posts: Number(r.posts) });
  }
  return [...byTag.values()];
}
