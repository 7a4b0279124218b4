import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeHandle } from '../cli/server-commands.js';
import { generatePaths, prepareWorkspace, TINY_WORKSPACE } from '../generate/index.js';
import { Lake } from '../lake/index.js';
import { CREATORS_FILE, LmModel, saveLmVersion, snapshotLm, TOKENIZER_FILE } from '../lm/index.js';
import { readAudit } from '../safety/index.js';

// A real workspace: the bundled sample, a tiny estimator and a tiny TKLLM (seconds to train), served by
// `startServe`, which loads the generator because both models exist.
const dir = mkdtempSync(join(tmpdir(), 'tkllm-serve-generate-'));
let serve: ServeHandle;
const auditIds: string[] = [];
const key = 'switch-test-key-0000000000';
beforeAll(async () => {
  await prepareWorkspace(dir, TINY_WORKSPACE);
  const apiKeysFile = join(dir, 'keys.txt');
  writeFileSync(apiKeysFile, `ci:${key}\n`);
  serve = await startServe({ dataDir: dir, host: '127.0.0.1', port: 0, logLevel: 'silent', apiKeysFile });
}, 180_000);
afterAll(async () => {
  await serve?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Candidate {
  rank: number;
  index: number;
  text: string;
  v: number;
  vPenalised: number;
  score: number;
  logProbNorm: number;
  subscores: Record<string, number>;
  contributions: Record<string, number>;
  policy: { blocked: boolean; brandSafety: number };
  keywordHit: boolean;
}

const parseSse = (text: string) =>
  text
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => ({
      event: /^event: (.+)$/m.exec(block)?.[1],
      data: JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? 'null') as unknown,
    }));

