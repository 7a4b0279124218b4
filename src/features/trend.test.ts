import { describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { subjectOf } from './extract.js';
import { loadHistory, trendFeatureNames } from './history.js';
import { ingestPosts, type FixturePost } from './testing.js';
import { trendBySql } from './trend-sql.js';

// Posts over five weeks with tags and sounds, two regions and none, and two posts at the same moment.
const day = (d: number, h = 10) => new Date(Date.UTC(2025, 2, 1 + d, h)).toISOString();
const posts: FixturePost[] = Array.from({ length: 40 }, (_, i) => ({
  id: String(i),
  user: `u${i % 5}`,
  text: `post ${i}`,
  at: day(i % 35, i === 39 ? 10 : 10 + (i % 7)),
  tags: [['dance', 'cats', 'food'][i % 3], ...(i % 4 === 0 ? ['challenge'] : [])],
  ...(i % 5 === 0 ? {} : { music: `s${i % 3}` }),
  ...(i % 6 === 0 ? {} : { region: i % 2 ? 'US' : 'DE' }),
}));

describe('trend group in SQL', () => {
  it('gives every post the same trend values as the in-memory history used for drafts', async () => {
    const t = await tempLake();
    try {
      await ingestPosts(t.lake, t.write, 'posts.csv', posts, '2025-05-01T00:00:00Z');
      const sql = await trendBySql(t.lake);
      const history = await loadHistory(t.lake);
      expect(sql.size).toBe(40);
      for (const p of history.posts) {
        const js = history.trend(subjectOf(p));
        expect(js.present).toBe(true);
        const s = sql.get(p.key) ?? [];
        trendFeatureNames.forEach((name, j) =>
          expect([p.key, name, s[j]]).toEqual([p.key, name, expect.closeTo(js.values[j], 9)]),
        );
      }
      // Some post saw a busy, rising tag: the comparison is not between zeros.
      expect(Math.max(...[...sql.values()].map((v) => v[6]))).toBeGreaterThan(1);
    } finally {
      t.cleanup();
    }
  });
});
