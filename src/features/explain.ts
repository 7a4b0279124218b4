import { str } from './json.js';
import { NotFoundError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { extractorVersion } from './groups.js';
import { readFeatureMatrix } from './store.js';
import { splitSentences } from './text.js';
import { featureGroupNames, type FeatureGroupName } from './types.js';

/** One post's stored features, readable by a person. */
export interface PostFeatureExplanation {
  postKey: string;
  /** The text that was analysed and its first sentence (the hook). */
  script: string;
  hook: string;
  /** The time history was cut at (posted_at, or the first observation), ISO. */
  refTime: string;
  extractorVersion: number;
  groups: { name: FeatureGroupName; present: boolean; values: Record<string, number> }[];
}

/**
 * The stored groups of one post, found by post key (`platform:id`) or by the platform's own id.
 *
 * @example
 * const e = await explainPostFeatures(lake, 'youtube:XpVt6Z1Gjjo');
 */
export async function explainPostFeatures(lake: Lake, postId: string): Promise<PostFeatureExplanation> {
  const quoted = `'${postId.replaceAll("'", "''")}'`;
  const rows = await lake.all(`
    SELECT p.post_key, coalesce(p.transcript, p.text, p.title, '') AS script, strftime(f.ref_time, '%Y-%m-%dT%H:%M:%SZ') AS ref_time
    FROM posts p LEFT JOIN feature_posts f USING (post_key)
    WHERE p.post_key = ${quoted} OR p.source_id = ${quoted} ORDER BY p.post_key LIMIT 1`);
  const row = rows[0];
  if (!row)
    throw new NotFoundError(
      `no post "${postId}" in the lake (give a post key such as youtube:ID, or the id)`,
    );
  if (row.ref_time === null)
    throw new NotFoundError(
      `post "${str(row.post_key)}" has no stored features: run \`tkllm features\` first`,
    );
  const postKey = str(row.post_key);
  const matrix = await readFeatureMatrix(lake, extractorVersion, [postKey]);
  const script = str(row.script);
  return {
    postKey,
    script,
    hook: splitSentences(script)[0] ?? '',
    refTime: str(row.ref_time),
    extractorVersion,
    groups: featureGroupNames.map((name) => {
      const g = matrix.groups[name];
      const values: Record<string, number> = {};
      if (g.present[0]) g.names.forEach((n, j) => (values[n] = g.values[j]));
      return { name, present: g.present[0] === 1, values };
    }),
  };
}
