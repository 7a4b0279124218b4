import { existsSync, readFileSync } from 'node:fs';
import { IoError, Random, ValidationError, writeFileAtomic } from '../core/index.js';
import type { LogitsProcessor, Tokenizer } from '../lm/index.js';
import { spearman } from '../viralscore/index.js';

/**
 * The prefix reward of reward-augmented decoding: a ridge regression from the bag of a prefix's tokens
 * (token counts over the prefix length, the LM's own vocabulary) to the estimator's V of the whole caption.
 *
 * Why this model: RAD scores k extended prefixes per token per candidate, 16 × 8 × ~50 = 6,400 per request.
 * The estimator itself (features, then its network) costs milliseconds a call, hundreds of times the 500 ms
 * budget; a head on the LM's hidden state would need the LM's internals. A linear model on the LM's token ids
 * updates in O(1) per extension, r(p + t) = b + (S + w[t]) / (|p| + 1), so k candidates cost k lookups, and it
 * is trained on prefixes (cut at random points) so that it estimates the final V from a partial script.
 */
export interface PrefixRewardModel {
  format: 'tkllm-prefix-reward/1';
  vocabSize: number;
  bias: number;
  /** Standard deviation of V over the training prefixes: η is in logits per standard deviation. */
  sd: number;
  weights: number[];
  /** Estimator version the targets came from. */
  estimator: string;
  fit: PrefixRewardFit;
}

/** How well the reward model predicts V from prefixes it did not train on. */
export interface PrefixRewardFit {
  trainCaptions: number;
  heldOutCaptions: number;
  /** Spearman of reward against V on held-out captions, from the whole caption and from its first half. */
  spearmanFull: number;
  spearmanHalf: number;
  lambda: number;
}

/** Cost of reward-augmented decoding in one generation. */
export interface RadStats {
  /** Token positions re-weighted (candidates × steps). */
  positions: number;
  /** Time spent in the RAD processor. */
  ms: number;
  /** Microseconds per re-weighted position: k reward lookups and a top-k selection. */
  microsecondsPerToken: number;
}

/** Options of `trainPrefixReward`. */
export interface TrainPrefixRewardOptions {
  /** Ridge penalty (default 1). */
  lambda?: number;
  /** Prefix cut points per caption (default 6). */
  cuts?: number;
  /** Share of captions held out to measure the fit (default 0.1). */
  heldOutShare?: number;
  seed?: number;
  estimator?: string;
}

/** Solves (A) x = b for a symmetric positive definite A (n × n, row-major) by Cholesky, in place. */
function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) throw new ValidationError('the prefix reward system is not positive definite');
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s / l;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= a[i * n + k] * y[k];
    y[i] = s / a[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= a[k * n + i] * x[k];
    x[i] = s / a[i * n + i];
  }
  return x;
}

/** The ids a caption contributes to prefixes: its tokens without specials. */
function captionIds(tokenizer: Tokenizer, text: string): number[] {
  const specials = new Set([tokenizer.endOfScriptId, tokenizer.styleId, tokenizer.bodyId]);
  return tokenizer.encode(text).filter((t) => !specials.has(t));
}

/**
 * Fits the prefix reward on captions with the estimator's V: each caption gives prefixes cut at random
 * points, all labelled with the caption's V; the newest `heldOutShare` (input order) measure the fit.
 * @example
 * const reward = trainPrefixReward(tokenizer, captions.map((c) => ({ text: c.text, v: vOf(c) })));
 */
export function trainPrefixReward(
  tokenizer: Tokenizer,
  examples: readonly { text: string; v: number }[],
  options: TrainPrefixRewardOptions = {},
): PrefixReward {
  const lambda = options.lambda ?? 1;
  const cuts = options.cuts ?? 6;
  if (!(lambda > 0)) throw new ValidationError(`\`lambda\` must be > 0, got ${lambda}`);
  if (!Number.isInteger(cuts) || cuts <= 0)
    throw new ValidationError(`\`cuts\` must be a positive integer, got ${cuts}`);
  const usable = examples
    .map((e) => ({ ids: captionIds(tokenizer, e.text), v: e.v }))
    .filter((e) => e.ids.length > 0 && Number.isFinite(e.v));
  if (usable.length < 10)
    throw new ValidationError(`the prefix reward needs at least 10 scored captions, got ${usable.length}`);
  const held = Math.max(1, Math.floor(usable.length * (options.heldOutShare ?? 0.1)));
  const train = usable.slice(0, usable.length - held);
  const test = usable.slice(usable.length - held);
  const vocab = tokenizer.vocabSize;
  const rng = new Random(options.seed ?? 0);
  const xtx = new Float64Array(vocab * vocab);
  const xty = new Float64Array(vocab);
  let count = 0;
  let sumY = 0;
  let sumY2 = 0;
  const rows: { ids: Map<number, number>; y: number }[] = [];
  for (const e of train)
    for (let c = 0; c < cuts; c++) {
      const len = c === 0 ? e.ids.length : 1 + Math.floor(rng.next() * e.ids.length);
      const bag = new Map<number, number>();
      for (let i = 0; i < len; i++) bag.set(e.ids[i], (bag.get(e.ids[i]) ?? 0) + 1 / len);
      rows.push({ ids: bag, y: e.v });
      sumY += e.v;
      sumY2 += e.v * e.v;
      count++;
    }
  const meanY = sumY / count;
  const sd = Math.sqrt(Math.max(sumY2 / count - meanY * meanY, 1e-8));
  // Bags sum to 1, so the intercept is absorbed: centring y and leaving the bias at the mean keeps the
  // ridge from shrinking predictions toward 0 instead of toward the mean.
  for (const { ids, y } of rows) {
    const entries = [...ids];
    for (const [i, xi] of entries) {
      xty[i] += xi * (y - meanY);
      for (const [j, xj] of entries) xtx[i * vocab + j] += xi * xj;
    }
  }
  for (let i = 0; i < vocab; i++) xtx[i * vocab + i] += lambda / vocab + 1e-9;
  const w = choleskySolve(xtx, xty, vocab);
  const model: PrefixRewardModel = {
    format: 'tkllm-prefix-reward/1',
    vocabSize: vocab,
    bias: meanY,
    sd,
    weights: Array.from(w),
    estimator: options.estimator ?? '',
    fit: {
      trainCaptions: train.length,
      heldOutCaptions: test.length,
      spearmanFull: 0,
      spearmanHalf: 0,
      lambda,
    },
  };
  const reward = new PrefixReward(model);
  const vs = test.map((e) => e.v);
  model.fit.spearmanFull = spearman(
    test.map((e) => reward.rewardOf(e.ids)),
    vs,
  );
  model.fit.spearmanHalf = spearman(
    test.map((e) => reward.rewardOf(e.ids.slice(0, Math.max(1, Math.ceil(e.ids.length / 2))))),
    vs,
  );
  return reward;
}

