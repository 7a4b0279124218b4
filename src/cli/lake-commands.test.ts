import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { main } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-test-'));
afterEach(() => vi.restoreAllMocks());

it('ingests a file and reports matching stats as JSON, end to end', async () => {
  const file = join(dir, 'posts.csv');
  writeFileSync(
    file,
    'id,username,video_description,create_time,view_count,share_count\n' +
      '1,a,"#x hi",1717200000,100,10\n2,a,y,1717300000,300,3\n3,b,z,1717400000,-1,0\n',
  );
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  expect(await main(['--data-dir', dir, 'ingest', file, '--observed-at', '2025-01-01T00:00:00Z'])).toBe(0);
  expect(out.join('\n')).toMatch(/accepted 2, rejected 1 \(negative_count 1\)/);
  out.length = 0;
  expect(await main(['--data-dir', dir, 'stats', '--json'])).toBe(0);
  const stats = JSON.parse(out.join('\n')) as Record<string, unknown>;
  expect(stats).toMatchObject({
    posts: 2,
    authors: 1,
    snapshots: 2,
    plays: { count: 2, p50: 200 },
    shareRate: { count: 2, p50: 0.055 },
    topHashtags: [{ tag: 'x', posts: 1 }],
    rejectsByReason: { negative_count: 1 },
  });
  rmSync(dir, { recursive: true, force: true });
});

it('exits with 1 and names the file when it cannot be read', async () => {
  const errors: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  expect(
    await main(['--data-dir', mkdtempSync(join(tmpdir(), 'tkllm-cli-')), 'ingest', '/nonexistent/x.csv']),
  ).toBe(1);
  expect(errors.join('\n')).toMatch(/x\.csv.*\[IO\]/);
});
