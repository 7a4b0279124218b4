import type { ProgressReporter } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { TextEncoder } from './embedding.js';
import { fixedGroupNames } from './groups.js';
import { audioFeatureNames, videoFeatureNames } from './media-names.js';
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

/** The encoder to use: the caller's, else none (the lake's own encoder arrives with the embedding work). */
export function resolveEncoder(
  _lake: Lake,
  encoder: TextEncoder | undefined,
  _progress: ProgressReporter,
): Promise<TextEncoder | undefined> {
  return Promise.resolve(encoder);
}
