import { NotFoundError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { scorePosts } from '../viralscore/index.js';
import type { ViralScorer } from '../viralscore/index.js';

/** A caption of the lake with its author, time and the estimator's V. */
export interface ScoredCaption {
  postKey: string;
  text: string;
  creator: string | null;
  time: number;
  v: number;
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Every distinct caption of the lake (the earliest post of each text) with the estimator's V, oldest first.
 * Needs the posts' stored features (`tkllm features extract`, or training the estimator, stores them).
 */
export async function readScoredCaptions(lake: Lake, scorer: ViralScorer): Promise<ScoredCaption[]> {
  const rows = await lake.all(`
    SELECT post_key, text, author_key, epoch_ms(coalesce(posted_at, observed_at))::DOUBLE AS time
    FROM posts
    WHERE text IS NOT NULL AND length(trim(text)) > 0
    QUALIFY row_number() OVER (PARTITION BY text ORDER BY coalesce(posted_at, observed_at), post_key) = 1
    ORDER BY time, post_key`);
  const v = new Map((await scorePosts(lake, scorer)).map((s) => [s.postKey, s.v]));
  const out: ScoredCaption[] = [];
  for (const r of rows) {
    const score = v.get(r.post_key as string);
    if (score === undefined) continue;
    out.push({
      postKey: r.post_key as string,
      text: r.text as string,
      creator: (r.author_key as string | null) ?? null,
      time: Number(r.time),
      v: score,
    });
  }
  if (out.length === 0)
    throw new NotFoundError(
      'no post of the lake has stored features to score: run `tkllm features extract` (or `tkllm viralscore train`) first',
    );
  return out;
}
