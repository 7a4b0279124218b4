/**
 * Synthetic feature matrices with a planted virality signal, for tests and benchmarks: the label is a
 * known function of a few features, so a model that learns anything shows it, and one that learns nothing
 * is caught. Groups `audio` and `video` are present on a minority of rows, as media files are in practice.
 */
import { Random } from '../core/index.js';
import { featureGroupNames } from './feature-types.js';
import type { FeatureGroupMatrix, FeatureGroupName, FeatureMatrix } from './feature-types.js';
import type { LabelledPost } from './label.js';

/** Options of `syntheticDataset`. */
export interface SyntheticOptions {
  rows?: number;
  seed?: number;
  /** Standard deviation of the label noise on the logit scale (default 0.5). */
  noise?: number;
  /** Distinct creators (default rows / 4). */
  creators?: number;
}

const dims: Record<FeatureGroupName, number> = {
  text: 6,
  hook: 4,
  emotion: 4,
  embedding: 8,
  trend: 3,
  replicability: 3,
  creator: 4,
  behaviour: 3,
  audio: 3,
  video: 3,
};

/**
 * Rows of random features where label = sigmoid(1.2 hook_0 + 1.0 trend_0 - 0.8 text_1 + 0.6 emotion_0
 * + 0.5 creator_0 + 0.8 audio_0 [when audio is present] + noise); `sharePct` follows emotion_1.
 */
export function syntheticDataset(options: SyntheticOptions = {}): {
  matrix: FeatureMatrix;
  posts: LabelledPost[];
} {
  const rows = options.rows ?? 2000;
  const rng = new Random(options.seed ?? 7);
  const noise = options.noise ?? 0.5;
  const creators = options.creators ?? Math.max(1, Math.floor(rows / 4));
  const groups = {} as Record<FeatureGroupName, FeatureGroupMatrix>;
  for (const name of featureGroupNames) {
    const d = dims[name];
    const values = new Float32Array(rows * d);
    const present = new Uint8Array(rows);
    for (let r = 0; r < rows; r++) {
      const has =
        name === 'audio' || name === 'video'
          ? rng.next() < 0.3
          : name === 'behaviour'
            ? rng.next() < 0.6
            : true;
      present[r] = has ? 1 : 0;
      for (let j = 0; j < d; j++) values[r * d + j] = has ? rng.normal() : 0;
    }
    groups[name] = { names: Array.from({ length: d }, (_, j) => `${name}_${j}`), values, present };
  }
  const at = (g: FeatureGroupName, r: number, j: number) => groups[g].values[r * dims[g] + j];
  const keys: string[] = [];
  const posts: LabelledPost[] = [];
  const start = Date.UTC(2025, 0, 1);
  for (let r = 0; r < rows; r++) {
    const audio = groups.audio.present[r] === 1 ? 0.8 * at('audio', r, 0) : 0;
    const z =
      1.2 * at('hook', r, 0) +
      1.0 * at('trend', r, 0) -
      0.8 * at('text', r, 1) +
      0.6 * at('emotion', r, 0) +
      0.5 * at('creator', r, 0) +
      audio +
      noise * rng.normal();
    const key = `synthetic:${r}`;
    keys.push(key);
    posts.push({
      postKey: key,
      creator: `synthetic:creator_${rng.int(creators)}`,
      postedAt: start + r * 3_600_000,
      label: 1 / (1 + Math.exp(-z)),
      sharePct: 1 / (1 + Math.exp(-at('emotion', r, 1))),
      watchPct: null,
    });
  }
  return { matrix: { keys, groups }, posts };
}
