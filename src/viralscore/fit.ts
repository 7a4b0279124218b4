/**
 * The training loop of the network: minibatches of MSE on V, a pairwise ranking loss on V's logit and
 * weak-label losses on the subscores; AdamW; early stopping on the validation Spearman with the best
 * epoch's weights restored. Deterministic for a given seed.
 */
import { ModelStateError, Random, silentProgress, ValidationError } from '../core/index.js';
import type { ProgressReporter } from '../core/index.js';
import { AdamW, clipGradNorm } from '../nn/index.js';
import type { TensorRecords } from '../nn/index.js';
import {
  add,
  gather,
  mean,
  mse,
  mul,
  neg,
  noGrad,
  softplus,
  sub,
  sum,
  Tensor,
  tensor,
} from '../tensor/index.js';
import { fitBoostedTrees, fitRidge } from './baselines.js';
import type { CompleteTrees, RidgeFit } from './baselines.js';
import { spearman } from './metrics.js';
import type { SubscoreName, ViralScoreConfig } from './model.js';
import { defaultArchitecture, subscoreNames, ViralScoreModel, ViralScoreNet } from './model.js';
import type { PackedFeatures } from './schema.js';
import type { WeakLabels } from './weak-labels.js';

/** Options of the training loop; every loss weight is an option. */
export interface FitOptions {
  seed?: number;
  /** Most passes over the training rows (default 60). */
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  /** Epochs without a better validation Spearman before stopping (default 8). */
  patience?: number;
  /** Weight of the MSE on V (default 1). */
  mseWeight?: number;
  /** Weight of the pairwise (RankNet) loss on V's logit (default 1). */
  rankWeight?: number;
  /**
   * Probability of hiding each present feature group of a training row (default 0.1): the network learns
   * not to lean on any one modality, which is also what a draft without a media file needs.
   */
  groupDropout?: number;
  /** Decay of the moving average of the weights that is validated and kept (default 0.99; 0 turns it off). */
  emaDecay?: number;
  /** Weight of each subscore's weak-label MSE: one number for all, or per subscore (default 0.2). */
  subscoreWeight?: number | Partial<Record<SubscoreName, number>>;
  dModel?: number;
  heads?: number;
  hidden?: number;
  /** Pieces of each feature's piecewise-linear encoding (default 8). */
  bins?: number;
  /** A linear path from the features into the heads beside the attention fusion (default true). */
  linear?: boolean;
  /** Epochs always run, and never kept, before early stopping may pick one (default 3: on a few hundred rows a member otherwise kept its first, barely trained epoch). */
  minEpochs?: number;
  /** Validation epochs averaged (trailing) when early stopping compares epochs (default 3: one lucky epoch on a small, noisy validation split is not kept). */
  smoothing?: number;
  /** Networks averaged in the estimator, each trained from its own seed (default 8). */
  members?: number;
  /**
   * The linear path's per-group presence term (default true). With it, each network starts at the ridge
   * baseline itself (`fitRidge`: the same design, penalties and validation choice) and so does the ridge
   * member; without it, at a ridge of the features alone (the configuration before 2026-11-23 14:00).
   */
  presence?: boolean;
  /**
   * Standard deviation of the fusion's head weights at the start (default 0: each network starts exactly
   * at the ridge and the fusion grows only as far as training pulls it; 0.1 before 2026-11-23 14:00, which
   * put a random offset of about 0.5 on each head's logit at the start).
   */
  fusionInit?: number;
  /**
   * Shares of the ridge member in the estimator tried after training (default [0, 0.25, 0.5]): the largest
   * share whose blended logit's validation Spearman is within `ridgeShareSlack` standard errors of the best
   * (default 0: the best) is kept; 0 leaves the ridge member out. The same rule runs on every lake; `[0]`
   * turns the member off.
   */
  ridgeShares?: number[];
  /**
   * How many standard errors of the validation Spearman below the best blend a blend may be and still be
   * kept for leaning more on ridge (default 0: the best blend, the larger share on an exact tie; 1 is the
   * one-standard-error rule, which on 2026-11-23 won tiktok_en but lost tiktok_vn: docs/viralscore.md).
   */
  ridgeShareSlack?: number;
  /**
   * Shares of the tree member in the estimator tried after the ridge member's (default [0, 0.25, 0.5, 0.75]):
   * the boosted-trees baseline (`fitBoostedTrees`, rounds stopped on validation) as a member whose logit
   * is blended in; the share whose blend has the best validation Spearman is kept (the larger on a tie).
   * Trees and networks err differently on engagement labels, so their blend ranks better than either on
   * the validation splits of all three data sets (docs/viralscore.md). `[0]` turns the member off.
   */
  treeShares?: number[];
  /**
   * After early stopping has picked each member's epoch and the ridge share has been chosen, train every
   * member again from its seed on the training and validation rows together for exactly its picked
   * number of epochs, and the ridge member on both with its picked penalty (default true). The held-out
   * and the served posts come after the validation period: without the refit, the newest posts the lake
   * has would be the ones the estimator never learns from.
   */
  refit?: boolean;
  progress?: ProgressReporter;
  /** Called after each epoch; returning true stops training. */
  onEpochEnd?: (log: EpochLog) => boolean | void;
  signal?: AbortSignal;
}

