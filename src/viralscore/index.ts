/**
 * viralscore: the explainable virality estimator. A label from real engagement (percentiles within the
 * posting week and the creator's posts), a network with one encoder per feature group, cross-attention
 * fusion and five subscores E, H, R, S, T mixed into V = sigmoid(a E + b H + c R + d S + e T + bias) with
 * non-negative a..e; training, evaluation against baselines, a versioned registry, and ONNX scoring.
 * @example
 * await trainViralScore(lake, './tkllm-data');
 * const scorer = await openViralScorer(lake, './tkllm-data');
 * const [r] = await scorer.score([{ text: 'POV: you finally tried the 5-minute pasta', hashtags: ['pasta'] }]);
 * console.log(r.v, r.subscores, r.contributions, r.topFeatures);
 */
export { labelPosts, labelSql, MIN_CREATOR_POSTS, MIN_WEEK_POSTS } from './label.js';
export type { LabelledPost } from './label.js';
export { loadDataset, splitDataset, alignDataset } from './dataset.js';
export type { FeatureSource, SplitKind, ViralScoreDataset, DatasetSplit, SplitOptions } from './dataset.js';
export { fitFeatureSchema, packFeatures } from './schema.js';
export type { FeatureSchema, GroupSchema, PackedFeatures } from './schema.js';
export { ViralScoreModel, ViralScoreNet, subscoreNames, defaultArchitecture } from './model.js';
export type { SubscoreName, ViralScoreConfig, ViralScoreModelConfig, ViralScoreOutput } from './model.js';
export { fitViralScoreModel, fitViralScoreNet, defaultFitOptions } from './fit.js';
export type { FitOptions, EpochLog, ModelFitResult } from './fit.js';
export { trainViralScore, trainOnDataset, labelDescription } from './train.js';
export type { TrainOptions, TrainResult } from './train.js';
export { evaluateViralScore, evaluateOnDataset } from './evaluate.js';
export type { EvaluateOptions, EvaluationReport, ModelReport, AblationReport } from './evaluate.js';
export { regressionMetrics, spearman, ndcgAt } from './metrics.js';
export type { RegressionMetrics } from './metrics.js';
export { ViralScoreRegistry } from './registry.js';
export type { RegistryEntry, LoadedViralScore, ViralScoreArtifacts } from './registry.js';
export { exportGraphs } from './graph.js';
export { openViralScorer, scorePosts } from './scorer.js';
export type { ViralScorer, ViralScorerOptions, ViralScoreResult, FeatureEffect } from './scorer.js';
export { syntheticDataset } from './synthetic.js';
export type { SyntheticOptions } from './synthetic.js';
export {
  updateEstimator,
  updateEstimatorOnline,
  rollbackEstimator,
  estimatorFeedbackSink,
  freshSnapshotLabels,
  guardVerdict,
  defaultOnlineOptions,
} from './online.js';
export type {
  EstimatorFeedbackSink,
  FreshEngagement,
  OnlineLakeOptions,
  OnlineRows,
  OnlineUpdateData,
  OnlineUpdateOptions,
  OnlineUpdateResult,
} from './online.js';
