import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, expect, it, vi } from 'vitest';
import { ingestBundledSample, Lake } from '../lake/index.js';
import { addServerCommands, startServe, type ServeHandle } from './server-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-serve-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(onListening: (handle: ServeHandle) => void): Command {
  const p = new Command('tkllm').option('--data-dir <dir>', 'data', './tkllm-data').exitOverride();
  addServerCommands(p, { onListening });
  return p;
}

it('serves the lake of --data-dir until closed, with keys from --api-keys-file', async () => {
  const dataDir = join(dir, 'lake');
  const lake = await Lake.open(dataDir);
  await ingestBundledSample(lake);
  lake.close();
  const keys = join(dir, 'keys.txt');
  writeFileSync(keys, 'ci:serve-test-key-0123456789\n');
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));

  let checks: Promise<void> = Promise.resolve();
  const args = [
    'serve',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--api-keys-file',
    keys,
    '--grpc-port',
    '0',
    '--log-level',
    'silent',
  ];
  await program((handle) => {
    checks = (async () => {
      try {
        const summary = (await (await fetch(`${handle.url}v1/lake/summary`)).json()) as { posts: number };
        expect(summary.posts).toBe(403);
        const write = await fetch(`${handle.url}v1/ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'serve-test-key-0123456789' },
          body: JSON.stringify({
            posts: [{ id: '1', username: 'a', create_time: 1_735_689_600, view_count: 5 }],
            format: 'tiktok-research',
          }),
        });
        expect(write.status).toBe(200);
        expect(handle.grpcPort).toBeGreaterThan(0);
      } finally {
        await handle.close();
      }
    })();
  }).parseAsync(args, { from: 'user' });
  await checks;
  vi.restoreAllMocks();
  expect(out.join('\n')).toMatch(
    /^TKLLM studio: http:\/\/localhost:\d+\/ {2}\(API docs: http:\/\/localhost:\d+\/docs\)/,
  );
  expect(out.join('\n')).toMatch(/gRPC ViralScorer on port \d+/);
  // The lake was closed with the server: it opens again, holding the post ingested over HTTP.
  const reopened = await Lake.open(dataDir);
  expect(await reopened.count('SELECT count(*) FROM posts')).toBe(404);
  reopened.close();
});

it('rejects a bad port and a missing keys file before listening', async () => {
  await expect(program(() => {}).parseAsync(['serve', '--port', '70000'], { from: 'user' })).rejects.toThrow(
    /`--port` must be a port number 0-65535, got "70000"/,
  );
  await expect(
    startServe({
      dataDir: join(dir, 'other'),
      host: '127.0.0.1',
      port: 0,
      apiKeysFile: join(dir, 'none.txt'),
    }),
  ).rejects.toThrow(/cannot read the API keys file/);
});
