import { ValidationError } from '../core/index.js';

/** Options of the n-gram baseline. */
export interface KneserNeyOptions {
  /** Absolute discount D of every order (default 0.75, Chen & Goodman's usual choice). */
  discount?: number;
}

// A sentinel before each sequence so every target has a full trigram context.
const START = -1;

function key2(a: number, b: number): string {
  return `${a},${b}`;
}

/**
 * An interpolated Kneser-Ney trigram model over token ids (Kneser & Ney, 1995; Chen & Goodman, 1998),
 * the smoothed n-gram baseline the LM is measured against on the same tokens and split:
 * P3(w|u,v) = max(c(uvw)−D,0)/c(uv·) + D·N1+(uv·)/c(uv·)·P2(w|v); the lower orders use continuation
 * counts, and the unigram level interpolates with the uniform distribution so every token has mass.
 * @example
 * const kn = KneserNeyTrigram.fit(trainSequences, vocabSize);
 * kn.perplexity(heldOutSequences);
 */
export class KneserNeyTrigram {
  private readonly tri = new Map<string, Map<number, number>>();
  private readonly triTotal = new Map<string, number>();
  /** N1+(· v w): distinct left neighbours of the bigram (v, w). */
  private readonly biCont = new Map<number, Map<number, number>>();
  private readonly biContTotal = new Map<number, number>();
  /** N1+(· w): distinct left neighbours of w. */
  private readonly uniCont = new Map<number, number>();
  private uniContTotal = 0;

  private constructor(
    readonly vocabSize: number,
    readonly discount: number,
  ) {}

  /** Counts the trigrams of `sequences` (each predicted from its second token on). */
  static fit(
    sequences: Iterable<ArrayLike<number>>,
    vocabSize: number,
    options: KneserNeyOptions = {},
  ): KneserNeyTrigram {
    const d = options.discount ?? 0.75;
    if (!(d > 0 && d < 1)) throw new ValidationError(`\`discount\` must be in (0, 1), got ${d}`);
    const model = new KneserNeyTrigram(vocabSize, d);
    const seenBigram = new Set<string>();
    const seenTrigram = new Set<string>();
    for (const seq of sequences) {
      for (let i = 1; i < seq.length; i++) {
        const u = i >= 2 ? seq[i - 2] : START;
        const v = seq[i - 1];
        const w = seq[i];
        const ctx = key2(u, v);
        let row = model.tri.get(ctx);
        if (row === undefined) model.tri.set(ctx, (row = new Map<number, number>()));
        row.set(w, (row.get(w) ?? 0) + 1);
        model.triTotal.set(ctx, (model.triTotal.get(ctx) ?? 0) + 1);
        const t = `${u},${v},${w}`;
        if (!seenTrigram.has(t)) {
          seenTrigram.add(t);
          let b = model.biCont.get(v);
          if (b === undefined) model.biCont.set(v, (b = new Map<number, number>()));
          b.set(w, (b.get(w) ?? 0) + 1);
          model.biContTotal.set(v, (model.biContTotal.get(v) ?? 0) + 1);
        }
        const bg = key2(v, w);
        if (!seenBigram.has(bg)) {
          seenBigram.add(bg);
          model.uniCont.set(w, (model.uniCont.get(w) ?? 0) + 1);
          model.uniContTotal++;
        }
      }
    }
    return model;
  }

  /** P(w | u, v), where u may be the start sentinel -1. */
  probability(u: number, v: number, w: number): number {
    const d = this.discount;
    const uniform = 1 / this.vocabSize;
    let p1 = uniform;
    if (this.uniContTotal > 0) {
      const types = this.uniCont.size;
      p1 =
        Math.max((this.uniCont.get(w) ?? 0) - d, 0) / this.uniContTotal +
        ((d * types) / this.uniContTotal) * uniform;
    }
    let p2 = p1;
    const biRow = this.biCont.get(v);
    if (biRow !== undefined) {
      const total = this.biContTotal.get(v)!;
      p2 = Math.max((biRow.get(w) ?? 0) - d, 0) / total + ((d * biRow.size) / total) * p1;
    }
    const triRow = this.tri.get(key2(u, v));
    if (triRow === undefined) return p2;
    const total = this.triTotal.get(key2(u, v))!;
    return Math.max((triRow.get(w) ?? 0) - d, 0) / total + ((d * triRow.size) / total) * p2;
  }

  /** exp of the mean negative log-probability of every token after the first of each sequence. */
  perplexity(sequences: Iterable<ArrayLike<number>>): number {
    let nll = 0;
    let n = 0;
    for (const seq of sequences) {
      for (let i = 1; i < seq.length; i++) {
        nll -= Math.log(this.probability(i >= 2 ? seq[i - 2] : START, seq[i - 1], seq[i]));
        n++;
      }
    }
    return Math.exp(nll / Math.max(n, 1));
  }
}
