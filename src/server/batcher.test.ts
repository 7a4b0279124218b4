import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile, type Lake } from '../lake/index.js';
import { Batcher } from './batcher.js';

// The batch function is a real one: a lookup of many posts' plays in one DuckDB query, the way the
// scorer will turn many drafts into one forward pass.
let fixture: Awaited<ReturnType<typeof tempLake>>;
let lake: Lake;

beforeAll(async () => {
  fixture = await tempLake();
  lake = fixture.lake;
  const lines = [
    'id,username,video_description,create_time,region_code,view_count,like_count,comment_count,share_count',
  ];
  for (let i = 1; i <= 200; i++)
    lines.push(`${i},creator_${i % 7},post ${i},${1_700_000_000 + i},US,${i * 100},1,1,1`);
  await ingestFile(lake, fixture.write('posts.csv', lines.join('\n') + '\n'), {
    observedAt: new Date('2025-01-01T00:00:00Z'),
  });
  const keys = await lake.all(`SELECT post_key FROM posts WHERE source_id = '7'`);
  expect(keys).toEqual([{ post_key: 'tiktok:7' }]);
});
afterAll(() => fixture.cleanup());

function playsLookup(calls: number[]) {
  return async (keys: string[]): Promise<(number | null)[]> => {
    calls.push(keys.length);
    const rows = await lake.all(
      `SELECT post_key, plays::INTEGER AS plays FROM posts WHERE post_key IN (${keys.map((k) => `'${k}'`).join(', ')})`,
    );
    const byKey = new Map(rows.map((r) => [r.post_key as string, r.plays as number]));
    return keys.map((k) => byKey.get(k) ?? null);
  };
}

describe('Batcher', () => {
  it('answers concurrent callers from shared batches, each with its own result', async () => {
    const calls: number[] = [];
    const batcher = new Batcher({ run: playsLookup(calls), maxBatchSize: 16, maxWaitMs: 5 });
    const keys = Array.from({ length: 50 }, (_, i) => `tiktok:${i + 1}`);
    const results = await Promise.all(keys.map((k) => batcher.submit(k)));
    expect(results).toEqual(keys.map((_, i) => (i + 1) * 100));
    expect(calls.reduce((a, b) => a + b, 0)).toBe(50);
    expect(Math.max(...calls)).toBeLessThanOrEqual(16);
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(50 / 16) + 1);
  });

  it('sends a lone item after maxWaitMs instead of waiting for a full batch', async () => {
    const calls: number[] = [];
    const batcher = new Batcher({ run: playsLookup(calls), maxBatchSize: 64, maxWaitMs: 10 });
    const started = performance.now();
    expect(await batcher.submit('tiktok:7')).toBe(700);
    const waited = performance.now() - started;
    expect(calls).toEqual([1]);
    expect(waited).toBeGreaterThanOrEqual(9);
    expect(waited).toBeLessThan(500);
  });

  it('keeps results in order for submitMany, unknown keys included', async () => {
    const batcher = new Batcher({ run: playsLookup([]), maxBatchSize: 4, maxWaitMs: 1 });
    expect(
      await batcher.submitMany(['tiktok:3', 'tiktok:999', 'tiktok:1', 'tiktok:200', 'tiktok:2']),
    ).toEqual([300, null, 100, 20_000, 200]);
  });

  it('reports the queue depth as it fills and drains', async () => {
    const depths: number[] = [];
    const sizes: number[] = [];
    const batcher = new Batcher({
      run: playsLookup([]),
      maxBatchSize: 8,
      maxWaitMs: 2,
      onDepth: (d) => depths.push(d),
      onBatch: (s) => sizes.push(s),
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => batcher.submit(`tiktok:${i + 1}`)));
    expect(Math.max(...depths)).toBe(20);
    expect(depths.at(-1)).toBe(0);
    expect(batcher.depth).toBe(0);
    expect(sizes).toEqual([8, 8, 4]);
  });

  it('rejects every item of a failing batch, and later batches still run', async () => {
    let fail = true;
    const lookup = playsLookup([]);
    const batcher = new Batcher({
      run: async (keys: string[]) => {
        if (fail) return lake.all('SELECT * FROM no_such_table').then(() => []);
        return lookup(keys);
      },
      maxWaitMs: 1,
    });
    const failed = await Promise.allSettled([batcher.submit('tiktok:1'), batcher.submit('tiktok:2')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toMatch(/no_such_table/);
    fail = false;
    expect(await batcher.submit('tiktok:5')).toBe(500);
  });

  it('rejects a batch function that returns the wrong number of results', async () => {
    const batcher = new Batcher({ run: (keys: string[]) => Promise.resolve(keys.slice(1)), maxWaitMs: 1 });
    await expect(batcher.submitMany(['a', 'b'])).rejects.toThrow(/returned 1 results for 2 items/);
  });

  it('validates its options', () => {
    const run = (xs: number[]) => Promise.resolve(xs);
    expect(() => new Batcher({ run, maxBatchSize: 0 })).toThrow(
      /`maxBatchSize` must be a positive integer, got 0/,
    );
    expect(() => new Batcher({ run, maxWaitMs: -1 })).toThrow(/`maxWaitMs`/);
    expect(() => new Batcher({ run, maxConcurrent: 1.5 })).toThrow(/`maxConcurrent`/);
  });
});
