import type { LakeGate } from './lake-gate.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelSwitcher } from './model-switcher.js';
import type { ScoreService } from './score-service.js';
import type { SwitchableGenerator } from './script-generator.js';

/** The parts routes share: the lake gate, the score batcher, models and metrics. */
export interface ServerContext {
  gate: LakeGate;
  metrics: ServerMetrics;
  scores: ScoreService;
  /** The generator the routes use; the model routes swap what it holds. */
  generator: SwitchableGenerator | undefined;
  /** Switches the served estimator and LM among their saved versions; absent without a data directory. */
  models: ModelSwitcher | undefined;
  uploadLimitBytes: number;
}
