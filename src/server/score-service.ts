import { ModelStateError, ValidationError } from '../core/index.js';
import { Batcher } from './batcher.js';
import {
  noScorerMessage,
  type Draft,
  type DraftScore,
  type DraftScorer,
  type ScoreOptions,
} from './models.js';

/** How `ScoreService` batches drafts. */
export interface ScoreServiceOptions {
  maxBatchSize?: number;
  maxWaitMs?: number;
  /** Told the size of each batch sent to the scorer. */
  onBatch?: (size: number) => void;
}

/**
 * The one path to the ViralScore estimator for REST and gRPC alike: drafts of concurrent requests share the
 * scorer's batches. Without a scorer every call fails with the "no model trained yet" error.
 */
export class ScoreService {
  // Explained and plain scores run as separate batches: a batch is one call to the scorer with one option.
  private readonly batchers:
    { explained: Batcher<Draft, DraftScore>; plain: Batcher<Draft, DraftScore> } | undefined;

  constructor(
    private readonly scorer: DraftScorer | undefined,
    { maxBatchSize = 256, maxWaitMs = 2, onBatch }: ScoreServiceOptions = {},
  ) {
    const batcher = (explain: boolean) =>
      new Batcher<Draft, DraftScore>({
        run: (drafts) => scorer!.score(drafts, { explain }),
        maxBatchSize,
        maxWaitMs,
        ...(onBatch ? { onBatch } : {}),
      });
    this.batchers = scorer && { explained: batcher(true), plain: batcher(false) };
  }

  /** Whether a model is loaded. */
  get available(): boolean {
    return this.scorer !== undefined;
  }

  /** The loaded model's version; throws the "no model trained yet" error without one. */
  get version(): string {
    return this.require().version;
  }

  /** Drafts waiting for or inside a scorer batch. */
  get depth(): number {
    return (this.batchers?.explained.depth ?? 0) + (this.batchers?.plain.depth ?? 0);
  }

  /** Scores drafts, in order; they may share a batch with other callers' drafts. */
  async score(drafts: readonly Draft[], { explain = false }: ScoreOptions = {}): Promise<DraftScore[]> {
    this.require();
    if (drafts.length === 0) throw new ValidationError('`drafts` must hold at least one draft');
    return this.batchers![explain ? 'explained' : 'plain'].submitMany(drafts);
  }

  private require(): DraftScorer {
    if (this.scorer === undefined) throw new ModelStateError(noScorerMessage);
    return this.scorer;
  }
}
