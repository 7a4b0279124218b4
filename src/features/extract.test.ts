import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { extractFeatures, explainPostFeatures, loadFeatureMatrix, openFeatureContext } from './index.js';
import { ingestPosts, type FixturePost } from './testing.js';
import type { FeatureMatrix } from './types.js';

const col = (m: FeatureMatrix, group: keyof FeatureMatrix['groups'], name: string, row: number) => {
  const g = m.groups[group];
  const j = g.names.indexOf(name);
  if (j < 0) throw new Error(`no column ${name} in ${group}`);
  return g.values[row * g.names.length + j];
};

const posts: FixturePost[] = [
  {
    id: '1',
    user: 'anna',
    text: 'Morning routine. So calm.',
    at: '2025-03-01T08:00:00Z',
    tags: ['routine'],
    plays: 1000,
  },
  {
    id: '2',
    user: 'anna',
    text: 'Why do cats love boxes? You will see!',
    at: '2025-03-03T08:00:00Z',
    tags: ['cats'],
    plays: 3000,
  },
  {
    id: '3',
    user: 'ben',
    text: '5 things Tom hates about mornings',
    at: '2025-03-04T09:00:00Z',
    tags: ['cats', 'routine'],
    plays: 500,
  },
  {
    id: '4',
    user: 'anna',
    text: '7 things Lisa hates about mornings',
    at: '2025-03-06T18:00:00Z',
    tags: ['cats'],
    plays: 9000,
  },
];

describe('extractFeatures', () => {
  let t: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    t = await tempLake();
    await ingestPosts(t.lake, t.write, 'posts.csv', posts, '2025-03-10T00:00:00Z');
  });
  afterEach(() => t.cleanup());

  it('stores every group per post and reads them back by post_key', async () => {
    const report = await extractFeatures(t.lake);
    expect(report).toMatchObject({ posts: 4, computed: 4, unchanged: 0 });
    const m = await loadFeatureMatrix(t.lake);
    expect(m.keys).toEqual(['tiktok:1', 'tiktok:2', 'tiktok:3', 'tiktok:4']);
    expect(col(m, 'text', 'words', 1)).toBe(8);
    expect(col(m, 'text', 'questions', 1)).toBe(1);
    expect(col(m, 'hook', 'hookIsQuestion', 1)).toBe(1);
    expect(col(m, 'hook', 'hookHasNumber', 2)).toBe(1);
    // anna's second post has one earlier post of hers; its engagement (observed on 10 March) is after the
    // post's time, so it does not count: no engagement history yet.
    expect(col(m, 'creator', 'creatorPostsBefore', 1)).toBeCloseTo(Math.log1p(1));
    expect(col(m, 'creator', 'daysSincePrevious', 1)).toBeCloseTo(Math.log1p(2));
    expect(col(m, 'creator', 'creatorEngagementKnown', 1)).toBe(0);
    // Post 4's template matches post 3's once names and numbers are masked.
    expect(col(m, 'replicability', 'templateUsesBefore', 3)).toBeCloseTo(Math.log1p(1));
    expect(col(m, 'replicability', 'templateUsesBefore', 2)).toBe(0);
    // #cats was used twice in the 7 days before post 4 (posts 2 and 3), by two creators.
    expect(col(m, 'trend', 'tagRecentMax', 3)).toBeCloseTo(Math.log1p(2));
    expect(col(m, 'trend', 'tagReachMax', 3)).toBeCloseTo(Math.log1p(2));
    // Snapshots were taken days after posting: outside the early window, so behaviour is absent, not zero.
    expect([...m.groups.behaviour.present]).toEqual([0, 0, 0, 0]);
    expect([...m.groups.text.present]).toEqual([1, 1, 1, 1]);
  });

  it('recomputes only changed posts and the posts after them', async () => {
    await extractFeatures(t.lake);
    expect(await extractFeatures(t.lake)).toMatchObject({ computed: 0, unchanged: 4 });
    // A new post on 5 March changes the history of post 4 (6 March) but not of posts 1-3.
    await ingestPosts(
      t.lake,
      t.write,
      'more.csv',
      [{ id: '5', user: 'ben', text: 'Cats again #cats', at: '2025-03-05T12:00:00Z', tags: ['cats'] }],
      '2025-03-10T00:00:00Z',
    );
    expect(await extractFeatures(t.lake)).toMatchObject({ posts: 5, computed: 2, unchanged: 3 });
    expect(await extractFeatures(t.lake, { force: true })).toMatchObject({ computed: 5 });
  });

  it("featurises a draft at a post's time exactly as the stored post", async () => {
    await extractFeatures(t.lake);
    const stored = await loadFeatureMatrix(t.lake, { postKeys: ['tiktok:4'] });
    const context = await openFeatureContext(t.lake);
    const p = posts[3];
    const draft = await context.featurise([
      { id: 'd', text: p.text, creator: 'anna', hashtags: p.tags ?? [], postedAt: new Date(p.at) },
    ]);
    for (const g of ['text', 'hook', 'emotion', 'trend', 'replicability', 'creator'] as const) {
      expect(draft.groups[g].names).toEqual(stored.groups[g].names);
      expect([...draft.groups[g].values]).toEqual([...stored.groups[g].values]);
    }
    expect(draft.groups.behaviour.present[0]).toBe(0);
    expect(draft.keys).toEqual(['d']);
  });

  it('explains one post by its id, group by group', async () => {
    await extractFeatures(t.lake);
    const e = await explainPostFeatures(t.lake, '2');
    expect(e.postKey).toBe('tiktok:2');
    expect(e.hook).toBe('Why do cats love boxes?');
    expect(e.groups.find((g) => g.name === 'hook')?.values.hookIsQuestion).toBe(1);
    await expect(explainPostFeatures(t.lake, 'nope')).rejects.toThrow(/no post "nope"/);
  });

  it('leaves the stored features as they were when the write fails midway', async () => {
    await extractFeatures(t.lake);
    const before = await t.lake.all('SELECT post_key, group_name, vals FROM feature_values ORDER BY ALL');
    await ingestPosts(
      t.lake,
      t.write,
      'more.csv',
      [{ id: '5', user: 'ben', text: 'Cats again', at: '2025-03-05T12:00:00Z', tags: ['cats'] }],
      '2025-03-10T00:00:00Z',
    );
    // Without feature_names the last statement of the write fails, after the values were replaced.
    await t.lake.run('ALTER TABLE feature_names RENAME TO feature_names_away');
    await expect(extractFeatures(t.lake)).rejects.toThrow(/feature_names/);
    await t.lake.run('ALTER TABLE feature_names_away RENAME TO feature_names');
    expect(await t.lake.all('SELECT post_key, group_name, vals FROM feature_values ORDER BY ALL')).toEqual(
      before,
    );
    expect(await extractFeatures(t.lake)).toMatchObject({ computed: 2 });
  });

  it('refuses to load features that were never extracted', async () => {
    await expect(loadFeatureMatrix(t.lake, { postKeys: ['tiktok:1'] })).rejects.toThrow(/tkllm features/);
  });
});
