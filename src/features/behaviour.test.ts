import { describe, expect, it } from 'vitest';
import { ingestFile } from '../lake/index.js';
import { tempLake } from '../../test/temp-lake.js';
import { extractFeatures, loadFeatureMatrix } from './index.js';
import { behaviourFeatures } from './behaviour.js';

const header =
  'id,username,video_description,create_time,view_count,like_count,share_count,comment_count,full_video_watched_rate,average_time_watched,video_duration';
const t0 = Date.parse('2025-03-01T08:00:00Z') / 1000;

describe('behaviour group', () => {
  it('reads the first hour and first day from snapshots, flagged, and leaves later-only posts absent', async () => {
    const t = await tempLake();
    try {
      // Post 1 observed 30 min and 20 h after posting; post 2 only 3 days after (no early window).
      const row = (id: string, plays: number, watch: string) =>
        `${id},anna,clip ${id},${t0},${plays},${plays / 10},${plays / 100},${plays / 50},${watch},12,10`;
      const at = (hours: number) => new Date((t0 + hours * 3600) * 1000);
      await ingestFile(t.lake, t.write('h1.csv', `${header}\n${row('1', 100, '')}\n`), {
        observedAt: at(0.5),
      });
      await ingestFile(t.lake, t.write('d1.csv', `${header}\n${row('1', 5000, '0.4')}\n`), {
        observedAt: at(20),
      });
      await ingestFile(t.lake, t.write('late.csv', `${header}\n${row('2', 9000, '0.5')}\n`), {
        observedAt: at(72),
      });
      await extractFeatures(t.lake);
      const m = await loadFeatureMatrix(t.lake);
      const b = m.groups.behaviour;
      const v = (row: number, name: string) => b.values[row * b.names.length + b.names.indexOf(name)];
      expect([...b.present]).toEqual([1, 0]);
      expect(v(0, 'hasFirstHour')).toBe(1);
      expect(v(0, 'playsFirstHour')).toBeCloseTo(Math.log1p(100));
      expect(v(0, 'playsFirstDay')).toBeCloseTo(Math.log1p(5000));
      expect(v(0, 'likeRateFirstDay')).toBeCloseTo(0.1);
      expect(v(0, 'hasWatchThrough')).toBe(1);
      expect(v(0, 'watchThrough')).toBeCloseTo(0.4);
      // 12 s watched on average of a 10 s video: rewatching.
      expect(v(0, 'rewatchRatio')).toBeCloseTo(1.2);
      // Post 2's row is all zeros, but absent: a model must mask it, not read "no plays".
      expect(v(1, 'playsFirstDay')).toBe(0);
    } finally {
      t.cleanup();
    }
  });

  it('flags a missing watch-through instead of reading it as zero', () => {
    const snap = {
      time: 0,
      plays: 10,
      likes: 1,
      comments: 0,
      shares: 0,
      watchThrough: null,
      avgWatchSeconds: null,
      hoursSincePosting: 2,
    };
    const f = behaviourFeatures([snap], null, null)!;
    expect(f[0]).toBe(0); // no first-hour snapshot
    expect(f[5]).toBe(1); // first day known
    expect(f[12]).toBe(0); // hasWatchThrough
  });
});
