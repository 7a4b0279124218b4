/**
 * The feature schema a model was trained with: which groups and features it reads, in which order, and the
 * standardisation fitted on its training rows. Saved with the model so that scoring applies exactly the
 * training-time scaling, and so that a feature matrix from a different extractor version is refused.
 */
import { ConfigError, ValidationError } from '../core/index.js';
import { featureGroupNames } from './feature-types.js';
import type { FeatureGroupName, FeatureMatrix } from './feature-types.js';

/** One group of the schema: its features, how each is transformed, and the fitted scaling. */
export interface GroupSchema {
  name: FeatureGroupName;
  features: string[];
  /** `log` applies sign(x) ln(1 + |x|) before scaling (heavy-tailed counts), `identity` does nothing. */
  transforms: ('identity' | 'log')[];
  mean: number[];
  std: number[];
}

/** The schema: the groups the model reads, in model order. */
export interface FeatureSchema {
  groups: GroupSchema[];
}

/** Standardised rows: `x` is rows × width (absent groups hold zeros), `present` rows × groups (0/1). */
export interface PackedFeatures {
  rows: number;
  width: number;
  x: Float32Array;
  present: Float32Array;
}

/** Standardised values are clipped here: a z of 5 is already extreme, and outliers must not dominate. */
const CLIP = 5;

const signedLog = (v: number) => Math.sign(v) * Math.log1p(Math.abs(v));

/** Total number of features of the schema. */
export function schemaWidth(schema: FeatureSchema): number {
  return schema.groups.reduce((n, g) => n + g.features.length, 0);
}

/**
 * Fits the schema on `rows` of `matrix` (all rows by default): groups that have features and are present
 * in at least one of those rows; per feature a log transform when it is non-negative and heavily right-
 * skewed (counts, follower numbers), then mean and standard deviation over the rows that have the group.
 */
export function fitFeatureSchema(matrix: FeatureMatrix, rows?: readonly number[]): FeatureSchema {
  const picked = rows ?? matrix.keys.map((_, i) => i);
  const groups: GroupSchema[] = [];
  for (const name of featureGroupNames) {
    const group = matrix.groups[name];
    const d = group.names.length;
    const have = picked.filter((r) => group.present[r] === 1);
    if (d === 0 || have.length === 0) continue;
    const transforms: ('identity' | 'log')[] = [];
    const mean: number[] = [];
    const std: number[] = [];
    for (let j = 0; j < d; j++) {
      const raw = have.map((r) => finite(group.values[r * d + j]));
      const transform = isSkewedCount(raw) ? 'log' : 'identity';
      const vals = transform === 'log' ? raw.map(signedLog) : raw;
      const m = vals.reduce((s, v) => s + v, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((s, v) => s + (v - m) ** 2, 0) / vals.length);
      transforms.push(transform);
      mean.push(m);
      std.push(sd > 1e-9 ? sd : 1);
    }
    groups.push({ name, features: [...group.names], transforms, mean, std });
  }
  if (groups.length === 0)
    throw new ValidationError('no feature group has features and rows: extract features before training');
  return { groups };
}

function finite(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

function isSkewedCount(values: readonly number[]): boolean {
  if (values.length < 3 || values.some((v) => v < 0)) return false;
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
  if (sd === 0) return false;
  const skew = values.reduce((s, v) => s + ((v - m) / sd) ** 3, 0) / values.length;
  return skew > 2;
}

/**
 * Standardises `rows` of `matrix` (all by default) with `schema`. Features are matched by name, so the
 * matrix may order them differently; a feature the schema needs but the matrix lacks is a ConfigError.
 */
export function packFeatures(
  schema: FeatureSchema,
  matrix: FeatureMatrix,
  rows?: readonly number[],
): PackedFeatures {
  const picked = rows ?? matrix.keys.map((_, i) => i);
  const width = schemaWidth(schema);
  const n = picked.length;
  const x = new Float32Array(n * width);
  const present = new Float32Array(n * schema.groups.length);
  let offset = 0;
  schema.groups.forEach((g, gi) => {
    const group = matrix.groups[g.name];
    const columns = columnsOf(g, group.names);
    const d = group.names.length;
    for (let i = 0; i < n; i++) {
      const r = picked[i];
      if (group.present[r] !== 1) continue;
      present[i * schema.groups.length + gi] = 1;
      for (let j = 0; j < g.features.length; j++) {
        let v = finite(group.values[r * d + columns[j]]);
        if (g.transforms[j] === 'log') v = signedLog(v);
        const z = (v - g.mean[j]) / g.std[j];
        x[i * width + offset + j] = Math.max(-CLIP, Math.min(CLIP, z));
      }
    }
    offset += g.features.length;
  });
  return { rows: n, width, x, present };
}

function columnsOf(g: GroupSchema, names: readonly string[]): number[] {
  const index = new Map(names.map((name, i) => [name, i]));
  return g.features.map((f) => {
    const c = index.get(f);
    if (c === undefined)
      throw new ConfigError(
        `feature "${f}" of group "${g.name}" is missing from the feature matrix: the model was trained with another feature extractor; retrain it (tkllm viralscore train)`,
      );
    return c;
  });
}