/** What one epoch did. */
export interface EpochLog {
  /** Which member of the estimator was training (0 when a single network trains). */
  member?: number;
  epoch: number;
  trainLoss: number;
  validationSpearman: number;
  validationMse: number;
}

/** Rows the loop learns from or validates on. */
export interface FitRows {
  features: PackedFeatures;
  labels: Float32Array;
  weak: WeakLabels;
}

/** The trained network and how training went. */
export interface FitResult {
  net: ViralScoreNet;
  /** The seed it was trained from. */
  seed: number;
  config: ViralScoreConfig;
  history: EpochLog[];
  bestEpoch: number;
}

/** The trained estimator and how each member's training went. */
export interface ModelFitResult {
  model: ViralScoreModel;
  /** Per member, the epochs it ran. */
  history: EpochLog[][];
  /** Per member, the epoch whose weights it kept. */
  bestEpochs: number[];
  /** The ridge member's weight in the estimator (0: no ridge member). */
  ridgeShare: number;
  /** Validation Spearman of the blend at each share tried. */
  ridgeShareSpearman: { share: number; spearman: number }[];
  /** The tree member's weight in the estimator (0: no tree member) and the boosting rounds it kept. */
  treeShare: number;
  treeRounds: number;
  /** Validation Spearman of the blend at each tree share tried. */
  treeShareSpearman: { share: number; spearman: number }[];
  /** The estimator without its tree member (refitted like it): what the networks and ridge rank alone. */
  withoutTrees: ViralScoreModel;
  /**
   * V of the chosen estimator on the validation rows, before the refit (after it the validation rows are
   * training rows, and a figure on them would flatter it).
   */
  validationPredictions: Float32Array;
  /** Whether the members were trained again on the training and validation rows (`refit`). */
  refitted: boolean;
}

/** The defaults of every training option, resolved in one place. */
export const defaultFitOptions = {
  seed: 42,
  epochs: 60,
  batchSize: 256,
  lr: 1e-3,
  weightDecay: 0.05,
  patience: 8,
  mseWeight: 1,
  rankWeight: 1,
  subscoreWeight: 0.2,
  groupDropout: 0.1,
  emaDecay: 0.99,
  minEpochs: 3,
  smoothing: 3,
  ridgeShares: [0, 0.25, 0.5],
  ridgeShareSlack: 0,
  treeShares: [0, 0.25, 0.5, 0.75],
  fusionInit: 0,
  refit: true,
  ...defaultArchitecture,
} as const;

/** What `fitViralScoreModel` hands each member it trains, so that work shared by members is done once. */
interface MemberOptions {
  /** Epochs to run (a refit); the last epoch's averaged weights are kept and validation is not read. */
  fixedEpochs?: number;
  /** The ridge the network starts at (else `fitRidge` on these rows, penalty picked on validation). */
  ridgeStart?: RidgeFit;
}

/** Pairs closer than this in label are not ranked: their order is noise. */
const RANK_MARGIN = 0.05;

/**
 * Trains the estimator: `members` networks from seeds drawn from `seed`, each with its own early stopping
 * on the validation split, then averaged (ViralScoreModel).
 */
