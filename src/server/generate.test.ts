import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeHandle } from '../cli/server-commands.js';
import { prepareWorkspace } from '../generate/index.js';
import { Lake } from '../lake/index.js';
import { readAudit } from '../safety/index.js';

// A real workspace: the bundled sample, a tiny estimator and a tiny TKLLM (seconds to train), served by
// `startServe`, which loads the generator because both models exist.
const dir = mkdtempSync(join(tmpdir(), 'tkllm-serve-generate-'));
let serve: ServeHandle;
const auditIds: string[] = [];
beforeAll(async () => {
  await prepareWorkspace(dir, {
    lm: { vocabSize: 300, dModel: 32, nLayers: 1, nHeads: 2, steps: 40, batchSize: 16, lr: 1e-2 },
    estimator: { epochs: 1, members: 1 },
  });
  serve = await startServe({ dataDir: dir, host: '127.0.0.1', port: 0, logLevel: 'silent' });
}, 180_000);
afterAll(async () => {
  await serve?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Candidate {
  rank: number;
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

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${serve.url}${path.slice(1)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
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

  it('streams the ranked candidates, then done with the summary, as server-sent events', async () => {
    const res = await post('/v1/generate/stream', { prompt: 'What', n: 4, seed: 1, seconds: 15 });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/event-stream/);
    const events = res.text
      .split('\n\n')
      .filter(Boolean)
      .map((block) => ({
        event: /^event: (.+)$/m.exec(block)?.[1],
        data: JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? 'null') as Record<string, unknown>,
      }));
    const candidates = events
      .filter((e) => e.event === 'candidate')
      .map((e) => e.data as unknown as Candidate);
    expect(candidates.length).toBeGreaterThan(0);
    expect(candidates.map((c) => c.rank)).toEqual(candidates.map((_, i) => i));
    for (let i = 1; i < candidates.length; i++)
      expect(candidates[i].score).toBeLessThanOrEqual(candidates[i - 1].score);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ sampled: 4, ranking: candidates.map((c) => c.rank) });
    // The plain endpoint gives the same ranking for the same request.
    const plain = JSON.parse((await post('/v1/generate', { prompt: 'What', n: 4, seed: 1 })).text) as {
      candidates: Candidate[];
    };
    expect(plain.candidates.map((c) => c.text)).toEqual(candidates.map((c) => c.text));
  });

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
});
