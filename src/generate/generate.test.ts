import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../lake/index.js';
import { sampleScripts } from '../lm/index.js';
import { bannedTermsPack, Policy, readAudit } from '../safety/index.js';
import {
  checkDraft,
  openGenerator,
  prepareWorkspace,
  rerank,
  TINY_WORKSPACE,
  type OpenedGenerator,
} from './index.js';

// One small workspace for the file: the bundled sample, a tiny estimator and a tiny LM (seconds to train).
const dir = mkdtempSync(join(tmpdir(), 'tkllm-generate-'));
let lake: Lake;
let opened: OpenedGenerator;
beforeAll(async () => {
  await prepareWorkspace(dir, TINY_WORKSPACE);
  lake = await Lake.open(dir);
  opened = await openGenerator(lake, dir, { rad: true });
}, 120_000);
afterAll(() => {
  opened?.close();
  lake?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rerank', () => {
  it('orders by logP_norm + eta * V, best first, ties in input order', () => {
    const c = [
      { id: 'a', logProbNorm: -2, vPenalised: 0.9 },
      { id: 'b', logProbNorm: -1.5, vPenalised: 0.1 },
      { id: 'c', logProbNorm: -1.2, vPenalised: 0.2 },
      { id: 'd', logProbNorm: -1.5, vPenalised: 0.1 },
    ];
    expect(rerank(c, 0).map((x) => x.id)).toEqual(['c', 'b', 'd', 'a']);
    expect(rerank(c, 1).map((x) => x.id)).toEqual(['c', 'a', 'b', 'd']);
    expect(rerank(c, 1)[0].score).toBeCloseTo(-1.0, 10);
    expect(() => rerank(c, -1)).toThrow(/`eta` must be a finite number >= 0/);
  });

  it('returns generated candidates in the stated score order with V, subscores and policy status', async () => {
    const r = await opened.generator.generate('How to', { n: 12, eta: 2, seed: 3 });
    expect(r.candidates.length).toBeGreaterThan(0);
    for (const c of r.candidates) {
      expect(c.score).toBeCloseTo(c.logProbNorm + 2 * c.vPenalised, 10);
      expect(Object.keys(c.subscores)).toEqual(['E', 'H', 'R', 'S', 'T']);
      expect(Object.keys(c.contributions)).toEqual(['E', 'H', 'R', 'S', 'T']);
      expect(c.policy.blocked).toBe(false);
      expect(c.text.startsWith('How to')).toBe(true);
    }
    for (let i = 1; i < r.candidates.length; i++)
      expect(r.candidates[i - 1].score).toBeGreaterThanOrEqual(r.candidates[i].score);
  });
});

describe('controls', () => {
  it('keeps scripts within the seconds budget at the stated words per second', async () => {
    const r = await opened.generator.generate('', { n: 8, seconds: 2, wordsPerSecond: 2, seed: 1 });
    expect(r.settings.words).toBe(4);
    for (const c of r.candidates) expect(c.text.split(/\s+/).filter(Boolean).length).toBeLessThanOrEqual(4);
  });

  it('ends a candidate once its budget is spent instead of decoding text that is cut', async () => {
    const short = await opened.generator.generate('', { n: 16, seconds: 1, wordsPerSecond: 2, seed: 1 });
    const long = await opened.generator.generate('', { n: 16, seconds: 60, seed: 1 });
    expect(short.sampledTokens).toBeLessThan(long.sampledTokens);
    const cut = short.candidates.filter((c) => c.finishReason === 'cut');
    expect(cut.length).toBeGreaterThan(0);
    for (const c of cut) expect(c.text.split(/\s+/).filter(Boolean)).toHaveLength(2);
  });

  it('stops every candidate at its next step once the signal is aborted', async () => {
    const signal = { aborted: false };
    let seen = 0;
    const r = await opened.generator.generate('', {
      n: 4,
      seconds: 60,
      seed: 2,
      audit: false,
      signal,
      onToken: () => {
        if (++seen === 3) signal.aborted = true;
      },
    });
    expect(r.sampledTokens).toBeLessThan(4 * 12);
    expect(r.candidates.every((c) => c.finishReason === 'aborted')).toBe(true);
  });

  it('returns only candidates that hold a keyword', async () => {
    const r = await opened.generator.generate('', { n: 16, keywords: ['the'], keywordBias: 6, seed: 2 });
    expect(r.candidates.length + r.withoutKeyword + r.blocked + r.empty).toBeGreaterThanOrEqual(
      r.candidates.length,
    );
    for (const c of r.candidates) expect(c.text.toLowerCase()).toMatch(/\bthe\b/);
  });

  it('scales the creator style: strength 0 writes like the generic row', () => {
    const creator = opened.lm.creators[1];
    const at = (styleStrength: number) =>
      opened.generator.sample('', { n: 4, creator, styleStrength, seed: 5 }).drafts.map((d) => d.text);
    const generic = opened.generator.sample('', { n: 4, seed: 5 }).drafts.map((d) => d.text);
    expect(at(0)).toEqual(generic);
    expect(at(4)).not.toEqual(generic);
    expect(at(1)).toEqual(at(1));
  });

  it('refuses bad requests with the parameter named', async () => {
    await expect(opened.generator.generate('x', { creator: 'nobody-at-all' })).rejects.toThrow(
      /creator "nobody-at-all" has no style row/,
    );
    await expect(opened.generator.generate('x', { n: 0 })).rejects.toThrow(/`n` must be a positive integer/);
    await expect(opened.generator.generate('x', { eta: -1 })).rejects.toThrow(/`eta`/);
    await expect(opened.generator.generate('kill it', { bannedWords: ['kill'] })).rejects.toThrow(
      /prompt is blocked by policy/,
    );
  });
});