export function fitViralScoreModel(
  groupDims: number[],
  train: FitRows,
  validation: FitRows,
  options: FitOptions = {},
): ModelFitResult {
  const members = options.members ?? defaultFitOptions.members;
  positive('members', members, true);
  const rng = new Random(options.seed ?? defaultFitOptions.seed);
  // Every member and the ridge member start at the same ridge: fitted once here.
  const withRidge =
    (options.linear ?? defaultFitOptions.linear) && (options.presence ?? defaultFitOptions.presence);
  const ridgeStart = withRidge
    ? fitRidge(train.features, train.labels, validation.features, validation.labels)
    : undefined;
  const fits: FitResult[] = [];
  for (let k = 0; k < members; k++) {
    const seed = k === 0 ? (options.seed ?? defaultFitOptions.seed) : rng.nextUint32();
    const onEpochEnd = options.onEpochEnd;
    fits.push(
      fitViralScoreNet(groupDims, train, validation, {
        ...options,
        seed,
        ...(ridgeStart === undefined ? {} : { ridgeStart }),
        ...(onEpochEnd === undefined
          ? {}
          : { onEpochEnd: (log: EpochLog) => onEpochEnd({ ...log, member: k }) }),
      }),
    );
  }
  const { config } = fits[0];
  // The networks averaged, with the ridge member at `share` of their weight when there is one, and the
  // tree member (last) at `treeShare` of the whole when there is one.
  const assemble = (
    nets: ViralScoreNet[],
    ridge: ViralScoreNet | null,
    share: number,
    trees: ViralScoreNet | null = null,
    treeShare = 0,
  ) => {
    const rest = trees === null ? 1 : 1 - treeShare;
    const weights = [
      ...nets.map(() => (rest * (ridge === null ? 1 : 1 - share)) / members),
      ...(ridge === null ? [] : [rest * share]),
      ...(trees === null ? [] : [treeShare]),
    ];
    const all = [...nets, ...(ridge === null ? [] : [ridge]), ...(trees === null ? [] : [trees])];
    const m = new ViralScoreModel(
      {
        ...config,
        members: all.length,
        ...(all.length === members ? {} : { memberWeights: weights }),
        ...(trees === null ? {} : { treeMember: trees.config.trees! }),
      },
      rng,
      all,
    );
    m.eval();
    return m;
  };
  const nets = fits.map((f) => f.net);
  let model = assemble(nets, null, 0);
  const shares = checkShares('ridgeShares', options.ridgeShares ?? defaultFitOptions.ridgeShares);
  nonNegative('ridgeShareSlack', options.ridgeShareSlack ?? defaultFitOptions.ridgeShareSlack);
  let tried: BlendSpearman[] = [];
  let ridgeShare = 0;
  let ridgeNet: ViralScoreNet | null = null;
  if (shares.some((share) => share > 0) && config.linear === true && config.presence === true) {
    const ridge = ridgeMember(config, rng.fork(), train, validation, ridgeStart);
    tried = blendSpearmans(model, ridge, shares, validation);
    const top = Math.max(...tried.map((t) => t.spearman));
    // The one-standard-error rule (Breiman et al., 1984; Hastie et al., ESL 7.10): among blends the
    // validation split cannot tell apart, keep the simplest, the one leaning most on ridge. The standard
    // error of a Spearman coefficient on n rows is about sqrt((1 + rho^2 / 2) / (n - 3)) (Bonett and
    // Wright, 2000).
    const n = validation.features.rows;
    const slack =
      (options.ridgeShareSlack ?? defaultFitOptions.ridgeShareSlack) *
      Math.sqrt((1 + (top * top) / 2) / Math.max(1, n - 3));
    const kept = tried.filter((t) => t.spearman >= top - slack).pop();
    if (kept !== undefined && kept.share > 0) {
      ridgeShare = kept.share;
      ridgeNet = ridge;
      model = assemble(nets, ridge, ridgeShare);
    }
  }
  const treeShares = checkShares('treeShares', options.treeShares ?? defaultFitOptions.treeShares);
  let treeTried: BlendSpearman[] = [];
  let treeShare = 0;
  let treeRounds = 0;
  let withoutTrees = model;
  if (treeShares.some((share) => share > 0)) {
    const boosted = fitBoostedTrees(train.features, train.labels, validation.features, validation.labels);
    treeRounds = boosted.rounds;
    const treeNet = treeMember(config, rng.fork(), boosted.complete(), meanOf(train.labels));
    treeTried = blendSpearmans(model, treeNet, treeShares, validation);
    const top = Math.max(...treeTried.map((t) => t.spearman));
    const kept = treeTried.filter((t) => t.spearman >= top).pop();
    if (kept !== undefined && kept.share > 0) {
      treeShare = kept.share;
      model = assemble(nets, ridgeNet, ridgeShare, treeNet, treeShare);
    }
  }
  const validationPredictions = predict(model, validation.features);
  const refitted = options.refit ?? defaultFitOptions.refit;
  if (refitted) {
    const both = concatRows(train, validation);
    // The ridge of both splits at the penalty the first fit picked.
    const ridgeBoth =
      ridgeStart === undefined
        ? undefined
        : fitRidge(both.features, both.labels, validation.features, validation.labels, [ridgeStart.penalty]);
    const again = fits.map(
      (f) =>
        fitViralScoreNet(groupDims, both, validation, {
          ...options,
          seed: f.seed,
          fixedEpochs: Math.max(1, f.bestEpoch),
          ...(ridgeBoth === undefined ? {} : { ridgeStart: ridgeBoth }),
        }).net,
    );
    const ridge = ridgeShare > 0 ? ridgeMember(config, rng.fork(), both, validation, ridgeBoth) : null;
    // The trees of both splits with the rounds the first fit kept.
    const trees =
      treeShare > 0
        ? treeMember(
            config,
            rng.fork(),
            fitBoostedTrees(both.features, both.labels, validation.features, validation.labels, {
              rounds: treeRounds,
              earlyStopping: false,
            }).complete(),
            meanOf(both.labels),
          )
        : null;
    withoutTrees = assemble(again, ridge, ridgeShare);
    model = trees === null ? withoutTrees : assemble(again, ridge, ridgeShare, trees, treeShare);
  }
  return {
    model,
    history: fits.map((f) => f.history),
    bestEpochs: fits.map((f) => f.bestEpoch),
    ridgeShare,
    ridgeShareSpearman: tried,
    treeShare,
    treeRounds,
    treeShareSpearman: treeTried,
    withoutTrees,
    validationPredictions,
    refitted,
  };
}

