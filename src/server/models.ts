import { ModelStateError } from '../core/index.js';
import type { Lake } from '../lake/index.js';

/** A draft to score: the script or caption, with its hashtags and planned posting time where known. */
export interface Draft {
  text: string;
  hashtags?: string[];
  /** The creator's name as the lake knows it, for the creator's own history. */
  creator?: string;
  /** ISO time the draft would be posted, for the trend subscore. */
  postedAt?: string;
}

/** The five ViralScore subscores, each in 0..1. */
export interface Subscores {
  emotion: number;
  hook: number;
  replicability: number;
  share: number;
  trend: number;
}

/** ViralScore of one draft with its breakdown and what to change. */
export interface DraftScore {
  viralScore: number;
  subscores: Subscores;
  guidance: string[];
  /** Each subscore times its learned weight in V's logit, where the model reports them. */
  contributions?: Subscores;
  /** The features that moved V most, largest |effect| first, where the model reports them. */
  topFeatures?: { group: string; feature: string; value: number; effect: number }[];
}

/** Per-call options of `DraftScorer.score`. */
export interface ScoreOptions {
  explain?: boolean;
  /** The estimator's graph: `float` (the full model) or `int8` (its quantised copy, the cheap first stage). */
  variant?: 'float' | 'int8';
}

/** Two-stage scoring: the int8 graph screens every draft, the full model scores the best `keep`. */
export interface TwoStageScores {
  /** V of every draft by the first stage (the int8 graph), in order. */
  screen: number[];
  /** The drafts the first stage ranked highest, scored by the full model, best first. */
  finalists: { index: number; score: DraftScore }[];
  /** Compute time of each part: featurising (shared by both stages), the screen, the full model. */
  seconds: { featurise: number; screen: number; full: number };
}

/** What the server needs of the ViralScore estimator (src/viralscore's scorer fits it structurally). */
export interface DraftScorer {
  /** The version of the loaded model, shown in responses and metrics. */
  readonly version: string;
  /**
   * Scores drafts in one batch; one result per draft, in order. `explain` asks for the features that moved
   * V (a gradient pass that costs several times the forward pass); without it guidance may be empty.
   */
  score(drafts: readonly Draft[], options?: ScoreOptions): Promise<DraftScore[]>;
  /**
   * The same scores, each as its JSON text (`JSON.stringify` of the `DraftScore`): a scorer in another
   * thread serialises there, so the HTTP thread only joins the texts. Optional.
   */
  scoreJson?(drafts: readonly Draft[], options?: ScoreOptions): Promise<string[]>;
  /** Both stages over features computed once; without it the server runs `score` twice. */
  twoStage?(drafts: readonly Draft[], keep: number): Promise<TwoStageScores>;
}

/** A generation request as the API accepts it (src/generate's options, the JSON subset). */
export interface GenerateRequest {
  prompt: string;
  /** Creator whose style to write in (an author key or its name); default generic. */
  creator?: string;
  /** Candidates sampled. */
  n: number;
  /** Longest script in seconds of speech. */
  seconds: 15 | 30 | 60;
  /** η of score = logP_norm + η·V. */
  eta: number;
  seed?: number;
  keywords?: string[];
  bannedWords?: string[];
  region?: string;
  /** Scale of the creator's style vector: 0 generic, 1 as trained. */
  styleStrength?: number;
  /** Reward-augmented decoding's strength (0: off). */
  radEta?: number;
  /** Hashtags the post will carry, for the estimator. */
  hashtags?: string[];
  /** When it will be posted (ISO 8601), for the estimator; default now. */
  postedAt?: string;
}

/** A returned candidate with its reranking figures and policy verdict (src/generate's, by rank). */
export interface GeneratedCandidate {
  /** 0 is the best. */
  rank: number;
  /** Its place in the sampled batch: the `candidate` of its token events. */
  index: number;
  /** The whole script: prompt and generated text. */
  text: string;
  tokens: number;
  /** Mean log-probability per generated token. */
  logProbNorm: number;
  /** ViralScore before and after the policy penalty. */
  v: number;
  vPenalised: number;
  /** logProbNorm + eta * vPenalised, the figure candidates are ranked by. */
  score: number;
  subscores: Record<string, number>;
  contributions: Record<string, number>;
  policy: {
    blocked: boolean;
    brandSafety: number;
    reasons: string[];
    hits: { ruleId: string; category: string; severity: string; text: string }[];
  };
  keywordHit: boolean;
  finishReason: string;
}

/** What one generation returns besides its candidates. */
export interface GenerationSummary {
  modelVersion: string;
  estimator: string;
  /** Candidates sampled; blocked, keyword-less and empty ones are not returned. */
  sampled: number;
  blocked: number;
  withoutKeyword: number;
  empty: number;
  auditId: string | null;
  /** Tokens decoded over all sampled candidates. */
  sampledTokens?: number;
  timings: { sampleMs: number; rerankMs: number; auditMs: number; totalMs: number };
}

/**
 * What a generator reports: text pieces of the sampled candidates as they are decoded (`tokens`, a decoding
 * step's pieces together; a candidate's pieces in order spell its text after the prompt), then each returned
 * candidate, best first, then the summary.
 */
export type GenerationEvent =
  | { type: 'tokens'; pieces: { candidate: number; text: string }[] }
  | { type: 'candidate'; candidate: GeneratedCandidate }
  | { type: 'done'; summary: GenerationSummary };

/** Runs work on the lake after every earlier use: the server passes its lake gate. */
export type LakeUse = <T>(work: (lake: Lake) => Promise<T>) => Promise<T>;

/** What the server needs of src/generate: candidates as events, stopping when `signal` fires. */
export interface ScriptGenerator {
  readonly version: string;
  generate(request: GenerateRequest, signal: AbortSignal, useLake: LakeUse): AsyncIterable<GenerationEvent>;
  /** Frees the model; the promise (when one is returned) resolves once its thread has ended. */
  close?(): void | Promise<void>;
  /** Resolves once the requests it has been given have finished (before a switch closes it). */
  drain?(): Promise<void>;
}

/** The message every endpoint gives when the estimator has not been trained yet. */
export const noScorerMessage = 'no model trained yet — run tkllm viralscore train';
/** The message every endpoint gives when no language model has been trained yet. */
export const noGeneratorMessage = 'no language model trained yet — run tkllm lm train';

/** Throws the "no model trained yet" error when `model` is absent, so callers can map it to one status. */
export function requireModel<T>(model: T | undefined, message: string): T {
  if (model === undefined) throw new ModelStateError(message);
  return model;
}
