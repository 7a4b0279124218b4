import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { ingestFile } from './ingest.js';
import { Lake } from './lake.js';
import { migrations } from './migrations.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tkllm-migrate-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const latest = migrations.at(-1)!.version;

it('migrates a version 1 lake to the latest version and keeps its rows', async () => {
  // A lake as the first release made it: only step 1, filled by hand with one row per table.
  const old = await Lake.open(dir, { migrations: migrations.slice(0, 1) });
  expect(old.schemaVersion).toBe(1);
  await old.run(`
    INSERT INTO authors VALUES ('tiktok:alice', 'tiktok', 'alice', 1200, TIMESTAMP '2025-01-01');
    INSERT INTO posts (post_key, platform, source_id, author_key, text, posted_at, plays, shares, observed_at, source_file)
      VALUES ('tiktok:1', 'tiktok', '1', 'tiktok:alice', 'old #tag', TIMESTAMP '2024-12-01', 500, 5, TIMESTAMP '2025-01-01', '/old.csv');
    INSERT INTO hashtags VALUES ('tiktok:1', 'tag', 'text');
    INSERT INTO snapshots (post_key, observed_at, plays, shares, source_file)
      VALUES ('tiktok:1', TIMESTAMP '2025-01-01', 500, 5, '/old.csv');
    INSERT INTO media VALUES ('tiktok:1', 'video', 'https://example.com/1');
    INSERT INTO rejects VALUES ('/old.csv', 3, 'view_count', 'not_a_number', 'bad', 'x');`);
  const counts = await old.tableCounts();
  expect(
    await old.count(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'ingested_files'`),
  ).toBe(0);
  old.close();

  const lake = await Lake.open(dir);
  try {
    expect(lake.schemaVersion).toBe(latest);
    expect(await lake.count('SELECT max(version) FROM schema_version')).toBe(latest);
    expect(await lake.tableCounts()).toEqual(counts);
    expect(await lake.all(`SELECT post_key, plays::INTEGER AS plays, text FROM posts`)).toEqual([
      { post_key: 'tiktok:1', plays: 500, text: 'old #tag' },
    ]);
    // The new table works: an ingest records its file and updates the old post.
    const file = join(dir, 'new.csv');
    writeFileSync(file, 'id,username,create_time,view_count,share_count\n1,alice,1733011200,900,9\n');
    await ingestFile(lake, file, { observedAt: new Date('2025-02-01T00:00:00Z') });
    expect(await lake.count('SELECT count(*) FROM ingested_files')).toBe(1);
    expect(await lake.count(`SELECT plays FROM posts WHERE post_key = 'tiktok:1'`)).toBe(900);
    expect(await lake.count('SELECT count(*) FROM snapshots')).toBe(2);
  } finally {
    lake.close();
  }
});

it('opens a lake at the latest version without applying any step again', async () => {
  (await Lake.open(dir)).close();
  const lake = await Lake.open(dir);
  try {
    expect(await lake.count('SELECT count(*) FROM schema_version')).toBe(migrations.length);
  } finally {
    lake.close();
  }
});

it('refuses a lake made by a newer TKLLM with a ConfigError that says to upgrade', async () => {
  const lake = await Lake.open(dir);
  await lake.run(`INSERT INTO schema_version VALUES (${latest + 1}, 'from the future', now()::TIMESTAMP)`);
  lake.close();
  const opening = Lake.open(dir);
  await expect(opening).rejects.toBeInstanceOf(ConfigError);
  await expect(opening).rejects.toThrow(
    `the lake has schema version ${latest + 1}, but this TKLLM knows versions up to ${latest}: upgrade TKLLM`,
  );
  // The failed open released the file: an older step list (or a newer TKLLM) can still open it.
  const again = await Lake.open(dir, {
    migrations: [...migrations, { version: latest + 1, description: 'future', statements: [] }],
  });
  expect(again.schemaVersion).toBe(latest + 1);
  again.close();
});

it('keeps each component schema apart, applies only missing steps and refuses a newer one', async () => {
  const steps = [
    { version: 1, description: 'a table', statements: ['CREATE TABLE widget_a (x INTEGER)'] },
    { version: 2, description: 'another', statements: ['CREATE TABLE widget_b (y INTEGER)'] },
  ];
  const lake = await Lake.open(dir);
  try {
    expect(await lake.ensureSchema('widgets', steps.slice(0, 1))).toBe(1);
    await lake.run('INSERT INTO widget_a VALUES (7)');
    expect(await lake.ensureSchema('widgets', steps)).toBe(2);
    expect(await lake.ensureSchema('widgets', steps)).toBe(2);
    expect(await lake.count('SELECT x FROM widget_a')).toBe(7);
    expect(await lake.ensureSchema('gadgets', [])).toBe(0);
    await expect(lake.ensureSchema('widgets', steps.slice(0, 1))).rejects.toThrow(
      "the lake's widgets tables have schema version 2, but this TKLLM knows versions up to 1: upgrade TKLLM",
    );
    // A failing step leaves nothing behind.
    const broken = [
      ...steps,
      { version: 3, description: 'bad', statements: ['CREATE TABLE widget_c (z INTEGER)', 'NOT SQL'] },
    ];
    await expect(lake.ensureSchema('widgets', broken)).rejects.toThrow();
    expect(
      await lake.count(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'widget_c'`),
    ).toBe(0);
    expect(await lake.count(`SELECT max(version) FROM component_schema WHERE component = 'widgets'`)).toBe(2);
  } finally {
    lake.close();
  }
});
