import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, ValidationError, writeFileAtomic } from '../core/index.js';
import { encodeSamples, splitByTime } from './data.js';
import type { LmSample } from './data.js';
import { evaluateLm } from './loss.js';
import { LmModel } from './model.js';
import type { LmConfig } from './model.js';
import { KneserNeyTrigram } from './ngram.js';
import { SPECIAL_TOKENS, Tokenizer, trainTokenizer } from './tokenizer.js';
import { trainLm } from './train.js';
import { CREATORS_FILE, finishLmActivation, TOKENIZER_FILE } from './versions.js';
import type { TrainLmOptions, TrainLmResult } from './train.js';

/** One caption as plain data, as the CLI reads it from the lake. */
export interface CaptionRecord {
  text: string;
  /** The creator (author key); null or absent for the generic style. */
  creator?: string | null;
  /** When it was posted (ms since 1970), for the split by time; absent sorts first. */
  time?: number;
  /** Entry A's weight w_i (default 1). */
  weight?: number;
  /** The ViralScore V in [0, 1], the virality head's target. */
  viralScore?: number;
}

/** The default small model: about a million weights, trained in minutes on two cores. */
export const DEFAULT_LM_CONFIG: Omit<LmConfig, 'vocabSize'> & { vocabSize: number } = {
  vocabSize: 1024,
  dModel: 128,
  nLayers: 4,
  nHeads: 4,
  contextLength: 64,
};

/** The byte alphabet and the special tokens: the smallest vocabulary the tokenizer can have. */
export const BYTE_VOCAB_SIZE = 256 + Object.keys(SPECIAL_TOKENS).length;

/** Training text (UTF-8 bytes) below which the default vocabulary is the byte alphabet alone. */
export const BYTE_LEVEL_BELOW_BYTES = 2_000_000;

/** The architecture below `BYTE_LEVEL_BELOW_BYTES`: bytes, context 128, width 64, 2 blocks (~120k weights). */
export const SMALL_CORPUS_CONFIG = { dModel: 64, nLayers: 2, nHeads: 4, contextLength: 128 } as const;

/** Epochs the default budget asks for, before the token cap. */
export const DEFAULT_EPOCHS = 30;
/**
 * Training tokens the default budget stops at: about 30 minutes at 2,000 tokens/s. On tiktok_en_2025
 * 2.25M tokens (5 epochs) left the model just above the trigram (docs/lm.md, Quality).
 */
export const DEFAULT_TOKEN_BUDGET = 3_500_000;
/** Planned epochs above which the default adds dropout: only repeated passes over the data overfit. */
export const DROPOUT_ABOVE_EPOCHS = 10;

/**
 * Training text (UTF-8 bytes, about as many byte tokens) below which the default budget passes over the
 * corpus more than `DROPOUT_ABOVE_EPOCHS` times (350,000 bytes).
 */
export const MANY_PASSES_BELOW_BYTES = DEFAULT_TOKEN_BUDGET / DROPOUT_ABOVE_EPOCHS;

/**
 * The architecture below `MANY_PASSES_BELOW_BYTES`: bytes, context 128, width 24, 4 blocks of 4 heads
 * (about 40k weights), with direct connections of order 5 in 8,192 buckets (2.2M table entries, zero at
 * the start). On a corpus seen thirty times a narrower, deeper model overfits less than width 64 with 2
 * blocks, but width 24 is a low-rank bottleneck for the next byte's distribution; the direct rows give
 * back full-rank statistics of the last 1-4 bytes, learned with the rest. Both chosen on a validation
 * split carved out of the bundled sample's training split (docs/lm.md, Quality): 17.16 → 11.74.
 */
export const TINY_CORPUS_CONFIG = {
  dModel: 24,
  nLayers: 4,
  nHeads: 4,
  contextLength: 128,
  directOrder: 5,
  directBuckets: 8192,
} as const;

