import { createHash } from 'node:crypto';
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { Random, ValidationError } from '../core/index.js';
import type { TextEncoder } from './embedding.js';
import { tokenize } from './text.js';

// Word vectors from the lake's own corpus, with no downloaded model: positive PMI of word co-occurrences in a
// window, factorised by a truncated SVD. The recipe and its constants are Levy, Goldberg & Dagan (2015),
// "Improving distributional similarity with lessons learned from word embeddings": context-distribution
// smoothing alpha = 0.75 and eigenvalue weighting p = 0.5 (W = U * sqrt(S)). A text's vector is the SIF-
// weighted mean of its words' vectors (Arora, Liang & Ma 2017, a = 1e-3), L2-normalised.

/** Settings of the PPMI + SVD encoder. */
export interface PpmiConfig {
  dimensions: number;
  /** Words on each side counted as context. */
  window: number;
  /** Words seen fewer times are left out of the vocabulary. */
  minCount: number;
  maxVocab: number;
  seed: number;
}

export const defaultPpmiConfig: PpmiConfig = {
  dimensions: 32,
  window: 4,
  minCount: 2,
  maxVocab: 8000,
  seed: 7,
};

/** A fitted PPMI + SVD encoder: its vocabulary, word counts and word vectors. */
export interface PpmiModel {
  config: PpmiConfig;
  vocab: string[];
  counts: number[];
  /** vocab.length x config.dimensions, row-major. */
  vectors: Float32Array;
}

/** Fits word vectors on `texts`; undefined when the corpus has fewer than two words seen `minCount` times. */
export function fitPpmi(texts: Iterable<string>, config: Partial<PpmiConfig> = {}): PpmiModel | undefined {
  const c = { ...defaultPpmiConfig, ...config };
  if (!Number.isInteger(c.dimensions) || c.dimensions <= 0)
    throw new ValidationError(`\`dimensions\` must be a positive integer, got ${c.dimensions}`);
  const docs: string[][] = [];
  const freq = new Map<string, number>();
  for (const t of texts) {
    const words = tokenize(t);
    docs.push(words);
    for (const w of words) freq.set(w, (freq.get(w) ?? 0) + 1);
  }
  const vocab = [...freq]
    .filter(([, n]) => n >= c.minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, c.maxVocab)
    .map(([w]) => w);
  const V = vocab.length;
  if (V < 2) return undefined;
  const index = new Map(vocab.map((w, i) => [w, i]));
  // Sparse symmetric co-occurrence counts, keyed i * V + j.
  const pairs = new Map<number, number>();
  for (const words of docs) {
    const ids = words.map((w) => index.get(w) ?? -1);
    for (let i = 0; i < ids.length; i++) {
      const a = ids[i];
      if (a < 0) continue;
      for (let j = i + 1; j <= Math.min(ids.length - 1, i + c.window); j++) {
        const b = ids[j];
        if (b < 0) continue;
        pairs.set(a * V + b, (pairs.get(a * V + b) ?? 0) + 1);
        pairs.set(b * V + a, (pairs.get(b * V + a) ?? 0) + 1);
      }
    }
  }
  const rowSum = new Float64Array(V);
  const ctxSmoothed = new Float64Array(V);
  for (const [k, n] of pairs) {
    rowSum[Math.floor(k / V)] += n;
  }
  // Context counts ^ 0.75 (the matrix is symmetric, so column sums equal row sums).
  let ctxTotal = 0;
  for (let j = 0; j < V; j++) ctxTotal += ctxSmoothed[j] = rowSum[j] ** 0.75;
  const rows: number[][] = Array.from({ length: V }, () => []);
  const vals: number[][] = Array.from({ length: V }, () => []);
  for (const [k, n] of pairs) {
    const i = Math.floor(k / V);
    const j = k % V;
    const pmi = Math.log((n * ctxTotal) / (rowSum[i] * ctxSmoothed[j]));
    if (pmi > 0) {
      rows[i].push(j);
      vals[i].push(pmi);
    }
  }
  const k = Math.min(c.dimensions, V - 1);
  const vectors = truncatedSvd(rows, vals, V, k, new Random(c.seed), c.dimensions);
  return { config: c, vocab, counts: vocab.map((w) => freq.get(w) ?? 0), vectors };
}

