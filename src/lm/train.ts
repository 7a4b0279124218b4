import { Random, ValidationError, silentProgress } from '../core/index.js';
import type { ProgressReporter } from '../core/index.js';
import { clipGradNorm, warmupCosineSchedule } from '../nn/index.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { EncodedSample } from './data.js';
import { epochBatches, makeBatch } from './data.js';
import { applyLayerSelection, probeLayers, resolveGspfOptions, selectLayers } from './gspf.js';
import type { GspfOptions, LayerScore } from './gspf.js';
import { Tensor } from '../tensor/index.js';
import { batchLoss, evaluateLm } from './loss.js';
import { ResumableAdamW } from './optimizer.js';
import type { LmModel } from './model.js';

/** Options of `trainLm`. */
export interface TrainLmOptions {
  /** Optimiser steps in all (default 1000). */
  steps?: number;
  /** Samples per step (default 16). */
  batchSize?: number;
  /** Peak learning rate (default 2e-3, which suits models of a few million weights). */
  lr?: number;
  /** Linear warm-up steps (default 5 % of steps). */
  warmupSteps?: number;
  /** Floor of the cosine decay (default lr / 10). */
  minLr?: number;
  /** AdamW decoupled weight decay (default 0.05). */
  weightDecay?: number;
  /** Global gradient-norm clip (default 1). */
  clipNorm?: number;
  /** Weight μ of the virality MSE (Entry B); 0 turns it off (default 0). */
  mu?: number;
  /** Seed of the batch order (default 0). */
  seed?: number;
  /** Held-out samples, evaluated every `evalEvery` steps and at the end. */
  heldOut?: readonly EncodedSample[];
  /** Steps between held-out evaluations; 0 evaluates only at the end (default 0). */
  evalEvery?: number;
  /** Where checkpoints go; a run resumes from the latest one found there. */
  checkpointDir?: string;
  /** Steps between checkpoints (default 200); the last step is always saved when a directory is given. */
  checkpointEvery?: number;
  /** Gradient-surgical fine-tuning: update only the layers with the largest relative gradient norms. */
  gspf?: GspfOptions;
  /** Called after each step; returning true stops the run (it is checkpointed first). */
  onStep?: (log: StepLog) => boolean | void;
  /** Stops the run before the next step when aborted. */
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

/** What one step did. */
export interface StepLog {
  step: number;
  /** Unweighted mean cross-entropy of the batch (nats per token). */
  loss: number;
  viralityMse: number | null;
  lr: number;
  gradNorm: number;
  tokens: number;
  /** Training tokens per second since the run (or its resumption) started. */
  tokensPerSecond: number;
}

/** What a training run returns. */
export interface TrainLmResult {
  /** Steps completed in all, resumed ones included. */
  step: number;
  /** The step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  stopped: boolean;
  history: StepLog[];
  evaluations: { step: number; perplexity: number }[];
  tokensPerSecond: number;
  seconds: number;
  /**
   * GSPF selections: the step, the scores, the layers left unfrozen and the probe's seconds (all its
   * batches; the step on its first batch then runs no forward or backward of its own).
   */
  selections: { step: number; scores: LayerScore[]; selected: string[]; seconds: number }[];
  /**
   * Float32 values the optimiser holds at the end (AdamW: two moments per weight it has updated and
   * not released); a layer GSPF froze holds none.
   */
  optimizerStateValues: number;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new ValidationError(`\`${name}\` must be an integer >= ${min}, got ${value}`);
}

/**
 * Trains `model` on encoded samples: Entry A's weighted cross-entropy, Entry B's virality MSE when
 * `mu` > 0, AdamW with linear warm-up and cosine decay, global gradient clipping, optional GSPF layer
 * selection, periodic held-out perplexity and atomic checkpoints. With a `checkpointDir` that holds a
 * checkpoint, the run resumes from its step with the same batch order, weights and optimiser moments.
 * @example
 * const result = trainLm(model, encodeSamples(tok, samples, 64), { steps: 500, heldOut });
 */
export function trainLm(
  model: LmModel,
  samples: readonly EncodedSample[],
  options: TrainLmOptions = {},
): TrainLmResult {
  const steps = options.steps ?? 1000;
  const batchSize = options.batchSize ?? 16;
  const lr = options.lr ?? 2e-3;
  const warmupSteps = options.warmupSteps ?? Math.min(steps, Math.round(steps * 0.05));
  const mu = options.mu ?? 0;
  const seed = options.seed ?? 0;
  const evalEvery = options.evalEvery ?? 0;
  const checkpointEvery = options.checkpointEvery ?? 200;
  const progress = options.progress ?? silentProgress;
  requireInteger('steps', steps, 1);
  requireInteger('batchSize', batchSize, 1);
  requireInteger('evalEvery', evalEvery, 0);
  requireInteger('checkpointEvery', checkpointEvery, 1);
  if (samples.length === 0) throw new ValidationError('training needs at least one sample');
  if (!(mu >= 0)) throw new ValidationError(`\`mu\` must be >= 0, got ${mu}`);
  const gspf = options.gspf === undefined ? null : resolveGspfOptions(options.gspf);
  const schedule = warmupCosineSchedule({
    lr,
    warmupSteps,
    totalSteps: steps,
    minLr: options.minLr ?? lr / 10,
  });
  const optimizer = new ResumableAdamW(model.parameters(), { lr, weightDecay: options.weightDecay ?? 0.05 });

  const result: TrainLmResult = {
    step: 0,
    resumedFrom: 0,
    stopped: false,
    history: [],
    evaluations: [],
    tokensPerSecond: 0,
    seconds: 0,
    selections: [],
    optimizerStateValues: 0,
  };
  let selected: string[] | null = null;
  if (options.checkpointDir !== undefined) {
    const resumed = loadCheckpoint(options.checkpointDir, model, optimizer);
    if (resumed !== null) {
      result.step = result.resumedFrom = resumed.step;
      result.evaluations = resumed.evaluations;
      selected = resumed.selected;
      if (selected !== null) applyLayerSelection(model, selected, optimizer);
    }
  }

  // The batch order is a pure function of (seed, epoch), so a resumed run sees the batches it would have.
  const batchesPerEpoch = Math.ceil(samples.length / batchSize);
  let epoch = -1;
  let order: number[][] = [];
  const batchAt = (step: number) => {
    const e = Math.floor(step / batchesPerEpoch);
    if (e !== epoch) {
      epoch = e;
      order = epochBatches(samples, batchSize, new Random(seed * 1_000_003 + e));
    }
    return makeBatch(order[step % order.length].map((i) => samples[i]));
  };

  const checkpoint = () => {
    if (options.checkpointDir === undefined) return;
    saveCheckpoint(options.checkpointDir, model, optimizer, {
      step: result.step,
      evaluations: result.evaluations,
      selected,
    });
  };
  const evaluate = () => {
    if (options.heldOut === undefined || options.heldOut.length === 0) return;
    const last = result.evaluations.at(-1);
    if (last?.step === result.step) return;
    result.evaluations.push({ step: result.step, perplexity: evaluateLm(model, options.heldOut).perplexity });
  };

  model.train();
  const started = performance.now();
  let tokens = 0;
  while (result.step < steps) {
    if (options.signal?.aborted === true) {
      result.stopped = true;
      break;
    }
    const step = result.step;
    let reused: { ce: number; viralityMse: number | null } | null = null;
    if (
      gspf !== null &&
      (selected === null ||
        (gspf.reselectEvery > 0 && step % gspf.reselectEvery === 0 && step > result.resumedFrom))
    ) {
      const probeStarted = performance.now();
      const probes = Array.from({ length: gspf.probeBatches }, (_, i) => batchAt(step + i));
      const probe = probeLayers(model, probes, mu, gspf.includeEmbeddings);
      selected = selectLayers(probe.scores, options.gspf ?? {});
      applyLayerSelection(model, selected, optimizer);
      // The probe's first batch is this step's batch, back-propagated at these weights: its gradient on
      // the selected layers is what this step's own backward would compute (a frozen layer changes no
      // gradient above it), so the step takes it and the probe costs only its other batches.
      for (const p of model.trainableParameters()) {
        const g = probe.first.grads.get(p);
        p.grad = g === undefined ? null : new Tensor(g, p.shape, 'float32');
      }
      reused = probe.first;
      result.selections.push({
        step,
        scores: probe.scores,
        selected,
        seconds: (performance.now() - probeStarted) / 1000,
      });
    }
    const batch = batchAt(step);
    optimizer.lr = schedule(step);
    let ce: number;
    let viralityMse: number | null;
    if (reused !== null) ({ ce, viralityMse } = reused);
    else {
      const computed = batchLoss(model, batch, mu);
      computed.loss.backward();
      ({ ce, viralityMse } = computed);
    }
    const trainable = model.trainableParameters();
    const gradNorm = clipGradNorm(trainable, options.clipNorm ?? 1);
    optimizer.step();
    optimizer.zeroGrad();
    result.step = step + 1;
    tokens += batch.tokenCount;
    const seconds = (performance.now() - started) / 1000;
    const log: StepLog = {
      step: result.step,
      loss: ce,
      viralityMse,
      lr: optimizer.lr,
      gradNorm,
      tokens: batch.tokenCount,
      tokensPerSecond: tokens / Math.max(seconds, 1e-9),
    };
    result.history.push(log);
    progress.update(
      result.step,
      steps,
      `lm train loss ${ce.toFixed(3)} ${Math.round(log.tokensPerSecond)} tok/s`,
    );
    if (evalEvery > 0 && result.step % evalEvery === 0) evaluate();
    const stop = options.onStep?.(log) === true;
    if (result.step % checkpointEvery === 0 || result.step === steps || stop) checkpoint();
    if (stop) {
      result.stopped = true;
      break;
    }
  }
  progress.finish();
  result.seconds = (performance.now() - started) / 1000;
  result.tokensPerSecond = tokens / Math.max(result.seconds, 1e-9);
  for (const p of model.parameters()) {
    const state = optimizer.stateOf(p);
    if (state !== undefined) result.optimizerStateValues += state.m.length + state.v.length;
  }
  if (!result.stopped) {
    evaluate();
    if (options.checkpointDir !== undefined && result.evaluations.length > 0) checkpoint();
  }
  return result;
}