/** The validation Spearman of a blend at one share of its added member. */
interface BlendSpearman {
  share: number;
  spearman: number;
}

/** The validation Spearman of (1 - share)·model's logit + share·member's logit at each share, ascending. */
function blendSpearmans(
  model: ViralScoreModel,
  member: ViralScoreNet,
  shares: readonly number[],
  validation: FitRows,
): BlendSpearman[] {
  const base = predictLogits(model, validation.features);
  const added = predictLogits(member, validation.features);
  return [...new Set(shares)]
    .sort((a, b) => a - b)
    .map((share) => ({
      share,
      spearman: spearman(
        base.map((z, i) => (1 - share) * z + share * added[i]),
        validation.labels,
      ),
    }));
}

function checkShares(name: string, shares: readonly number[]): readonly number[] {
  for (const share of shares)
    if (!(share >= 0 && share < 1))
      throw new ValidationError(`\`${name}\` must hold numbers in [0, 1), got ${share}`);
  return shares;
}

/** The rows of `a` followed by the rows of `b`. */
export function concatRows(a: FitRows, b: FitRows): FitRows {
  const cat = (x: Float32Array, y: Float32Array) => {
    const out = new Float32Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  if (a.features.width !== b.features.width)
    throw new ValidationError(`rows of width ${a.features.width} and ${b.features.width} cannot be joined`);
  return {
    features: {
      rows: a.features.rows + b.features.rows,
      width: a.features.width,
      x: cat(a.features.x, b.features.x),
      present: cat(a.features.present, b.features.present),
    },
    labels: cat(a.labels, b.labels),
    weak: { targets: cat(a.weak.targets, b.weak.targets), mask: cat(a.weak.mask, b.weak.mask) },
  };
}

/**
 * The ridge member: a network whose fusion is switched off (zero head weights) and whose linear path and
 * presence term are the ridge baseline (`fitRidge`: the same design, penalties and validation choice),
 * on the logit scale: V's logit is logit(mean label) + 4·(ridge prediction - mean label), the slope of
 * the sigmoid at 0.5, spread evenly over the five heads. It ranks rows exactly as the ridge baseline does,
 * and its subscores and contributions read like any member's.
 */
export function ridgeMember(
  config: ViralScoreConfig,
  rng: Random,
  train: FitRows,
  validation: FitRows,
  fit: RidgeFit = fitRidge(train.features, train.labels, validation.features, validation.labels),
): ViralScoreNet {
  const net = new ViralScoreNet(config, rng);
  setRidgePath(net, fit);
  net.headWeight.data.fill(0);
  net.eval();
  return net;
}

/**
 * Sets the linear path, its presence term, the head biases and the mix bias so that, with zero head
 * weights, V's logit is logit(mean label) + 4·(ridge prediction - mean label) (near the mean; the heads'
 * sigmoids bend it monotonically further out).
 */
function setRidgePath(net: ViralScoreNet, fit: RidgeFit): void {
  if (net.linearWeight === null || net.presenceWeight === null)
    throw new ValidationError('the ridge start needs the linear path and its presence term');
  const k = subscoreNames.length;
  const width = net.inputWidth;
  const groups = net.config.groupDims.length;
  const scale = HEAD_SCALE;
  let offset = 0;
  for (let j = 0; j < width + groups; j++) offset += fit.columnMeans[j] * fit.weights[j];
  for (let s = 0; s < k; s++) {
    for (let j = 0; j < width; j++) net.linearWeight.data[j * k + s] = fit.weights[j] * scale;
    for (let g = 0; g < groups; g++) net.presenceWeight.data[g * k + s] = fit.weights[width + g] * scale;
  }
  net.headBias.data.fill(-offset * scale);
  centreMix(net, fit.meanLabel);
}

// A label move of d spread over the five heads moves V's logit by about 4·d: each head's sigmoid has slope
// 1/4 near 0.5 and the mix weights start at 1, so each head's pre-activation takes 4 / (5 / 4) per unit.
const HEAD_SCALE = 4 / (subscoreNames.length * 0.25);

/** The mix bias that puts V at the mean label when every head sits at 0.5 (pre-activation 0). */
function centreMix(net: ViralScoreNet, meanLabel: number): void {
  const m = Math.min(1 - 1e-4, Math.max(1e-4, meanLabel));
  net.mixBias.data[0] = Math.log(m / (1 - m)) - net.mixWeights().reduce((sum, w) => sum + w / 2, 0);
}

/**
 * The tree member: a network whose fusion and linear path are off (zero weights) and whose tree path is
 * the boosted trees, on the logit scale as the ridge member is: V's logit is logit(mean label) + 4·(tree
 * prediction - mean label) near the mean, spread evenly over the five heads. It ranks rows as the trees do.
 */
export function treeMember(
  config: ViralScoreConfig,
  rng: Random,
  trees: CompleteTrees,
  meanLabel: number,
): ViralScoreNet {
  const net = new ViralScoreNet({ ...config, trees: { count: trees.count, depth: trees.depth } }, rng);
  net.treeFeature!.data.set(trees.feature);
  net.treeThreshold!.data.set(trees.threshold);
  for (let j = 0; j < trees.leaf.length; j++) net.treeLeaf!.data[j] = trees.leaf[j] * HEAD_SCALE;
  net.linearWeight?.data.fill(0);
  net.presenceWeight?.data.fill(0);
  net.headWeight.data.fill(0);
  net.headBias.data.fill((trees.base - meanLabel) * HEAD_SCALE);
  centreMix(net, meanLabel);
  net.eval();
  return net;
}

function meanOf(values: Float32Array): number {
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

function positive(name: string, v: number, integer = false): number {
  if (!(v > 0) || (integer && !Number.isInteger(v)))
    throw new ValidationError(`\`${name}\` must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0)) throw new ValidationError(`\`${name}\` must be >= 0, got ${v}`);
  return v;
}

/** The row block `rows` of packed features as tensors. */
export function batchTensors(f: PackedFeatures, rows: readonly number[]): { x: Tensor; present: Tensor } {
  const g = f.present.length / Math.max(1, f.rows);
  const x = new Float32Array(rows.length * f.width);
  const present = new Float32Array(rows.length * g);
  rows.forEach((r, i) => {
    x.set(f.x.subarray(r * f.width, (r + 1) * f.width), i * f.width);
    present.set(f.present.subarray(r * g, (r + 1) * g), i * g);
  });
  return { x: tensor(x, [rows.length, f.width]), present: tensor(present, [rows.length, g]) };
}

/** V for every row of `features`, in batches, without gradients. */
export function predict(
  net: ViralScoreNet | ViralScoreModel,
  features: PackedFeatures,
  batchSize = 512,
): Float32Array {
  return run(net, features, batchSize, 'v');
}

/** V's logit for every row of `features`, in batches, without gradients. */
export function predictLogits(
  net: ViralScoreNet | ViralScoreModel,
  features: PackedFeatures,
  batchSize = 512,
): Float32Array {
  return run(net, features, batchSize, 'logit');
}

function run(
  net: ViralScoreNet | ViralScoreModel,
  features: PackedFeatures,
  batchSize: number,
  output: 'v' | 'logit',
): Float32Array {
  const out = new Float32Array(features.rows);
  noGrad(() => {
    for (let start = 0; start < features.rows; start += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, features.rows - start) }, (_, i) => start + i);
      const { x, present } = batchTensors(features, rows);
      out.set(net.forward(x, present)[output].data, start);
    }
  });
  return out;
}

