/**
 * Training for use: every labelled post except the newest `validationFraction` trains the estimator, the
 * newest decide when each member stops; then (`refit`, the default) every member is trained again on all
 * posts for the epochs it was given, so the served model has learnt from the newest posts too. It is
 * exported and saved as the next registry version; its validation figures are those of the first fit.
 */
import type { Lake } from '../lake/index.js';
import type { FeatureSource, SplitKind, ViralScoreDataset } from './dataset.js';
import { loadDataset, splitDataset } from './dataset.js';
import { loadFeatureMatrix } from './feature-types.js';
import type { EpochLog, FitOptions } from './fit.js';
import { defaultFitOptions, fitViralScoreModel } from './fit.js';
import { exportGraphs } from './graph.js';
import { labelSql, MIN_CREATOR_POSTS, MIN_WEEK_POSTS } from './label.js';
import { regressionMetrics } from './metrics.js';
import type { RegressionMetrics } from './metrics.js';
import type { ViralScoreModel } from './model.js';
import { prepareRows, subsetRows } from './prepare.js';
import type { ViralScoreArtifacts } from './registry.js';
import { ViralScoreRegistry } from './registry.js';
import { fitFeatureSchema } from './schema.js';

/** Options of `trainViralScore`. */
export interface TrainOptions extends FitOptions {
  /** Which rows validate: the newest (time, default) or whole creators. */
  split?: SplitKind;
  /** Share of rows that validate for early stopping (default 0.15). */
  validationFraction?: number;
  /** Where the features come from (default: the features module's stored matrix). */
  features?: FeatureSource;
  /** Make the new version the active one (default true). */
  activate?: boolean;
}

/** What `trainViralScore` produced. */
export interface TrainResult {
  version: string;
  dir: string;
  model: ViralScoreModel;
  validation: RegressionMetrics;
  history: EpochLog[][];
  bestEpochs: number[];
}

/** A plain-words description of the label, saved with every model. */
export const labelDescription =
  `mean of the post's engagement percentile within its posting week (weeks under ${MIN_WEEK_POSTS} posts: within the lake) ` +
  `and within its creator's posts (creators with ${MIN_CREATOR_POSTS}+ posts); engagement = ln(1+plays) + ln(1+shares+saves) ` +
  '+ 0.5 ln(1+likes) + 0.5 ln(1+comments) + 2 watch_through';

/** Trains on a dataset in memory and returns what a registry version holds. */
export function trainOnDataset(
  dataset: ViralScoreDataset,
  options: TrainOptions = {},
): {
  artifacts: ViralScoreArtifacts;
  validation: RegressionMetrics;
  history: EpochLog[][];
  bestEpochs: number[];
} {
  const split = splitDataset(dataset.posts, {
    kind: options.split ?? 'time',
    testFraction: 0,
    validationFraction: options.validationFraction ?? 0.15,
    seed: options.seed ?? defaultFitOptions.seed,
  });
  const schema = fitFeatureSchema(dataset.matrix, split.train);
  const all = prepareRows(schema, dataset, split.train);
  const train = subsetRows(all, split.train);
  const validation = subsetRows(all, split.validation);
  const fit = fitViralScoreModel(
    schema.groups.map((g) => g.features.length),
    train,
    validation,
    options,
  );
  // Figures of the first fit: after a refit the validation posts are training posts.
  const metrics = regressionMetrics(fit.validationPredictions, validation.labels);
  const times = dataset.posts.map((p) => p.postedAt);
  const {
    features: _features,
    progress: _progress,
    onEpochEnd: _onEpochEnd,
    signal: _signal,
    ...settings
  } = options;
  const artifacts: ViralScoreArtifacts = {
    model: fit.model,
    schema,
    metrics: {
      validation: metrics,
      bestEpochs: fit.bestEpochs,
      ridgeShare: fit.ridgeShare,
      ridgeShareSpearman: fit.ridgeShareSpearman,
      treeShare: fit.treeShare,
      treeRounds: fit.treeRounds,
      treeShareSpearman: fit.treeShareSpearman,
      refitted: fit.refitted,
      history: fit.history,
    },
    training: {
      createdAt: new Date().toISOString(),
      rows: { train: split.train.length, validation: split.validation.length },
      postedFrom: new Date(Math.min(...times)).toISOString(),
      postedTo: new Date(Math.max(...times)).toISOString(),
      creators: new Set(dataset.posts.map((p) => p.creator)).size,
      label: labelDescription,
      labelSql,
      groups: schema.groups.map((g) => ({ name: g.name, features: g.features.length })),
      options: { ...defaultFitOptions, ...settings, split: options.split ?? 'time' },
    },
    ...exportGraphs(fit.model),
  };
  return { artifacts, validation: metrics, history: fit.history, bestEpochs: fit.bestEpochs };
}

/**
 * Labels the lake, loads its features, trains the estimator and saves it as the next version under
 * `<dataDir>/models/viralscore/`.
 * @example const { version, validation } = await trainViralScore(lake, './tkllm-data', { seed: 1 });
 */
export async function trainViralScore(
  lake: Lake,
  dataDir: string,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const dataset = await loadDataset(lake, options.features ?? ((l, o) => loadFeatureMatrix(l, o)));
  const { artifacts, validation, history, bestEpochs } = trainOnDataset(dataset, options);
  artifacts.training.lake = lake.path;
  const registry = new ViralScoreRegistry(dataDir);
  const version = registry.save(artifacts, { activate: options.activate ?? true });
  return { version, dir: registry.dirOf(version), model: artifacts.model, validation, history, bestEpochs };
}
