/**
 * Baselines the estimator is measured against, trained on the same rows and features: the creator's mean
 * label, ridge regression and gradient-boosted regression trees. npm has no well-kept gradient-boosting
 * package (ml-xgboost is one 2019-era Emscripten build, pinned to ml-matrix 5), so the trees are a small
 * histogram implementation here, in the style of LightGBM: quantile bins, level-wise growth, L2 leaves.
 */
import { ValidationError } from '../core/index.js';
import type { LabelledPost } from './label.js';
import { spearman } from './metrics.js';
import type { PackedFeatures } from './schema.js';

/** A baseline design matrix: standardised features, then one 0/1 column per group's presence. */
export function designMatrix(f: PackedFeatures): { x: Float64Array; d: number } {
  const g = f.rows === 0 ? 0 : f.present.length / f.rows;
  const d = f.width + g;
  const x = new Float64Array(f.rows * d);
  for (let i = 0; i < f.rows; i++) {
    for (let j = 0; j < f.width; j++) x[i * d + j] = f.x[i * f.width + j];
    for (let j = 0; j < g; j++) x[i * d + f.width + j] = f.present[i * g + j];
  }
  return { x, d };
}

/** The mean training label of each creator, shrunk toward the overall mean by one pseudo-post. */
export function creatorMeanBaseline(
  train: readonly LabelledPost[],
): (posts: readonly LabelledPost[]) => Float32Array {
  const overall = train.reduce((s, p) => s + p.label, 0) / Math.max(1, train.length);
  const sums = new Map<string, { sum: number; n: number }>();
  for (const p of train) {
    if (p.creator === null) continue;
    const s = sums.get(p.creator) ?? { sum: 0, n: 0 };
    s.sum += p.label;
    s.n++;
    sums.set(p.creator, s);
  }
  return (posts) =>
    Float32Array.from(posts, (p) => {
      const s = p.creator === null ? undefined : sums.get(p.creator);
      return s === undefined ? overall : (s.sum + overall) / (s.n + 1);
    });
}

/** A fitted ridge regression on the baseline design (features, then one presence column per group). */
export interface RidgeFit {
  /** Coefficients of the centred design columns (features, then presence columns). */
  weights: Float64Array;
  /** Training means of the design columns. */
  columnMeans: Float64Array;
  /** Training mean of the label: the prediction at the column means. */
  meanLabel: number;
  /** The penalty chosen on the validation Spearman. */
  penalty: number;
  predict: (f: PackedFeatures) => Float32Array;
}

/** Ridge regression fitted by the normal equations (Cholesky), the penalty picked on validation Spearman. */
export function fitRidge(
  train: PackedFeatures,
  trainY: Float32Array,
  validation: PackedFeatures,
  validationY: Float32Array,
  penalties: readonly number[] = [0.1, 1, 10, 100, 1000],
): RidgeFit {
  const { x, d } = designMatrix(train);
  const n = train.rows;
  const meanY = trainY.reduce((s, v) => s + v, 0) / n;
  const colMean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) colMean[j] += x[i * d + j] / n;
  const xtx = new Float64Array(d * d);
  const xty = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const yi = trainY[i] - meanY;
    for (let a = 0; a < d; a++) {
      const xa = x[i * d + a] - colMean[a];
      xty[a] += xa * yi;
      for (let b = a; b < d; b++) xtx[a * d + b] += xa * (x[i * d + b] - colMean[b]);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) xtx[a * d + b] = xtx[b * d + a];
  const model = (w: Float64Array) => (f: PackedFeatures) => {
    const m = designMatrix(f);
    return Float32Array.from({ length: f.rows }, (_, i) => {
      let s = meanY;
      for (let j = 0; j < d; j++) s += (m.x[i * d + j] - colMean[j]) * w[j];
      return s;
    });
  };
  let best: (RidgeFit & { score: number }) | null = null;
  for (const penalty of penalties) {
    const a = Float64Array.from(xtx);
    for (let j = 0; j < d; j++) a[j * d + j] += penalty;
    const weights = solveCholesky(a, xty, d);
    const predict = model(weights);
    const score = spearman(predict(validation), validationY);
    if (best === null || score > best.score)
      best = { score, weights, columnMeans: colMean, meanLabel: meanY, penalty, predict };
  }
  if (best === null) throw new ValidationError('ridge needs at least one penalty');
  const { score: _score, ...fit } = best;
  return fit;
}

/** The ridge baseline: `fitRidge`'s predictor. */
export function ridgeBaseline(
  train: PackedFeatures,
  trainY: Float32Array,
  validation: PackedFeatures,
  validationY: Float32Array,
  penalties: readonly number[] = [0.1, 1, 10, 100, 1000],
): (f: PackedFeatures) => Float32Array {
  return fitRidge(train, trainY, validation, validationY, penalties).predict;
}

