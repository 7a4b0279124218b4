import { describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { extractFeatures, fitPpmi, loadFeatureMatrix, openFeatureContext, PpmiTextEncoder } from './index.js';
import { ingestPosts, type FixturePost } from './testing.js';
import { featureGroupNames, type FeatureMatrix } from './types.js';

// Two lakes hold the same past; the second also holds the future: later posts that reuse the past posts'
// tags, sound, template and creator, and later snapshots in which the past posts went viral. Every feature of
// the past posts must come out the same in both lakes, or a feature is reading the future.

const past: FixturePost[] = [
  {
    id: '1',
    user: 'anna',
    text: 'Why do cats sit in boxes?',
    at: '2025-03-01T08:00:00Z',
    tags: ['cats'],
    music: 's1',
  },
  {
    id: '2',
    user: 'ben',
    text: '3 things Tom hates',
    at: '2025-03-02T09:00:00Z',
    tags: ['cats', 'fun'],
    music: 's1',
  },
  {
    id: '3',
    user: 'anna',
    text: '5 things Lisa hates',
    at: '2025-03-04T10:00:00Z',
    tags: ['cats'],
    music: 's1',
  },
  { id: '4', user: 'anna', text: 'Wait for it!', at: '2025-03-06T11:00:00Z', tags: ['fun'], music: 's2' },
];
const future: FixturePost[] = [
  {
    id: '5',
    user: 'anna',
    text: '9 things Sam hates',
    at: '2025-03-07T08:00:00Z',
    tags: ['cats', 'fun'],
    music: 's1',
  },
  {
    id: '6',
    user: 'cleo',
    text: '2 things Max hates',
    at: '2025-03-08T08:00:00Z',
    tags: ['cats'],
    music: 's2',
  },
  { id: '7', user: 'anna', text: 'Wait for it!', at: '2025-03-09T08:00:00Z', tags: ['fun'], music: 's2' },
];
const viral = (posts: FixturePost[]) =>
  posts.map((p) => ({ ...p, plays: 10_000_000, likes: 2_000_000, shares: 500_000 }));

async function buildLake(withFuture: boolean) {
  const t = await tempLake();
  // The past as it was seen: posts 1-2 observed on 3 March, posts 3-4 on 6 March (after post 4's time).
  await ingestPosts(t.lake, t.write, 'a.csv', past.slice(0, 2), '2025-03-03T00:00:00Z');
  await ingestPosts(t.lake, t.write, 'b.csv', past.slice(2), '2025-03-06T12:00:00Z');
  if (withFuture) {
    await ingestPosts(t.lake, t.write, 'c.csv', future, '2025-03-10T00:00:00Z');
    await ingestPosts(t.lake, t.write, 'd.csv', viral(past), '2025-03-20T00:00:00Z');
    await t.lake.run(`UPDATE authors SET followers = 5000000, observed_at = TIMESTAMP '2025-03-20 00:00:00'`);
  }
  return t;
}

const rows = (m: FeatureMatrix, keys: string[]) =>
  Object.fromEntries(
    featureGroupNames.map((g) => {
      const w = m.groups[g].names.length;
      return [
        g,
        keys.map((k) => {
          const i = m.keys.indexOf(k);
          return {
            present: m.groups[g].present[i],
            values: [...m.groups[g].values.slice(i * w, (i + 1) * w)],
          };
        }),
      ];
    }),
  );

describe('no feature reads the future', () => {
  it('gives past posts the same features whether or not the lake holds later posts and snapshots', async () => {
    // The same encoder for both lakes: the lake's own encoder is fitted on its whole corpus (text only, no
    // engagement), so it is held fixed here to test the history-dependent groups.
    const encoder = new PpmiTextEncoder(
      fitPpmi(
        [...past, ...future].map((p) => p.text),
        { dimensions: 4, minCount: 1 },
      )!,
    );
    const without = await buildLake(false);
    const withFuture = await buildLake(true);
    try {
      await extractFeatures(without.lake, { encoder });
      await extractFeatures(withFuture.lake, { encoder });
      const keys = past.map((p) => `tiktok:${p.id}`);
      const a = rows(await loadFeatureMatrix(without.lake, { postKeys: keys }), keys);
      const b = rows(await loadFeatureMatrix(withFuture.lake, { postKeys: keys }), keys);
      expect(b).toEqual(a);
      // The future would have shown: the lake with the future sees template and tag reuse after post 3.
      const all = await loadFeatureMatrix(withFuture.lake, { postKeys: ['tiktok:5'] });
      expect(all.groups.replicability.values[0]).toBeGreaterThan(0);
      // The history did reach post 4: anna's earlier posts and their engagement observed before 6 March 11:00.
      const c = await loadFeatureMatrix(without.lake, { postKeys: ['tiktok:4'] });
      const creator = c.groups.creator;
      expect(creator.values[creator.names.indexOf('creatorPostsBefore')]).toBeCloseTo(Math.log1p(2));
      expect(creator.values[creator.names.indexOf('creatorEngagementKnown')]).toBe(1);
      expect(creator.values[creator.names.indexOf('followersKnown')]).toBe(0);

      // Drafts placed at a past time see only what was there then, in either lake.
      const draft = {
        text: 'Why do cats hate boxes?',
        creator: 'anna',
        hashtags: ['cats'],
        sound: 's1',
        postedAt: new Date('2025-03-05T00:00:00Z'),
      };
      const da = await (await openFeatureContext(without.lake, { encoder })).featurise([draft]);
      const db = await (await openFeatureContext(withFuture.lake, { encoder })).featurise([draft]);
      expect(rows(db, ['0'])).toEqual(rows(da, ['0']));
    } finally {
      without.cleanup();
      withFuture.cleanup();
    }
  });
});
