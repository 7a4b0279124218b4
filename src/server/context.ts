import type { LakeGate } from './lake-gate.js';
import type { ScriptGenerator } from './models.js';
import type { ServerMetrics } from './metrics.js';
import type { ScoreService } from './score-service.js';
import type { SwitchableGenerator } from './script-generator.js';

/** The parts routes share: the lake gate, the score batcher, models and metrics. */
export interface ServerContext {
  gate: LakeGate;
  metrics: ServerMetrics;
  scores: ScoreService;
  /** The generator the routes use; the model routes swap what it holds. */
  generator: SwitchableGenerator | undefined;
  /** Opens the generator again from the data directory (after the LM or the estimator was switched). */
  openGenerator: (() => Promise<ScriptGenerator | undefined>) | undefined;
  uploadLimitBytes: number;
}
