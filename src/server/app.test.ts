import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestBundledSample, lakeStats } from '../lake/index.js';
import { apiKeyStore } from './api-keys.js';
import { createServer, type ServerOptions, type TkllmServer } from './app.js';
import type { Draft, DraftScore, DraftScorer } from './models.js';

const key = 'test-secret-key-0123456789';
const auth = { authorization: `Bearer ${key}` };
const json = { 'content-type': 'application/json' };

// Test doubles standing in for the models other modules are building: they compute their answers from
// the input, so a response that mixes up drafts or candidates shows in the assertions.
class CountingScorer implements DraftScorer {
  readonly version = 'vs-test-1';
  readonly batches: number[] = [];
  async score(drafts: readonly Draft[]): Promise<DraftScore[]> {
    this.batches.push(drafts.length);
    await new Promise((r) => setTimeout(r, 2));
    return drafts.map((d) => {
      const hook = d.text.includes('?') ? 0.9 : 0.2;
      return {
        viralScore: Math.min(1, d.text.length / 100),
        subscores: {
          emotion: 0.5,
          hook,
          replicability: 0.1,
          share: 0.3,
          trend: (d.hashtags?.length ?? 0) / 10,
        },
        guidance: hook < 0.5 ? ['open with a question'] : [],
      };
    });
  }
}

let fixture: Awaited<ReturnType<typeof tempLake>>;
const servers: TkllmServer[] = [];

async function serve(options: Partial<ServerOptions> = {}): Promise<string> {
  const app = await createServer({
    lake: fixture.lake,
    apiKeys: apiKeyStore([`ci:${key}`]),
    studioDir: null,
    ...options,
  });
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** The fields tests read from JSON answers, loosely: one type for every endpoint's body. */
interface ApiBody {
  error: { code: string; message: string; field?: string };
  score: DraftScore;
  scores: DraftScore[];
  candidates: { index: number; text: string }[];
  [key: string]: unknown;
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text (metrics, SSE)
  }
  return { status: res.status, body: body as ApiBody, text, headers: res.headers };
}

beforeAll(async () => {
  fixture = await tempLake();
  await ingestBundledSample(fixture.lake);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  fixture.cleanup();
});

