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

  /** Distinct creators among the first i entries, for "creators before t" in one binary search. */
  private distinct: Uint32Array = new Uint32Array(1);

  /** Sorts by time (stable for equal times) and indexes the creators. */
  seal(): void {
    const order = this.times.map((_, i) => i).sort((a, b) => this.times[a] - this.times[b]);
    const t = order.map((i) => this.times[i]);
    const a = order.map((i) => this.authors[i]);
    // Element-wise copies: spreading a long array into splice() would overflow the call stack.
    for (let i = 0; i < t.length; i++) [this.times[i], this.authors[i]] = [t[i], a[i]];
    this.distinct = new Uint32Array(t.length + 1);
    const seen = new Set<number>();
    for (let i = 0; i < a.length; i++) {
      seen.add(a[i]);
      this.distinct[i + 1] = seen.size;
    }
  }

  /** Distinct creators among the entries strictly before `time`. */
  creatorsBefore(time: number): number {
    return this.distinct[lowerBound(this.times, time)] ?? 0;
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
  creatorsBetween(from: number, to: number, cap = 500): number {
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
