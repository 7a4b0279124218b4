/**
 * The training data of the estimator: labelled posts joined with their feature matrix, and the splits
 * by time and by creator that keep evaluation honest (the same creator or the same week on both sides
 * of a random split inflates every metric).
 */
import { Random, ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { FeatureMatrix } from './feature-types.js';
import { labelPosts } from './label.js';
import type { LabelledPost } from './label.js';

/** Loads the feature matrix of some posts of the lake (the features module's `loadFeatureMatrix`). */
export type FeatureSource = (lake: Lake, options: { postKeys: readonly string[] }) => Promise<FeatureMatrix>;

/** Labelled posts and their features, row i of `matrix` describing `posts[i]`, oldest first. */
export interface ViralScoreDataset {
  posts: LabelledPost[];
  matrix: FeatureMatrix;
}

/** How held-out rows are chosen: the newest posts, or whole creators. */
export type SplitKind = 'time' | 'creator';

/** Row indices of each split. */
export interface DatasetSplit {
  train: number[];
  validation: number[];
  test: number[];
}

/** Labels the lake's posts and loads their features; posts the feature source does not return are left out. */
export async function loadDataset(lake: Lake, features: FeatureSource): Promise<ViralScoreDataset> {
  const labelled = await labelPosts(lake);
  if (labelled.length === 0)
    throw new ValidationError('the lake has no posts with a play count to learn from: ingest posts first');
  const matrix = await features(lake, { postKeys: labelled.map((p) => p.postKey) });
  return alignDataset(labelled, matrix);
}

/** Keeps the posts that have a feature row, reordering the matrix to the posts' (time) order. */
export function alignDataset(posts: readonly LabelledPost[], matrix: FeatureMatrix): ViralScoreDataset {
  const rowOf = new Map(matrix.keys.map((k, i) => [k, i]));
  const kept = posts.filter((p) => rowOf.has(p.postKey));
  if (kept.length === 0)
    throw new ValidationError('no labelled post has features: run feature extraction (tkllm features) first');
  const rows = kept.map((p) => rowOf.get(p.postKey) as number);
  return { posts: kept, matrix: selectRows(matrix, rows) };
}

/** The rows `rows` of a feature matrix, in that order. */
export function selectRows(matrix: FeatureMatrix, rows: readonly number[]): FeatureMatrix {
  const identity = rows.length === matrix.keys.length && rows.every((r, i) => r === i);
  if (identity) return matrix;
  const groups = {} as Record<string, FeatureMatrix['groups'][keyof FeatureMatrix['groups']]>;
  for (const [name, g] of Object.entries(matrix.groups)) {
    const d = g.names.length;
    const values = new Float32Array(rows.length * d);
    const present = new Uint8Array(rows.length);
    rows.forEach((r, i) => {
      values.set(g.values.subarray(r * d, (r + 1) * d), i * d);
      present[i] = g.present[r];
    });
    groups[name] = { names: g.names, values, present };
  }
  return { keys: rows.map((r) => matrix.keys[r]), groups: groups as FeatureMatrix['groups'] };
}

/** Options of `splitDataset`. */
export interface SplitOptions {
  kind?: SplitKind;
  /** Share of rows held out for the test (default 0.2; 0 for final training). */
  testFraction?: number;
  /** Share of the remaining rows used for early stopping (default 0.15). */
  validationFraction?: number;
  /** Seed of the creator shuffle (the time split needs none). */
  seed?: number;
}

/**
 * Splits rows by time (the newest `testFraction` is the test, the newest `validationFraction` of the rest
 * validates) or by creator (whole creators, shuffled with the seed, fill the test and then the validation
 * share; posts without a creator count as their own creator).
 */
export function splitDataset(posts: readonly LabelledPost[], options: SplitOptions = {}): DatasetSplit {
  const kind = options.kind ?? 'time';
  const testFraction = options.testFraction ?? 0.2;
  const validationFraction = options.validationFraction ?? 0.15;
  for (const [name, v] of Object.entries({ testFraction, validationFraction }))
    if (!(v >= 0 && v < 1)) throw new ValidationError(`\`${name}\` must be in [0, 1), got ${v}`);
  const n = posts.length;
  if (kind === 'time') {
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => posts[a].postedAt - posts[b].postedAt || a - b,
    );
    const testStart = Math.round(n * (1 - testFraction));
    const valStart = Math.round(testStart * (1 - validationFraction));
    return {
      train: order.slice(0, valStart),
      validation: order.slice(valStart, testStart),
      test: order.slice(testStart),
    };
  }
  if (kind !== 'creator')
    throw new ValidationError(`split must be "time" or "creator", got "${String(kind)}"`);
  const byCreator = new Map<string, number[]>();
  posts.forEach((p, i) => {
    const who = p.creator ?? `post ${p.postKey}`;
    const list = byCreator.get(who);
    if (list) list.push(i);
    else byCreator.set(who, [i]);
  });
  const creators = new Random(options.seed ?? 42).shuffle([...byCreator.keys()].sort());
  const split: DatasetSplit = { train: [], validation: [], test: [] };
  const testTarget = n * testFraction;
  const valTarget = n * (1 - testFraction) * validationFraction;
  for (const who of creators) {
    const rows = byCreator.get(who) as number[];
    if (split.test.length < testTarget) split.test.push(...rows);
    else if (split.validation.length < valTarget) split.validation.push(...rows);
    else split.train.push(...rows);
  }
  return split;
}