/** A trained prefix reward: scores prefixes and gives RAD's logits processor. */
export class PrefixReward {
  private readonly w: Float64Array;

  constructor(readonly model: PrefixRewardModel) {
    if (model.format !== 'tkllm-prefix-reward/1' || model.weights.length !== model.vocabSize)
      throw new ValidationError('not a TKLLM prefix reward model (format tkllm-prefix-reward/1)');
    this.w = Float64Array.from(model.weights);
  }

  /** Predicted V of a script that starts with these token ids. */
  rewardOf(ids: readonly number[]): number {
    if (ids.length === 0) return this.model.bias;
    let s = 0;
    for (const t of ids) s += this.w[t] ?? 0;
    return this.model.bias + s / ids.length;
  }

  /**
   * RAD's processor: at each step, the k most likely next tokens get η · (r(prefix + t) − mean over the k) /
   * sd added to their logits; the others are left as they are, so the mass of the top-k against the tail
   * stays about the same. The cost is a top-k selection and k lookups per position, whatever the model.
   */
  processor(options: { eta: number; topK: number }): {
    processor: LogitsProcessor;
    stats: () => RadStats;
  } {
    const { eta, topK } = options;
    if (!(eta >= 0)) throw new ValidationError(`\`radEta\` must be >= 0, got ${eta}`);
    if (!Number.isInteger(topK) || topK <= 0)
      throw new ValidationError(`\`radTopK\` must be a positive integer, got ${topK}`);
    const state = new Map<number, { sum: number; len: number; consumed: number }>();
    let positions = 0;
    let ms = 0;
    const top = new Int32Array(topK);
    const bonus = new Float64Array(topK);
    const topValues = new Float64Array(topK);
    const processor: LogitsProcessor = (logits, context) => {
      const t0 = performance.now();
      let s = state.get(context.candidate);
      if (s === undefined || context.step === 0) {
        // The prompt's tokens (after <|style|>) count in the caption the reward was trained on.
        const promptIds = context.prompt.slice(1);
        let sum = 0;
        for (const t of promptIds) sum += this.w[t] ?? 0;
        s = { sum, len: promptIds.length, consumed: 0 };
        state.set(context.candidate, s);
      }
      for (; s.consumed < context.generated.length; s.consumed++) {
        s.sum += this.w[context.generated[s.consumed]] ?? 0;
        s.len++;
      }
      // Top-k by insertion into a small sorted buffer (values kept beside ids): k is small, the
      // vocabulary is not, and after the first tokens almost every entry fails the threshold test.
      let filled = 0;
      let threshold = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < logits.length; i++) {
        const x = logits[i];
        if (x <= threshold && filled === topK) continue;
        if (x === Number.NEGATIVE_INFINITY) continue;
        let j = filled < topK ? filled++ : topK - 1;
        while (j > 0 && topValues[j - 1] < x) {
          top[j] = top[j - 1];
          topValues[j] = topValues[j - 1];
          j--;
        }
        top[j] = i;
        topValues[j] = x;
        threshold = topValues[filled - 1];
      }
      let mean = 0;
      for (let j = 0; j < filled; j++) {
        bonus[j] = this.model.bias + (s.sum + (this.w[top[j]] ?? 0)) / (s.len + 1);
        mean += bonus[j];
      }
      mean /= Math.max(filled, 1);
      const scale = eta / this.model.sd;
      for (let j = 0; j < filled; j++) logits[top[j]] += scale * (bonus[j] - mean);
      positions++;
      ms += performance.now() - t0;
    };
    return {
      processor,
      stats: () => ({ positions, ms, microsecondsPerToken: positions === 0 ? 0 : (ms * 1000) / positions }),
    };
  }

  save(path: string): void {
    writeFileAtomic(path, JSON.stringify(this.model));
  }

  static load(path: string): PrefixReward {
    if (!existsSync(path)) throw new IoError(`no prefix reward model at ${path}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (cause) {
      throw new IoError(`${path} is not JSON: ${(cause as Error).message}`, { cause });
    }
    return new PrefixReward(parsed as PrefixRewardModel);
  }
}