describe('ops endpoints', () => {
  it('answers health, readiness with the models it has, and the loaded models', async () => {
    const base = await serve();
    expect((await call(`${base}/healthz`)).body).toEqual({ status: 'ok' });
    expect(await call(`${base}/readyz`)).toMatchObject({
      status: 200,
      body: { ready: true, lake: 'ok', scorer: false, generator: false },
    });
    expect((await call(`${base}/v1/models`)).body).toEqual({
      scorer: { loaded: false, version: null, versions: [] },
      generator: { loaded: false, version: null, versions: [] },
    });
    const withModels = await serve({ scorer: new CountingScorer() });
    expect((await call(`${withModels}/v1/models`)).body.scorer).toEqual({
      loaded: true,
      version: 'vs-test-1',
      versions: [],
    });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const base = await serve();
    expect(await call(`${base}/v1/nothing`)).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
  });

  it('exports latency histograms by route, the score queue depth and the model versions', async () => {
    const base = await serve({ scorer: new CountingScorer() });
    await call(`${base}/v1/lake/summary`);
    await call(`${base}/v1/score`, { method: 'POST', headers: json, body: JSON.stringify({ text: 'hi?' }) });
    const metrics = (await call(`${base}/metrics`)).text;
    expect(metrics).toMatch(
      /tkllm_http_request_duration_seconds_bucket\{le="[\d.]+",method="GET",route="\/v1\/lake\/summary",status_code="200"\} 1/,
    );
    expect(metrics).toMatch(/tkllm_queue_depth\{queue="score"\} 0/);
    expect(metrics).toMatch(/tkllm_batch_size_count\{queue="score"\} 1/);
    expect(metrics).toMatch(/tkllm_model_info\{kind="scorer",version="vs-test-1"\} 1/);
    expect(metrics).toMatch(/tkllm_queue_depth\{queue="lake"\} 0/);
    expect(metrics).toMatch(/tkllm_process_cpu_seconds_total/);
  });

  it('serves the API docs page and its assets from this server, not a CDN', async () => {
    const base = await serve();
    const page = await call(`${base}/docs/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('swagger-ui');
    expect(page.text).not.toMatch(/src="https?:\/\/|href="https?:\/\//);
    const init = await call(`${base}/docs/static/swagger-initializer.js`);
    expect(init.status).toBe(200);
    expect((await call(`${base}/docs/static/swagger-ui-bundle.js`)).status).toBe(200);
  });

  it('says how to build the studio when it is not built', async () => {
    const base = await serve({ studioDir: null });
    const res = await call(`${base}/`);
    expect(res.status).toBe(503);
    expect(res.text).toMatch(/npm run build:web/);
  });
});

describe('lake endpoints', () => {
  it('returns the same summary as lakeStats, with the requested number of hashtags', async () => {
    const base = await serve();
    const res = await call(`${base}/v1/lake/summary?top=3`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(await lakeStats(fixture.lake, { topHashtags: 3 }))));
    expect(res.body.topHashtags).toHaveLength(3);
  });

  it('rejects a bad summary query with a 400 naming the parameter', async () => {
    const base = await serve();
    for (const q of ['top=x', 'top=0', 'top=101'])
      expect(await call(`${base}/v1/lake/summary?${q}`)).toMatchObject({
        status: 400,
        body: { error: { code: 'VALIDATION', field: 'top' } },
      });
  });

  it('bins plays by powers of ten, every post with plays counted once', async () => {
    const base = await serve();
    const res = await call(`${base}/v1/lake/engagement`);
    const bins = res.body.bins as { from: number; to: number; posts: number }[];
    const withPlays = await fixture.lake.count('SELECT count(*) FROM posts WHERE plays IS NOT NULL');
    expect(bins.reduce((a, b) => a + b.posts, 0)).toBe(withPlays);
    for (const b of bins) expect(b.to).toBe(b.from === 0 ? 1 : b.from * 10);
  });

  it('gives weekly series of the top hashtags, and 400 for an unknown bucket', async () => {
    const base = await serve();
    const res = await call(`${base}/v1/lake/trends?tags=3&bucket=week`);
    expect(res.status).toBe(200);
    const tags = res.body.tags as {
      tag: string;
      posts: number;
      series: { start: string; posts: number }[];
    }[];
    expect(tags.map((t) => t.tag)).toEqual(
      (await lakeStats(fixture.lake, { topHashtags: 3 })).topHashtags.map((t) => t.tag),
    );
    for (const t of tags) {
      expect(t.series.length).toBeGreaterThan(1); // the sample's trending lists span four weeks
      for (const p of t.series) expect(new Date(`${p.start}T00:00:00Z`).getUTCDay()).toBe(1); // ISO weeks start on Monday
      expect(Math.max(...t.series.map((p) => p.posts))).toBeLessThanOrEqual(t.posts);
    }
    expect(await call(`${base}/v1/lake/trends?bucket=year`)).toMatchObject({
      status: 400,
      body: { error: { field: 'bucket' } },
    });
  });
});

describe('ingest endpoints', () => {
  const posts = [
    {
      id: '9001',
      username: 'ana',
      video_description: 'ramen at 3am #food #latenight',
      create_time: 1_735_689_600,
      view_count: 5000,
      like_count: 400,
      comment_count: 20,
      share_count: 30,
    },
    {
      id: '9002',
      username: 'ana',
      video_description: 'part two #food',
      create_time: 1_735_776_000,
      view_count: 'lots',
      like_count: 1,
      comment_count: 1,
      share_count: 1,
    },
  ];

  it('refuses writes without a key, with an unknown key, and on a server with no keys', async () => {
    const base = await serve();
    const body = JSON.stringify({ posts });
    expect(await call(`${base}/v1/ingest`, { method: 'POST', headers: json, body })).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED' } },
    });
    expect(
      (
        await call(`${base}/v1/ingest`, {
          method: 'POST',
          headers: { ...json, 'x-api-key': 'wrong-key-0000000000' },
          body,
        })
      ).status,
    ).toBe(401);
    const keyless = await serve({ apiKeys: apiKeyStore([]) });
    const res = await call(`${keyless}/v1/ingest`, { method: 'POST', headers: { ...json, ...auth }, body });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/no API keys configured/);
  });

  it('ingests JSON posts into the lake and reports accepted and rejected rows', async () => {
    const base = await serve();
    const before = await fixture.lake.count('SELECT count(*) FROM posts');
    expect((await call(`${base}/v1/lake/summary`)).body.posts).toBe(before); // cached until the next write
    const res = await call(`${base}/v1/ingest`, {
      method: 'POST',
      headers: { ...json, ...auth },
      body: JSON.stringify({ posts, format: 'tiktok-research', observedAt: '2025-01-05T00:00:00Z' }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      shape: 'tiktok-research',
      rowsRead: 2,
      rowsAccepted: 1,
      rowsRejected: 1,
      newPosts: 1,
    });
    expect(Object.keys(res.body.rejectsByReason as object)).toEqual(['not_a_number']);
    expect(await fixture.lake.count('SELECT count(*) FROM posts')).toBe(before + 1);
    const summary = await call(`${base}/v1/lake/summary`);
    expect(summary.body.posts).toBe(before + 1);
  });

  it('answers malformed and invalid JSON bodies with a 400 naming the field', async () => {
    const base = await serve();
    const post = (body: string) =>
      call(`${base}/v1/ingest`, { method: 'POST', headers: { ...json, ...auth }, body });
    expect(await post('{"posts": [')).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION', field: 'body' } },
    });
    expect(await post('{}')).toMatchObject({ status: 400, body: { error: { field: 'posts' } } });
    expect(await post('{"posts": []}')).toMatchObject({ status: 400, body: { error: { field: 'posts' } } });
    expect(await post('{"posts": [1]}')).toMatchObject({
      status: 400,
      body: { error: { field: 'posts.0' } },
    });
    expect(await post(JSON.stringify({ posts, format: 'myspace' }))).toMatchObject({
      status: 400,
      body: { error: { field: 'format' } },
    });
    expect(await post(JSON.stringify({ posts, observedAt: 'yesterday' }))).toMatchObject({
      status: 400,
      body: { error: { field: 'observedAt' } },
    });
  });

  it('answers an ingest body over the upload limit with 413', async () => {
    const base = await serve({ uploadLimitBytes: 2000 });
    const big = Array.from({ length: 50 }, (_, i) => ({ ...posts[0], id: String(i) }));
    const res = await call(`${base}/v1/ingest`, {
      method: 'POST',
      headers: { ...json, ...auth },
      body: JSON.stringify({ posts: big }),
    });
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'TOO_LARGE' } } });
  });

  it('ingests an uploaded CSV export, and refuses a form without a file or over the limit', async () => {
    const base = await serve({ uploadLimitBytes: 4000 });
    const csv =
      'id,username,video_description,create_time,region_code,view_count,like_count,comment_count,share_count\n' +
      '9100,bo,hello #upload,1735689600,US,100,1,1,1\n9101,bo,again #upload,1735689700,US,200,1,1,1\n';
    const form = new FormData();
    form.append('format', 'tiktok-research');
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'bo-2025.csv');
    const res = await call(`${base}/v1/ingest/file`, { method: 'POST', headers: auth, body: form });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ file: 'bo-2025.csv', reader: 'csv', rowsAccepted: 2, newPosts: 2 });
    expect(await fixture.lake.count(`SELECT count(*) FROM hashtags WHERE tag = 'upload'`)).toBe(2);

    const empty = new FormData();
    empty.append('format', 'tiktok-research');
    expect(
      await call(`${base}/v1/ingest/file`, { method: 'POST', headers: auth, body: empty }),
    ).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION' } },
    });
    const big = new FormData();
    big.append('file', new Blob([csv.repeat(40)], { type: 'text/csv' }), 'big.csv');
    expect(await call(`${base}/v1/ingest/file`, { method: 'POST', headers: auth, body: big })).toMatchObject({
      status: 413,
    });
    const noKey = new FormData();
    noKey.append('file', new Blob([csv]), 'x.csv');
    expect((await call(`${base}/v1/ingest/file`, { method: 'POST', body: noKey })).status).toBe(401);
  });
});

describe('score endpoints', () => {
  const post = (base: string, path: string, body: unknown) =>
    call(`${base}${path}`, {
      method: 'POST',
      headers: json,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('says no model is trained yet, with code MODEL_STATE, rather than inventing a score', async () => {
    const base = await serve();
    for (const [path, body] of [
      ['/v1/score', { text: 'hi' }],
      ['/v1/score/batch', { drafts: [{ text: 'hi' }] }],
    ] as const) {
      const res = await post(base, path, body);
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({
        code: 'MODEL_STATE',
        message: 'no model trained yet — run tkllm viralscore train',
      });
    }
  });

  it('scores one draft and a batch in order, with subscores and guidance', async () => {
    const base = await serve({ scorer: new CountingScorer() });
    const one = await post(base, '/v1/score', { text: 'Did you know this?', hashtags: ['a', 'b'] });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({
      modelVersion: 'vs-test-1',
      score: {
        viralScore: 0.18,
        subscores: { emotion: 0.5, hook: 0.9, replicability: 0.1, share: 0.3, trend: 0.2 },
        guidance: [],
      },
    });
    const texts = ['a'.repeat(10), 'b'.repeat(50), 'c?'];
    const batch = await post(base, '/v1/score/batch', { drafts: texts.map((text) => ({ text })) });
    expect(batch.body.scores.map((s) => s.viralScore)).toEqual([0.1, 0.5, 0.02]);
    expect(batch.body.scores[0].guidance).toEqual(['open with a question']);
  });

  it('batches drafts of concurrent requests into shared scorer calls', async () => {
    const scorer = new CountingScorer();
    const base = await serve({ scorer, scoreBatch: { maxBatchSize: 64, maxWaitMs: 20 } });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => post(base, '/v1/score', { text: 'x'.repeat(i + 1) })),
    );
    expect(results.map((r) => r.body.score.viralScore)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i + 1) / 100),
    );
    expect(scorer.batches.reduce((a, b) => a + b, 0)).toBe(12);
    expect(scorer.batches.length).toBeLessThan(12);
  });

  it('answers bad drafts with a 400 naming the field', async () => {
    const base = await serve({ scorer: new CountingScorer() });
    const cases: [string, unknown, string][] = [
      ['/v1/score', {}, 'text'],
      ['/v1/score', { text: '' }, 'text'],
      ['/v1/score', { text: 5 }, 'text'],
      ['/v1/score', { text: 'ok', hashtags: 'food' }, 'hashtags'],
      ['/v1/score', { text: 'ok', postedAt: 'soon' }, 'postedAt'],
      ['/v1/score', { text: 'ok', mood: 'happy' }, 'mood'],
      ['/v1/score', '{"text": "unterminated', 'body'],
      ['/v1/score/batch', { drafts: [] }, 'drafts'],
      ['/v1/score/batch', { drafts: [{ text: 'ok' }, { txt: 'typo' }] }, 'drafts.1.text'],
      ['/v1/score/batch', { drafts: Array.from({ length: 257 }, () => ({ text: 'x' })) }, 'drafts'],
    ];
    for (const [path, body, field] of cases) {
      const res = await post(base, path, body);
      expect({ path, body, status: res.status, field: res.body.error?.field }).toEqual({
        path,
        body,
        status: 400,
        field,
      });
      expect(res.body.error.message).toContain(field === 'body' ? 'JSON' : `\`${field}\``);
    }
  });

  it('answers a body over the JSON limit with 413', async () => {
    const base = await serve({ scorer: new CountingScorer(), bodyLimitBytes: 1024 });
    const res = await post(base, '/v1/score', { text: 'x'.repeat(2000) });
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'TOO_LARGE' } } });
  });
});

