import type { Lake } from './lake.js';
import { jsonText } from './sql.js';

/** Percentiles of a distribution (p10 .. p99) with its mean and how many values it has. */
export interface Distribution {
  count: number;
  mean: number | null;
  p10: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p99: number | null;
}

/** A summary of the lake for people (`tkllm stats`) and programs (`--json`). */
export interface LakeStats {
  posts: number;
  authors: number;
  snapshots: number;
  postsByPlatform: Record<string, number>;
  /** First and last posting time (ISO, UTC) over posts that have one. */
  posted: { first: string | null; last: string | null };
  /** First and last observation time over all snapshots. */
  observed: { first: string | null; last: string | null };
  /** Plays of each post at its newest observation. */
  plays: Distribution;
  /** Shares per play of each post with known plays > 0 and shares. */
  shareRate: Distribution;
  topHashtags: { tag: string; posts: number }[];
  rejects: number;
  rejectsByReason: Record<string, number>;
}

const distribution = (expr: string, table: string, where: string) => `
  SELECT count(${expr})::INTEGER AS count, avg(${expr})::DOUBLE AS mean,
    quantile_cont(${expr}, [0.1, 0.25, 0.5, 0.75, 0.9, 0.99])::DOUBLE[] AS q
  FROM ${table} WHERE ${where}`;

/** Computes the lake summary; `topHashtags` posts are counted once per post. */
export async function lakeStats(lake: Lake, options: { topHashtags?: number } = {}): Promise<LakeStats> {
  const [totals] = await lake.all(`SELECT
    (SELECT count(*)::INTEGER FROM posts) AS posts, (SELECT count(*)::INTEGER FROM authors) AS authors,
    (SELECT count(*)::INTEGER FROM snapshots) AS snapshots, (SELECT count(*)::INTEGER FROM rejects) AS rejects,
    (SELECT strftime(min(posted_at), '%Y-%m-%dT%H:%M:%SZ') FROM posts) AS posted_first,
    (SELECT strftime(max(posted_at), '%Y-%m-%dT%H:%M:%SZ') FROM posts) AS posted_last,
    (SELECT strftime(min(observed_at), '%Y-%m-%dT%H:%M:%SZ') FROM snapshots) AS observed_first,
    (SELECT strftime(max(observed_at), '%Y-%m-%dT%H:%M:%SZ') FROM snapshots) AS observed_last`);
  const platforms = await lake.all(
    `SELECT platform, count(*)::INTEGER AS n FROM posts GROUP BY 1 ORDER BY 1`,
  );
  const [plays] = await lake.all(distribution('plays', 'posts', 'plays IS NOT NULL'));
  const [shareRate] = await lake.all(
    distribution('shares / plays', 'posts', 'plays > 0 AND shares IS NOT NULL'),
  );
  const tags = await lake.all(`SELECT tag, count(*)::INTEGER AS posts FROM hashtags
    GROUP BY tag ORDER BY posts DESC, tag LIMIT ${Math.max(0, Math.floor(options.topHashtags ?? 10))}`);
  const reasons = await lake.all(
    `SELECT reason, count(*)::INTEGER AS n FROM rejects GROUP BY 1 ORDER BY 2 DESC, 1`,
  );
  const t = totals;
  const text = (v: unknown) => (v === null || v === undefined ? null : jsonText(v));
  return {
    posts: Number(t.posts),
    authors: Number(t.authors),
    snapshots: Number(t.snapshots),
    postsByPlatform: Object.fromEntries(platforms.map((r) => [jsonText(r.platform), Number(r.n)])),
    posted: { first: text(t.posted_first), last: text(t.posted_last) },
    observed: { first: text(t.observed_first), last: text(t.observed_last) },
    plays: toDistribution(plays),
    shareRate: toDistribution(shareRate),
    topHashtags: tags.map((r) => ({ tag: jsonText(r.tag), posts: Number(r.posts) })),
    rejects: Number(t.rejects),
    rejectsByReason: Object.fromEntries(reasons.map((r) => [jsonText(r.reason), Number(r.n)])),
  };
}

function toDistribution(row: Record<string, unknown>): Distribution {
  const q = (row.q as (number | null)[] | null) ?? [];
  const at = (i: number) => (typeof q[i] === 'number' ? q[i] : null);
  return {
    count: Number(row.count),
    mean: typeof row.mean === 'number' ? row.mean : null,
    p10: at(0),
    p25: at(1),
    p50: at(2),
    p75: at(3),
    p90: at(4),
    p99: at(5),
  };
}
