import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { ingestBundledSample, ingestFile, type Lake } from '../lake/index.js';
import { tempLake } from '../../test/temp-lake.js';
import {
  calibrateSimulator,
  createExperiment,
  EngagementSimulator,
  experimentReport,
  recordEvents,
  renderKpiChart,
  welchTTest,
  type EngagementModel,
} from './index.js';

const start = new Date('2025-06-01T00:00:00Z');
let t: Awaited<ReturnType<typeof tempLake>>;
let model: EngagementModel;

beforeAll(async () => {
  t = await tempLake();
  await ingestBundledSample(t.lake);
  model = await calibrateSimulator(t.lake);
});
afterAll(() => t.cleanup());

async function simulated(
  lake: Lake,
  id: string,
  lifts: Record<string, Record<string, number>>,
  units: number,
  seed: number,
) {
  const experiment = await createExperiment(lake, {
    id,
    arms: [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 1 },
    ],
    startsAt: start,
  });
  const simulator = new EngagementSimulator(model, { random: new Random(seed), lifts });
  await recordEvents(lake, id, simulator.simulateExperiment(experiment, { units, spacingSeconds: 30 }));
}

describe('calibrateSimulator', () => {
  it('fits plays and per-play rates on the bundled sample and says what it could not fit', () => {
    // The sample's newest plays: mean of ln(plays) 12.8 over 403 trending videos (checked with DuckDB by hand).
    expect(model.logPlays.posts).toBe(403);
    expect(model.logPlays.mean).toBeCloseTo(12.81, 1);
    expect(Object.keys(model.rates).sort()).toEqual(['comments', 'likes']);
    expect(model.growth).toBeUndefined();
    expect(model.notes.join('\n')).toMatch(/shares: not simulated/);
  });

  it('fits the growth exponent from snapshots of known age', async () => {
    const g = await tempLake();
    try {
      const posted = 1_748_736_000; // 2025-06-01T00:00:00Z
      const header = 'id,username,video_description,create_time,view_count,like_count\n';
      const rows = (hours: number) =>
        Array.from({ length: 30 }, (_, i) => {
          const plays = Math.round((1000 + 100 * i) * Math.pow(hours / 24, 0.4));
          return `${i},u${i % 3},video ${i},${posted},${plays},${Math.round(plays / 20)}\n`;
        }).join('');
      await ingestFile(g.lake, g.write('early.csv', header + rows(2)), {
        observedAt: new Date((posted + 7200) * 1000),
      });
      await ingestFile(g.lake, g.write('day.csv', header + rows(24)), {
        observedAt: new Date((posted + 86400) * 1000),
      });
      const fitted = await calibrateSimulator(g.lake);
      expect(fitted.growth?.pairs).toBe(30);
      expect(fitted.growth?.exponent).toBeCloseTo(0.4, 2);
      expect(fitted.notes[0]).toMatch(/seen 12-48 h after posting/);
      const events = new EngagementSimulator(fitted, { random: new Random(1) }).unitEvents('u', 'A', start);
      expect(events.map((e) => e.horizon)).toEqual([1, 24]);
      expect(Number(events[0].plays)).toBeLessThan(Number(events[1].plays));
    } finally {
      g.cleanup();
    }
  });
});

describe('experimentReport', () => {
  it('recovers a planted lift within its interval and finds no effect where none was planted', async () => {
    await simulated(t.lake, 'planted', { B: { likes: 0.2, plays: 0.3 } }, 4000, 11);
    const report = await experimentReport(t.lake, 'planted', { kpis: ['likeRate', 'plays'] });
    const like = report.kpis.find((k) => k.kpi === 'likeRate')!.comparisons[0];
    expect(like.liftLow).toBeLessThan(0.2);
    expect(like.liftHigh).toBeGreaterThan(0.2);
    expect(like.significant).toBe(true);
    expect(like.sequentialSignificant).toBe(true);
    const plays = report.kpis.find((k) => k.kpi === 'plays')!.comparisons[0];
    expect(plays.liftLow).toBeLessThan(0.3);
    expect(plays.liftHigh).toBeGreaterThan(0.3);
    expect(report.sampleRatio?.mismatch).toBe(false);
    expect(report.warnings).toEqual([]);
    const series = report.kpis[0].series.B;
    expect(series).toHaveLength(20);
    expect(series.at(-1)!.units).toBe(report.units.A + report.units.B);
  });

  it('reports no significant difference on an A/A experiment, with every KPI the events carry', async () => {
    await simulated(t.lake, 'aa', {}, 2000, 12);
    const report = await experimentReport(t.lake, 'aa');
    expect(report.kpis.map((k) => k.kpi)).toEqual(['plays', 'likes', 'comments', 'likeRate']);
    for (const k of report.kpis) expect(k.comparisons[0].sequentialSignificant).toBe(false);
  });

  it('A/A experiments drawn from the calibrated model are declared different at about the nominal rate', () => {
    const simulator = new EngagementSimulator(model, { random: new Random(5) });
    let rejections = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      const rates: number[][] = [[], []];
      for (let u = 0; u < 300; u++) {
        const [event] = simulator.unitEvents(`u${u}`, 'A', start);
        rates[u % 2].push(Number(event.likes) / Number(event.plays));
      }
      if (welchTTest(rates[0], rates[1]).pValue < 0.05) rejections++;
    }
    expect(rejections / runs).toBeGreaterThan(0.02);
    expect(rejections / runs).toBeLessThan(0.085);
  });

  it('warns about a sample ratio mismatch and small arms', async () => {
    const experiment = await createExperiment(t.lake, {
      id: 'skewed',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
      startsAt: start,
    });
    const simulator = new EngagementSimulator(model, { random: new Random(3) });
    // Drop four fifths of B's events, as a broken logger would.
    const events = simulator
      .simulateExperiment(experiment, { units: 600 })
      .filter((e, i) => e.arm === 'A' || i % 5 === 0);
    await recordEvents(t.lake, 'skewed', events);
    const report = await experimentReport(t.lake, 'skewed');
    expect(report.sampleRatio?.mismatch).toBe(true);
    expect(report.warnings.join('\n')).toMatch(
      /sample ratio mismatch.*\n.*arm B has \d+ units at 24 h, fewer than 100/,
    );
  });

  it('draws each KPI as an SVG with a band per arm', async () => {
    const report = await experimentReport(t.lake, 'planted', { kpis: ['likeRate'] });
    const svg = renderKpiChart(report.kpis[0]);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('<polygon');
    expect(svg).toContain('B − A');
    expect(svg).toContain('likeRate');
  });
});
