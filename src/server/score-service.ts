import { setTimeout as sleep } from 'node:timers/promises';
import { ModelStateError, ValidationError } from '../core/index.js';
import { Batcher } from './batcher.js';
import {
  noScorerMessage,
  type Draft,
  type DraftScore,
  type DraftScorer,
  type ScoreOptions,
  type TwoStageScores,
} from './models.js';

/** The queues of a `ScoreService`: explained and plain full-model batches, and first-stage (int8) batches. */
export type ScoreQueue = 'explained' | 'plain' | 'screen';

/** How `ScoreService` batches drafts. */
export interface ScoreServiceOptions {
  maxBatchSize?: number;
  maxWaitMs?: number;
  /** Batches sent to the scorer at the same time (its scoring threads); default 1. */
  maxConcurrent?: number;
  /** Told the size of each batch sent to the scorer. */
  onBatch?: (queue: ScoreQueue, size: number) => void;
  /** Told the compute time of each part of a two-stage call, and how many drafts it covered. */
  onStage?: (stage: 'featurise' | 'screen' | 'full', seconds: number, drafts: number) => void;
}

interface Loaded {
  scorer: DraftScorer;
  batchers: Record<ScoreQueue, Batcher<Draft, DraftScore>>;
  /** Plain full-model batches answered as JSON text (`DraftScorer.scoreJson`), when the scorer has it. */
  json: Batcher<Draft, string> | undefined;
  close: () => void;
}

/**
 * The one path to the ViralScore estimator for REST and gRPC alike: drafts of concurrent requests share the
 * scorer's batches. Without a scorer every call fails with the "no model trained yet" error. `replace`
 * switches models while serving: new calls go to the new one, the old one closes once its batches finish.
 */
export class ScoreService {
  private loaded: Loaded | undefined;

  constructor(
    scorer: DraftScorer | undefined,
    private readonly options: ScoreServiceOptions = {},
    close: () => void = () => {},
  ) {
    if (scorer) this.loaded = this.load(scorer, close);
  }

  private load(scorer: DraftScorer, close: () => void): Loaded {
    const { maxBatchSize = 256, maxWaitMs = 2, maxConcurrent = 1, onBatch } = this.options;
    const batcher = (queue: ScoreQueue, options: ScoreOptions) =>
      new Batcher<Draft, DraftScore>({
        run: (drafts) => scorer.score(drafts, options),
        maxBatchSize,
        maxWaitMs,
        maxConcurrent,
        ...(onBatch ? { onBatch: (size: number) => onBatch(queue, size) } : {}),
      });
    return {
      scorer,
      close,
      json:
        scorer.scoreJson === undefined
          ? undefined
          : new Batcher<Draft, string>({
              run: (drafts) => scorer.scoreJson!(drafts, {}),
              maxBatchSize,
              maxWaitMs,
              maxConcurrent,
              ...(onBatch ? { onBatch: (size: number) => onBatch('plain', size) } : {}),
            }),
      batchers: {
        explained: batcher('explained', { explain: true }),
        plain: batcher('plain', {}),
        screen: batcher('screen', { variant: 'int8' }),
      },
    };
  }

  /** Whether a model is loaded. */
  get available(): boolean {
    return this.loaded !== undefined;
  }

  /** The loaded model's version; throws the "no model trained yet" error without one. */
  get version(): string {
    return this.require().scorer.version;
  }

  /** Drafts waiting for or inside a scorer batch. */
  get depth(): number {
    return this.loaded ? depthOf(this.loaded) : 0;
  }

  /** Serves `scorer` from now on; the previous one is closed once the batches it holds have finished. */
  async replace(scorer: DraftScorer, close: () => void = () => {}): Promise<void> {
    const old = this.loaded;
    this.loaded = this.load(scorer, close);
    if (!old) return;
    while (depthOf(old) > 0) await sleep(5);
    old.close();
  }

  /** Closes the loaded model. */
  close(): void {
    this.loaded?.close();
    this.loaded = undefined;
  }

  /** Scores drafts, in order; they may share a batch with other callers' drafts. */
  async score(
    drafts: readonly Draft[],
    { explain = false, variant = 'float' }: ScoreOptions = {},
  ): Promise<DraftScore[]> {
    const { batchers } = this.require();
    if (drafts.length === 0) throw new ValidationError('`drafts` must hold at least one draft');
    const queue: ScoreQueue = variant === 'int8' ? 'screen' : explain ? 'explained' : 'plain';
    return batchers[queue].submitMany(drafts);
  }

  /**
   * Scores drafts without explanations, each answer as its JSON text (the `DraftScore` through
   * `JSON.stringify`), for a response built by joining texts. A scorer in worker threads serialises there
   * and its batches are shared by concurrent callers; otherwise the texts are made here from `score`.
   */
  async scoreJson(drafts: readonly Draft[]): Promise<string[]> {
    const { json } = this.require();
    if (drafts.length === 0) throw new ValidationError('`drafts` must hold at least one draft');
    if (json) return json.submitMany(drafts);
    return (await this.score(drafts)).map((s) => JSON.stringify(s));
  }

  /**
   * Two stages: the int8 graph screens every draft, and the full model scores the `keep` it ranked highest.
   * A scorer that featurises once for both does it in one call; otherwise the finalists go through `score`.
   */
  async twoStage(drafts: readonly Draft[], keep: number): Promise<TwoStageScores> {
    const { scorer } = this.require();
    if (drafts.length === 0) throw new ValidationError('`drafts` must hold at least one draft');
    const result = scorer.twoStage ? await scorer.twoStage(drafts, keep) : await this.twoCalls(drafts, keep);
    const kept = result.finalists.length;
    this.options.onStage?.('featurise', result.seconds.featurise, drafts.length);
    this.options.onStage?.('screen', result.seconds.screen, drafts.length);
    this.options.onStage?.('full', result.seconds.full, kept);
    return result;
  }

  private async twoCalls(drafts: readonly Draft[], keep: number): Promise<TwoStageScores> {
    const started = performance.now();
    const screened = await this.score(drafts, { variant: 'int8' });
    const screenedAt = performance.now();
    const order = screened
      .map((s, index) => ({ index, v: s.viralScore }))
      .sort((a, b) => b.v - a.v)
      .slice(0, Math.max(1, keep));
    const full = await this.score(order.map((o) => drafts[o.index]));
    return {
      screen: screened.map((s) => s.viralScore),
      finalists: order
        .map((o, i) => ({ index: o.index, score: full[i] }))
        .sort((a, b) => b.score.viralScore - a.score.viralScore),
      // Featurising happens inside each call here, so it is counted in the stages.
      seconds: {
        featurise: 0,
        screen: (screenedAt - started) / 1000,
        full: (performance.now() - screenedAt) / 1000,
      },
    };
  }

  private require(): Loaded {
    if (this.loaded === undefined) throw new ModelStateError(noScorerMessage);
    return this.loaded;
  }
}

function depthOf(loaded: Loaded): number {
  const b = loaded.batchers;
  return b.explained.depth + b.plain.depth + b.screen.depth + (loaded.json?.depth ?? 0);
}
