import type { Lake } from '../lake/index.js';

/**
 * Serialises every use of the lake: it is one DuckDB connection, and an ingest's transaction must not see
 * another request's statements interleaved with its own (nor a read see half an ingest).
 */
export class LakeGate {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private writes = 0;
  private readonly cache = new Map<string, { version: number; value: Promise<unknown> }>();

  constructor(private readonly lake: Lake) {}

  /** Requests waiting for or holding the lake. */
  get depth(): number {
    return this.waiting;
  }

  /** Counts writes made through `write`; a read cached at one version is stale at the next. */
  get version(): number {
    return this.writes;
  }

  /** Runs a change to the lake; cached reads made before it are dropped. */
  write<T>(work: (lake: Lake) => Promise<T>): Promise<T> {
    return this.use(work).finally(() => {
      this.writes++;
      this.cache.clear();
    });
  }

  /**
   * Answers a read from cache while no write has happened since it ran. The server owns the lake file (DuckDB
   * locks it), so every change goes through `write`, and a summary need not be recomputed per request.
   */
  cached<T>(key: string, work: (lake: Lake) => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && hit.version === this.writes) return hit.value as Promise<T>;
    const value = this.use(work);
    const entry = { version: this.writes, value };
    this.cache.set(key, entry);
    // A failed read is not kept: the next request tries again.
    value.catch(() => {
      if (this.cache.get(key) === entry) this.cache.delete(key);
    });
    return value;
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
