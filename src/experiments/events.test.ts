import { afterEach, describe, expect, it } from 'vitest';
import { ingestFile } from '../lake/index.js';
import { tempLake } from '../../test/temp-lake.js';
import {
  createExperiment,
  experimentReport,
  freshLabels,
  readEventFile,
  recordEvents,
  type EngagementEvent,
  type LabelledPost,
} from './index.js';

const start = new Date('2025-06-01T00:00:00Z');
const at = (hours: number) => new Date(start.getTime() + hours * 3600_000);
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

async function setup() {
  const t = await tempLake();
  cleanup = t.cleanup;
  await createExperiment(t.lake, {
    id: 'hooks',
    arms: [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 1 },
    ],
    startsAt: start,
    endsAt: at(24 * 7),
  });
  return t;
}

const events = (n: number, offset = 0): EngagementEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    unitId: `post-${i + offset}`,
    horizon: 24,
    observedAt: at(25),
    plays: 100 + i,
    shares: i % 7,
  }));

describe('recordEvents', () => {
  it('counts the same event once, whether repeated in a batch or sent again later', async () => {
    const { lake } = await setup();
    const first = await recordEvents(lake, 'hooks', [...events(50), ...events(10)]);
    expect(first).toMatchObject({ received: 60, recorded: 50, duplicates: 10, rejected: 0 });
    const again = await recordEvents(lake, 'hooks', events(60));
    expect(again).toMatchObject({ received: 60, recorded: 10, duplicates: 50, rejected: 0 });
    expect(await lake.count('SELECT count(*) FROM experiment_events')).toBe(60);
    // The first copy stays: a resend with other numbers does not overwrite it.
    await recordEvents(lake, 'hooks', [{ ...events(1)[0], plays: 999_999 }]);
    expect(await lake.count(`SELECT plays FROM experiment_events WHERE unit_id = 'post-0'`)).toBe(100);
  });

  it('keeps 1 h and 24 h of the same unit as two events, each on the arm the hash gives', async () => {
    const { lake } = await setup();
    const one = events(20).map((e) => ({ ...e, horizon: '1h', observedAt: at(2) }));
    await recordEvents(lake, 'hooks', [...one, ...events(20)]);
    const rows = await lake.all(
      `SELECT unit_id, count(*)::INTEGER AS n, count(DISTINCT arm)::INTEGER AS arms FROM experiment_events GROUP BY unit_id`,
    );
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.n === 2 && r.arms === 1)).toBe(true);
  });

  it('rejects bad rows with line, field and reason, keeps and counts them, and records the rest', async () => {
    const { lake } = await setup();
    const bad: EngagementEvent[] = [
      { unitId: '', horizon: 24, observedAt: at(3), plays: 1 },
      { unitId: 'x', horizon: 6, observedAt: at(3), plays: 1 },
      { unitId: 'x', horizon: 24, observedAt: 'yesterday', plays: 1 },
      { unitId: 'x', horizon: 24, observedAt: at(-5), plays: 1 },
      { unitId: 'x', horizon: 24, observedAt: at(3), plays: -4 },
      { unitId: 'x', horizon: 24, observedAt: at(3), shares: 'many' },
      { unitId: 'x', horizon: 24, observedAt: at(3), watchThrough: 1.5 },
      { unitId: 'x', horizon: 24, observedAt: at(3) },
      { unitId: 'x', horizon: 24, observedAt: at(3), plays: 5, arm: 'nope' },
    ];
    const result = await recordEvents(lake, 'hooks', [...bad, ...events(3)], { source: 'events.csv' });
    expect(result).toMatchObject({ received: 12, recorded: 3, rejected: 9 });
    expect(result.rejectsByReason).toEqual({
      missing_unit: 1,
      bad_horizon: 1,
      bad_time: 1,
      outside_window: 1,
      negative_count: 1,
      not_a_number: 1,
      out_of_range: 1,
      no_metrics: 1,
      arm_mismatch: 1,
    });
    const [shares] = await lake.all(
      `SELECT source, line::INTEGER AS line, field, detail FROM experiment_rejects WHERE reason = 'not_a_number'`,
    );
    expect(shares).toEqual({
      source: 'events.csv',
      line: 6,
      field: 'shares',
      detail: 'line 6: `shares` is "many", expected a count',
    });
  });

  it('leaves the lake as it was when the work fails before the commit', async () => {
    const { lake } = await setup();
    await recordEvents(lake, 'hooks', events(5));
    await expect(recordEvents(lake, 'hooks', events(20), { failBeforeCommit: true })).rejects.toThrow();
    expect(await lake.count('SELECT count(*) FROM experiment_events')).toBe(5);
    expect(await lake.count('SELECT count(*) FROM experiment_rejects')).toBe(0);
  });

  it('names the experiment when it does not exist', async () => {
    const { lake } = await setup();
    await expect(recordEvents(lake, 'nope', events(1))).rejects.toThrow(/no experiment "nope"/);
  });
});

