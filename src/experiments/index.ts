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
export { summarize, welchTTest, bootstrapLift, sampleRatioMismatch } from './statistics.js';
export type {
  BootstrapOptions,
  LiftInterval,
  SampleRatioCheck,
  SampleSummary,
  WelchResult,
} from './statistics.js';
export { sequentialDifference, sequentialPValue, sequentialMethod } from './sequential.js';
export type { SequentialOptions, SequentialPoint } from './sequential.js';
export { kpis, kpiExpressions, parseKpi } from './kpis.js';
export type { Kpi } from './kpis.js';
export { experimentReport } from './report.js';
export type {
  ArmComparison,
  ArmSummary,
  ExperimentReport,
  KpiReport,
  ReportOptions,
  SeriesPoint,
} from './report.js';
export { renderKpiChart } from './chart.js';
export type { ChartOptions } from './chart.js';
export { calibrateSimulator, EngagementSimulator, simulatedMetrics } from './simulator.js';
export type {
  CalibrateOptions,
  EngagementModel,
  RateFit,
  SimulatedMetric,
  SimulateExperimentOptions,
  SimulatorOptions,
} from './simulator.js';
export { BetaBernoulliThompson, GaussianThompson, UniformPolicy, allocation } from './bandit.js';
export type { ArmPolicy, ThompsonOptions } from './bandit.js';
export { replayEvaluate, loggedDecisions } from './replay.js';
export type { LoggedDecision, LoggedDecisionsOptions, ReplayOptions, ReplayResult } from './replay.js';
export { allocateUnits } from './allocate.js';
export type { AllocateOptions } from './allocate.js';
export { readEventFile } from './event-file.js';
