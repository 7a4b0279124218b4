import { expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from '../lake/index.js';
import { labelPosts } from './label.js';
import { calibration, ndcgAt, spearman } from './metrics.js';

it('labels posts by their percentile within the week and within the creator, as documented', async () => {
  const t = await tempLake();
  try {
    // One week, four posts: fewer than 20, so the week percentile is the lake-wide one.
    // r = ln(1+plays) + ln(1+shares): p1 4.62, p2 9.31, p3 13.83, p4 7.86 -> lake percentiles
    // (rank - 0.5)/4: p1 .125, p4 .375, p2 .625, p3 .875. Creator a has 3 posts: p1 1/6, p2 1/2, p3 5/6;
    // creator b has one, so p4 keeps its week percentile alone.
    const file = t.write(
      'posts.csv',
      'id,username,video_description,create_time,view_count,share_count\n' +
        '1,a,one,1748736000,100,0\n2,a,two,1748822400,1000,10\n3,a,three,1748908800,10000,100\n4,b,four,1748995200,50,50\n',
    );
    await ingestFile(t.lake, file, { observedAt: new Date('2025-06-10T00:00:00Z') });
    const labels = await labelPosts(t.lake);
    const byId = Object.fromEntries(labels.map((l) => [l.postKey.split(':')[1], l]));
    expect(byId['1'].label).toBeCloseTo((0.125 + 1 / 6) / 2, 6);
    expect(byId['2'].label).toBeCloseTo((0.625 + 0.5) / 2, 6);
    expect(byId['3'].label).toBeCloseTo((0.875 + 5 / 6) / 2, 6);
    expect(byId['4'].label).toBeCloseTo(0.375, 6);
    // Share rates 0, .01, .01, 1: the tie shares its mid-rank.
    expect(labels.map((l) => l.sharePct)).toEqual([0.125, 0.5, 0.5, 0.875]);
    expect(labels.map((l) => l.postKey.split(':')[1])).toEqual(['1', '2', '3', '4']);
    expect(byId['1'].watchPct).toBeNull();
  } finally {
    t.cleanup();
  }
});

it('computes the metrics on cases worked by hand', () => {
  expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
  expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  // Ranks [0, 1.5, 1.5, 3] against [0, 1, 2, 3]: Pearson = 4.5 / sqrt(4.5 * 5) = 0.9487.
  expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.948683, 5);
  expect(ndcgAt(2, [0.9, 0.1, 0.5], [1, 0, 0.5])).toBeCloseTo(1, 12);
  // Top 2 by prediction are rows 1 (gain 0) and 2 (gain .5): DCG .5/log2(3); ideal 1 + .5/log2(3).
  expect(ndcgAt(2, [0.1, 0.9, 0.5], [1, 0, 0.5])).toBeCloseTo(
    0.5 / Math.log2(3) / (1 + 0.5 / Math.log2(3)),
    12,
  );
  expect(calibration([0.2, 0.4, 0.6, 0.8], [0.2, 0.4, 0.6, 0.8], 2)).toEqual({ error: 0, slope: 1 });
});