/** Solves A w = b for a symmetric positive-definite A (d × d, row-major). */
function solveCholesky(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * d + j];
    }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * d + k] * z[k];
    z[i] = s / l[i * d + i];
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * w[k];
    w[i] = s / l[i * d + i];
  }
  return w;
}

/** Options of the gradient-boosted trees. */
export interface BoostingOptions {
  rounds?: number;
  learningRate?: number;
  maxDepth?: number;
  minLeaf?: number;
  bins?: number;
  /** L2 penalty on leaf values. */
  lambda?: number;
  /** Rounds without a better validation MSE before stopping. */
  patience?: number;
  /** Keep the best number of rounds on validation (default true); false grows exactly `rounds` trees. */
  earlyStopping?: boolean;
}

/** Fitted boosted trees: the predictor and the number of rounds kept. */
export interface BoostedTreesFit {
  predict: (f: PackedFeatures) => Float32Array;
  rounds: number;
  /** The kept trees as fixed-shape arrays, the form a graph evaluates (`ViralScoreNet`'s tree path). */
  complete: () => CompleteTrees;
}

/**
 * Boosted trees with every tree padded to full depth: node k's children are 2k + 1 (left) and 2k + 2
 * (right), and a row goes right where its design value is >= the node's threshold (the raw-value form of
 * "its bin is above the split's"). A leaf above full depth becomes nodes that always go left (threshold
 * the largest float) over copies of itself.
 */
export interface CompleteTrees {
  count: number;
  depth: number;
  /** [count, 2^depth - 1] the design column (features, then presence columns) each node reads. */
  feature: Float32Array;
  /** [count, 2^depth - 1] */
  threshold: Float32Array;
  /** [count, 2^depth] leaf values (learning rate included). */
  leaf: Float32Array;
  /** The prediction before the first tree: the training mean. */
  base: number;
}

/** Threshold of a padding node: no float32 value reaches it, so every row goes left. */
const ALWAYS_LEFT = 3.4e38;

interface TreeNode {
  feature: number;
  /** Rows with bin <= threshold go left. */
  threshold: number;
  left: number;
  right: number;
  value: number;
}

/**
 * Gradient-boosted regression trees on squared loss (Friedman, 2001) with histogram split search; stops
 * early on the validation MSE and keeps the best number of rounds.
 */
export function boostedTreesBaseline(
  train: PackedFeatures,
  trainY: Float32Array,
  validation: PackedFeatures,
  validationY: Float32Array,
  options: BoostingOptions = {},
): (f: PackedFeatures) => Float32Array {
  return fitBoostedTrees(train, trainY, validation, validationY, options).predict;
}

/** `boostedTreesBaseline` with the number of rounds it kept. */
export function fitBoostedTrees(
  train: PackedFeatures,
  trainY: Float32Array,
  validation: PackedFeatures,
  validationY: Float32Array,
  options: BoostingOptions = {},
): BoostedTreesFit {
  const {
    earlyStopping = true,
    rounds = 500,
    learningRate = 0.05,
    maxDepth = 4,
    minLeaf = 20,
    bins = 32,
    lambda = 1,
    patience = 50,
  } = options;
  const { x, d } = designMatrix(train);
  const n = train.rows;
  const edges = binEdges(x, n, d, bins);
  const binned = binRows(x, n, d, edges);
  const vm = designMatrix(validation);
  const vBinned = binRows(vm.x, validation.rows, d, edges);
  const base = trainY.reduce((s, v) => s + v, 0) / n;
  const pred = new Float64Array(n).fill(base);
  const vPred = new Float64Array(validation.rows).fill(base);
  const trees: TreeNode[][] = [];
  let bestRounds = 0;
  let bestMse = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds && (!earlyStopping || round - bestRounds < patience); round++) {
    const residual = Float64Array.from(pred, (p, i) => trainY[i] - p);
    const tree = growTree(binned, n, d, residual, { maxDepth, minLeaf, bins, lambda, learningRate });
    trees.push(tree);
    for (let i = 0; i < n; i++) pred[i] += evalTree(tree, binned, i, d);
    let mse = 0;
    for (let i = 0; i < validation.rows; i++) {
      vPred[i] += evalTree(tree, vBinned, i, d);
      mse += (vPred[i] - validationY[i]) ** 2;
    }
    if (mse < bestMse) [bestMse, bestRounds] = [mse, round + 1];
  }
  const kept = earlyStopping ? trees.slice(0, Math.max(1, bestRounds)) : trees;
  const predict = (f: PackedFeatures) => {
    const m = designMatrix(f);
    const b = binRows(m.x, f.rows, d, edges);
    return Float32Array.from({ length: f.rows }, (_, i) =>
      kept.reduce((s, t) => s + evalTree(t, b, i, d), base),
    );
  };
  const complete = (): CompleteTrees => {
    const internal = 2 ** maxDepth - 1;
    const feature = new Float32Array(kept.length * internal);
    const threshold = new Float32Array(kept.length * internal);
    const leaf = new Float32Array(kept.length * (internal + 1));
    kept.forEach((tree, t) => {
      const place = (k: number, node: TreeNode) => {
        if (k >= internal) {
          leaf[t * (internal + 1) + k - internal] = node.value;
          return;
        }
        const split = node.left >= 0;
        feature[t * internal + k] = split ? node.feature : 0;
        threshold[t * internal + k] = split ? edges[node.feature][node.threshold] : ALWAYS_LEFT;
        place(2 * k + 1, split ? tree[node.left] : node);
        place(2 * k + 2, split ? tree[node.right] : node);
      };
      place(0, tree[0]);
    });
    return { count: kept.length, depth: maxDepth, feature, threshold, leaf, base };
  };
  return { predict, rounds: kept.length, complete };
}

