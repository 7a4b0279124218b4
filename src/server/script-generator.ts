import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { generatePaths, openGenerator, type GeneratedCandidate as Candidate } from '../generate/index.js';
import type { Lake } from '../lake/index.js';
import { ViralScoreRegistry } from '../viralscore/index.js';
import type {
  GeneratedCandidate,
  GenerateRequest,
  GenerationEvent,
  LakeUse,
  ScriptGenerator,
} from './models.js';

const toCandidate = (c: Candidate, rank: number): GeneratedCandidate => ({
  rank,
  text: c.text,
  tokens: c.tokens,
  logProbNorm: c.logProbNorm,
  v: c.v,
  vPenalised: c.vPenalised,
  score: c.score,
  subscores: { ...c.subscores },
  contributions: { ...c.contributions },
  policy: {
    blocked: c.policy.blocked,
    brandSafety: c.policy.brandSafety,
    reasons: [...c.policy.reasons],
    hits: c.policy.hits.map((h) => ({
      ruleId: h.ruleId,
      category: String(h.category),
      severity: String(h.severity),
      text: h.text,
    })),
  },
  keywordHit: c.keywordHit,
  finishReason: c.finishReason,
});

/**
 * src/generate's generator (TKLLM, the active estimator, policy, rerank, audit) behind the server's
 * `ScriptGenerator` face, or undefined when the data directory has no LM (`models/lm/tokenizer.json`) or no
 * estimator. Opened before the server listens, so it reads the lake directly; while serving, every
 * generation runs inside `useLake` (the server's lake gate): the estimator's history reads and the audit
 * write go through the lake's one connection in turn with ingests and summaries.
 *
 * Decoding is synchronous (sampleScripts) and src/generate exposes no per-step hook, so candidates arrive
 * once the whole batch is decoded, scored and reranked: the events are the ranked candidates, then `done`.
 * @example
 * const generator = await openScriptGenerator(lake, './tkllm-data');
 */
export async function openScriptGenerator(lake: Lake, dataDir: string): Promise<ScriptGenerator | undefined> {
  const { lmDir } = generatePaths(dataDir);
  if (!existsSync(join(lmDir, 'tokenizer.json'))) return undefined;
  if (new ViralScoreRegistry(dataDir).list().length === 0) return undefined;
  const opened = await openGenerator(lake, dataDir);
  const version = `${basename(lmDir)}+${opened.scorer.version}`;
  return {
    version,
    close: () => opened.close(),
    async *generate(request: GenerateRequest, signal: AbortSignal, useLake: LakeUse) {
      if (signal.aborted) return;
      const result = await useLake(async () =>
        opened.generator.generate(request.prompt, {
          n: request.n,
          eta: request.eta,
          seconds: request.seconds,
          ...(request.creator === undefined ? {} : { creator: request.creator }),
          ...(request.seed === undefined ? {} : { seed: request.seed }),
          ...(request.keywords === undefined ? {} : { keywords: request.keywords }),
          ...(request.bannedWords === undefined ? {} : { bannedWords: request.bannedWords }),
          ...(request.region === undefined ? {} : { region: request.region }),
        }),
      );
      for (const [rank, c] of result.candidates.entries()) {
        if (signal.aborted) return;
        yield { type: 'candidate', candidate: toCandidate(c, rank) } satisfies GenerationEvent;
      }
      yield {
        type: 'done',
        summary: {
          modelVersion: version,
          estimator: result.settings.estimator,
          sampled: result.sampled,
          blocked: result.blocked,
          withoutKeyword: result.withoutKeyword,
          empty: result.empty,
          auditId: result.auditId ?? null,
          timings: result.timings,
        },
      } satisfies GenerationEvent;
    },
  };
}
