import { ModelStateError, type ProgressReporter } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { TextEncoder } from './embedding.js';
import { fixedGroupNames } from './groups.js';
import type { History } from './history.js';
import { str } from './json.js';
import { audioFeatureNames, videoFeatureNames } from './media-names.js';
import { fitPpmi, PpmiTextEncoder, type PpmiConfig, type PpmiModel } from './ppmi.js';
import type { FeatureGroupName } from './types.js';

/** Every group's column names, for an embedding of `dimensions`. */
export function groupNamesFor(dimensions: number): Record<FeatureGroupName, readonly string[]> {
  return {
    ...fixedGroupNames,
    embedding: Array.from({ length: dimensions }, (_, i) => `e${i}`),
    audio: audioFeatureNames,
    video: videoFeatureNames,
  };
}

/** The lake's stored PPMI + SVD encoder (the latest fitted), if any. */
export async function loadStoredEncoder(lake: Lake): Promise<PpmiTextEncoder | undefined> {
  const rows = await lake.all(`SELECT encoder_id, config, vocab, vectors FROM feature_encoders
    WHERE kind = 'ppmi-svd' ORDER BY created_at DESC LIMIT 1`);
  const row = rows[0];
  if (!row) return undefined;
  const { counts, ...config } = JSON.parse(str(row.config)) as PpmiConfig & { counts: number[] };
  const encoder = new PpmiTextEncoder({
    config,
    counts,
    vocab: row.vocab as string[],
    vectors: Float32Array.from(row.vectors as number[]),
  });
  if (encoder.id !== str(row.encoder_id))
    throw new ModelStateError(
      `the lake's stored text encoder ${str(row.encoder_id)} does not match its own parameters (${encoder.id}): run \`tkllm features --refit-encoder\``,
    );
  return encoder;
}

/** The encoder an extraction uses, and a newly fitted model to store with its features. */
export interface ResolvedEncoder {
  encoder: TextEncoder | undefined;
  fitted?: PpmiModel;
}

/**
 * The caller's encoder; else the lake's stored one; else (or when `refit`) a PPMI + SVD encoder fitted on the
 * history's texts, to be stored in the same transaction as the features it made.
 */
export async function resolveEncoder(
  lake: Lake,
  options: {
    encoder?: TextEncoder | undefined;
    refit?: boolean | undefined;
    ppmi?: Partial<PpmiConfig> | undefined;
  },
  history: () => Promise<History>,
  progress: ProgressReporter,
): Promise<ResolvedEncoder> {
  if (options.encoder) return { encoder: options.encoder };
  if (!options.refit) {
    const stored = await loadStoredEncoder(lake);
    if (stored) return { encoder: stored };
  }
  progress.update(0, undefined, 'features: fitting the text encoder');
  const h = await history();
  const model = fitPpmi(
    h.posts.map((p) => p.script),
    options.ppmi,
  );
  return model ? { encoder: new PpmiTextEncoder(model), fitted: model } : { encoder: undefined };
}
