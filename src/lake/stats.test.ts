import { afterEach, beforeEach, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from './ingest.js';
import { hashtagTrends, playsHistogram } from './charts.js';
import { lakeStats } from './stats.js';

let t: Awaited<ReturnType<typeof tempLake>>;
beforeEach(async () => {
  t = await tempLake();
});
afterEach(() => t.cleanup());

// Five good posts by three authors, one a day from 2024-06-01 00:00 UTC (1717200000), and three bad rows.
const fixture =
  'id,username,video_description,create_time,view_count,share_count,hashtag_names\n' +
  '1,alice,"#Dance now",1717200000,100,1,"dance,fun"\n' +
  '2,alice,"#dance #cat",1717286400,200,4,\n' +
  '3,bob,x,1717372800,300,9,fun\n' +
  '4,bob,"y #fun",1717459200,400,20,\n' +
  '5,carol,z,1717545600,500,50,cat\n' +
  '6,dave,bad,1717545600,lots,1,\n' +
  '7,dave,neg,1717545600,-5,1,\n' +
  ',erin,no id,1717545600,10,1,\n';

/**
 * quantile_cont of sorted values v at q: linear interpolation at position (n - 1) * q. With n = 5 the
 * positions are 0.4, 1, 2, 3, 3.6 and 3.96 for p10, p25, p50, p75, p90 and p99.
 *  plays 100 200 300 400 500: p10 = 100 + 0.4 * 100 = 140, p90 = 400 + 0.6 * 100 = 460,
 *    p99 = 400 + 0.96 * 100 = 496, mean 1500 / 5 = 300.
 *  share rate 1/100 4/200 9/300 20/400 50/500 = .01 .02 .03 .05 .1: p10 = .01 + .4 * .01 = .014,
 *    p90 = .05 + .6 * .05 = .08, p99 = .05 + .96 * .05 = .098, mean .21 / 5 = .042.
 */
it('reports every figure of a small fixture as computed by hand', async () => {
  await ingestFile(t.lake, t.write('fixture.csv', fixture), {
    observedAt: new Date('2025-06-01T00:00:00Z'),
  });
  const close = (value: number): unknown => expect.closeTo(value, 12) as unknown;
  expect(await lakeStats(t.lake)).toEqual({
    posts: 5,
    authors: 3,
    snapshots: 5,
    postsByPlatform: { tiktok: 5 },
    posted: { first: '2024-06-01T00:00:00Z', last: '2024-06-05T00:00:00Z' },
    observed: { first: '2025-06-01T00:00:00Z', last: '2025-06-01T00:00:00Z' },
    plays: { count: 5, mean: 300, p10: 140, p25: 200, p50: 300, p75: 400, p90: 460, p99: 496 },
    shareRate: {
      count: 5,
      mean: close(0.042),
      p10: close(0.014),
      p25: close(0.02),
      p50: close(0.03),
      p75: close(0.05),
      p90: close(0.08),
      p99: close(0.098),
    },
    // fun: posts 1 (list), 3 (list), 4 (text); cat: 2 (text), 5 (list); dance: 1 (list and text), 2 (text).
    // Ties are in tag order.
    topHashtags: [
      { tag: 'fun', posts: 3 },
      { tag: 'cat', posts: 2 },
      { tag: 'dance', posts: 2 },
    ],
    rejects: 3,
    rejectsByReason: { missing_id: 1, negative_count: 1, not_a_number: 1 },
  });
});

it('counts a post once under its newest observation and limits the hashtag list', async () => {
  await ingestFile(t.lake, t.write('fixture.csv', fixture), {
    observedAt: new Date('2025-06-01T00:00:00Z'),
  });
  // A later export of post 5 with ten times the plays: one more snapshot, the same five posts.
  await ingestFile(
    t.lake,
    t.write('later.csv', 'id,username,create_time,view_count,share_count\n5,carol,1717545600,5000,50\n'),
    { observedAt: new Date('2025-07-01T00:00:00Z') },
  );
  const stats = await lakeStats(t.lake, { topHashtags: 1 });
  expect(stats).toMatchObject({
    posts: 5,
    snapshots: 6,
    observed: { first: '2025-06-01T00:00:00Z', last: '2025-07-01T00:00:00Z' },
    // plays 100 200 300 400 5000: the median stays 300, the mean is 6000 / 5.
    plays: { count: 5, mean: 1200, p50: 300 },
    topHashtags: [{ tag: 'fun', posts: 3 }],
  });
  // Share rate of post 5 is now 50 / 5000 = .01: rates .01 .01 .02 .03 .05, median .02.
  expect(stats.shareRate.p50).toBeCloseTo(0.02, 12);
});

it('reports an empty lake with zero counts and null figures', async () => {
  const stats = await lakeStats(t.lake);
  expect(stats).toMatchObject({ posts: 0, authors: 0, snapshots: 0, rejects: 0, topHashtags: [] });
  expect(stats.posted).toEqual({ first: null, last: null });
  expect(stats.plays).toEqual({
    count: 0,
    mean: null,
    p10: null,
    p25: null,
    p50: null,
    p75: null,
    p90: null,
    p99: null,
  });
});

it('charts the plays bands and the top hashtags per day of the same fixture', async () => {
  await ingestFile(t.lake, t.write('fixture.csv', fixture), {
    observedAt: new Date('2025-06-01T00:00:00Z'),
  });
  // Plays 100-500 all fall in the band [100, 1000).
  expect(await playsHistogram(t.lake)).toEqual([{ from: 100, to: 1000, posts: 5 }]);
  // fun: posts 1, 3, 4; cat and dance: two posts each, cat first by name.
  expect(await hashtagTrends(t.lake, 2, 'day')).toEqual([
    {
      tag: 'fun',
      posts: 3,
      series: [
        { start: '2024-06-01', posts: 1 },
        { start: '2024-06-03', posts: 1 },
        { start: '2024-06-04', posts: 1 },
      ],
    },
    {
      tag: 'cat',
      posts: 2,
      series: [
        { start: '2024-06-02', posts: 1 },
        { start: '2024-06-05', posts: 1 },
      ],
    },
  ]);
  await expect(hashtagTrends(t.lake, 2, 'year' as 'day')).rejects.toThrow(
    /`bucket` must be day, week or month/,
  );
});