/**
 * The architecture that follows the training split's size, one rule for every corpus: below
 * `BYTE_LEVEL_BELOW_BYTES` of text the tokenizer keeps the bytes alone (no merges), the context is 128
 * tokens and the model is `SMALL_CORPUS_CONFIG`, or `TINY_CORPUS_CONFIG` below `MANY_PASSES_BELOW_BYTES`;
 * otherwise `DEFAULT_LM_CONFIG`. Measured on the bundled sample (0.02 MB) and on tiktok_en_2025 (0.5 MB):
 * BPE merges on this little text make tokens too rare for the transformer to learn, and the
 * neural/trigram perplexity ratio fell as the vocabulary shrank (docs/lm.md, Quality); 128 byte tokens
 * hold about as much caption as 64 tokens of the 1,024 vocabulary. Under 2 MB a width-64, two-block
 * model learns more per second of this engine than a wider or deeper one (2.3x the tokens per second of
 * width 128 with 4 blocks), which is what a fixed budget needs.
 */
export function corpusDefaults(
  texts: readonly string[],
): Pick<
  LmConfig,
  'vocabSize' | 'contextLength' | 'dModel' | 'nLayers' | 'nHeads' | 'directOrder' | 'directBuckets'
> {
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
  if (bytes < MANY_PASSES_BELOW_BYTES) return { vocabSize: BYTE_VOCAB_SIZE, ...TINY_CORPUS_CONFIG };
  return bytes < BYTE_LEVEL_BELOW_BYTES
    ? { vocabSize: BYTE_VOCAB_SIZE, ...SMALL_CORPUS_CONFIG }
    : { ...DEFAULT_LM_CONFIG };
}

/** A training budget and its optimiser settings, as `trainingDefaults` plans them. */
export interface TrainingPlan {
  steps: number;
  batchSize: number;
  lr: number;
  dropout: number;
  weightDecay: number;
  /** Passes over the training split that `steps` × `batchSize` make. */
  epochs: number;
}

/**
 * The default budget, one rule for every corpus: `DEFAULT_EPOCHS` passes over the training split, capped
 * at `DEFAULT_TOKEN_BUDGET` training tokens, in batches of 16 samples (steps = tokens / (16 × mean
 * sample length), at least 100); peak learning rate 5e-3 for the small model (width ≤ 64), 3e-3 above;
 * weight decay 0.1; dropout 0.2 when the plan makes more than `DROPOUT_ABOVE_EPOCHS` passes (a small
 * corpus seen many times), else 0 (a few passes: the model underfits and dropout only slows it).
 * Batches of 16 learn more per token than 32 on both corpora at about the same tokens per second
 * (docs/lm.md, Quality). Bundled sample (17,800 tokens): 30 epochs, 677 steps, dropout 0.2;
 * tiktok_en_2025 (449,612 tokens): 7.8 epochs, 2,817 steps, no dropout.
 * @example trainingDefaults(449_612, 5_788, 64) // { steps: 2817, batchSize: 16, lr: 5e-3, dropout: 0, ... }
 */
export function trainingDefaults(trainTokens: number, trainSamples: number, dModel: number): TrainingPlan {
  const batchSize = 16;
  const meanLength = trainTokens / Math.max(1, trainSamples);
  const tokens = Math.min(DEFAULT_EPOCHS * trainTokens, DEFAULT_TOKEN_BUDGET);
  const steps = Math.max(100, Math.ceil(tokens / (batchSize * Math.max(1, meanLength))));
  const epochs = (steps * batchSize) / Math.max(1, trainSamples);
  return {
    steps,
    batchSize,
    lr: dModel <= 64 ? 5e-3 : 3e-3,
    dropout: epochs > DROPOUT_ABOVE_EPOCHS ? 0.2 : 0,
    weightDecay: 0.1,
    epochs,
  };
}

/** Options of `trainCaptionLm`. */
export interface CaptionLmOptions extends Omit<TrainLmOptions, 'heldOut' | 'checkpointDir'> {
  /** Where the model, its tokenizer, its creators and its checkpoints go. */
  modelDir: string;
  /**
   * Architecture; vocabSize is the tokenizer's target size (defaults: DEFAULT_LM_CONFIG, with vocabSize
   * and contextLength from `corpusDefaults` of the training texts).
   */
  config?: Partial<LmConfig>;
  /** Share of the latest captions held out for perplexity (default 0.1). */
  heldOutShare?: number;
  /** Creators with at least this many training captions get their own style row (default 3). */
  minPostsForStyle?: number;
  /** Train with the virality head (Entry B) when the records carry ViralScores (default: mu > 0). */
  viralityHead?: boolean;
}
// steps, batchSize, lr, weightDecay and config.dropout left out follow `trainingDefaults`.