describe('feedback', () => {
  it('turns new engagement of known posts into lake snapshots and labelled posts, once', async () => {
    const t = await setup();
    const csv = t.write(
      'posts.csv',
      'id,username,video_description,create_time,view_count\n1,a,hello,1748736000,10\n2,b,hi,1748736000,20\n',
    );
    await ingestFile(t.lake, csv, { observedAt: start });
    const seen: LabelledPost[] = [];
    const batch: EngagementEvent[] = [
      { unitId: 'tiktok:1', horizon: 1, observedAt: at(1), plays: 50, watchThrough: 0.4 },
      { unitId: 'tiktok:1', horizon: 24, observedAt: at(24), plays: 900 },
      { unitId: 'not-in-lake', horizon: 24, observedAt: at(24), plays: 7 },
    ];
    const result = await recordEvents(t.lake, 'hooks', batch, {
      feedback: { accept: (p) => void seen.push(...p) },
    });
    expect(result).toMatchObject({ recorded: 3, snapshots: 2 });
    expect(seen.map((p) => [p.postKey, p.horizonHours, p.plays, p.watchThrough])).toEqual([
      ['tiktok:1', 1, 50, 0.4],
      ['tiktok:1', 24, 900, null],
    ]);
    const snaps = await t.lake.all(
      `SELECT plays::INTEGER AS plays, hours_since_posting AS h, source_file FROM snapshots
       WHERE source_file LIKE 'experiment:%' ORDER BY h`,
    );
    expect(snaps).toEqual([
      { plays: 50, h: 1, source_file: 'experiment:hooks' },
      { plays: 900, h: 24, source_file: 'experiment:hooks' },
    ]);
    const again = await recordEvents(t.lake, 'hooks', batch, {
      feedback: { accept: (p) => void seen.push(...p) },
    });
    expect(again).toMatchObject({ recorded: 0, snapshots: 0 });
    expect(seen).toHaveLength(2);
    expect((await freshLabels(t.lake, { experimentId: 'hooks' })).map((p) => p.plays)).toEqual([50, 900]);
    expect(await freshLabels(t.lake, { since: new Date(Date.now() + 60_000) })).toEqual([]);
  });
});

describe('readEventFile', () => {
  it('reads JSONL and CSV with line numbers, and names the file and line of what it cannot read', async () => {
    const t = await setup();
    const jsonl = t.write(
      'e.jsonl',
      '{"unit_id":"a","horizon":"24h","observed_at":"2025-06-02T00:00:00Z","plays":5}\n\n' +
        '{"unit":"b","horizon_hours":1,"time":"2025-06-02 01:00:00","views":"7","watch_through":0.5}\n',
    );
    const events = await readEventFile(t.lake, jsonl);
    expect(events.map((e) => [e.line, e.unitId, e.horizon, e.plays])).toEqual([
      [1, 'a', '24h', 5],
      [3, 'b', 1, '7'],
    ]);
    const result = await recordEvents(t.lake, 'hooks', events, { source: jsonl });
    expect(result).toMatchObject({ recorded: 2, rejected: 0 });
    await expect(readEventFile(t.lake, t.write('bad.jsonl', '{"unit_id":"a"}\n{oops\n'))).rejects.toThrow(
      /bad\.jsonl line 2: not JSON/,
    );
    const csv = t.write('e.csv', 'unit_id,observed_at,plays\nx,2025-06-02,3\n');
    await expect(readEventFile(t.lake, csv)).rejects.toThrow(
      /e\.csv: no `horizon` column \(also read as horizon_hours\); columns found: unit_id, observed_at, plays/,
    );
    await expect(readEventFile(t.lake, t.write('e.txt', ''))).rejects.toThrow(
      /\.csv, \.tsv or \.jsonl, got "\.txt"/,
    );
  });
});

describe('bandit experiments', () => {
  it('need the arm on each event and have no fixed split to check', async () => {
    const t = await setup();
    await createExperiment(t.lake, {
      id: 'cold',
      allocation: 'bandit',
      arms: [
        { name: 's1', weight: 1 },
        { name: 's2', weight: 1 },
      ],
      startsAt: start,
    });
    const batch: EngagementEvent[] = Array.from({ length: 40 }, (_, i) => ({
      unitId: `p${i}`,
      horizon: 24,
      observedAt: at(30),
      arm: i % 4 === 0 ? 's1' : 's2',
      plays: 100 + i,
      likes: 3 + (i % 5),
    }));
    batch.push({ unitId: 'p99', horizon: 24, observedAt: at(30), plays: 3 });
    const result = await recordEvents(t.lake, 'cold', batch);
    expect(result).toMatchObject({ recorded: 40, rejectsByReason: { unknown_arm: 1 } });
    const report = await experimentReport(t.lake, 'cold', { kpis: ['likeRate'] });
    expect(report.sampleRatio).toBeUndefined();
    expect(report.units).toEqual({ s1: 10, s2: 30 });
  });
});
