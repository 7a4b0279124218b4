import type { Lake } from '../lake/index.js';

/**
 * Serialises every use of the lake: it is one DuckDB connection, and an ingest's transaction must not see
 * another request's statements interleaved with its own (nor a read see half an ingest).
 */
export class LakeGate {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly lake: Lake) {}

  /** Requests waiting for or holding the lake. */
  get depth(): number {
    return this.waiting;
  }

  /** Runs `work` once every earlier `use` has settled; its result or error is passed through. */
  use<T>(work: (lake: Lake) => Promise<T>): Promise<T> {
    this.waiting++;
    const run = this.tail.then(() => work(this.lake));
    this.tail = run.then(
      () => this.waiting--,
      () => this.waiting--,
    );
    return run;
  }
}
