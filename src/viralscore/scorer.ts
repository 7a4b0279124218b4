/**
 * Scoring drafts and posts with a registered estimator: features from the features module, the saved
 * standardisation, then the exported ONNX graph (float or int8) for V, the subscores and their
 * contributions. The features that moved V most come from input x gradient on the network itself.
 */
import type { Lake } from '../lake/index.js';
import { ValidationError } from '../core/index.js';
import { GraphSession, quantizeModel, sum, tensor } from '../tensor/index.js';
import { loadFeatureMatrix, openFeatureContext } from './feature-types.js';
import type { Draft, FeatureGroupName, FeatureMatrix } from './feature-types.js';
import { servingGraph, tracedFromBytes } from './graph.js';
import type { SubscoreName, ViralScoreModel } from './model.js';
import { subscoreNames } from './model.js';
import { ViralScoreRegistry } from './registry.js';
import { packFeatures } from './schema.js';
import type { FeatureSchema, PackedFeatures } from './schema.js';

/** How much one feature moved a draft's V, on V's logit scale. */
export interface FeatureEffect {
  group: FeatureGroupName;
  feature: string;
  /** The draft's raw value of the feature. */
  value: number;
  /** Gradient of V's logit times the standardised value: the push away from an average post. */
  effect: number;
}

/** The score of one draft or post. */
export interface ViralScoreResult {
  id: string;
  /** V in (0, 1): the predicted propagation percentile-like score. */
  v: number;
  /** Each subscore in (0, 1). */
  subscores: Record<SubscoreName, number>;
  /** Each subscore times its weight: V = sigmoid(bias + the sum of these). */
  contributions: Record<SubscoreName, number>;
  /** The features that moved V most, largest |effect| first (empty when not asked for). */
  topFeatures: FeatureEffect[];
}

/** Options of `openViralScorer`. */
export interface ViralScorerOptions {
  /** Registry version (default: the active one). */
  version?: string;
  /** Which exported graph runs (default float). */
  variant?: 'float' | 'int8';
  /** How many top features each result lists (default 5; 0 skips the gradient pass). */
  topFeatures?: number;
  /** Turns drafts into features; default: the features module's context on this lake. */
  featurise?: (drafts: readonly Draft[]) => Promise<FeatureMatrix>;
  /** onnxruntime threads of the graph session (default 1: batches of drafts are small). */
  threads?: number;
}

/** A loaded estimator that scores drafts and feature matrices. */
export interface ViralScorer {
  readonly version: string;
  readonly variant: 'float' | 'int8';
  readonly schema: FeatureSchema;
  /** Weights a..e of the subscores in V, and the bias. */
  readonly mix: { weights: Record<SubscoreName, number>; bias: number };
  /** Featurises and scores drafts, in order. */
  score(drafts: readonly Draft[]): Promise<ViralScoreResult[]>;
  /** Scores rows of a feature matrix already computed. */
  scoreMatrix(matrix: FeatureMatrix, options?: { topFeatures?: number }): ViralScoreResult[];
  /** Frees the graph session. */
  close(): void;
}

/**
 * Opens the estimator saved under `dataDir` for scoring against `lake`'s history.
 * @example
 * const scorer = await openViralScorer(lake, './tkllm-data');
 * const [result] = await scorer.score([{ text: 'Wait for it... you will not believe this' }]);
 */