describe('safety', () => {
  // Short everyday words that a barely trained model writes often, so the mask has work to do.
  const banned = ['the', 'to', 'in', 'of', 'a'];
  const checker = Policy.compile([bannedTermsPack(banned)]);

  it('never emits a banned term in 1,000 sampled candidates (and would without the mask)', () => {
    let hits = 0;
    let unmaskedHits = 0;
    for (let seed = 0; seed < 10; seed++) {
      const batch = opened.generator.sample('', { n: 100, seed, bannedWords: banned, seconds: 6 });
      for (const d of batch.drafts) if (checker.check(d.text).blocked) hits++;
      const plain = sampleScripts(opened.lm.model, opened.lm.tokenizer, {
        candidates: 100,
        seed,
        maxNewTokens: 30,
      });
      for (const c of plain.candidates) if (checker.check(c.text).blocked) unmaskedHits++;
    }
    expect(unmaskedHits).toBeGreaterThan(20);
    expect(hits).toBe(0);
  });

  it('streams pieces that spell each final script and never hold a banned term, even mid-stream', async () => {
    const pieces = new Map<number, string>();
    const r = await opened.generator.generate('How', {
      n: 24,
      seed: 9,
      bannedWords: banned,
      audit: false,
      onToken: ({ candidate, text }) => {
        const so = (pieces.get(candidate) ?? '') + text;
        pieces.set(candidate, so);
        expect(checker.check(`How${so}`).blocked).toBe(false);
      },
    });
    expect(r.candidates.length).toBeGreaterThan(0);
    for (const c of r.candidates) expect(`How${pieces.get(c.index) ?? ''}`).toBe(c.text);
  });

  it('records every generation in the audit table, returned and not', async () => {
    const before = (await readAudit(lake, { limit: 100_000 })).length;
    const results = [];
    for (let seed = 0; seed < 3; seed++)
      results.push(await opened.generator.generate('What', { n: 6, seed, bannedWords: ['zzz'] }));
    const rows = await readAudit(lake, { limit: 100_000 });
    expect(rows.length - before).toBe(18);
    for (const r of results) {
      const mine = rows.filter((row) => row.auditId === r.auditId);
      expect(mine).toHaveLength(6);
      expect(mine.filter((row) => row.returned === true)).toHaveLength(r.candidates.length);
      expect(mine.every((row) => row.kind === 'generation' && row.prompt === 'What')).toBe(true);
    }
  });
});

describe('reward-augmented decoding', () => {
  it('re-weights decoding, reports its cost per token, and its reward predicts V from prefixes', async () => {
    const fit = opened.reward!.model.fit;
    expect(fit.trainCaptions).toBeGreaterThan(100);
    const plain = await opened.generator.generate('How to', { n: 8, seed: 4, audit: false });
    const rad = await opened.generator.generate('How to', { n: 8, seed: 4, radEta: 3, audit: false });
    expect(rad.rad?.positions).toBeGreaterThan(0);
    expect(rad.rad?.microsecondsPerToken).toBeGreaterThan(0);
    expect(rad.candidates.map((c) => c.text)).not.toEqual(plain.candidates.map((c) => c.text));
    await expect(opened.generator.generate('x', { radEta: -1 })).rejects.toThrow(/`radEta`/);
  });
});

describe('guidance', () => {
  it('names the weakest subscore, suggests hooks and trends from the lake, and warns with the rule', async () => {
    const creator = opened.lm.creators[1];
    const g = await checkDraft(lake, opened.scorer, 'my day. this miracle cure works', { creator });
    const lowest = Math.min(...Object.values(g.subscores));
    expect(g.subscores[g.weakest.subscore]).toBe(lowest);
    expect(g.weakest.label).toMatch(
      /^(EmotionIntensity|HookStrength|Replicability|ShareTrigger|TrendMatch)$/,
    );
    expect(g.suggestions[0].target).toBe(g.weakest.subscore);
    expect(g.suggestions[0].message).toContain(g.weakest.label);
    expect(g.suggestions[0].examples.length).toBeGreaterThan(0);
    expect(g.suggestions.some((s) => s.target === 'length')).toBe(true);
    expect(g.policy.warnings.some((w) => /miracle/i.test(w.text) && w.ruleId.includes('/'))).toBe(true);
    const rows = await readAudit(lake, { auditId: g.auditId! });
    expect(rows.map((r) => r.kind)).toEqual(['check']);
  });

  it('refuses an empty draft and an unknown creator', async () => {
    await expect(checkDraft(lake, opened.scorer, '  ')).rejects.toThrow(/draft to check is empty/);
    await expect(checkDraft(lake, opened.scorer, 'hi', { creator: 'no-such' })).rejects.toThrow(
      /creator "no-such" is not in the lake/,
    );
  });
});
