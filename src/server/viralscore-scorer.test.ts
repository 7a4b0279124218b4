import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from '../lake/index.js';
import { extractFeatures } from '../features/index.js';
import { trainViralScore } from '../viralscore/index.js';
import { apiKeyStore } from './api-keys.js';
import { createServer, type TkllmServer } from './app.js';
import type { DraftScore } from './models.js';
import { openDraftScorer } from './viralscore-scorer.js';

// A real estimator, trained here on a small lake the test writes: 60 posts of 12 creators in which
// engagement grows with a question in the text (the same fixture as the viralscore CLI test).
let fixture: Awaited<ReturnType<typeof tempLake>>;
let opened: Awaited<ReturnType<typeof openDraftScorer>>;
let app: TkllmServer;
const key = 'switch-key-0123456789';

beforeAll(async () => {
  fixture = await tempLake();
  const lines = ['id,username,video_description,create_time,view_count,like_count,share_count,hashtag_names'];
  for (let i = 0; i < 60; i++) {
    const question = i % 3 === 0;
    const plays = 1000 + ((i * 7919) % 5000) + (question ? 20000 : 0);
    lines.push(
      `${i + 1},creator${i % 12},"${question ? 'Would you try this?' : 'my day'} #food #t${i % 4}",${1748736000 + i * 30000},${plays},${Math.floor(plays / 20)},${Math.floor(plays / 200)},"food,t${i % 4}"`,
    );
  }
  await ingestFile(fixture.lake, fixture.write('posts.csv', `${lines.join('\n')}\n`), {
    observedAt: new Date('2025-07-01T00:00:00Z'),
  });
  await extractFeatures(fixture.lake);
  const dataDir = join(fixture.dir, 'data');
  await trainViralScore(fixture.lake, dataDir, { epochs: 2, members: 2 });
  // A second version, left inactive, for switching.
  await trainViralScore(fixture.lake, dataDir, { epochs: 1, members: 1, activate: false });
  opened = await openDraftScorer(fixture.lake, dataDir, { threads: 2 });
  app = await createServer({
    lake: fixture.lake,
    studioDir: null,
    dataDir,
    apiKeys: apiKeyStore([`ci:${key}`]),
    ...(opened ? { scorer: opened } : {}),
  });
}, 120_000);

afterAll(async () => {
  // The server closes the scorer it was given (or the one that replaced it).
  await app?.close();
  fixture?.cleanup();
});

