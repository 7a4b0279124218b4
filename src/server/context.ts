import type { LakeGate } from './lake-gate.js';
import type { ServerMetrics } from './metrics.js';
import type { ScriptGenerator } from './models.js';
import type { ScoreService } from './score-service.js';

/** The parts routes share: the lake gate, the score batcher, models and metrics. */
export interface ServerContext {
  gate: LakeGate;
  metrics: ServerMetrics;
  scores: ScoreService;
  generator: ScriptGenerator | undefined;
  uploadLimitBytes: number;
}
