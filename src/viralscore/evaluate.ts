/**
 * Offline evaluation: trains the estimator and the baselines on the training split, in the same run and
 * on the same features, and measures them on the held-out split; then drops each feature group in turn.
 */
import type { Lake } from '../lake/index.js';
import { creatorMeanBaseline, fitBoostedTrees, fitRidge } from './baselines.js';
import type { FeatureSource, SplitKind, ViralScoreDataset } from './dataset.js';
import { loadDataset, splitDataset } from './dataset.js';
import type { FitOptions } from './fit.js';
import { concatRows, fitViralScoreModel, predict } from './fit.js';
import type { FeatureGroupName } from './feature-types.js';
import { loadFeatureMatrix } from './feature-types.js';
import { regressionMetrics } from './metrics.js';
import type { RegressionMetrics } from './metrics.js';
import { prepareRows, subsetRows } from './prepare.js';
import { fitFeatureSchema } from './schema.js';
import type { FeatureSchema } from './schema.js';

/** Options of the evaluation: the training options of the estimator plus the split and what to run. */
export interface EvaluateOptions extends FitOptions {
  split?: SplitKind;
  /** Share of rows held out (default 0.2). */
  testFraction?: number;
  validationFraction?: number;
  /** Retrain without each feature group (default true). */
  ablation?: boolean;
}

/** One model's held-out figures. */
export interface ModelReport extends RegressionMetrics {
  model: string;
}

/** The held-out figures of the estimator without one feature group. */
export interface AblationReport extends ModelReport {
  dropped: FeatureGroupName;
  /** Spearman lost against the full estimator (positive: the group helps). */
  spearmanDrop: number;
}

/** What `evaluateViralScore` measured. */
export interface EvaluationReport {
  split: SplitKind;
  rows: { train: number; validation: number; test: number };
  /** The estimator (`viralscore`) and the baselines, best Spearman first. */
  models: ModelReport[];
  ablation: AblationReport[];
  /**
   * Networks trained, each one's kept epoch and epochs run, the ridge member's share (0: none) with the
   * validation Spearman of each share tried, the mean weights of E, H, R, S, T in V.
   */
  estimator: {
    members: number;
    bestEpochs: number[];
    epochs: number[];
    ridgeShare: number;
    ridgeShareSpearman: { share: number; spearman: number }[];
    /** The tree member's share (0: none), its boosting rounds, the validation Spearman of each share tried. */
    treeShare: number;
    treeRounds: number;
    treeShareSpearman: { share: number; spearman: number }[];
    /**
     * Held-out Spearman of the estimator without its tree member (the networks and the ridge member as
     * refitted): how much of the estimator's figure the networks earn on their own.
     */
    withoutTreesSpearman: number;
    /** Whether the members (and the baselines) were refitted on the training and validation rows. */
    refitted: boolean;
    mixWeights: number[];
  };
  groups: FeatureGroupName[];
}

/**
 * Labels the lake, loads features, trains the estimator and the baselines on the training split and
 * evaluates all of them on the held-out split.
 * @example const report = await evaluateViralScore(lake); // after extractFeatures(lake)
 */
export async function evaluateViralScore(
  lake: Lake,
  options: EvaluateOptions & { features?: FeatureSource } = {},
): Promise<EvaluationReport> {
  const features =
    options.features ?? ((l: Lake, o: { postKeys: readonly string[] }) => loadFeatureMatrix(l, o));
  return evaluateOnDataset(await loadDataset(lake, features), options);
}

/** The evaluation on a dataset already in memory (what `evaluateViralScore` runs after loading). */
export function evaluateOnDataset(
  dataset: ViralScoreDataset,
  options: EvaluateOptions = {},
): EvaluationReport {
  const kind = options.split ?? 'time';
  const split = splitDataset(dataset.posts, {
    kind,
    ...(options.testFraction === undefined ? {} : { testFraction: options.testFraction }),
    ...(options.validationFraction === undefined ? {} : { validationFraction: options.validationFraction }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const schema = fitFeatureSchema(dataset.matrix, split.train);
  const run = (s: FeatureSchema) => {
    const all = prepareRows(s, dataset, split.train);
    const [train, validation, test] = [split.train, split.validation, split.test].map((rows) =>
      subsetRows(all, rows),
    );
    const fit = fitViralScoreModel(
      s.groups.map((g) => g.features.length),
      train,
      validation,
      options,
    );
    return {
      train,
      validation,
      test,
      fit,
      metrics: regressionMetrics(predict(fit.model, test.features), test.labels),
    };
  };
  const full = run(schema);
  const { train, validation, test } = full;
  const posts = (rows: number[]) => rows.map((r) => dataset.posts[r]);
  // The baselines get what the estimator gets: their choices made on validation (penalty, rounds), then,
  // when the estimator refits, a fit on the training and validation rows together with those choices.
  const refit = full.fit.refitted;
  const both = refit ? concatRows(train, validation) : train;
  const ridge = fitRidge(train.features, train.labels, validation.features, validation.labels);
  const trees = fitBoostedTrees(train.features, train.labels, validation.features, validation.labels);
  const baselines = {
    creatorMean: creatorMeanBaseline(posts(refit ? [...split.train, ...split.validation] : split.train)),
    ridge: refit
      ? fitRidge(both.features, both.labels, validation.features, validation.labels, [ridge.penalty]).predict
      : ridge.predict,
    trees: refit
      ? fitBoostedTrees(both.features, both.labels, validation.features, validation.labels, {
          rounds: trees.rounds,
          earlyStopping: false,
        }).predict
      : trees.predict,
  };
  const models: ModelReport[] = [
    { model: 'viralscore', ...full.metrics },
    {
      model: 'creator-mean',
      ...regressionMetrics(baselines.creatorMean(posts(split.test)), test.labels),
    },
    { model: 'ridge', ...regressionMetrics(baselines.ridge(test.features), test.labels) },
    {
      model: 'gradient-boosted-trees',
      ...regressionMetrics(baselines.trees(test.features), test.labels),
    },
  ].sort((a, b) => b.spearman - a.spearman);
  const ablation: AblationReport[] = [];
  if (options.ablation ?? true)
    for (const group of schema.groups) {
      if (schema.groups.length < 2) break;
      const reduced = { groups: schema.groups.filter((g) => g !== group) };
      const metrics = run(reduced).metrics;
      ablation.push({
        model: `viralscore without ${group.name}`,
        dropped: group.name,
        spearmanDrop: full.metrics.spearman - metrics.spearman,
        ...metrics,
      });
    }
  return {
    split: kind,
    rows: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    models,
    ablation,
    estimator: {
      members: full.fit.bestEpochs.length,
      bestEpochs: full.fit.bestEpochs,
      epochs: full.fit.history.map((h) => h.length),
      ridgeShare: full.fit.ridgeShare,
      ridgeShareSpearman: full.fit.ridgeShareSpearman,
      treeShare: full.fit.treeShare,
      treeRounds: full.fit.treeRounds,
      treeShareSpearman: full.fit.treeShareSpearman,
      withoutTreesSpearman: regressionMetrics(predict(full.fit.withoutTrees, test.features), test.labels)
        .spearman,
      refitted: full.fit.refitted,
      mixWeights: full.fit.model.mixWeights(),
    },
    groups: schema.groups.map((g) => g.name),
  };
}
