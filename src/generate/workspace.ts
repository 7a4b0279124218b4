import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { silentProgress, ValidationError } from '../core/index.js';
import type { ProgressReporter } from '../core/index.js';
import { extractFeatures } from '../features/index.js';
import { bundledSample, ingestFiles, Lake } from '../lake/index.js';
import { loadTrainedLm, TOKENIZER_FILE, trainCaptionLm } from '../lm/index.js';
import type { CaptionRecord, LmConfig, TrainedLm } from '../lm/index.js';
import { openViralScorer, trainViralScore, ViralScoreRegistry } from '../viralscore/index.js';
import type { ViralScorer } from '../viralscore/index.js';
import { Generator } from './generator.js';
import type { GeneratorParts } from './generator.js';
import { readScoredCaptions } from './lake-data.js';
import { PrefixReward, trainPrefixReward } from './rad.js';

/** Where the parts live under a data directory (the LM where `tkllm lm train` saves it). */
export function generatePaths(dataDir: string, modelDir?: string) {
  return {
    lmDir: modelDir ?? join(dataDir, 'models', 'lm'),
    rewardPath: (estimator: string) => join(dataDir, 'models', 'generate', `prefix-reward-${estimator}.json`),
  };
}

/** The lake's captions as the LM trains on them: one per distinct text, oldest first. */
export async function readCaptionRecords(lake: Lake): Promise<CaptionRecord[]> {
  const rows = await lake.all(`
    SELECT text, author_key, epoch_ms(coalesce(posted_at, observed_at))::DOUBLE AS time
    FROM posts
    WHERE text IS NOT NULL AND length(trim(text)) > 0
    QUALIFY row_number() OVER (PARTITION BY text ORDER BY coalesce(posted_at, observed_at), post_key) = 1
    ORDER BY time, post_key`);
  return rows.map((r) => ({
    text: r.text as string,
    creator: (r.author_key as string | null) ?? null,
    time: Number(r.time),
  }));
}

/**
 * The prefix reward for the active estimator and the LM's tokenizer: loaded when saved for this estimator
 * version and vocabulary, else trained on the lake's scored captions and saved.
 */
export async function prefixRewardFor(
  lake: Lake,
  scorer: ViralScorer,
  lm: TrainedLm,
  dataDir: string,
): Promise<PrefixReward> {
  const path = generatePaths(dataDir).rewardPath(scorer.version);
  if (existsSync(path)) {
    const saved = PrefixReward.load(path);
    if (saved.model.vocabSize === lm.tokenizer.vocabSize) return saved;
  }
  const captions = await readScoredCaptions(lake, scorer);
  const reward = trainPrefixReward(lm.tokenizer, captions, { estimator: scorer.version });
  mkdirSync(join(dataDir, 'models', 'generate'), { recursive: true });
  reward.save(path);
  return reward;
}

/** Options of `openGenerator`. */
export interface OpenGeneratorOptions {
  /** The LM's directory (default `<dataDir>/models/lm`). */
  modelDir?: string;
  /** Load (or train) the prefix reward for reward-augmented decoding. */
  rad?: boolean;
  packs?: GeneratorParts['packs'];
  /**
   * Features that moved V, per candidate (default 0: the estimator's gradient pass for them costs most of
   * the scoring time of a batch, and V, subscores and contributions need none).
   */
  topFeatures?: number;
  /** Where audit records go instead of the lake (`GeneratorParts.audit`). */
  audit?: GeneratorParts['audit'];
}

/** A generator on a data directory's lake, LM and active estimator; `close` frees them. */
export interface OpenedGenerator {
  generator: Generator;
  lm: TrainedLm;
  scorer: ViralScorer;
  reward?: PrefixReward;
  close(): void;
}

/**
 * Opens the parts saved under `dataDir` (lake, TKLLM from `tkllm lm train`, the active estimator) as a
 * generator that audits into the lake.
 * @example
 * const g = await openGenerator(lake, './tkllm-data');
 * try { await g.generator.generate('POV:', { n: 16 }); } finally { g.close(); }
 */
