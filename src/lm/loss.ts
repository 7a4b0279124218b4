import { Tensor, add, crossEntropy, mul, noGrad, sub, sum } from '../tensor/index.js';
import type { LmBatch } from './data.js';
import type { EncodedSample } from './data.js';
import { makeBatch } from './data.js';
import type { LmModel } from './model.js';

/** The loss of one batch, with the figures worth logging. */
export interface BatchLoss {
  /** The scalar to back-propagate: Entry A's weighted CE plus μ times the virality MSE (Entry B). */
  loss: Tensor;
  /** Unweighted mean cross-entropy per target token (nats). */
  ce: number;
  /** The virality MSE, or null without a virality head or ViralScores. */
  viralityMse: number | null;
}

/**
 * Entry A: L_LM = mean_i w_i · CE_i, with CE_i the mean cross-entropy over sample i's tokens, built as
 * one weighted sum over positions (weight w_i / (n_i · B) at each real target of sample i).
 * Entry B: + μ · MSE(V̂, V) over the samples that have a ViralScore, when `mu` > 0 and the model has a head.
 */
export function batchLoss(model: LmModel, batch: LmBatch, mu: number): BatchLoss {
  const [b, t] = batch.tokens.shape;
  const hidden = model.hidden(batch.tokens, batch.styles);
  const logits = model.logits(hidden, batch.tokens);
  const ce = crossEntropy(logits, batch.targets);
  const positionWeights = new Float32Array(b * t);
  let ceSum = 0;
  for (let i = 0; i < b; i++) {
    let n = 0;
    for (let j = 0; j < t; j++) n += batch.mask[i * t + j];
    if (n === 0) continue;
    const w = batch.weights[i] / (n * b);
    for (let j = 0; j < t; j++) positionWeights[i * t + j] = batch.mask[i * t + j] * w;
  }
  for (let k = 0; k < b * t; k++) if (batch.mask[k] > 0) ceSum += ce.data[k];
  let loss = sum(mul(ce, new Tensor(positionWeights, [b * t], 'float32')));
  let viralityMse: number | null = null;
  const scored = batch.hasViralScore.reduce((a, x) => a + x, 0);
  if (mu > 0 && model.virality !== null && scored > 0) {
    const predicted = model.viralityOf(hidden, batch.mask);
    // (V̂ - V)² summed over scored samples / their count, as one weighted sum of squares.
    const selector = new Float32Array(b);
    for (let i = 0; i < b; i++) selector[i] = batch.hasViralScore[i] / scored;
    const target = new Tensor(batch.viralScores, [b], 'float32');
    const d = sub(predicted, target);
    const sq = mul(mul(d, d), new Tensor(selector, [b], 'float32'));
    const mse = sum(sq);
    viralityMse = mse.item();
    loss = add(loss, mul(mse, mu));
  }
  return { loss, ce: ceSum / Math.max(1, batch.tokenCount), viralityMse };
}

/** Held-out evaluation: mean CE per target token and its exponential, the perplexity. */
export interface Evaluation {
  perplexity: number;
  crossEntropy: number;
  tokens: number;
}

/**
 * Perplexity of `model` on `samples`: exp of the mean next-token cross-entropy over every real target
 * token (the `<|endofscript|>` included), without gradients and in eval mode.
 */
export function evaluateLm(model: LmModel, samples: readonly EncodedSample[], batchSize = 32): Evaluation {
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  let tokens = 0;
  noGrad(() => {
    const order = Array.from({ length: samples.length }, (_, i) => i).sort(
      (a, b) => samples[a].ids.length - samples[b].ids.length,
    );
    for (let i = 0; i < order.length; i += batchSize) {
      const batch = makeBatch(order.slice(i, i + batchSize).map((k) => samples[k]));
      const ce = crossEntropy(model.forward(batch.tokens, batch.styles), batch.targets);
      for (let k = 0; k < batch.mask.length; k++) if (batch.mask[k] > 0) total += ce.data[k];
      tokens += batch.tokenCount;
    }
  });
  model.train(wasTraining);
  const crossEntropyMean = total / Math.max(1, tokens);
  return { perplexity: Math.exp(crossEntropyMean), crossEntropy: crossEntropyMean, tokens };
}
