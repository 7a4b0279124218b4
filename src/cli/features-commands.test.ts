import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { ingestBundledSample, Lake } from '../lake/index.js';
import { addFeatureCommands } from './features-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-features-'));
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<string> {
  const program = new Command('tkllm').option('--data-dir <dir>').exitOverride();
  addFeatureCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  await program.parseAsync(['--data-dir', dir, ...args], { from: 'user' });
  return out.join('\n');
}

it('extracts the bundled sample, keeps unchanged posts, and explains one post', async () => {
  const lake = await Lake.open(dir);
  await ingestBundledSample(lake);
  lake.close();
  const first = JSON.parse(await cli('features', '--json')) as { posts: number; computed: number };
  expect(first.posts).toBeGreaterThan(300);
  expect(first.computed).toBe(first.posts);
  expect(await cli('features')).toMatch(/0 computed, \d+ unchanged/);
  const text = await cli('features', '--explain', 'XpVt6Z1Gjjo');
  expect(text).toContain('post youtube:XpVt6Z1Gjjo');
  expect(text).toMatch(/hook:\s+1 YEAR OF VLOGGING/);
  expect(text).toMatch(/hookHasNumber\s+1/);
  expect(text).toContain('behaviour: absent');
  expect(text).toMatch(/embedding:\n {2}32 dimensions/);
});

it('names the post when it is not in the lake', async () => {
  await expect(cli('features', '--explain', 'no-such-post')).rejects.toThrow(/no post "no-such-post"/);
});
