import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { inferContentType } from './content-type.js';
import { formatSelectionReport, normalisedRanks, selectHighValue, weightedSample } from './select.js';

describe('inferContentType', () => {
  it('applies the stated rule: hashtags count twice, words once, ties go to the more specific type', () => {
    expect(inferContentType('new routine', ['Dance', 'fyp'])).toBe('dance');
    expect(inferContentType('my amazon haul, link in bio #tiktokmademebuyit')).toBe('e-commerce');
    expect(inferContentType('3 tips to learn faster')).toBe('education');
    expect(inferContentType('storytime: the breakup 😭', ['fyp'])).toBe('drama');
    expect(inferContentType('sunset 🌅', ['fyp', 'viral'])).toBe('other');
    // One dance word against one drama hashtag: 1 vs 2, the hashtag wins.
    expect(inferContentType('dance', ['pov'])).toBe('drama');
    // A tie of one word each goes to dance.
    expect(inferContentType('pov dance')).toBe('dance');
  });
});

describe('selectHighValue', () => {
  const posts = Array.from({ length: 20 }, (_, i) => ({
    id: `p${String(i).padStart(2, '0')}`,
    text: i < 10 ? 'dance challenge' : 'tips to learn',
    viralScore: (i % 10) / 10,
  }));

  it('keeps the top and bottom shares within each content type and weights every post 1 + λV', () => {
    const {
      positives,
      negatives,
      posts: all,
      report,
    } = selectHighValue(posts, {
      topShare: 0.2,
      bottomShare: 0.1,
      lambda: 2,
    });
    expect(positives.map((p) => p.id).sort()).toEqual(['p08', 'p09', 'p18', 'p19']);
    expect(negatives.map((p) => p.id).sort()).toEqual(['p00', 'p10']);
    expect(all.find((p) => p.id === 'p09')!.weight).toBeCloseTo(1 + 2 * 0.9, 10);
    expect(report.byContentType.dance.positives).toBe(2);
    expect(report.byContentType.education.posts).toBe(10);
    expect(report.byRole.positive.meanViralScore).toBeCloseTo(0.85, 10);
    expect(formatSelectionReport(report)).toContain('education');
  });

  it('weights by rank within each stratum or emphasises the top share, as asked', () => {
    const byRank = selectHighValue(posts, { lambda: 3, weighting: 'rank' }).posts;
    // V 0.0..0.9 within each content type: ranks 0, 1/9, ..., 1.
    expect(byRank.find((p) => p.id === 'p00')!.weight).toBeCloseTo(1, 10);
    expect(byRank.find((p) => p.id === 'p13')!.weight).toBeCloseTo(1 + 3 * (3 / 9), 10);
    expect(byRank.find((p) => p.id === 'p19')!.weight).toBeCloseTo(4, 10);
    const top = selectHighValue(posts, { lambda: 4, topShare: 0.2, weighting: 'top' });
    for (const p of top.posts) expect(p.weight).toBe(p.role === 'positive' ? 5 : 1);
    expect(formatSelectionReport(top.report)).toContain('[positive]');
    expect(() => selectHighValue(posts, { weighting: 'cubic' as never })).toThrow(/weighting/);
  });

  it('normalises ranks to [0, 1] with ties sharing their mean rank', () => {
    expect(normalisedRanks([0.2, 0.9, 0.5])).toEqual([0, 1, 0.5]);
    expect(normalisedRanks([0.1, 0.4, 0.4, 0.7])).toEqual([0, 0.5, 0.5, 1]);
    expect(normalisedRanks([0.3])).toEqual([0.5]);
  });

  it('rejects scores outside [0, 1] and shares that overlap', () => {
    expect(() => selectHighValue([{ id: 'a', text: '', viralScore: 1.5 }])).toThrow(/"a".*viralScore/);
    expect(() => selectHighValue(posts, { topShare: 0.8, bottomShare: 0.3 })).toThrow(/at most 1/);
  });
});

describe('weightedSample', () => {
  it('draws distinct indices, heavier weights more often, never a zero weight', () => {
    const rng = new Random(7);
    const hits = [0, 0, 0];
    for (let k = 0; k < 2000; k++) for (const i of weightedSample([1, 4, 0], 1, rng)) hits[i]++;
    expect(hits[2]).toBe(0);
    expect(hits[1] / hits[0]).toBeGreaterThan(3);
    expect(hits[1] / hits[0]).toBeLessThan(5);
    expect(new Set(weightedSample([1, 1, 1, 1], 4, rng)).size).toBe(4);
  });
});
