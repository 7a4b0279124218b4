import { silentProgress, ValidationError } from '../core/index.js';
import type { ProgressReporter } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { GeneratedCandidate, GenerateOptions, Generator } from './generator.js';
import { rerank } from './rerank.js';
import { readCaptionRecords } from './workspace.js';

/** Options of `evaluateGeneration`. */
export interface EvaluateGenerationOptions {
  /** Held-out prompts: the newest captions, cut to their first `promptWords` words (default 20 prompts). */
  prompts?: number;
  /** Share of the newest captions the prompts come from (default 0.1, the LM's own held-out split). */
  heldOutShare?: number;
  /** Words of a caption given as the prompt (default 3). */
  promptWords?: number;
  /** Candidates sampled per prompt (default 16). */
  n?: number;
  /** Scripts each configuration returns per prompt (default 4). */
  keep?: number;
  /** η of the rerank (default 1). */
  eta?: number;
  /** η of reward-augmented decoding (default 2). */
  radEta?: number;
  seconds?: number;
  seed?: number;
  progress?: ProgressReporter;
}

/** One row of the evaluation table. */
export interface GenerationEvalRow {
  config: 'sampling' | 'rerank' | 'rad' | 'rad+rerank';
  /** Mean V of the returned scripts. */
  meanV: number;
  /** Mean over prompts of the first returned script's V. */
  top1V: number;
  /** Perplexity of the returned scripts' generated tokens under the LM without any processor. */
  perplexity: number;
  distinct1: number;
  distinct2: number;
  /** Sentence BLEU-4 (add-one smoothing) of the continuation against the held-out caption's continuation. */
  bleu: number;
  /** ROUGE-L F1, same pairs. */
  rougeL: number;
  /** Share of sampled candidates blocked by policy. */
  blockedShare: number;
  /** Scripts returned (over all prompts). */
  returned: number;
}

/** What `evaluateGeneration` returns. */
export interface GenerationEvalReport {
  prompts: number;
  n: number;
  keep: number;
  eta: number;
  radEta: number;
  rows: GenerationEvalRow[];
  /** RAD's measured cost per token position, microseconds. */
  radMicrosecondsPerToken: number;
}

function tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+|[^\s\p{L}\p{N}]/gu) ?? [];
}

function ngrams(words: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join('\u0001'));
  return out;
}

/** Distinct-n: unique n-grams over all n-grams of a set of texts (0 when there are none). */
export function distinctN(texts: readonly string[], n: number): number {
  const all = texts.flatMap((t) => ngrams(tokens(t), n));
  return all.length === 0 ? 0 : new Set(all).size / all.length;
}

/** Sentence BLEU-4 with add-one smoothing of the n-gram precisions (Lin & Och 2004) and the brevity penalty. */
export function sentenceBleu(candidate: string, reference: string): number {
  const c = tokens(candidate);
  const r = tokens(reference);
  if (c.length === 0) return 0;
  let logSum = 0;
  for (let n = 1; n <= 4; n++) {
    const ref = new Map<string, number>();
    for (const g of ngrams(r, n)) ref.set(g, (ref.get(g) ?? 0) + 1);
    const cand = ngrams(c, n);
    let match = 0;
    for (const g of cand) {
      const left = ref.get(g) ?? 0;
      if (left > 0) {
        match++;
        ref.set(g, left - 1);
      }
    }
    const p = n === 1 ? match / Math.max(cand.length, 1) : (match + 1) / (cand.length + 1);
    if (p === 0) return 0;
    logSum += Math.log(p) / 4;
  }
  const bp = c.length >= r.length ? 1 : Math.exp(1 - r.length / c.length);
  return bp * Math.exp(logSum);
}