export async function openGenerator(
  lake: Lake,
  dataDir: string,
  options: OpenGeneratorOptions = {},
): Promise<OpenedGenerator> {
  const { lmDir } = generatePaths(dataDir, options.modelDir);
  const lm = loadTrainedLm(lmDir);
  if (new ViralScoreRegistry(dataDir).list().length === 0)
    throw new ValidationError(
      `${dataDir} holds no ViralScore estimator: run \`tkllm viralscore train\` first`,
    );
  const scorer = await openViralScorer(lake, dataDir, { topFeatures: options.topFeatures ?? 0 });
  const reward = options.rad === true ? await prefixRewardFor(lake, scorer, lm, dataDir) : undefined;
  const generator = new Generator({
    lm,
    scorer,
    lake,
    modelName: lmDir,
    ...(reward === undefined ? {} : { reward }),
    ...(options.packs === undefined ? {} : { packs: options.packs }),
    ...(options.audit === undefined ? {} : { audit: options.audit }),
  });
  return {
    generator,
    lm,
    scorer,
    ...(reward === undefined ? {} : { reward }),
    close: () => scorer.close(),
  };
}

/** Options of `prepareWorkspace`. */
export interface PrepareWorkspaceOptions {
  /** Files to ingest (default: the bundled sample). */
  files?: readonly string[];
  /** Year of dates without one (the bundled sample's are 2017). */
  year?: number;
  /**
   * The LM's architecture and training (defaults: a small model trained for 400 steps, quick enough for the
   * demo and for `eval generation --prepare`); `'lm-train'` trains exactly what `tkllm lm train` would with
   * no flags (the corpus rule of `corpusDefaults` and `trainingDefaults`).
   */
  lm?:
    (Partial<LmConfig> & { steps?: number; batchSize?: number; lr?: number; dropout?: number }) | 'lm-train';
  /** The estimator's epochs and members (defaults: the estimator's own). */
  estimator?: { epochs?: number; members?: number };
  progress?: ProgressReporter;
}

/**
 * The smallest workspace that still generates and scores: the bundled sample, one estimator member trained
 * for one epoch and a one-block TKLLM trained for 40 steps — seconds of training, for tests.
 */
export const TINY_WORKSPACE: PrepareWorkspaceOptions = {
  lm: { vocabSize: 300, dModel: 32, nLayers: 1, nHeads: 2, steps: 40, batchSize: 16, lr: 1e-2 },
  estimator: { epochs: 1, members: 1 },
};

/**
 * Builds what generation needs in an empty data directory: ingests the files, extracts features, trains
 * the estimator and TKLLM. Steps already done (lake holds posts, estimator or LM saved) are skipped.
 */
export async function prepareWorkspace(
  dataDir: string,
  options: PrepareWorkspaceOptions = {},
): Promise<void> {
  const progress = options.progress ?? silentProgress;
  const lake = await Lake.open(dataDir);
  try {
    if ((await lake.count('SELECT count(*) FROM posts')) === 0) {
      const files = options.files ?? [bundledSample.path];
      await ingestFiles(
        lake,
        files,
        options.files === undefined
          ? { year: bundledSample.year }
          : options.year === undefined
            ? {}
            : { year: options.year },
      );
    }
    if (new ViralScoreRegistry(dataDir).list().length === 0) {
      await extractFeatures(lake, { progress });
      await trainViralScore(lake, dataDir, { ...options.estimator, progress });
    }
    const { lmDir } = generatePaths(dataDir);
    if (existsSync(join(lmDir, TOKENIZER_FILE))) return;
    if (options.lm === 'lm-train') {
      trainCaptionLm(await readCaptionRecords(lake), { modelDir: lmDir, progress });
    } else {
      const { steps, batchSize, lr, dropout, ...config } = options.lm ?? {};
      trainCaptionLm(await readCaptionRecords(lake), {
        modelDir: lmDir,
        // No direct connections: their 2.2M-entry table would double the quick model's time per step.
        config: {
          vocabSize: 320,
          dModel: 64,
          nLayers: 2,
          dropout: dropout ?? 0.2,
          directOrder: 0,
          ...config,
        },
        steps: steps ?? 400,
        batchSize: batchSize ?? 16,
        lr: lr ?? 5e-3,
        minPostsForStyle: 2,
        progress,
      });
    }
  } finally {
    lake.close();
  }
}
