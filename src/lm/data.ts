import { ValidationError } from '../core/index.js';
import type { Random } from '../core/index.js';
import { Tensor } from '../tensor/index.js';
import { SPECIAL_TOKENS } from './tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/** One training or evaluation text, as plain data: the caller (CLI, select) supplies style rows and weights. */
export interface LmSample {
  text: string;
  /** Style row of the sample's creator (0 = generic, the default). */
  style?: number;
  /** Sample weight w_i of Entry A (default 1), e.g. 1 + λ·V_i from `select`. */
  weight?: number;
  /** The sample's ViralScore V in [0, 1], the target of the virality head (Entry B). */
  viralScore?: number;
}

/** A sample as token ids: `<|style|>` first, `<|endofscript|>` last unless truncated. */
export interface EncodedSample {
  ids: Int32Array;
  style: number;
  weight: number;
  viralScore: number | null;
}

/** A padded batch: inputs [B, T], flat next-token targets [B*T], and a 0/1 mask of real targets. */
export interface LmBatch {
  tokens: Tensor<'int32'>;
  targets: Tensor<'int32'>;
  styles: Tensor<'int32'>;
  mask: Float32Array;
  weights: Float32Array;
  viralScores: Float32Array;
  /** 1 where the sample has a ViralScore. */
  hasViralScore: Float32Array;
  /** Number of real (unpadded) target tokens. */
  tokenCount: number;
}

// A hook is the first sentence: up to the first ., !, ? or …, or the first line break, if more follows.
const HOOK_END = /^(.*?(?:[.!?…]+(?=\s)|\n))\s*(\S[\s\S]*)$/u;

/**
 * The script form the model learns: `<|style|>hook<|body|>body<|endofscript|>`. The hook is the first
 * sentence (or line) when something follows it; a one-sentence text has no body separator.
 */
export function formatScript(text: string): string {
  const m = HOOK_END.exec(text);
  const hookBody = m === null ? text : `${m[1].trimEnd()}${SPECIAL_TOKENS.body}${m[2]}`;
  return `${SPECIAL_TOKENS.style}${hookBody}${SPECIAL_TOKENS.endOfScript}`;
}

/** Encodes samples in script form, cut to `contextLength + 1` tokens (inputs and targets overlap by one). */
export function encodeSamples(
  tokenizer: Tokenizer,
  samples: readonly LmSample[],
  contextLength: number,
): EncodedSample[] {
  return samples.map((s, i) => {
    const weight = s.weight ?? 1;
    if (!(weight >= 0) || !Number.isFinite(weight))
      throw new ValidationError(`sample ${i}: \`weight\` must be a finite number >= 0, got ${weight}`);
    if (s.viralScore !== undefined && !(s.viralScore >= 0 && s.viralScore <= 1))
      throw new ValidationError(`sample ${i}: \`viralScore\` must be in [0, 1], got ${s.viralScore}`);
    const ids = tokenizer.encode(formatScript(s.text)).slice(0, contextLength + 1);
    return { ids: Int32Array.from(ids), style: s.style ?? 0, weight, viralScore: s.viralScore ?? null };
  });
}

/**
 * Pads `samples` into one batch. Padded targets are masked out; padding uses token 0, which the mask
 * and the causal attention keep from influencing any real position.
 */
export function makeBatch(samples: readonly EncodedSample[]): LmBatch {
  const b = samples.length;
  const t = Math.max(1, ...samples.map((s) => s.ids.length - 1));
  const tokens = new Int32Array(b * t);
  const targets = new Int32Array(b * t);
  const mask = new Float32Array(b * t);
  const styles = new Int32Array(b);
  const weights = new Float32Array(b);
  const viralScores = new Float32Array(b);
  const hasViralScore = new Float32Array(b);
  let tokenCount = 0;
  samples.forEach((s, i) => {
    styles[i] = s.style;
    weights[i] = s.weight;
    if (s.viralScore !== null) {
      viralScores[i] = s.viralScore;
      hasViralScore[i] = 1;
    }
    for (let j = 0; j < s.ids.length - 1; j++) {
      tokens[i * t + j] = s.ids[j];
      targets[i * t + j] = s.ids[j + 1];
      mask[i * t + j] = 1;
      tokenCount++;
    }
  });
  return {
    tokens: new Tensor(tokens, [b, t], 'int32'),
    targets: new Tensor(targets, [b * t], 'int32'),
    styles: new Tensor(styles, [b], 'int32'),
    mask,
    weights,
    viralScores,
    hasViralScore,
    tokenCount,
  };
}

/**
 * The batches of one epoch as index lists: shuffled, then sorted by length within windows of a few
 * batches so that padding stays small while batches still mix the corpus.
 */
export function epochBatches(samples: readonly EncodedSample[], batchSize: number, rng: Random): number[][] {
  const order = rng.shuffle(Array.from({ length: samples.length }, (_, i) => i));
  const window = batchSize * 8;
  const batches: number[][] = [];
  for (let w = 0; w < order.length; w += window) {
    const chunk = order.slice(w, w + window).sort((a, b) => samples[a].ids.length - samples[b].ids.length);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}

/** Splits items into train and held-out parts by time: the last `heldOutShare` by `time` is held out. */
export function splitByTime<T>(
  items: readonly T[],
  time: (item: T) => number,
  heldOutShare: number,
): { train: T[]; heldOut: T[] } {
  if (!(heldOutShare > 0 && heldOutShare < 1))
    throw new ValidationError(`\`heldOutShare\` must be in (0, 1), got ${heldOutShare}`);
  const sorted = [...items].sort((a, b) => time(a) - time(b));
  const cut = Math.round(sorted.length * (1 - heldOutShare));
  return { train: sorted.slice(0, cut), heldOut: sorted.slice(cut) };
}