function binEdges(x: Float64Array, n: number, d: number, bins: number): Float64Array[] {
  return Array.from({ length: d }, (_, j) => {
    const col = Float64Array.from({ length: n }, (_, i) => x[i * d + j]).sort();
    const edges: number[] = [];
    for (let b = 1; b < bins; b++) {
      const v = col[Math.floor((b * n) / bins)];
      if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
    }
    return Float64Array.from(edges);
  });
}

function binRows(x: Float64Array, n: number, d: number, edges: Float64Array[]): Uint8Array {
  const out = new Uint8Array(n * d);
  for (let j = 0; j < d; j++) {
    const e = edges[j];
    for (let i = 0; i < n; i++) {
      const v = x[i * d + j];
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v < e[mid]) hi = mid;
        else lo = mid + 1;
      }
      out[i * d + j] = lo;
    }
  }
  return out;
}

function evalTree(tree: TreeNode[], binned: Uint8Array, row: number, d: number): number {
  let node = tree[0];
  while (node.left >= 0)
    node = tree[binned[row * d + node.feature] <= node.threshold ? node.left : node.right];
  return node.value;
}

function growTree(
  binned: Uint8Array,
  n: number,
  d: number,
  residual: Float64Array,
  o: { maxDepth: number; minLeaf: number; bins: number; lambda: number; learningRate: number },
): TreeNode[] {
  const tree: TreeNode[] = [];
  const leaf = (rows: number[]): TreeNode => ({
    feature: -1,
    threshold: 0,
    left: -1,
    right: -1,
    value: (o.learningRate * rows.reduce((s, r) => s + residual[r], 0)) / (rows.length + o.lambda),
  });
  const grow = (rows: number[], depth: number): number => {
    const index = tree.length;
    tree.push(leaf(rows));
    if (depth >= o.maxDepth || rows.length < 2 * o.minLeaf) return index;
    const total = rows.reduce((s, r) => s + residual[r], 0);
    const parentScore = (total * total) / (rows.length + o.lambda);
    let best = { gain: 1e-12, feature: -1, threshold: 0 };
    const sums = new Float64Array(o.bins);
    const counts = new Uint32Array(o.bins);
    for (let j = 0; j < d; j++) {
      sums.fill(0);
      counts.fill(0);
      for (const r of rows) {
        const b = binned[r * d + j];
        sums[b] += residual[r];
        counts[b]++;
      }
      let ls = 0;
      let lc = 0;
      for (let b = 0; b < o.bins - 1; b++) {
        ls += sums[b];
        lc += counts[b];
        const rc = rows.length - lc;
        if (lc < o.minLeaf) continue;
        if (rc < o.minLeaf) break;
        const rs = total - ls;
        const gain = (ls * ls) / (lc + o.lambda) + (rs * rs) / (rc + o.lambda) - parentScore;
        if (gain > best.gain) best = { gain, feature: j, threshold: b };
      }
    }
    if (best.feature < 0) return index;
    const left = rows.filter((r) => binned[r * d + best.feature] <= best.threshold);
    const right = rows.filter((r) => binned[r * d + best.feature] > best.threshold);
    const node = tree[index];
    node.feature = best.feature;
    node.threshold = best.threshold;
    node.left = grow(left, depth + 1);
    node.right = grow(right, depth + 1);
    return index;
  };
  grow(
    Array.from({ length: n }, (_, i) => i),
    0,
  );
  return tree;
}