/** ROUGE-L F1: longest common subsequence of words over the lengths. */
export function rougeL(candidate: string, reference: string): number {
  const c = tokens(candidate);
  const r = tokens(reference);
  if (c.length === 0 || r.length === 0) return 0;
  let prev = new Array<number>(r.length + 1).fill(0);
  for (let i = 1; i <= c.length; i++) {
    const cur = new Array<number>(r.length + 1).fill(0);
    for (let j = 1; j <= r.length; j++)
      cur[j] = c[i - 1] === r[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    prev = cur;
  }
  const lcs = prev[r.length];
  if (lcs === 0) return 0;
  const p = lcs / c.length;
  const rec = lcs / r.length;
  return (2 * p * rec) / (p + rec);
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * The generation evaluation: held-out prompts (the start of the newest captions), each generated with plain
 * sampling and with reward-augmented decoding, each returned in sampled order and reranked; one row per
 * configuration. Generations are not audited (the evaluation is not a request).
 * @example
 * const report = await evaluateGeneration(lake, generator, { prompts: 20 });
 */
export async function evaluateGeneration(
  lake: Lake,
  generator: Generator,
  options: EvaluateGenerationOptions = {},
): Promise<GenerationEvalReport> {
  const count = options.prompts ?? 20;
  const promptWords = options.promptWords ?? 3;
  const n = options.n ?? 16;
  const keep = options.keep ?? 4;
  const eta = options.eta ?? 1;
  const radEta = options.radEta ?? 2;
  const progress = options.progress ?? silentProgress;
  for (const [name, v] of Object.entries({ prompts: count, promptWords, n, keep }))
    if (!Number.isInteger(v) || v <= 0)
      throw new ValidationError(`\`${name}\` must be a positive integer, got ${v}`);
  const captions = await readCaptionRecords(lake);
  const heldOut = captions.slice(Math.floor(captions.length * (1 - (options.heldOutShare ?? 0.1))));
  const pool = heldOut.filter((c) => tokens(c.text).length > promptWords);
  if (pool.length === 0) throw new ValidationError('the lake has no held-out caption longer than the prompt');
  const step = Math.max(1, Math.floor(pool.length / count));
  const chosen = pool.filter((_, i) => i % step === 0).slice(0, count);

  type Returned = { candidates: GeneratedCandidate[]; reference: string; prompt: string };
  const configs: Record<GenerationEvalRow['config'], Returned[]> = {
    sampling: [],
    rerank: [],
    rad: [],
    'rad+rerank': [],
  };
  const blocked = { plain: 0, rad: 0, sampled: 0 };
  let radUs = 0;
  let radRuns = 0;
  for (const [i, caption] of chosen.entries()) {
    progress.update(i, chosen.length, 'generation eval');
    const words = caption.text.trim().split(/\s+/);
    const prompt = words.slice(0, promptWords).join(' ');
    const reference = words.slice(promptWords).join(' ');
    const base: GenerateOptions = {
      n,
      eta,
      seed: (options.seed ?? 0) + i,
      rerank: false,
      audit: false,
      ...(options.seconds === undefined ? {} : { seconds: options.seconds }),
    };
    const plain = await generator.generate(prompt, base);
    const rad = await generator.generate(prompt, { ...base, radEta });
    blocked.plain += plain.blocked;
    blocked.rad += rad.blocked;
    blocked.sampled += n;
    if (rad.rad !== undefined) {
      radUs += rad.rad.microsecondsPerToken;
      radRuns++;
    }
    configs.sampling.push({ candidates: plain.candidates.slice(0, keep), reference, prompt });
    configs.rerank.push({ candidates: rerank(plain.candidates, eta).slice(0, keep), reference, prompt });
    configs.rad.push({ candidates: rad.candidates.slice(0, keep), reference, prompt });
    configs['rad+rerank'].push({ candidates: rerank(rad.candidates, eta).slice(0, keep), reference, prompt });
  }
  progress.finish();

  const rows = (Object.keys(configs) as GenerationEvalRow['config'][]).map((config): GenerationEvalRow => {
    const sets = configs[config];
    const all = sets.flatMap((s) => s.candidates);
    const continuation = (s: Returned, c: GeneratedCandidate) => c.text.slice(s.prompt.length).trim();
    let logSum = 0;
    let tokenCount = 0;
    for (const c of all) {
      logSum += c.logProbNorm * c.tokens;
      tokenCount += c.tokens;
    }
    const pairs = sets.flatMap((s) => s.candidates.map((c) => ({ c: continuation(s, c), r: s.reference })));
    return {
      config,
      meanV: mean(all.map((c) => c.v)),
      top1V: mean(sets.filter((s) => s.candidates.length > 0).map((s) => s.candidates[0].v)),
      perplexity: tokenCount === 0 ? Number.NaN : Math.exp(-logSum / tokenCount),
      distinct1: mean(
        sets.map((s) =>
          distinctN(
            s.candidates.map((c) => continuation(s, c)),
            1,
          ),
        ),
      ),
      distinct2: mean(
        sets.map((s) =>
          distinctN(
            s.candidates.map((c) => continuation(s, c)),
            2,
          ),
        ),
      ),
      bleu: mean(pairs.map((p) => sentenceBleu(p.c, p.r))),
      rougeL: mean(pairs.map((p) => rougeL(p.c, p.r))),
      blockedShare: (config.startsWith('rad') ? blocked.rad : blocked.plain) / Math.max(blocked.sampled, 1),
      returned: all.length,
    };
  });
  return {
    prompts: chosen.length,
    n,
    keep,
    eta,
    radEta,
    rows,
    radMicrosecondsPerToken: radRuns === 0 ? 0 : radUs / radRuns,
  };
}

/** The report as one plain-text table. */
export function formatGenerationEval(report: GenerationEvalReport): string {
  const head = [
    'config',
    'mean V',
    'top-1 V',
    'perplexity',
    'distinct-1',
    'distinct-2',
    'BLEU',
    'ROUGE-L',
    'blocked',
  ];
  const lines = report.rows.map((r) => [
    r.config,
    r.meanV.toFixed(3),
    r.top1V.toFixed(3),
    r.perplexity.toFixed(2),
    r.distinct1.toFixed(3),
    r.distinct2.toFixed(3),
    r.bleu.toFixed(4),
    r.rougeL.toFixed(3),
    `${(r.blockedShare * 100).toFixed(1)} %`,
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`;
  return [
    `${report.prompts} held-out prompts, ${report.n} candidates each, ${report.keep} returned; rerank eta ${report.eta}, RAD eta ${report.radEta} (${report.radMicrosecondsPerToken.toFixed(1)} µs per token)`,
    fmt(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(fmt),
  ].join('\n');
}