/** A creator's learned style vector. */
export interface CreatorStyle {
  creator: string;
  posts: number;
  vector: Float32Array;
}

/** What `trainCaptionLm` returns. */
export interface CaptionLmResult {
  config: Required<LmConfig>;
  /** The budget and settings the run used (given options, the rest from `trainingDefaults`). */
  plan: TrainingPlan;
  trainCaptions: number;
  heldOutCaptions: number;
  trainTokens: number;
  heldOutTokens: number;
  /** Held-out perplexity of the trained model. */
  perplexity: number;
  /** Held-out perplexity of the interpolated Kneser-Ney trigram on the same tokens and split. */
  baselinePerplexity: number;
  training: TrainLmResult;
  styles: CreatorStyle[];
}

/** Style rows: row 0 generic, then one per creator with at least `minPosts` captions (most posts first). */
export function assignStyleRows(
  creators: readonly (string | null | undefined)[],
  minPosts: number,
): { names: string[]; counts: number[] } {
  const counts = new Map<string, number>();
  for (const c of creators) if (c) counts.set(c, (counts.get(c) ?? 0) + 1);
  const kept = [...counts]
    .filter(([, n]) => n >= minPosts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return { names: ['', ...kept.map(([c]) => c)], counts: [0, ...kept.map(([, n]) => n)] };
}

/**
 * The whole training run behind `tkllm lm train`: split captions by time, train the tokenizer on the
 * training part, assign creator style rows, fit the Kneser-Ney baseline, train the model with resumable
 * checkpoints, and save model, tokenizer and creators in `modelDir`. A second call on the same
 * directory resumes from its latest checkpoint with the saved tokenizer and creators.
 * @example
 * const r = trainCaptionLm(records, { modelDir: 'tkllm-data/models/lm', steps: 600 });
 * console.log(r.perplexity, r.baselinePerplexity);
 */
export function trainCaptionLm(
  records: readonly CaptionRecord[],
  options: CaptionLmOptions,
): CaptionLmResult {
  const usable = records.filter((r) => r.text.trim().length > 0);
  if (usable.length < 10)
    throw new ValidationError(`training needs at least 10 captions with text, got ${usable.length}`);
  const { train, heldOut } = splitByTime(
    usable.map((r, i) => ({ r, i })),
    ({ r, i }) => (r.time ?? -Infinity) + i * 1e-9,
    options.heldOutShare ?? 0.1,
  );
  const { modelDir } = options;
  mkdirSync(modelDir, { recursive: true });
  const checkpointDir = join(modelDir, 'checkpoints');
  const resuming =
    existsSync(join(checkpointDir, 'latest.json')) && existsSync(join(modelDir, TOKENIZER_FILE));
  const base = {
    ...DEFAULT_LM_CONFIG,
    ...corpusDefaults(train.map(({ r }) => r.text)),
    ...options.config,
  };
  let tokenizer: Tokenizer;
  let creators: { names: string[]; counts: number[] };
  if (resuming) {
    tokenizer = Tokenizer.load(join(modelDir, TOKENIZER_FILE));
    creators = JSON.parse(readFileSync(join(modelDir, CREATORS_FILE), 'utf8')) as typeof creators;
  } else {
    tokenizer = trainTokenizer(
      train.map(({ r }) => r.text),
      { vocabSize: base.vocabSize },
    );
    creators = assignStyleRows(
      train.map(({ r }) => r.creator),
      options.minPostsForStyle ?? 3,
    );
    tokenizer.save(join(modelDir, TOKENIZER_FILE));
    writeFileAtomic(join(modelDir, CREATORS_FILE), JSON.stringify(creators));
  }
  const rowOf = new Map(creators.names.map((c, i) => [c, i]));
  const toSample = ({ r }: { r: CaptionRecord }): LmSample => {
    const s: LmSample = { text: r.text, style: (r.creator && rowOf.get(r.creator)) || 0 };
    if (r.weight !== undefined) s.weight = r.weight;
    if (r.viralScore !== undefined) s.viralScore = r.viralScore;
    return s;
  };
  const mu = options.mu ?? 0;
  const trainSet = encodeSamples(tokenizer, train.map(toSample), base.contextLength);
  const heldOutSet = encodeSamples(tokenizer, heldOut.map(toSample), base.contextLength);
  const count = (set: typeof trainSet) => set.reduce((n, s) => n + s.ids.length - 1, 0);
  const planned = trainingDefaults(count(trainSet), trainSet.length, base.dModel);
  const steps = options.steps ?? planned.steps;
  const batchSize = options.batchSize ?? planned.batchSize;
  const epochs = (steps * batchSize) / trainSet.length;
  const plan: TrainingPlan = {
    steps,
    batchSize,
    lr: options.lr ?? planned.lr,
    // Dropout follows the passes the run will make, given steps included.
    dropout: options.config?.dropout ?? (epochs > DROPOUT_ABOVE_EPOCHS ? 0.2 : 0),
    weightDecay: options.weightDecay ?? planned.weightDecay,
    epochs,
  };
  const config: LmConfig = {
    ...base,
    dropout: plan.dropout,
    vocabSize: tokenizer.vocabSize,
    styleCount: creators.names.length,
    viralityHead: options.viralityHead ?? mu > 0,
  };
  const model = new LmModel(config, { seed: options.seed ?? 0 });
  const baseline = KneserNeyTrigram.fit(
    trainSet.map((s) => s.ids),
    tokenizer.vocabSize,
  ).perplexity(heldOutSet.map((s) => s.ids));

  const {
    modelDir: _dir,
    config: _config,
    heldOutShare: _share,
    minPostsForStyle: _min,
    viralityHead: _head,
    ...rest
  } = options;
  const training = trainLm(model, trainSet, {
    ...rest,
    steps: plan.steps,
    batchSize: plan.batchSize,
    lr: plan.lr,
    weightDecay: plan.weightDecay,
    heldOut: heldOutSet,
    checkpointDir,
  });
  model.save(modelDir);
  const perplexity =
    training.evaluations.at(-1)?.step === training.step
      ? training.evaluations.at(-1)!.perplexity
      : evaluateLm(model, heldOutSet).perplexity;
  const width = model.config.dModel;
  const styles = creators.names.slice(1).map((creator, k) => ({
    creator,
    posts: creators.counts[k + 1],
    vector: model.style.weight.data.slice((k + 1) * width, (k + 2) * width),
  }));
  return {
    config: model.config,
    plan,
    trainCaptions: trainSet.length,
    heldOutCaptions: heldOutSet.length,
    trainTokens: count(trainSet),
    heldOutTokens: count(heldOutSet),
    perplexity,
    baselinePerplexity: baseline,
    training,
    styles,
  };
}

/** A trained TKLLM as saved by `trainCaptionLm`: the model, its tokenizer and its creators by style row. */
export interface TrainedLm {
  model: LmModel;
  tokenizer: Tokenizer;
  /** Creator of each style row; row 0 ('') is the generic style. */
  creators: string[];
}

/**
 * Loads the model, tokenizer and creators saved in `modelDir`.
 * @example const { model, tokenizer, creators } = loadTrainedLm('tkllm-data/models/lm');
 */
export function loadTrainedLm(modelDir: string): TrainedLm {
  finishLmActivation(modelDir);
  if (!existsSync(join(modelDir, TOKENIZER_FILE)))
    throw new IoError(
      `${modelDir} holds no trained TKLLM (no ${TOKENIZER_FILE}): run \`tkllm lm train\` first`,
    );
  const model = LmModel.load(modelDir);
  const tokenizer = Tokenizer.load(join(modelDir, TOKENIZER_FILE));
  const { names } = JSON.parse(readFileSync(join(modelDir, CREATORS_FILE), 'utf8')) as { names: string[] };
  return { model, tokenizer, creators: names };
}
