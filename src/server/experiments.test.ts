import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { apiKeyStore } from './api-keys.js';
import { createServer, type TkllmServer } from './app.js';

// The experiment endpoints over a real lake: create, read, assign, record events, report.
const key = 'experiments-key-0123456789';
let fixture: Awaited<ReturnType<typeof tempLake>>;
let app: TkllmServer;
const headers = { authorization: `Bearer ${key}` };

beforeAll(async () => {
  fixture = await tempLake();
  app = await createServer({ lake: fixture.lake, studioDir: null, apiKeys: apiKeyStore([`ci:${key}`]) });
});

afterAll(async () => {
  await app?.close();
  fixture?.cleanup();
});

const spec = {
  id: 'hook-test',
  description: 'question hooks against statements',
  // Events are only recorded inside the experiment's window.
  startsAt: '2025-06-01T00:00:00Z',
  arms: [
    { name: 'control', weight: 1 },
    { name: 'question', weight: 1, description: 'open with a question' },
  ],
};

describe('experiment endpoints', () => {
  it('creates an experiment with a key, refuses it without one, and refuses a second with the same id', async () => {
    const without = await app.inject({ method: 'POST', url: '/v1/experiments', payload: spec });
    expect(without.statusCode).toBe(401);
    const created = await app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: spec });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      id: 'hook-test',
      unit: 'post',
      allocation: 'hash',
      arms: [{ name: 'control' }, { name: 'question', description: 'open with a question' }],
      endsAt: null,
    });
    expect(Number.isNaN(Date.parse(created.json<{ startsAt: string }>().startsAt))).toBe(false);
    const again = await app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: spec });
    expect(again.statusCode).toBe(400);
    expect(again.json<{ error: { message: string } }>().error.message).toMatch(/already exists/);
  });

  it('names the field of a malformed experiment', async () => {
    const oneArm = await app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers,
      payload: { id: 'x', arms: [{ name: 'a', weight: 1 }] },
    });
    expect(oneArm.statusCode).toBe(400);
    expect(oneArm.json<{ error: { field: string } }>().error.field).toBe('arms');
    const badId = await app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers,
      payload: { ...spec, id: 'no spaces' },
    });
    expect(badId.json<{ error: { field: string } }>().error.field).toBe('id');
    const weight = await app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers,
      payload: {
        id: 'w',
        arms: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: -1 },
        ],
      },
    });
    expect(weight.json<{ error: { field: string } }>().error.field).toBe('arms.1.weight');
  });

  it('lists and reads experiments, with a 404 for an unknown one', async () => {
    expect((await app.inject({ url: '/v1/experiments' })).json()).toEqual({ experiments: ['hook-test'] });
    expect((await app.inject({ url: '/v1/experiments/hook-test' })).json()).toMatchObject({
      id: 'hook-test',
      description: 'question hooks against statements',
    });
    const missing = await app.inject({ url: '/v1/experiments/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND');
  });

  it('assigns a unit the same arm every time, and splits units over both arms', async () => {
    const arm = async (unitId: string) =>
      (
        await app.inject({ method: 'POST', url: '/v1/experiments/hook-test/assign', payload: { unitId } })
      ).json<{ arm: string }>().arm;
    expect(await arm('tiktok:1')).toBe(await arm('tiktok:1'));
    const arms = new Set(await Promise.all(Array.from({ length: 40 }, (_, i) => arm(`tiktok:${i}`))));
    expect([...arms].sort()).toEqual(['control', 'question']);
    const empty = await app.inject({
      method: 'POST',
      url: '/v1/experiments/hook-test/assign',
      payload: { unitId: '' },
    });
    expect(empty.json<{ error: { field: string } }>().error.field).toBe('unitId');
  });

  it('records events with a key (repeats once, bad rows rejected by field) and reports the arms', async () => {
    const events = [];
    for (let i = 0; i < 60; i++) {
      const unitId = `tiktok:${i}`;
      const { arm } = (
        await app.inject({ method: 'POST', url: '/v1/experiments/hook-test/assign', payload: { unitId } })
      ).json<{ arm: string }>();
      const plays = 1000 + ((i * 37) % 200);
      events.push({
        unitId,
        horizon: 24,
        observedAt: new Date(Date.UTC(2025, 6, 1, 0, i)).toISOString(),
        plays,
        shares: Math.round(plays * (arm === 'question' ? 0.05 : 0.02)),
        likes: 50,
      });
    }
    const url = '/v1/experiments/hook-test/events';
    expect((await app.inject({ method: 'POST', url, payload: { events } })).statusCode).toBe(401);
    const bad = { unitId: 'tiktok:999', horizon: 7, observedAt: '2025-07-01T00:00:00Z', plays: 5 };
    const recorded = await app.inject({
      method: 'POST',
      url,
      headers,
      payload: { events: [...events, events[0], bad] },
    });
    expect(recorded.statusCode).toBe(200);
    expect(recorded.json()).toMatchObject({ received: 62, recorded: 60, duplicates: 1, rejected: 1 });
    const malformed = await app.inject({
      method: 'POST',
      url,
      headers,
      payload: { events: [{ horizon: 24 }] },
    });
    expect(malformed.json<{ error: { field: string } }>().error.field).toBe('events.0.unitId');
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/experiments/nope/events',
      headers,
      payload: { events },
    });
    expect(unknown.statusCode).toBe(404);
    // Learning from the events needs the estimator's data directory, which this server was not given.
    const learn = await app.inject({ method: 'POST', url, headers, payload: { events, update: true } });
    expect(learn.statusCode).toBe(400);
    expect(learn.json<{ error: { code: string } }>().error.code).toBe('UNSUPPORTED');

    const report = await app.inject({ url: '/v1/experiments/hook-test/report?horizon=24' });
    expect(report.statusCode).toBe(200);
    const body = report.json<{
      units: Record<string, number>;
      kpis: { kpi: string; comparisons: { arm: string; lift: number }[] }[];
      experiment: { id: string };
    }>();
    expect(body.experiment.id).toBe('hook-test');
    expect(body.units.control + body.units.question).toBe(60);
    const shareRate = body.kpis.find((k) => k.kpi === 'shareRate');
    expect(shareRate?.comparisons[0]).toMatchObject({ arm: 'question' });
    expect(shareRate!.comparisons[0].lift).toBeGreaterThan(1);
    const badHorizon = await app.inject({ url: '/v1/experiments/hook-test/report?horizon=6' });
    expect(badHorizon.json<{ error: { field: string } }>().error.field).toBe('horizon');
  });
});