export async function openViralScorer(
  lake: Lake,
  dataDir: string,
  options: ViralScorerOptions = {},
): Promise<ViralScorer> {
  const registry = new ViralScoreRegistry(dataDir);
  const loaded = registry.load(options.version);
  const variant = options.variant ?? 'float';
  // The served graph is the exported one rewritten for speed (servingGraph: same outputs to float
  // rounding); its int8 variant quantises that graph, so the group encoders' blocks are int8 too.
  const served = servingGraph(tracedFromBytes(registry.graph(loaded.version, 'float'))).model;
  const session = new GraphSession(
    variant === 'int8' ? quantizeModel(served, { bits: 8 }).model : served,
    options.threads ?? 1,
  );
  const net = loaded.model.freeze();
  const defaultTop = options.topFeatures ?? 5;
  let featurise: (drafts: readonly Draft[]) => Promise<FeatureMatrix>;
  if (options.featurise !== undefined) featurise = options.featurise;
  else {
    const context = await openFeatureContext(lake);
    featurise = (drafts) => context.featurise(drafts);
  }
  const weights = net.mixWeights();
  const scorer: ViralScorer = {
    version: loaded.version,
    variant,
    schema: loaded.schema,
    mix: {
      weights: Object.fromEntries(subscoreNames.map((s, i) => [s, weights[i]])) as Record<
        SubscoreName,
        number
      >,
      bias: net.mixBias(),
    },
    async score(drafts) {
      if (drafts.length === 0) return [];
      for (const [i, d] of drafts.entries())
        if (typeof d.text !== 'string') throw new ValidationError(`draft ${i}: \`text\` must be a string`);
      const matrix = await featurise(drafts);
      return scorer.scoreMatrix(matrix);
    },
    scoreMatrix(matrix, call = {}) {
      const packed = packFeatures(loaded.schema, matrix);
      if (packed.rows === 0) return [];
      const g = loaded.schema.groups.length;
      const [v, s, c] = session.run([
        tensor(packed.x, [packed.rows, packed.width]),
        tensor(packed.present, [packed.rows, g]),
      ]);
      const top = call.topFeatures ?? defaultTop;
      const effects = top > 0 ? featureEffects(net, loaded.schema, packed, matrix, top) : [];
      const k = subscoreNames.length;
      return matrix.keys.map((id, i) => ({
        id,
        v: Number(v.data[i]),
        subscores: Object.fromEntries(subscoreNames.map((n, j) => [n, Number(s.data[i * k + j])])) as Record<
          SubscoreName,
          number
        >,
        contributions: Object.fromEntries(
          subscoreNames.map((n, j) => [n, Number(c.data[i * k + j])]),
        ) as Record<SubscoreName, number>,
        topFeatures: effects[i] ?? [],
      }));
    },
    close() {
      session.dispose();
    },
  };
  return scorer;
}

/** Input x gradient of V's logit per row (rows are independent, so one backward gives every row's). */
function featureEffects(
  net: ViralScoreModel,
  schema: FeatureSchema,
  packed: PackedFeatures,
  matrix: FeatureMatrix,
  top: number,
): FeatureEffect[][] {
  const g = schema.groups.length;
  const x = tensor(Float32Array.from(packed.x), [packed.rows, packed.width]);
  x.requiresGrad = true;
  sum(net.forward(x, tensor(packed.present, [packed.rows, g])).logit).backward();
  const grad = x.grad?.data ?? new Float32Array(packed.x.length);
  const columns: { group: FeatureGroupName; feature: string; gi: number; source: number; d: number }[] = [];
  schema.groups.forEach((group, gi) => {
    const names = matrix.groups[group.name].names;
    group.features.forEach((feature) =>
      columns.push({ group: group.name, feature, gi, source: names.indexOf(feature), d: names.length }),
    );
  });
  return matrix.keys.map((_, i) => {
    const effects: FeatureEffect[] = [];
    columns.forEach((col, j) => {
      if (packed.present[i * g + col.gi] !== 1) return;
      const effect = grad[i * packed.width + j] * packed.x[i * packed.width + j];
      if (effect === 0) return;
      const value = matrix.groups[col.group].values[i * col.d + col.source];
      effects.push({ group: col.group, feature: col.feature, value, effect });
    });
    return effects.sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect)).slice(0, top);
  });
}

/** V of every post of the lake that has stored features (or of `postKeys`), by post key. */
export async function scorePosts(
  lake: Lake,
  scorer: ViralScorer,
  options: { postKeys?: readonly string[] } = {},
): Promise<{ postKey: string; v: number }[]> {
  const matrix = await loadFeatureMatrix(
    lake,
    options.postKeys === undefined ? {} : { postKeys: options.postKeys },
  );
  const out: { postKey: string; v: number }[] = [];
  const batch = 2048;
  for (let start = 0; start < matrix.keys.length; start += batch) {
    const rows = Array.from({ length: Math.min(batch, matrix.keys.length - start) }, (_, i) => start + i);
    for (const r of scorer.scoreMatrix(selectRowsOf(matrix, rows), { topFeatures: 0 }))
      out.push({ postKey: r.id, v: r.v });
  }
  return out;
}

function selectRowsOf(matrix: FeatureMatrix, rows: number[]): FeatureMatrix {
  if (rows.length === matrix.keys.length) return matrix;
  const groups = Object.fromEntries(
    Object.entries(matrix.groups).map(([name, grp]) => {
      const d = grp.names.length;
      return [
        name,
        {
          names: grp.names,
          values: grp.values.subarray(rows[0] * d, (rows[rows.length - 1] + 1) * d),
          present: grp.present.subarray(rows[0], rows[rows.length - 1] + 1),
        },
      ];
    }),
  ) as unknown as FeatureMatrix['groups'];
  return { keys: rows.map((r) => matrix.keys[r]), groups };
}
