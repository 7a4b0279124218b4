/** The sample the product ships, so that every command and test has real posts without a download. */
import { fileURLToPath } from 'node:url';
import { ingestFile } from './ingest.js';
import type { IngestResult } from './ingest.js';
import type { Lake } from './lake.js';

/**
 * The bundled CC0 sample: a subset of the Kaggle "Trending YouTube Video Statistics" (datasnaek), 2017.
 * Its dates carry no year, so it is read as `year`.
 */
export const bundledSample = {
  path: fileURLToPath(new URL('../../data/youtube-trending-sample.csv', import.meta.url)),
  year: 2017,
} as const;

/** Ingests the bundled sample into `lake`. */
export function ingestBundledSample(lake: Lake): Promise<IngestResult> {
  return ingestFile(lake, bundledSample.path, { year: bundledSample.year });
}
