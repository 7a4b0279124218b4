import { TkllmError, ValidationError } from '../core/index.js';

/** How a `Batcher` groups items. */
export interface BatcherOptions<I, O> {
  /** Runs one batch; must return one result per item, in order. */
  run: (items: I[]) => Promise<O[]>;
  /** Largest batch handed to `run`; a full batch is dispatched at once. */
  maxBatchSize?: number;
  /** How long the first waiting item waits for company before its batch is dispatched. */
  maxWaitMs?: number;
  /** Batches running at the same time; 1 suits a model that uses every core for one batch. */
  maxConcurrent?: number;
  /** Told the number of items waiting or running whenever it changes (a queue-depth gauge). */
  onDepth?: (depth: number) => void;
  /** Told the size of each dispatched batch. */
  onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups items submitted by concurrent callers into batches: a batch leaves when it is full or when its
 * oldest item has waited `maxWaitMs`, and each caller gets back its own item's result. Scoring one draft
 * costs about as much as scoring sixteen on a batched model, which is why concurrent requests share.
 *
 * @example
 * const batcher = new Batcher({ run: (drafts) => scorer.score(drafts), maxBatchSize: 32, maxWaitMs: 3 });
 * const [a, b] = await Promise.all([batcher.submit(d1), batcher.submit(d2)]); // one call to scorer.score
 */
export class Batcher<I, O> {
  private readonly run: (items: I[]) => Promise<O[]>;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly maxConcurrent: number;
  private readonly onDepth: (depth: number) => void;
  private readonly onBatch: (size: number) => void;
  private readonly queue: Waiting<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private inFlight = 0;

  constructor({
    run,
    maxBatchSize = 32,
    maxWaitMs = 3,
    maxConcurrent = 1,
    onDepth = () => {},
    onBatch = () => {},
  }: BatcherOptions<I, O>) {
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
      throw new ValidationError(`\`maxBatchSize\` must be a positive integer, got ${maxBatchSize}`);
    if (!(maxWaitMs >= 0)) throw new ValidationError(`\`maxWaitMs\` must be >= 0, got ${maxWaitMs}`);
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new ValidationError(`\`maxConcurrent\` must be a positive integer, got ${maxConcurrent}`);
    this.run = run;
    this.maxBatchSize = maxBatchSize;
    this.maxWaitMs = maxWaitMs;
    this.maxConcurrent = maxConcurrent;
    this.onDepth = onDepth;
    this.onBatch = onBatch;
  }

  /** Items waiting for a batch plus items in running batches. */
  get depth(): number {
    return this.queue.length + this.inFlight;
  }

  /** Queues one item and resolves with its result (or rejects with its batch's error). */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.onDepth(this.depth);
      this.schedule();
    });
  }

  /** Queues several items; they may share batches with other callers' items. */
  submitMany(items: readonly I[]): Promise<O[]> {
    return Promise.all(items.map((item) => this.submit(item)));
  }

  private schedule(): void {
    if (this.running >= this.maxConcurrent || this.queue.length === 0) return;
    if (this.queue.length >= this.maxBatchSize) {
      this.dispatch();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.dispatch();
    }, this.maxWaitMs);
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running >= this.maxConcurrent || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatchSize);
    this.running++;
    this.inFlight += batch.length;
    this.onBatch(batch.length);
    void this.execute(batch).finally(() => {
      this.running--;
      this.inFlight -= batch.length;
      this.onDepth(this.depth);
      // Items that queued up while this batch ran have already waited: send them without a new timer.
      if (this.queue.length > 0) this.dispatch();
    });
    if (this.queue.length > 0) this.schedule();
  }

  private async execute(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((w) => w.item));
      if (results.length !== batch.length)
        throw new TkllmError(
          'INTERNAL',
          `the batch function returned ${results.length} results for ${batch.length} items`,
        );
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
