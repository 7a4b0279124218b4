/**
 * select: high-value sample selection from ViralScores given as plain data: top/bottom thresholds,
 * w_i = 1 + λ·V_i, weighted sampling, stratification by content type, and a report of what was kept.
 */
export { selectHighValue, weightedSample, formatSelectionReport, normalisedRanks } from './select.js';
export type {
  ScoredPost,
  SelectedPost,
  SelectOptions,
  Weighting,
  Selection,
  SelectionReport,
  GroupReport,
} from './select.js';
export { inferContentType, contentTypes } from './content-type.js';
export type { ContentType } from './content-type.js';
