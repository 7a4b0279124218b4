/**
 * Weak labels of the subscores: each head is pulled toward a measurable proxy of what its name promises,
 * so the breakdown of V means something and is not five interchangeable halves of one number.
 *   S ShareTrigger   <- the post's share rate ((shares + saves) / plays) percentile, from the lake.
 *   H HookStrength   <- early retention (watch-through percentile) where the lake has it, else the hook group.
 *   E EmotionIntensity, R Replicability, T TrendMatch <- the emotion (+ audio), replicability and trend groups.
 * A group's proxy is the mean of its standardised features, each oriented by the sign of its correlation
 * with the label on the training rows (so "more of this feature" always means "more of the subscore"),
 * turned into a percentile. Rows without the proxy get no subscore loss (mask 0), never a made-up target.
 */
import type { FeatureGroupName } from './feature-types.js';
import type { LabelledPost } from './label.js';
import { pearson, ranks } from './metrics.js';
import type { SubscoreName } from './model.js';
import { subscoreNames } from './model.js';
import type { FeatureSchema, PackedFeatures } from './schema.js';

/** Targets and masks of the five subscores for some rows: rows × 5, in `subscoreNames` order. */
export interface WeakLabels {
  targets: Float32Array;
  mask: Float32Array;
}

const sources: Record<SubscoreName, readonly FeatureGroupName[]> = {
  E: ['emotion', 'audio'],
  H: ['hook'],
  R: ['replicability'],
  S: [],
  T: ['trend'],
};

/**
 * Weak labels for every row of `packed` (posts aligned with it); feature orientations are fitted on
 * `trainRows` only.
 */
export function weakLabels(
  schema: FeatureSchema,
  packed: PackedFeatures,
  posts: readonly LabelledPost[],
  trainRows: readonly number[],
): WeakLabels {
  const n = packed.rows;
  const k = subscoreNames.length;
  const targets = new Float32Array(n * k);
  const mask = new Float32Array(n * k);
  const offsets: number[] = [];
  schema.groups.reduce((o, g) => (offsets.push(o), o + g.features.length), 0);
  subscoreNames.forEach((name, s) => {
    const proxy = new Float64Array(n).fill(Number.NaN);
    if (name === 'S') posts.forEach((p, i) => p.sharePct !== null && (proxy[i] = p.sharePct));
    else {
      const columns: { column: number; group: number; sign: number }[] = [];
      schema.groups.forEach((g, gi) => {
        if (!sources[name].includes(g.name)) return;
        g.features.forEach((_, j) => {
          const column = offsets[gi] + j;
          const rows = trainRows.filter((r) => packed.present[r * schema.groups.length + gi] === 1);
          const r = pearson(
            rows.map((i) => packed.x[i * packed.width + column]),
            rows.map((i) => posts[i].label),
          );
          if (Math.abs(r) > 0.01) columns.push({ column, group: gi, sign: Math.sign(r) });
        });
      });
      for (let i = 0; i < n; i++) {
        let sum = 0;
        let count = 0;
        for (const c of columns) {
          if (packed.present[i * schema.groups.length + c.group] !== 1) continue;
          sum += c.sign * packed.x[i * packed.width + c.column];
          count++;
        }
        if (count > 0) proxy[i] = sum / count;
      }
      if (name === 'H') posts.forEach((p, i) => p.watchPct !== null && (proxy[i] = p.watchPct));
    }
    const have = Array.from(proxy.keys()).filter((i) => !Number.isNaN(proxy[i]));
    const pct = ranks(have.map((i) => proxy[i]));
    have.forEach((i, j) => {
      targets[i * k + s] = (pct[j] + 0.5) / have.length;
      mask[i * k + s] = 1;
    });
  });
  return { targets, mask };
}
