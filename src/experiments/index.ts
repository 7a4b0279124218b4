/**
 * experiments: A/B tests and bandit allocation over the lake, engagement events at fixed horizons,
 * statistics that are safe to peek at, and the feedback path that turns fresh engagement into lake
 * snapshots and a labelled-post stream for online learners.
 */
export { unitPoint, armIndexFor } from './assignment.js';
export {
  createExperiment,
  getExperiment,
  listExperiments,
  assignArm,
  ensureExperimentTables,
  experimentUnits,
} from './experiment.js';
export type { Allocation, Arm, Experiment, ExperimentSpec, ExperimentUnit } from './experiment.js';
export { recordEvents, horizons, countMetrics } from './events.js';
export type {
  CountMetric,
  EngagementEvent,
  Horizon,
  RecordEventsOptions,
  RecordEventsResult,
} from './events.js';
export { freshLabels } from './feedback.js';
export type { FeedbackSink, FreshLabelsOptions, LabelledPost } from './feedback.js';
export { experimentSteps } from './schema.js';
