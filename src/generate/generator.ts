import { ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { sampleScripts, SPECIAL_TOKENS } from '../lm/index.js';
import type { Candidate, LogitsProcessor, SampleOptions, TrainedLm } from '../lm/index.js';
import {
  BannedSequenceMask,
  bannedTermsPack,
  byteLevelPieces,
  defaultPolicyPacks,
  maskingProcessor,
  Policy,
  PolicyPenalty,
  recordAudit,
  screenCandidates,
} from '../safety/index.js';
import type { AuditRecord, PolicyHit, PolicyPack } from '../safety/index.js';
import type { FeatureEffect, SubscoreName, ViralScorer } from '../viralscore/index.js';
import {
  DEFAULT_WORDS_PER_SECOND,
  hasKeyword,
  keywordProcessor,
  withStyleStrength,
  wordBudget,
} from './controls.js';
import type { PrefixReward, RadStats } from './rad.js';
import { lengthNormalisedLogProb, rerank } from './rerank.js';
import { ScriptGrowth, type TokenPiece } from './stream.js';

/** What a generator is made of: the trained LM, the estimator, policy, and the lake for the audit. */
export interface GeneratorParts {
  lm: TrainedLm;
  /** The estimator (`openViralScorer`); only `score` and `version` are used. */
  scorer: Pick<ViralScorer, 'score' | 'version'>;
  /** Where each generation is audited (`safety_audit`); without it (and without `audit`) nothing is recorded. */
  lake?: Lake;
  /**
   * Writes a generation's audit record and returns its id, instead of `recordAudit(lake, record)`: a
   * generator in a worker thread hands the record to the thread that owns the lake.
   */
  audit?: (record: AuditRecord) => Promise<string>;
  /** Policy packs (default: the shipped packs). */
  packs?: readonly PolicyPack[];
  penalty?: PolicyPenalty;
  /** The prefix reward model for reward-augmented decoding (`trainPrefixReward`). */
  reward?: PrefixReward;
  /** Name of the LM recorded in the audit (its directory, say). */
  modelName?: string;
}

/** Options of one generation. */
export interface GenerateOptions {
  /** Creator whose style to write in: an author key (`tiktok:name`) or its name; default generic. */
  creator?: string;
  /** Candidates sampled (default 16). */
  n?: number;
  /** η of score = logP_norm + η·V (default 1). */
  eta?: number;
  /** Longest script in seconds of speech (default 15). */
  seconds?: number;
  /** Speaking rate that turns seconds into words (default 2.5). */
  wordsPerSecond?: number;
  /** Scale of the creator's style vector: 0 generic, 1 as trained (default 1). */
  styleStrength?: number;
  /** Topic words or phrases: biased toward while decoding; candidates without any are not returned. */
  keywords?: readonly string[];
  /** Logit bonus of a keyword's first token until the candidate holds a keyword (default 4). */
  keywordBias?: number;
  /** Words and phrases banned for this request on top of the policy packs (masked and blocked). */
  bannedWords?: readonly string[];
  /** Region whose policy rules apply. */
  region?: string;
  /** Hashtags the post will carry, for the estimator's trend features. */
  hashtags?: readonly string[];
  /** When it will be posted (default now), for the estimator's time and trend features. */
  postedAt?: Date;
  /** Reward-augmented decoding: strength η of the prefix reward on the top-k next tokens (0: off). */
  radEta?: number;
  /** Next tokens RAD re-weights (default 8). */
  radTopK?: number;
  /** Rerank by the score (default true); false keeps the sampled order, for comparisons. */
  rerank?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Write the generation to the audit table (default true when the generator has a lake). */
  audit?: boolean;
  /**
   * Called while decoding with each candidate's new text: whole characters only (a byte token that ends
   * inside a character waits for the rest), never text the seconds budget will cut, and with nothing masked
   * to come back. A candidate's pieces, in order, spell its final text after the prompt.
   */
  onToken?: (piece: TokenPiece) => void;
  /** Once `aborted`, every candidate ends at its next step (finish reason `aborted`); the rest still runs. */
  signal?: { readonly aborted: boolean };
}

/** One candidate with everything needed to audit the choice. */
export interface GeneratedCandidate {
  /** Its place in the sampled batch (the `candidate` of its `onToken` pieces). */
  index: number;
  /** The whole script: prompt and generated text. */
  text: string;
  /** Tokens generated. */
  tokens: number;
  /** Mean log-probability per generated token under the LM. */
  logProbNorm: number;
  /** ViralScore before the policy penalty. */
  v: number;
  /** ViralScore after it: what the score uses. */
  vPenalised: number;
  /** logProbNorm + η · vPenalised. */
  score: number;
  subscores: Record<SubscoreName, number>;
  contributions: Record<SubscoreName, number>;
  topFeatures: FeatureEffect[];
  policy: { blocked: boolean; brandSafety: number; hits: PolicyHit[]; reasons: string[] };
  keywordHit: boolean;
  /** Why sampling ended: end of script, the length limit (the context), or the seconds budget (`cut`). */
  finishReason: 'end' | 'stop' | 'length' | 'aborted' | 'cut';
}

/** What `generate` returns. */
export interface GenerationResult {
  prompt: string;
  creator: string | null;
  /** Returned candidates, best first; never a blocked one. */
  candidates: GeneratedCandidate[];
  sampled: number;
  /** Tokens generated over all sampled candidates. */
  sampledTokens: number;
  blocked: number;
  /** Not returned because they hold none of the keywords. */
  withoutKeyword: number;
  /** Not returned because nothing was generated after the prompt. */
  empty: number;
  /** The audit id of the rows written for this generation (absent when not audited). */
  auditId?: string;
  settings: {
    eta: number;
    seconds: number;
    words: number;
    wordsPerSecond: number;
    maxNewTokens: number;
    styleStrength: number;
    radEta: number;
    estimator: string;
  };
  timings: { sampleMs: number; rerankMs: number; auditMs: number; totalMs: number };
  /** Reward-augmented decoding's cost, when it ran. */
  rad?: RadStats;
}

/** The decoded candidates of one request, before scoring: what `Generator.sample` returns. */
export interface SampledBatch {
  drafts: { candidate: Candidate; text: string; cut: boolean }[];
  creator: string | null;
  policy: Policy;
  keywords: readonly string[];
  banned: readonly string[];
  settings: GenerationResult['settings'];
  seed: number;
  rad?: RadStats;
}

/** Resolves `--creator` to a style row: an author key, or a name that one author key ends with. */
export function creatorRow(creators: readonly string[], creator: string | undefined): number {
  if (creator === undefined || creator === '') return 0;
  const exact = creators.indexOf(creator);
  if (exact > 0) return exact;
  const byName = creators.findIndex((c, i) => i > 0 && c.endsWith(`:${creator}`));
  if (byName > 0) return byName;
  throw new ValidationError(
    `creator "${creator}" has no style row in the LM (${creators.length - 1} creators have one, e.g. ${creators.slice(1, 4).join(', ') || 'none'})`,
  );
}

/**
 * Generation with virality: N candidates from TKLLM in one batch with banned terms masked while decoding,
 * each scored by the estimator and checked against policy; blocked ones are dropped, the rest reranked by
 * logP_norm + η·V (V after the policy penalty), and the whole generation is written to the audit table.
 * @example
 * const gen = new Generator({ lm: loadTrainedLm(dir), scorer: await openViralScorer(lake, dataDir), lake });
 * const { candidates } = await gen.generate('POV: you finally', { creator: 'chef', n: 16, seconds: 15 });
 */
export class Generator {
  private readonly packs: readonly PolicyPack[];
  private readonly policy: Policy;
  private readonly penalty: PolicyPenalty;
  private readonly masks = new Map<string, BannedSequenceMask>();
  private readonly pieces;

  constructor(private readonly parts: GeneratorParts) {
    this.packs = parts.packs ?? defaultPolicyPacks();
    this.policy = Policy.compile(this.packs);
    this.penalty = parts.penalty ?? new PolicyPenalty();
    const { tokenizer } = parts.lm;
    // The script shows <|body|> as a line break (scriptText), so the mask reads it as one.
    this.pieces = byteLevelPieces(
      tokenizer.tokens,
      new Map<string, string | null>([
        [SPECIAL_TOKENS.endOfScript, null],
        [SPECIAL_TOKENS.style, null],
        [SPECIAL_TOKENS.body, '\n'],
      ]),
    );
  }

  /** The mask for a region and a request's banned words, compiled once and reused (its memo warms up). */
  private maskFor(region: string | undefined, terms: readonly string[]): BannedSequenceMask {
    const key = JSON.stringify([region ?? null, [...terms].sort()]);
    let mask = this.masks.get(key);
    if (mask === undefined) {
      mask = new BannedSequenceMask(this.pieces, {
        policy: this.policy,
        ...(region === undefined ? {} : { region }),
        terms,
        endTokenIds: [this.parts.lm.tokenizer.endOfScriptId],
      });
      this.masks.set(key, mask);
    }
    return mask;
  }

  /**
   * The decoding half of `generate`: N candidates with every control applied (style strength, keyword bias,
   * RAD, the banned-term mask, the seconds budget), not yet scored or screened.
   */
  sample(prompt: string, options: GenerateOptions = {}): SampledBatch {
    const { model, tokenizer, creators } = this.parts.lm;
    const n = options.n ?? 16;
    if (!Number.isInteger(n) || n <= 0)
      throw new ValidationError(`\`n\` must be a positive integer, got ${n}`);
    const eta = options.eta ?? 1;
    if (!(eta >= 0 && Number.isFinite(eta)))
      throw new ValidationError(`\`eta\` must be a finite number >= 0, got ${eta}`);
    const seconds = options.seconds ?? 15;
    const wordsPerSecond = options.wordsPerSecond ?? DEFAULT_WORDS_PER_SECOND;
    const words = wordBudget(seconds, wordsPerSecond);
    const styleStrength = options.styleStrength ?? 1;
    const keywords = options.keywords ?? [];
    const banned = options.bannedWords ?? [];
    const radEta = options.radEta ?? 0;
    if (!(radEta >= 0)) throw new ValidationError(`\`radEta\` must be >= 0, got ${radEta}`);
    if (radEta > 0 && this.parts.reward === undefined)
      throw new ValidationError(
        'reward-augmented decoding needs a prefix reward model (`trainPrefixReward`)',
      );
    const row = creatorRow(creators, options.creator);
    const creator = row === 0 ? null : creators[row];

    const packs = banned.length === 0 ? this.packs : [...this.packs, bannedTermsPack(banned)];
    const policy = banned.length === 0 ? this.policy : Policy.compile(packs);
    const check = options.region === undefined ? {} : { region: options.region };
    const promptVerdict = policy.check(prompt, check);
    if (promptVerdict.blocked)
      throw new ValidationError(
        `the prompt is blocked by policy: ${promptVerdict.hits
          .filter((h) => h.severity === 'block')
          .map((h) => `${h.ruleId} ("${h.text}")`)
          .join(', ')}`,
      );

    // A word is a token or more; the context caps anyway, and the seconds budget is applied on words.
    const promptTokens = tokenizer.encode(`${SPECIAL_TOKENS.style}${prompt}`).length;
    const room = model.config.contextLength - promptTokens;
    if (room <= 0)
      throw new ValidationError(
        `the prompt takes ${promptTokens} tokens, the model's context is ${model.config.contextLength}`,
      );
    // Decoding may run to the context; each candidate ends as soon as its seconds budget is spent (below), so
    // a byte-level model (6 tokens a word) and a BPE one (1-2) both get whole scripts without a guess of
    // tokens per word.
    const maxNewTokens = room;
    const processors: LogitsProcessor[] = [];
    if (keywords.length > 0) processors.push(keywordProcessor(tokenizer, keywords, options.keywordBias ?? 4));
    const rad =
      radEta > 0 ? this.parts.reward!.processor({ eta: radEta, topK: options.radTopK ?? 8 }) : undefined;
    if (rad !== undefined) processors.push(rad.processor);
    // After the biases, so that no bias can bring a banned token back.
    processors.push(maskingProcessor(this.maskFor(options.region, banned), { maxNewTokens, prefix: prompt }));
    // Last: follows each candidate's text (one token's bytes a step), hands its new text to `onToken`, and
    // ends a candidate once its budget's last word has ended, so no step is spent on text that would be cut.
    const growths = Array.from({ length: n }, () => new ScriptGrowth(tokenizer, prompt, words));
    const consumed = new Int32Array(n);
    const ended = new Uint8Array(n); // 1: ended for the budget, 2: aborted
    const onToken = options.onToken;
    const feed = (i: number, generated: readonly number[]) => {
      for (; consumed[i] < generated.length; consumed[i]++) growths[i].add(generated[consumed[i]]);
    };
    const send = (i: number, text: string) => {
      if (text.length > 0 && onToken !== undefined) onToken({ candidate: i, text });
    };
    const end = tokenizer.endOfScriptId;
    processors.push((logits, context) => {
      const i = context.candidate;
      feed(i, context.generated);
      // The mask bans ending the script here when the word being written would complete a banned term
      // (or half a character is pending): that word is not shown until a later token settles it.
      send(i, growths[i].take(logits[end] === -Infinity));
      const reason = growths[i].complete ? 1 : options.signal?.aborted === true ? 2 : 0;
      // The mask never bans the end of a script after a finished word; if it did, decoding goes on.
      if (reason === 0 || logits[end] === -Infinity) return;
      const keep = logits[end];
      logits.fill(-Infinity);
      logits[end] = keep;
      ended[i] = reason;
    });
    const sampleOptions: SampleOptions = {
      prompt,
      style: row,
      candidates: n,
      maxNewTokens,
      temperature: options.temperature ?? 0.9,
      topP: options.topP ?? 0.95,
      topK: options.topK ?? 0,
      repetitionPenalty: options.repetitionPenalty ?? 1.1,
      seed: options.seed ?? 0,
      logitsProcessors: processors,
    };
    const sampled = withStyleStrength(model, row, styleStrength, () =>
      sampleScripts(model, tokenizer, sampleOptions),
    );
    const drafts = sampled.candidates.map((c, i) => {
      // The last token of a candidate that ran to the context reaches no processor: fed here.
      feed(i, c.tokens);
      send(i, growths[i].finish());
      if (ended[i] === 2) c.finishReason = 'aborted';
      return { candidate: c, text: growths[i].finalText, cut: growths[i].complete };
    });
    return {
      drafts,
      creator,
      policy,
      keywords,
      banned,
      settings: {
        eta,
        seconds,
        words,
        wordsPerSecond,
        maxNewTokens,
        styleStrength,
        radEta,
        estimator: this.parts.scorer.version,
      },
      seed: sampleOptions.seed ?? 0,
      ...(rad === undefined ? {} : { rad: rad.stats() }),
    };
  }

  /** Generates, scores, screens and reranks; see the class comment. */
  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerationResult> {
    const started = performance.now();
    const n = options.n ?? 16;
    const { drafts, creator, policy, keywords, banned, settings, seed, rad } = this.sample(prompt, options);
    const { eta } = settings;
    const check = options.region === undefined ? {} : { region: options.region };
    const sampledAt = performance.now();

    const scores = await this.parts.scorer.score(
      drafts.map((d, i) => ({
        id: String(i),
        text: d.text,
        ...(creator === null ? {} : { creator }),
        ...(options.hashtags === undefined ? {} : { hashtags: options.hashtags }),
        ...(options.postedAt === undefined ? {} : { postedAt: options.postedAt }),
        ...(options.region === undefined ? {} : { region: options.region }),
      })),
    );
    const screened = screenCandidates(
      drafts.map((d, i) => ({ text: d.text, v: scores[i].v })),
      { policy, penalty: this.penalty, ...check },
    );
    const all = drafts.map((d, i) => {
      const s = screened[i];
      const candidate: GeneratedCandidate = {
        index: i,
        text: d.text,
        tokens: d.candidate.tokens.length,
        logProbNorm: lengthNormalisedLogProb(d.candidate.logProbs),
        v: scores[i].v,
        vPenalised: s.penalty.v,
        score: Number.NaN,
        subscores: scores[i].subscores,
        contributions: scores[i].contributions,
        topFeatures: scores[i].topFeatures,
        policy: {
          blocked: s.blocked,
          brandSafety: s.verdict.brandSafety,
          hits: s.verdict.hits,
          reasons: s.penalty.reasons,
        },
        keywordHit: hasKeyword(d.text, keywords),
        finishReason: d.cut ? 'cut' : d.candidate.finishReason,
      };
      return { candidate, verdict: s.verdict, penalty: s.penalty, empty: d.candidate.tokens.length === 0 };
    });
    const eligible = all.filter((a) => !a.candidate.policy.blocked && a.candidate.keywordHit && !a.empty);
    const ordered =
      options.rerank === false
        ? eligible.map((a) => ({
            ...a.candidate,
            score: a.candidate.logProbNorm + eta * a.candidate.vPenalised,
          }))
        : rerank(
            eligible.map((a) => a.candidate),
            eta,
          );
    const scoredAt = performance.now();
    for (const a of all) a.candidate.score = a.candidate.logProbNorm + eta * a.candidate.vPenalised;

    let auditId: string | undefined;
    const sink =
      this.parts.audit ??
      (this.parts.lake === undefined
        ? undefined
        : (record: AuditRecord) => recordAudit(this.parts.lake!, record));
    if (sink !== undefined && options.audit !== false) {
      const returned = new Set(ordered.map((c) => c.text));
      auditId = await sink({
        kind: 'generation',
        prompt,
        ...(creator === null ? {} : { creator }),
        ...(options.region === undefined ? {} : { region: options.region }),
        candidates: all.map((a) => ({
          text: a.candidate.text,
          verdict: a.verdict,
          v: a.candidate.v,
          subscores: { subscores: a.candidate.subscores, contributions: a.candidate.contributions },
          penalty: a.penalty,
          returned: !a.candidate.policy.blocked && returned.has(a.candidate.text),
        })),
        details: {
          ...settings,
          model: this.parts.modelName ?? null,
          n,
          seed,
          keywords,
          bannedWords: banned,
        },
      });
    }
    const done = performance.now();
    const result: GenerationResult = {
      prompt,
      creator,
      candidates: ordered,
      sampled: n,
      sampledTokens: drafts.reduce((t, d) => t + d.candidate.tokens.length, 0),
      blocked: all.filter((a) => a.candidate.policy.blocked).length,
      withoutKeyword: all.filter((a) => !a.candidate.policy.blocked && !a.candidate.keywordHit).length,
      empty: all.filter((a) => a.empty).length,
      settings,
      timings: {
        sampleMs: sampledAt - started,
        rerankMs: scoredAt - sampledAt,
        auditMs: done - scoredAt,
        totalMs: done - started,
      },
    };
    if (auditId !== undefined) result.auditId = auditId;
    if (rad !== undefined) result.rad = rad;
    return result;
  }
}