const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${serve.url}${path.slice(1)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

describe('POST /v1/generate on a trained LM and estimator', () => {
  it('lists the generator as loaded', async () => {
    const models = (await (await fetch(`${serve.url}v1/models`)).json()) as {
      generator: { loaded: boolean; version: string };
    };
    expect(models.generator.loaded).toBe(true);
    expect(models.generator.version).toMatch(/^lm\+v\d+$/);
  });

  it('returns the candidates ranked best first with V, subscores, contributions and policy, and audits them', async () => {
    const res = await post('/v1/generate', { prompt: 'What', n: 6, seed: 3, eta: 1, bannedWords: ['zzz'] });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as {
      candidates: Candidate[];
      sampled: number;
      blocked: number;
      auditId: string;
      estimator: string;
    };
    expect(body.sampled).toBe(6);
    expect(body.candidates.length).toBeGreaterThan(0);
    expect(body.candidates.length).toBeLessThanOrEqual(6);
    expect(body.candidates.map((c) => c.rank)).toEqual(body.candidates.map((_, i) => i));
    for (const [i, c] of body.candidates.entries()) {
      expect(c.text.startsWith('What')).toBe(true);
      expect(c.text).not.toMatch(/zzz/i);
      expect(c.policy.blocked).toBe(false);
      expect(Object.keys(c.subscores).sort()).toEqual(['E', 'H', 'R', 'S', 'T']);
      expect(Object.keys(c.contributions).sort()).toEqual(['E', 'H', 'R', 'S', 'T']);
      expect(c.v).toBeGreaterThanOrEqual(0);
      expect(c.v).toBeLessThanOrEqual(1);
      expect(c.score).toBeCloseTo(c.logProbNorm + 1 * c.vPenalised, 6);
      if (i > 0) expect(c.score).toBeLessThanOrEqual(body.candidates[i - 1].score);
    }
    // The same seed gives the same candidates; the audit write went through the server's lake.
    const again = JSON.parse(
      (await post('/v1/generate', { prompt: 'What', n: 6, seed: 3, eta: 1, bannedWords: ['zzz'] })).text,
    ) as { candidates: Candidate[] };
    expect(again.candidates.map((c) => c.text)).toEqual(body.candidates.map((c) => c.text));
    auditIds.push(body.auditId);
  });

  it('answers bad requests with a 400 naming the field', async () => {
    for (const [body, field] of [
      [{}, 'prompt'],
      [{ prompt: '' }, 'prompt'],
      [{ prompt: 'x', n: 0 }, 'n'],
      [{ prompt: 'x', n: 65 }, 'n'],
      [{ prompt: 'x', n: 1.5 }, 'n'],
      [{ prompt: 'x', seconds: 20 }, 'seconds'],
      [{ prompt: 'x', eta: -1 }, 'eta'],
      [{ prompt: 'x', seed: -1 }, 'seed'],
      [{ prompt: 'x', keywords: 'ramen' }, 'keywords'],
      [{ prompt: 'x', bannedWords: [''] }, 'bannedWords.0'],
      [{ prompt: 'x', region: 1 }, 'region'],
      [{ prompt: 'x', candidates: 4 }, 'candidates'],
    ] as const)
      for (const path of ['/v1/generate', '/v1/generate/stream']) {
        const res = await post(path, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((JSON.parse(res.text) as { error: { field: string } }).error.field).toBe(field);
      }
    // src/generate's own checks (a creator without a style row) are a 400 too.
    const res = await post('/v1/generate', { prompt: 'x', creator: 'nobody-at-all', n: 2 });
    expect(res.status).toBe(400);
    const error = (JSON.parse(res.text) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toMatch(/creator "nobody-at-all" has no style row/);
  });

  it('streams text as it is decoded, then the ranked candidates, then done, as server-sent events', async () => {
    const res = await post('/v1/generate/stream', {
      prompt: 'What',
      n: 4,
      seed: 1,
      seconds: 15,
      bannedWords: ['the'],
    });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/event-stream/);
    const events = parseSse(res.text);
    expect(events[0]).toEqual({ event: 'start', data: { prompt: 'What', n: 4, seconds: 15 } });
    const tokens = events
      .filter((e) => e.event === 'token')
      .map((e) => e.data as { candidate: number; text: string });
    const rankedAt = events.findIndex((e) => e.event === 'ranked');
    expect(tokens.length).toBeGreaterThan(4);
    // Every token event comes before the ranking.
    expect(events.findLastIndex((e) => e.event === 'token')).toBeLessThan(rankedAt);
    const candidates = (events[rankedAt].data as { candidates: Candidate[] }).candidates;
    expect(candidates.length).toBeGreaterThan(0);
    expect(candidates.map((c) => c.rank)).toEqual(candidates.map((_, i) => i));
    for (let i = 1; i < candidates.length; i++)
      expect(candidates[i].score).toBeLessThanOrEqual(candidates[i - 1].score);
    // Per candidate, the streamed pieces spell its final text after the prompt; no prefix held a banned word.
    const streamed = new Map<number, string>();
    for (const t of tokens) {
      const so = (streamed.get(t.candidate) ?? '') + t.text;
      streamed.set(t.candidate, so);
      expect(`What${so}`).not.toMatch(/\bthe\b/i);
    }
    for (const c of candidates) {
      expect(`What${streamed.get(c.index) ?? ''}`).toBe(c.text);
      expect(Object.keys(c.subscores).sort()).toEqual(['E', 'H', 'R', 'S', 'T']);
      expect(c.policy.blocked).toBe(false);
    }
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ sampled: 4, ranking: candidates.map((c) => c.index) });
    // The plain endpoint gives the same ranking for the same request.
    const plain = JSON.parse(
      (await post('/v1/generate', { prompt: 'What', n: 4, seed: 1, bannedWords: ['the'] })).text,
    ) as { candidates: Candidate[] };
    expect(plain.candidates.map((c) => c.text)).toEqual(candidates.map((c) => c.text));
  });

  it('takes style strength, RAD eta, hashtags and the posting time, and names a bad one', async () => {
    const body = { prompt: 'How to', n: 3, seed: 2, creator: undefined as string | undefined };
    const models = (await (await fetch(`${serve.url}v1/models`)).json()) as {
      generator: { loaded: boolean };
    };
    expect(models.generator.loaded).toBe(true);
    const res = await post('/v1/generate', {
      ...body,
      styleStrength: 0.5,
      radEta: 2,
      hashtags: ['fyp', '#food'],
      postedAt: '2017-10-01T18:00:00Z',
    });
    expect(res.status, res.text).toBe(200);
    expect((JSON.parse(res.text) as { candidates: Candidate[] }).candidates.length).toBeGreaterThan(0);
    for (const [extra, field] of [
      [{ styleStrength: -1 }, 'styleStrength'],
      [{ radEta: 'x' }, 'radEta'],
      [{ hashtags: [''] }, 'hashtags.0'],
      [{ postedAt: 'yesterday' }, 'postedAt'],
    ] as const) {
      const bad = await post('/v1/generate', { prompt: 'x', ...extra });
      expect(bad.status).toBe(400);
      expect((JSON.parse(bad.text) as { error: { field: string } }).error.field).toBe(field);
    }
  });

  it('answers health and lake reads while a generation decodes in its thread', async () => {
    const res = await fetch(`${serve.url}v1/generate/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'How', n: 64, seconds: 60, seed: 4 }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    // Chunks are read as they arrive, each noted in order with what else had happened by then.
    const order: string[] = [];
    let text = '';
    let firstToken!: () => void;
    const tokenSeen = new Promise<void>((resolve) => (firstToken = resolve));
    const reading = (async () => {
      for (;;) {
        const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (chunk.done) break;
        const piece = decoder.decode(chunk.value);
        text += piece;
        if (piece.includes('event: token')) {
          order.push('token');
          firstToken();
        }
      }
    })();
    await tokenSeen;
    const health = await fetch(`${serve.url}healthz`);
    expect(health.status).toBe(200);
    const summary = await fetch(`${serve.url}v1/lake/summary`);
    expect(summary.status).toBe(200);
    order.push('answered');
    await reading;
    // Tokens kept arriving after health and the lake summary answered: they did not wait for the batch.
    expect(order.lastIndexOf('token')).toBeGreaterThan(order.indexOf('answered'));
    expect(parseSse(text).at(-1)?.event).toBe('done');
  });

  it('switches the LM between its saved versions while serving, and reloads generation on an estimator switch', async () => {
    interface Models {
      generator: { version: string; versions: { version: string; active: boolean; kind: string }[] };
    }
    const request = { prompt: 'What', n: 4, seed: 5 };
    const texts = async () =>
      (JSON.parse((await post('/v1/generate', request)).text) as { candidates: Candidate[] }).candidates.map(
        (c) => c.text,
      );
    const activate = (kind: string, version: string) =>
      post('/v1/models/active', { kind, version }, { authorization: `Bearer ${key}` });
    const first = await texts();
    // v1 is the served model; v2 the same architecture and tokenizer with other weights.
    const { lmDir } = generatePaths(dir);
    snapshotLm(lmDir, 'initial');
    saveLmVersion(lmDir, 'update', (d) => {
      for (const f of [TOKENIZER_FILE, CREATORS_FILE]) copyFileSync(join(lmDir, f), join(d, f));
      new LmModel(LmModel.load(lmDir).config, { seed: 7 }).save(d);
    });
    const listed = JSON.parse(await (await fetch(`${serve.url}v1/models`)).text()) as Models;
    expect(listed.generator.versions).toEqual([
      {
        version: 'v1',
        active: true,
        kind: 'initial',
        parent: null,
        createdAt: expect.any(String) as unknown,
      },
      {
        version: 'v2',
        active: false,
        kind: 'update',
        parent: 'v1',
        createdAt: expect.any(String) as unknown,
      },
    ]);

    expect((await post('/v1/models/active', { kind: 'lm', version: 'v2' })).status).toBe(401);
    const switched = await activate('lm', 'v2');
    expect(switched.status).toBe(200);
    const models = JSON.parse(switched.text) as Models;
    expect(models.generator.version).toMatch(/^lm@v2\+v\d+$/);
    expect(models.generator.versions.map((v) => v.active)).toEqual([false, true]);
    expect(await texts()).not.toEqual(first);
    const metrics = await (await fetch(`${serve.url}metrics`)).text();
    expect(metrics).toContain(`tkllm_model_info{kind="generator",version="${models.generator.version}"} 1`);

    const missing = await activate('lm', 'v9');
    expect(missing.status).toBe(404);
    expect((JSON.parse(missing.text) as { error: { message: string } }).error.message).toMatch(
      /no LM version "v9"/,
    );
    expect((await activate('lm', 'v1')).status).toBe(200);
    expect(await texts()).toEqual(first);

    // An estimator switch (here to the same version) opens the generator again on the registry's active one.
    const estimator = /\+(v\d+)$/.exec(models.generator.version)![1];
    const again = await activate('scorer', estimator);
    expect(again.status).toBe(200);
    expect((JSON.parse(again.text) as Models).generator.version).toBe(`lm@v1+${estimator}`);
    expect(await texts()).toEqual(first);
  }, 120_000);

  it('wrote one audit row per sampled candidate through the server lake', async () => {
    await serve.close();
    const lake = await Lake.open(dir);
    try {
      expect(auditIds).toHaveLength(1);
      const rows = await readAudit(lake, { auditId: auditIds[0] });
      expect(rows).toHaveLength(6);
    } finally {
      lake.close();
    }
  });

  it('closes cleanly with the generator loaded: a served process exits on its own after close()', () => {
    // The lake is free again (the test above closed the server). A child serves, generates once, closes and
    // must then exit without help: a thread or handle left behind would keep it alive until the kill.
    const script = join(dir, 'serve-and-close.mts');
    const serverCommands = new URL('../cli/server-commands.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { startServe } from ${JSON.stringify(serverCommands)};
const s = await startServe({ dataDir: ${JSON.stringify(dir)}, host: '127.0.0.1', port: 0, logLevel: 'silent' });
const res = await fetch(s.url + 'v1/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'How', n: 2 }) });
console.log('status', res.status);
await s.close();
console.log('closed');
`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 90_000,
      killSignal: 'SIGKILL',
    });
    expect(child.stdout, child.stderr).toContain('status 200');
    expect(child.stdout).toContain('closed');
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
  }, 120_000);
});