describe('generate endpoints', () => {
  const post = (base: string, path: string, body: unknown) =>
    call(`${base}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });

  it('says no language model is trained yet', async () => {
    const base = await serve();
    for (const path of ['/v1/generate', '/v1/generate/stream']) {
      const res = await post(base, path, { prompt: 'a hook about ramen' });
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'MODEL_STATE' } } });
      expect(res.body.error.message).toMatch(/no language model trained yet/);
    }
  });
});

describe('check endpoint', () => {
  const post = (base: string, body: unknown) =>
    call(`${base}/v1/check`, { method: 'POST', headers: json, body: JSON.stringify(body) });

  it('gives the policy verdict of the default packs: hits with spans, brand safety, blocked', async () => {
    const base = await serve();
    const clean = await post(base, { text: 'Three hooks that made my last video travel' });
    expect(clean).toMatchObject({ status: 200, body: { blocked: false, brandSafety: 1, hits: [] } });
    const text = 'Ok so try the blackout challenge tonight, tag 3 friends';
    const risky = await post(base, { text });
    expect(risky.status).toBe(200);
    expect(risky.body.blocked).toBe(true);
    expect(risky.body.brandSafety).toBe(0);
    const hits = risky.body.hits as { ruleId: string; span: [number, number]; text: string }[];
    expect(hits.some((h) => h.ruleId.endsWith('/platform.engagement-bait'))).toBe(true); // `pack/rule`
    for (const h of hits) expect(text.slice(h.span[0], h.span[1])).toBe(h.text);
  });

  it('applies region rules only in their region, and names bad fields', async () => {
    const base = await serve();
    expect((await post(base, { text: 'a swastika drawing', region: 'DE' })).body.blocked).toBe(true);
    expect((await post(base, { text: 'a swastika drawing', region: 'US' })).body.blocked).toBe(false);
    for (const [body, field] of [
      [{}, 'text'],
      [{ text: '' }, 'text'],
      [{ text: 'x', region: 'Germany' }, 'region'],
      [{ text: 'x', pack: 'brand' }, 'pack'],
    ] as const)
      expect(await post(base, body)).toMatchObject({ status: 400, body: { error: { field } } });
  });
});

describe('rate limits', () => {
  it('limits each key separately and answers 429 with a retry hint', async () => {
    const other = 'other-secret-key-0123456789';
    const base = await serve({
      rateLimit: { max: 3, windowMs: 60_000 },
      apiKeys: apiKeyStore([`ci:${key}`, `ops:${other}`]),
    });
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await call(`${base}/v1/lake/summary`, { headers: auth })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await call(`${base}/v1/lake/summary`, { headers: auth });
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await call(`${base}/v1/lake/summary`, { headers: { 'x-api-key': other } })).status).toBe(200);
    expect((await call(`${base}/healthz`, { headers: auth })).status).toBe(200);
  });
});
