/** Turns a dataset and a split into the standardised rows the network and the baselines learn from. */
import type { ViralScoreDataset } from './dataset.js';
import type { FitRows } from './fit.js';
import type { FeatureSchema, PackedFeatures } from './schema.js';
import { packFeatures } from './schema.js';
import { subscoreNames } from './model.js';
import type { WeakLabels } from './weak-labels.js';
import { weakLabels } from './weak-labels.js';

/** The rows `rows` of packed features, labels and weak labels. */
export function subsetRows(all: FitRows, rows: readonly number[]): FitRows {
  const f = all.features;
  const g = f.rows === 0 ? 0 : f.present.length / f.rows;
  const k = subscoreNames.length;
  const x = new Float32Array(rows.length * f.width);
  const present = new Float32Array(rows.length * g);
  const targets = new Float32Array(rows.length * k);
  const mask = new Float32Array(rows.length * k);
  rows.forEach((r, i) => {
    x.set(f.x.subarray(r * f.width, (r + 1) * f.width), i * f.width);
    present.set(f.present.subarray(r * g, (r + 1) * g), i * g);
    targets.set(all.weak.targets.subarray(r * k, (r + 1) * k), i * k);
    mask.set(all.weak.mask.subarray(r * k, (r + 1) * k), i * k);
  });
  const features: PackedFeatures = { rows: rows.length, width: f.width, x, present };
  const weak: WeakLabels = { targets, mask };
  return { features, labels: Float32Array.from(rows, (r) => all.labels[r]), weak };
}

/** Every row of the dataset standardised with `schema`, with weak labels oriented on `trainRows`. */
export function prepareRows(
  schema: FeatureSchema,
  dataset: ViralScoreDataset,
  trainRows: readonly number[],
): FitRows {
  const features = packFeatures(schema, dataset.matrix);
  return {
    features,
    labels: Float32Array.from(dataset.posts, (p) => p.label),
    weak: weakLabels(schema, features, dataset.posts, trainRows),
  };
}