/**
 * Trains a network on `train`, validating on `validation` after each epoch, and returns it with the
 * weights of its best validation epoch.
 */
export function fitViralScoreNet(
  groupDims: number[],
  train: FitRows,
  validation: FitRows,
  options: FitOptions & MemberOptions = {},
): FitResult {
  const o = { ...defaultFitOptions, ...options };
  const fixedEpochs = options.fixedEpochs;
  if (fixedEpochs !== undefined) positive('fixedEpochs', fixedEpochs, true);
  positive('epochs', o.epochs, true);
  positive('batchSize', o.batchSize, true);
  positive('lr', o.lr);
  positive('patience', o.patience, true);
  positive('minEpochs', o.minEpochs, true);
  positive('smoothing', o.smoothing, true);
  nonNegative('weightDecay', o.weightDecay);
  nonNegative('mseWeight', o.mseWeight);
  nonNegative('rankWeight', o.rankWeight);
  nonNegative('fusionInit', o.fusionInit);
  if (!(o.groupDropout >= 0 && o.groupDropout < 1))
    throw new ValidationError(`\`groupDropout\` must be in [0, 1), got ${o.groupDropout}`);
  if (!(o.emaDecay >= 0 && o.emaDecay < 1))
    throw new ValidationError(`\`emaDecay\` must be in [0, 1), got ${o.emaDecay}`);
  const subWeights = subscoreNames.map((s) =>
    nonNegative(
      `subscoreWeight.${s}`,
      typeof o.subscoreWeight === 'number'
        ? o.subscoreWeight
        : (o.subscoreWeight[s] ?? defaultFitOptions.subscoreWeight),
    ),
  );
  if (train.features.rows < 2)
    throw new ValidationError(`training needs at least 2 rows, got ${train.features.rows}`);
  if (validation.features.rows < 2)
    throw new ValidationError(`validation needs at least 2 rows, got ${validation.features.rows}`);
  const rng = new Random(o.seed);
  const config: ViralScoreConfig = {
    groupDims,
    dModel: o.dModel,
    heads: o.heads,
    hidden: o.hidden,
    bins: o.bins,
    linear: o.linear,
    presence: o.presence,
  };
  const net = new ViralScoreNet(config, rng.fork());
  net.fitBins(train.features.x, train.features.present, train.features.rows);
  if (net.linearWeight !== null) {
    if (net.presenceWeight !== null)
      setRidgePath(
        net,
        options.ridgeStart ?? fitRidge(train.features, train.labels, validation.features, validation.labels),
      );
    else startAtRidge(net, train, validation);
    // The fusion's head weights start at `fusionInit` times a standard normal (0: the network starts
    // exactly at the ridge and the fusion grows only as far as training pulls it).
    for (let j = 0; j < net.headWeight.data.length; j++) net.headWeight.data[j] *= o.fusionInit / 0.1;
  }
  const optimizer = new AdamW(net.parameters(), { lr: o.lr, weightDecay: o.weightDecay });
  // Polyak averaging (an exponential moving average of the weights): on noisy engagement labels the
  // average generalises better and varies less from epoch to epoch than the last step's weights.
  const params = net.parameters();
  const ema = params.map((p) => Float32Array.from(p.data));
  const progress = o.progress ?? silentProgress;
  const history: EpochLog[] = [];
  const n = train.features.rows;
  // On a small lake a full batch would mean a couple of updates per epoch and a network that barely moves
  // before early stopping: the batch shrinks so that an epoch is at least 8 steps (never below 16 rows).
  const batchSize = Math.max(16, Math.min(o.batchSize, Math.floor(n / 8)));
  const steps = Math.ceil(n / batchSize);
  let best: { spearman: number; epoch: number; state: TensorRecords } | null = null;
  const epochs = fixedEpochs ?? o.epochs;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      let total = 0;
      for (let step = 0; step < steps; step++) {
        if (o.signal?.aborted) throw new ModelStateError('training was stopped by its abort signal');
        const rows = order.slice(step * batchSize, (step + 1) * batchSize);
        if (rows.length < 2) continue;
        const loss = batchLoss(net, train, rows, rng, o, subWeights);
        total += loss.item() * rows.length;
        loss.backward();
        clipGradNorm(net.parameters(), 1);
        optimizer.step();
        optimizer.zeroGrad();
        params.forEach((p, i) => {
          const avg = ema[i];
          // TensorFlow's warm-up of the average: early steps must not keep the random initialisation.
          const t = optimizer.stepCount;
          const d = Math.min(o.emaDecay, (1 + t) / (10 + t));
          for (let j = 0; j < avg.length; j++) avg[j] = d * avg[j] + (1 - d) * p.data[j];
        });
        progress.update(
          (epoch - 1) * steps + step + 1,
          epochs * steps,
          `viralscore ${fixedEpochs === undefined ? '' : 'refit '}epoch ${epoch}`,
        );
      }
      if (fixedEpochs !== undefined) {
        // A refit keeps the average of its last epoch: the count was picked by the first fit's validation.
        if (epoch === fixedEpochs) params.forEach((p, i) => p.data.set(ema[i]));
        continue;
      }
      const current = params.map((p) => Float32Array.from(p.data));
      params.forEach((p, i) => p.data.set(ema[i]));
      const predicted = predict(net.eval(), validation.features);
      const log: EpochLog = {
        epoch,
        trainLoss: total / n,
        validationSpearman: spearman(predicted, validation.labels),
        validationMse:
          predicted.reduce((s, p, i) => s + (p - validation.labels[i]) ** 2, 0) / predicted.length,
      };
      history.push(log);
      const recent = history.slice(-o.smoothing);
      const smoothed = recent.reduce((s, h) => s + h.validationSpearman, 0) / recent.length;
      if (epoch >= Math.min(o.minEpochs, o.epochs) && (best === null || smoothed > best.spearman))
        best = { spearman: smoothed, epoch, state: net.stateDict() };
      params.forEach((p, i) => p.data.set(current[i]));
      net.train();
      if (o.onEpochEnd?.(log) === true || (best !== null && epoch - best.epoch >= o.patience)) break;
    }
  } finally {
    progress.finish();
  }
  if (best !== null) net.loadStateDict(best.state);
  net.eval();
  return { net, seed: o.seed, config, history, bestEpoch: fixedEpochs ?? best?.epoch ?? 0 };
}

