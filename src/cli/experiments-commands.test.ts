import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { Random } from '../core/index.js';
import { extractFeatures } from '../features/index.js';
import { ingestBundledSample, ingestFile, Lake } from '../lake/index.js';
import { trainViralScore, ViralScoreRegistry } from '../viralscore/index.js';
import { calibrateSimulator, EngagementSimulator, getExperiment } from '../experiments/index.js';
import { main } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-experiments-'));
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runIn(
  dataDir: string,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  const code = await main(['--data-dir', dataDir, ...argv]);
  vi.restoreAllMocks();
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const run = (...argv: string[]) => runIn(dir, ...argv);

it('creates an experiment, assigns stably, records a CSV with a bad row, and reports with charts', async () => {
  const created = await run(
    'experiment',
    'create',
    'hooks',
    '--arms',
    'A,B',
    '--start',
    '2025-06-01T00:00:00Z',
  );
  expect(created.code).toBe(0);
  expect(created.out).toMatch(/experiment hooks: unit post, hash allocation/);
  const first = await run('experiment', 'assign', 'hooks', 'p1', 'p2', 'p3', '--json');
  const again = await run('experiment', 'assign', 'hooks', 'p3', 'p2', 'p1', '--json');
  const arms = (text: string) =>
    Object.fromEntries((JSON.parse(text) as { unitId: string; arm: string }[]).map((a) => [a.unitId, a.arm]));
  expect(arms(again.out)).toEqual(arms(first.out));

  // Events drawn from the simulator calibrated on the bundled sample, written as a CSV.
  const lake = await Lake.open(join(dir, 'calibration'));
  await ingestBundledSample(lake);
  const model = await calibrateSimulator(lake);
  lake.close();
  const experimentLake = await Lake.open(dir);
  const experiment = await getExperiment(experimentLake, 'hooks');
  experimentLake.close();
  const events = new EngagementSimulator(model, {
    random: new Random(4),
    lifts: { B: { likes: 0.3 } },
  }).simulateExperiment(experiment, { units: 600 });
  const csv = join(dir, 'events.csv');
  writeFileSync(
    csv,
    'unit_id,horizon,observed_at,plays,likes,comments\n' +
      events
        .map((e) =>
          [e.unitId, e.horizon, (e.observedAt as Date).toISOString(), e.plays, e.likes, e.comments].join(','),
        )
        .join('\n') +
      '\nbad,24,2025-06-02T00:00:00Z,-5,1,1\n',
  );
  const recorded = await run('experiment', 'record', 'hooks', csv);
  expect(recorded.out).toBe(
    'received 601, recorded 600, duplicates 0, rejected 1 (negative_count 1), lake snapshots 0\n' +
      `  ${csv} line 602: \`plays\` is -5, expected a non-negative whole count`,
  );
  const twice = await run('experiment', 'record', 'hooks', csv, '--json');
  expect(JSON.parse(twice.out)).toMatchObject({ recorded: 0, duplicates: 600, rejected: 1 });

  const report = await run('experiment', 'report', 'hooks', '--kpi', 'likeRate,plays');
  expect(report.code).toBe(0);
  expect(report.out).toMatch(/^likeRate$/m);
  expect(report.out).toMatch(/^B +\d+ +[0-9.e-]+ +\d+\.\d% +-?\d+\.\d% \.\. \d+\.\d%/m);
  const chart = join(dir, 'experiments', 'hooks', 'likeRate-24h.svg');
  expect(existsSync(chart)).toBe(true);
  expect(readFileSync(chart, 'utf8')).toContain('<polygon');
});

it('names the field and the value when an option is wrong, and the experiment when it is missing', async () => {
  const bad = await run('experiment', 'create', 'x', '--arms', 'A,B', '--weights', '1,-2');
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/arm "B": `weight` must be a positive number, got -2 \[VALIDATION\]/);
  const missing = await run('experiment', 'report', 'nope');
  expect(missing.err).toMatch(/no experiment "nope" in the lake.*\[NOT_FOUND\]/);
  const noFile = await run('experiment', 'record', 'x', join(dir, 'none.csv'));
  expect(noFile.err).toMatch(/none\.csv: it does not exist \[IO\]/);
});

it('records events with --update and the estimator learns from them as a new, guarded version', async () => {
  // 60 posts whose engagement grows with a question in the text, and an estimator trained on them.
  const data = join(dir, 'update');
  const lines = ['id,username,video_description,create_time,view_count,like_count,share_count,hashtag_names'];
  for (let i = 0; i < 60; i++) {
    const plays = 1000 + ((i * 7919) % 5000) + (i % 3 === 0 ? 20000 : 0);
    lines.push(
      `${i + 1},creator${i % 12},"${i % 3 === 0 ? 'Would you try this?' : 'my day'} #food",${1748736000 + i * 30000},${plays},${Math.floor(plays / 20)},${Math.floor(plays / 200)},food`,
    );
  }
  const posts = join(dir, 'update-posts.csv');
  writeFileSync(posts, `${lines.join('\n')}\n`);
  const lake = await Lake.open(data);
  await ingestFile(lake, posts, { observedAt: new Date('2025-07-01T00:00:00Z') });
  await extractFeatures(lake);
  await trainViralScore(lake, data, { epochs: 2, members: 1 });
  lake.close();
  expect(
    (await runIn(data, 'experiment', 'create', 'fresh', '--arms', 'A,B', '--start', '2025-06-01T00:00:00Z'))
      .code,
  ).toBe(0);
  const events = join(dir, 'update-events.csv');
  writeFileSync(
    events,
    'unit_id,horizon,observed_at,plays,likes\n' +
      Array.from({ length: 60 }, (_, i) => {
        const plays = 3000 + ((i * 104729) % 4000) + (i % 3 === 0 ? 30000 : 0);
        const at = new Date((1748736000 + i * 30000 + 86400) * 1000).toISOString();
        return `tiktok:${i + 1},24,${at},${plays},${Math.floor(plays / 20)}`;
      }).join('\n') +
      '\n',
  );
  const recorded = await runIn(data, 'experiment', 'record', 'fresh', events, '--update');
  expect(recorded.code, recorded.err).toBe(0);
  const [counts, update] = recorded.out.split('\n');
  expect(counts).toBe('received 60, recorded 60, duplicates 0, rejected 0, lake snapshots 60');
  expect(update).toMatch(/^saved (and activated v2 \(from v1\)|v2 but kept v1 active): /);
  const registry = new ViralScoreRegistry(data);
  expect(registry.versions()).toEqual(['v1', 'v2']);
  expect(registry.load('v2').training).toMatchObject({ kind: 'online', parent: 'v1' });
  // Nothing new the second time, so nothing to learn from.
  const again = await runIn(data, 'experiment', 'record', 'fresh', events, '--update', '--json');
  expect(JSON.parse(again.out)).toMatchObject({ recorded: 0, duplicates: 60, update: null });
}, 120_000);