/** Sparse (rows of column indices and values) times dense. */
function sparseTimes(rows: number[][], vals: number[][], x: Matrix): Matrix {
  const out = new Matrix(rows.length, x.columns);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const v = vals[i];
    for (let t = 0; t < r.length; t++) {
      const j = r[t];
      const a = v[t];
      for (let c = 0; c < x.columns; c++) out.set(i, c, out.get(i, c) + a * x.get(j, c));
    }
  }
  return out;
}

/**
 * Rank-k SVD of a symmetric sparse matrix by randomised range finding with two power iterations (Halko,
 * Martinsson & Tropp 2011), the small dense SVD done by ml-matrix. Returns U_k * sqrt(S_k), padded to `width`.
 */
function truncatedSvd(
  rows: number[][],
  vals: number[][],
  n: number,
  k: number,
  random: Random,
  width: number,
) {
  const oversample = Math.min(n - k, 10);
  const omega = new Matrix(n, k + oversample);
  for (let i = 0; i < n; i++) for (let j = 0; j < k + oversample; j++) omega.set(i, j, random.normal());
  let q = new QrDecomposition(sparseTimes(rows, vals, omega)).orthogonalMatrix;
  for (let it = 0; it < 2; it++)
    q = new QrDecomposition(sparseTimes(rows, vals, sparseTimes(rows, vals, q))).orthogonalMatrix;
  // B = Q^T A = (A Q)^T for symmetric A.
  const b = sparseTimes(rows, vals, q).transpose();
  const svd = new SingularValueDecomposition(b, { autoTranspose: true });
  const u = q.mmul(svd.leftSingularVectors);
  const s = svd.diagonal;
  const out = new Float32Array(n * width);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) {
      // Sign convention: the largest-magnitude entry of each component is positive, so fits are repeatable.
      out[i * width + j] = u.get(i, j) * Math.sqrt(s[j]);
    }
  for (let j = 0; j < k; j++) {
    let best = 0;
    for (let i = 0; i < n; i++) if (Math.abs(out[i * width + j]) > Math.abs(best)) best = out[i * width + j];
    if (best < 0) for (let i = 0; i < n; i++) out[i * width + j] = -out[i * width + j];
  }
  return out;
}

/** The default encoder: SIF-weighted mean of PPMI + SVD word vectors, L2-normalised. */
export class PpmiTextEncoder implements TextEncoder {
  readonly id: string;
  readonly dimensions: number;
  private readonly index: Map<string, number>;
  private readonly weights: Float32Array;

  constructor(readonly model: PpmiModel) {
    this.dimensions = model.config.dimensions;
    if (model.vectors.length !== model.vocab.length * this.dimensions)
      throw new ValidationError(
        `PPMI encoder: ${model.vectors.length} vector values for ${model.vocab.length} words x ${this.dimensions} dimensions`,
      );
    this.index = new Map(model.vocab.map((w, i) => [w, i]));
    const total = model.counts.reduce((a, b) => a + b, 0) || 1;
    this.weights = Float32Array.from(model.counts, (n) => 1e-3 / (1e-3 + n / total));
    const hash = createHash('sha256');
    hash.update(JSON.stringify({ config: model.config, vocab: model.vocab }));
    hash.update(new Uint8Array(model.vectors.buffer, model.vectors.byteOffset, model.vectors.byteLength));
    this.id = `ppmi-svd:${hash.digest('hex').slice(0, 16)}`;
  }

  /** The vector of one text (zeros when none of its words is in the vocabulary). */
  encodeOne(text: string): Float32Array {
    return this.encodeWords(tokenize(text));
  }

  /**
   * The vector of a text already tokenized by `tokenize` (a draft's analysis holds its tokens, so scoring does
   * not scan the text a second time).
   */
  encodeWords(words: readonly string[]): Float32Array {
    const d = this.dimensions;
    const out = new Float32Array(d);
    const vectors = this.model.vectors;
    for (const w of words) {
      const i = this.index.get(w);
      if (i === undefined) continue;
      const a = this.weights[i];
      for (let j = 0; j < d; j++) out[j] = out[j] + a * vectors[i * d + j];
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += out[j] ** 2;
    if (norm > 0) for (let j = 0; j < d; j++) out[j] = out[j] / Math.sqrt(norm);
    return out;
  }

  encode(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((t) => this.encodeOne(t)));
  }
}