/**
 * Starts the linear path at a ridge regression of the label's logit scale (4·(y - mean), the sigmoid's
 * slope at 0.5) on the present features, penalty chosen by the validation Spearman, spread over the five
 * heads so that at the start V's logit is the ridge prediction (each subscore's sigmoid has slope 1/4
 * near 0.5 and the mix weights start at 1). On a few hundred rows a linear model is hard to beat and the
 * network would otherwise stop before its linear path grew; starting there, training only moves away from
 * it where validation says so.
 */
function startAtRidge(net: ViralScoreNet, train: FitRows, validation: FitRows): void {
  const weight = net.linearWeight;
  if (weight === null) return;
  const d = net.inputWidth;
  const xs = net.seenFeatures(train.features);
  const n = train.features.rows;
  const meanY = train.labels.reduce((s, v) => s + v, 0) / n;
  const colMean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) colMean[j] += xs[i * d + j] / n;
  const xtx = new Float64Array(d * d);
  const xty = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = xs[i * d + j] - colMean[j];
    const yi = 4 * (train.labels[i] - meanY);
    for (let a = 0; a < d; a++) {
      const xa = row[a];
      if (xa === 0) continue;
      xty[a] += xa * yi;
      for (let b = a; b < d; b++) xtx[a * d + b] += xa * row[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) xtx[a * d + b] = xtx[b * d + a];
  const xv = net.seenFeatures(validation.features);
  const m = validation.features.rows;
  let best: { score: number; w: Float64Array } | null = null;
  for (const penalty of [1, 10, 100, 1000, 10000]) {
    const a = Float64Array.from(xtx);
    for (let j = 0; j < d; j++) a[j * d + j] += penalty * Math.max(1, n / 1000);
    const w = solveSymmetric(a, xty, d);
    const predicted = Float32Array.from({ length: m }, (_, i) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += (xv[i * d + j] - colMean[j]) * w[j];
      return s;
    });
    const score = spearman(predicted, validation.labels);
    if (best === null || score > best.score) best = { score, w };
  }
  if (best === null) return;
  const k = subscoreNames.length;
  const spread = 1 / (k * 0.25);
  let offset = 0;
  for (let j = 0; j < d; j++) {
    offset += colMean[j] * best.w[j];
    for (let s = 0; s < k; s++) weight.data[j * k + s] = best.w[j] * spread;
  }
  // Centre each head: the ridge intercept is the mean label, which the mix bias already sits near.
  for (let s = 0; s < k; s++) net.headBias.data[s] -= offset * spread;
}

