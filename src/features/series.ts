/**
 * Times (ms since epoch) of the posts that used one thing (a tag, a sound, a template, a creator), sorted, with
 * the creator of each. Every query counts only entries strictly before a time: this is where the rule that no
 * feature sees the future is kept.
 */
export class TimeSeries {
  readonly times: number[] = [];
  readonly authors: number[] = [];

  /** Appends in any order; call `seal` before querying. */
  add(time: number, author: number): void {
    this.times.push(time);
    this.authors.push(author);
  }

  /** Sorts by time (stable for equal times). */
  seal(): void {
    const order = this.times.map((_, i) => i).sort((a, b) => this.times[a] - this.times[b]);
    const t = order.map((i) => this.times[i]);
    const a = order.map((i) => this.authors[i]);
    this.times.splice(0, t.length, ...t);
    this.authors.splice(0, a.length, ...a);
  }

  /** Entries strictly before `time`. */
  before(time: number): number {
    return lowerBound(this.times, time);
  }

  /** Entries in [from, to). */
  between(from: number, to: number): number {
    return lowerBound(this.times, to) - lowerBound(this.times, from);
  }

  /** Distinct creators among the entries in [from, to); scans at most `cap` entries (the latest ones). */
  creatorsBetween(from: number, to: number, cap = 2000): number {
    const end = lowerBound(this.times, to);
    const start = Math.max(lowerBound(this.times, from), end - cap);
    const seen = new Set<number>();
    for (let i = start; i < end; i++) seen.add(this.authors[i]);
    return seen.size;
  }
}

/** Index of the first element of sorted `xs` that is >= `x`. */
export function lowerBound(xs: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Series by key, created on first use. */
export class SeriesMap {
  private readonly map = new Map<string, TimeSeries>();

  add(key: string, time: number, author: number): void {
    let s = this.map.get(key);
    if (!s) this.map.set(key, (s = new TimeSeries()));
    s.add(time, author);
  }

  get(key: string): TimeSeries | undefined {
    return this.map.get(key);
  }

  seal(): void {
    for (const s of this.map.values()) s.seal();
  }
}