describe('the ViralScore estimator behind the API', () => {
  it('is absent, not an error, in a data directory with no trained model', async () => {
    expect(
      await openDraftScorer(fixture.lake, mkdtempSync(join(tmpdir(), 'tkllm-no-model-'))),
    ).toBeUndefined();
  });

  it('scores a draft over POST /v1/score with V, the five subscores, their contributions and top features', async () => {
    expect(opened).toBeDefined();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/score',
      payload: { text: 'Would you try this pasta?', hashtags: ['food'], creator: 'creator1' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ modelVersion: string; score: DraftScore }>();
    expect(body.modelVersion).toBe('v1');
    expect(body.score.viralScore).toBeGreaterThan(0);
    expect(body.score.viralScore).toBeLessThan(1);
    expect(Object.keys(body.score.subscores)).toEqual(['emotion', 'hook', 'replicability', 'share', 'trend']);
    for (const v of Object.values(body.score.subscores)) expect(v).toBeGreaterThan(0);
    expect(Object.keys(body.score.contributions!)).toEqual([
      'emotion',
      'hook',
      'replicability',
      'share',
      'trend',
    ]);
    expect(body.score.topFeatures!.length).toBeGreaterThan(0);
    for (const line of body.score.guidance) expect(line).toMatch(/lowers the score$/);
  });

  it('gives the same scores for a batch as for each draft alone, in order, explained only when asked', async () => {
    const drafts = [
      { text: 'Would you try this?' },
      { text: 'my day #food' },
      { text: 'Would you eat ramen at 3am?' },
    ];
    const batch = await app.inject({ method: 'POST', url: '/v1/score/batch', payload: { drafts } });
    expect(batch.statusCode).toBe(200);
    // Joined from the scoring thread's JSON texts: still one JSON document with the schema's keys.
    expect(batch.headers['content-type']).toBe('application/json; charset=utf-8');
    const plain = batch.json<{ scores: DraftScore[]; modelVersion: string }>().scores;
    expect(batch.json<{ modelVersion: string }>().modelVersion).toMatch(/^v\d+$/);
    expect(Object.keys(plain[0])).toEqual([
      'viralScore',
      'subscores',
      'guidance',
      'contributions',
      'topFeatures',
    ]);
    expect(plain.every((s) => s.topFeatures?.length === 0 && s.guidance.length === 0)).toBe(true);
    const explained = await app.inject({
      method: 'POST',
      url: '/v1/score/batch?explain=true',
      payload: { drafts },
    });
    expect(explained.json<{ scores: DraftScore[] }>().scores.every((s) => s.topFeatures!.length > 0)).toBe(
      true,
    );
    const scores = plain.map((s) => s.viralScore);
    for (const [i, draft] of drafts.entries()) {
      const one = await app.inject({ method: 'POST', url: '/v1/score', payload: draft });
      expect(one.json<{ score: DraftScore }>().score.viralScore).toBeCloseTo(scores[i], 6);
    }
  });

  it('screens drafts with the int8 graph and scores the finalists with the full model, measuring both', async () => {
    const drafts = Array.from({ length: 12 }, (_, i) => ({
      text: i % 3 === 0 ? `Would you try this #${i}?` : `my day ${i} #food`,
    }));
    const res = await app.inject({ method: 'POST', url: '/v1/score/screen', payload: { drafts, keep: 4 } });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ screen: number[]; finalists: { index: number; score: DraftScore }[] }>();
    expect(body.screen).toHaveLength(12);
    expect(body.finalists).toHaveLength(4);
    // The finalists are the four the first stage ranked highest, reordered by the full model.
    const topByScreen = body.screen
      .map((v, i) => ({ v, i }))
      .sort((a, b) => b.v - a.v)
      .slice(0, 4)
      .map((x) => x.i)
      .sort((a, b) => a - b);
    expect(body.finalists.map((f) => f.index).sort((a, b) => a - b)).toEqual(topByScreen);
    const full = body.finalists.map((f) => f.score.viralScore);
    expect(full).toEqual([...full].sort((a, b) => b - a));
    // int8 is an approximation of the float graph: close, not equal.
    const plain = await app.inject({ method: 'POST', url: '/v1/score/batch', payload: { drafts } });
    const floatV = plain.json<{ scores: DraftScore[] }>().scores.map((s) => s.viralScore);
    for (const f of body.finalists) expect(f.score.viralScore).toBeCloseTo(floatV[f.index], 6);
    for (const [i, v] of body.screen.entries()) expect(Math.abs(v - floatV[i])).toBeLessThan(0.05);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/tkllm_score_stage_duration_seconds_count\{stage="screen"\} 1/);
    expect(metrics).toMatch(/tkllm_score_stage_drafts_total\{stage="full"\} 4/);
    expect(metrics).toMatch(/tkllm_score_stage_duration_seconds_count\{stage="featurise"\} 1/);
  });

  it('refuses a screen request with no drafts or too many finalists, naming the field', async () => {
    const none = await app.inject({ method: 'POST', url: '/v1/score/screen', payload: { drafts: [] } });
    expect(none.statusCode).toBe(400);
    expect(none.json<{ error: { field: string } }>().error.field).toBe('drafts');
    const keep = await app.inject({
      method: 'POST',
      url: '/v1/score/screen',
      payload: { drafts: [{ text: 'a' }], keep: 0 },
    });
    expect(keep.json<{ error: { field: string } }>().error.field).toBe('keep');
  });

  it("lists the registry's versions and switches the served one with a key", async () => {
    const models = await app.inject({ url: '/v1/models' });
    expect(models.json()).toMatchObject({
      scorer: {
        loaded: true,
        version: 'v1',
        versions: [
          { version: 'v1', active: true },
          { version: 'v2', active: false },
        ],
      },
    });
    const payload = { kind: 'scorer', version: 'v2' };
    const url = '/v1/models/active';
    expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(401);
    const headers = { authorization: `Bearer ${key}` };
    const bad = await app.inject({ method: 'POST', url, headers, payload: { kind: 'scorer' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { field: string } }>().error.field).toBe('version');
    const unknown = await app.inject({
      method: 'POST',
      url,
      headers,
      payload: { kind: 'scorer', version: 'v9' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND');

    const before = await app.inject({
      method: 'POST',
      url: '/v1/score',
      payload: { text: 'Would you try this?' },
    });
    const switched = await app.inject({ method: 'POST', url, headers, payload });
    expect(switched.statusCode).toBe(200);
    expect(switched.json()).toMatchObject({
      scorer: {
        version: 'v2',
        versions: [
          { version: 'v1', active: false },
          { version: 'v2', active: true },
        ],
      },
    });
    const after = await app.inject({
      method: 'POST',
      url: '/v1/score',
      payload: { text: 'Would you try this?' },
    });
    expect(after.json<{ modelVersion: string }>().modelVersion).toBe('v2');
    // Another model, another score for the same draft.
    expect(after.json<{ score: DraftScore }>().score.viralScore).not.toBeCloseTo(
      before.json<{ score: DraftScore }>().score.viralScore,
      6,
    );
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('tkllm_model_info{kind="scorer",version="v2"} 1');
    expect(metrics).not.toContain('version="v1"');
  });

  it('learns from engagement events sent with `update: true` and serves the version the guard lets through', async () => {
    const headers = { authorization: `Bearer ${key}` };
    const served = () =>
      app.inject({ url: '/v1/models' }).then((r) => r.json<{ scorer: { version: string } }>());
    const before = (await served()).scorer.version;
    const experiment = {
      id: 'fresh',
      unit: 'post',
      startsAt: '2025-06-01T00:00:00Z',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
    };
    expect(
      (await app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: experiment })).statusCode,
    ).toBe(201);
    // A day after each post, engagement that again grows with the question in the text.
    const events = Array.from({ length: 60 }, (_, i) => {
      const plays = 3000 + ((i * 104729) % 4000) + (i % 3 === 0 ? 30000 : 0);
      return {
        unitId: `tiktok:${i + 1}`,
        horizon: 24,
        observedAt: new Date((1748736000 + i * 30000 + 86400) * 1000).toISOString(),
        plays,
        likes: Math.floor(plays / 20),
        shares: Math.floor(plays / 200),
      };
    });
    const url = '/v1/experiments/fresh/events';
    const res = await app.inject({ method: 'POST', url, headers, payload: { events, update: true } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      recorded: number;
      snapshots: number;
      update: {
        version: string;
        parent: string;
        activated: boolean;
        reason: string | null;
        freshRows: number;
      };
    }>();
    expect(body.recorded).toBe(60);
    expect(body.snapshots).toBe(60);
    expect(body.update).toMatchObject({ parent: before, version: 'v3' });
    expect(body.update.freshRows).toBeGreaterThan(30);
    // The guard let it through (held-out MSE fell), so the server serves it at once.
    expect(body.update).toMatchObject({ activated: true, reason: null });
    expect((await served()).scorer.version).toBe('v3');
    expect((await app.inject({ url: '/metrics' })).body).toContain(
      'tkllm_model_info{kind="scorer",version="v3"} 1',
    );
    // The same events again record nothing new, so nothing is learned.
    const again = await app.inject({ method: 'POST', url, headers, payload: { events, update: true } });
    expect(again.json()).toMatchObject({ recorded: 0, duplicates: 60, update: null });
  }, 60_000);
});
