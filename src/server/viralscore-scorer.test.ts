import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from '../lake/index.js';
import { extractFeatures } from '../features/index.js';
import { trainViralScore } from '../viralscore/index.js';
import { createServer, type TkllmServer } from './app.js';
import type { DraftScore } from './models.js';
import { openDraftScorer } from './viralscore-scorer.js';

// A real estimator, trained here on a small lake the test writes: 60 posts of 12 creators in which
// engagement grows with a question in the text (the same fixture as the viralscore CLI test).
let fixture: Awaited<ReturnType<typeof tempLake>>;
let opened: Awaited<ReturnType<typeof openDraftScorer>>;
let app: TkllmServer;

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
  await trainViralScore(fixture.lake, join(fixture.dir, 'data'), { epochs: 2, members: 2 });
  opened = await openDraftScorer(fixture.lake, join(fixture.dir, 'data'));
  app = await createServer({
    lake: fixture.lake,
    studioDir: null,
    ...(opened ? { scorer: opened.scorer } : {}),
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  opened?.close();
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
    const plain = batch.json<{ scores: DraftScore[] }>().scores;
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
});