/** Solves a x = b for a symmetric positive definite a (Cholesky), in place on a copy of b. */
function solveSymmetric(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let t = 0; t < j; t++) s -= l[i * d + t] * l[j * d + t];
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * d + j];
    }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let t = 0; t < i; t++) s -= l[i * d + t] * y[t];
    y[i] = s / l[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i];
    for (let t = i + 1; t < d; t++) s -= l[t * d + i] * x[t];
    x[i] = s / l[i * d + i];
  }
  return x;
}

/** Hides each present group of each row with probability p, never the last one a row has. */
function dropGroups(present: Tensor, p: number, rng: Random): void {
  const [rows, groups] = present.shape as [number, number];
  const data = present.data;
  for (let r = 0; r < rows; r++) {
    let left = 0;
    for (let g = 0; g < groups; g++) left += data[r * groups + g];
    for (let g = 0; g < groups && left > 1; g++) {
      if (data[r * groups + g] === 1 && rng.next() < p) {
        data[r * groups + g] = 0;
        left--;
      }
    }
  }
}

function batchLoss(
  net: ViralScoreNet,
  data: FitRows,
  rows: number[],
  rng: Random,
  o: { mseWeight: number; rankWeight: number; groupDropout: number },
  subWeights: number[],
): Tensor {
  const { x, present } = batchTensors(data.features, rows);
  if (o.groupDropout > 0) dropGroups(present, o.groupDropout, rng);
  const out = net.forward(x, present);
  const y = tensor(
    Float32Array.from(rows, (r) => data.labels[r]),
    [rows.length],
  );
  let loss = mul(mse(out.v, y), o.mseWeight);
  if (o.rankWeight > 0) {
    // RankNet (Burges et al., 2005) on random pairs of the batch: softplus(-sign(y_i - y_j)(z_i - z_j)).
    const partner = rng.shuffle(rows.map((_, i) => i));
    const first: number[] = [];
    const second: number[] = [];
    const sign: number[] = [];
    partner.forEach((j, i) => {
      const d = y.data[i] - y.data[j];
      if (Math.abs(d) < RANK_MARGIN) return;
      first.push(i);
      second.push(j);
      sign.push(Math.sign(d));
    });
    if (first.length > 0) {
      const diff = sub(
        gather(out.logit, tensor(first, [first.length], 'int32')),
        gather(out.logit, tensor(second, [second.length], 'int32')),
      );
      loss = add(loss, mul(mean(softplus(neg(mul(diff, tensor(sign, [sign.length]))))), o.rankWeight));
    }
  }
  const k = subscoreNames.length;
  const targets = new Float32Array(rows.length * k);
  const weights = new Float32Array(rows.length * k);
  const counts = new Array<number>(k).fill(0);
  rows.forEach((r) => {
    for (let s = 0; s < k; s++) counts[s] += data.weak.mask[r * k + s];
  });
  rows.forEach((r, i) => {
    for (let s = 0; s < k; s++) {
      targets[i * k + s] = data.weak.targets[r * k + s];
      if (counts[s] > 0) weights[i * k + s] = (data.weak.mask[r * k + s] * subWeights[s]) / counts[s];
    }
  });
  if (weights.some((w) => w > 0)) {
    const d = sub(out.subscores, tensor(targets, [rows.length, k]));
    loss = add(loss, sum(mul(mul(d, d), tensor(weights, [rows.length, k]))));
  }
  return loss;
}
