import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../core/index.js';
import { freshLabels } from '../experiments/index.js';
import { extractFeatures } from '../features/index.js';
import {
  activateLmVersion,
  CREATORS_FILE,
  encodeSamples,
  evaluateLm,
  lmVersions,
  loadTrainedLm,
  rollbackLm,
  saveLmVersion,
  snapshotLm,
  splitByTime,
  TOKENIZER_FILE,
  trainLm,
} from '../lm/index.js';
import type { CaptionRecord, TrainLmResult } from '../lm/index.js';
import { selectHighValue } from '../select/index.js';
import type { SelectionReport } from '../select/index.js';
import {
  openViralScorer,
  rollbackEstimator,
  scorePosts,
  updateEstimatorOnline,
  ViralScoreRegistry,
} from '../viralscore/index.js';
import type { OnlineUpdateResult } from '../viralscore/index.js';
import { readCaptions } from './lm-commands.js';
import { dataDirOf, nonNegative, positiveInt, share, withLake } from './options.js';

/** Options of `updateLmOnPool`. */
export interface LmUpdateOptions {
  /** GSPF fine-tuning steps (default 100). */
  steps?: number;
  /** Layers GSPF unfreezes (default 2). */
  topK?: number;
  lr?: number;
  batchSize?: number;
  /** Share of the high-value pool: the top share of posts by ViralScore (default 0.3). */
  topShare?: number;
  /** λ of the pool's weights w_i = 1 + λ·V_i (default 1). */
  lambda?: number;
  /** Share of the newest captions held out for the guard (default 0.1). */
  heldOutShare?: number;
  /** Largest relative rise of held-out perplexity the guard lets through (default 0.02). */
  perplexityMargin?: number;
  seed?: number;
}

/** What `updateLmOnPool` did. */
export interface LmUpdateResult {
  version: string;
  parent: string;
  activated: boolean;
  reason: string | null;
  perplexityBefore: number;
  perplexityAfter: number;
  pool: SelectionReport;
  training: Pick<TrainLmResult, 'step' | 'seconds' | 'selections'>;
}

/**
 * `tkllm lm update` as a library call on plain data: refreshes the high-value pool from captions with fresh
 * ViralScores (src/select), runs a GSPF fine-tune of the model in `modelDir` on it (src/lm's trainer), saves
 * the result as the next version under `<modelDir>/versions/` and serves it only when the held-out
 * perplexity (the newest captions) rose by at most `perplexityMargin`. The model served before the first
 * update is kept as v1, so every state can be restored.
 */
export function updateLmOnPool(
  modelDir: string,
  captions: readonly CaptionRecord[],
  options: LmUpdateOptions = {},
): LmUpdateResult {
  const margin = options.perplexityMargin ?? 0.02;
  const { model, tokenizer, creators } = loadTrainedLm(modelDir);
  if (lmVersions(modelDir).versions.length === 0) snapshotLm(modelDir, 'initial');
  const parent = lmVersions(modelDir).active as string;
  const { train, heldOut } = splitByTime(captions, (c) => c.time ?? 0, options.heldOutShare ?? 0.1);
  const scored = train.filter((c) => c.viralScore !== undefined);
  if (scored.length < 2)
    throw new ValidationError(
      `the pool needs captions with ViralScores, got ${scored.length}: train the estimator first (tkllm viralscore train)`,
    );
  const selection = selectHighValue(
    scored.map((c, i) => ({
      id: String(i),
      text: c.text,
      viralScore: c.viralScore as number,
      ...(c.creator ? { creator: c.creator } : {}),
    })),
    { topShare: options.topShare ?? 0.3, lambda: options.lambda ?? 1 },
  );
  const rowOf = new Map(creators.map((c, i) => [c, i]));
  const context = model.config.contextLength;
  const pool = encodeSamples(
    tokenizer,
    selection.positives.map((p) => ({
      text: p.text,
      style: (p.creator && rowOf.get(p.creator)) || 0,
      weight: p.weight,
    })),
    context,
  );
  const held = encodeSamples(
    tokenizer,
    heldOut.map((c) => ({ text: c.text, style: (c.creator && rowOf.get(c.creator)) || 0 })),
    context,
  );
  const before = evaluateLm(model, held).perplexity;
  const training = trainLm(model, pool, {
    steps: options.steps ?? 100,
    lr: options.lr ?? 5e-4,
    batchSize: options.batchSize ?? 16,
    seed: options.seed ?? 0,
    gspf: { topK: options.topK ?? 2 },
  });
  const after = evaluateLm(model, held).perplexity;
  const rise = (after - before) / before;
  const reason =
    rise > margin
      ? `held-out perplexity rose ${(100 * rise).toFixed(1)}% (${before.toFixed(2)} -> ${after.toFixed(2)}), more than the ${(100 * margin).toFixed(1)}% margin`
      : null;
  const version = saveLmVersion(
    modelDir,
    'update',
    (dir) => {
      model.save(dir);
      // The tokenizer and creators do not change in an update; the version keeps them to be whole.
      for (const f of [TOKENIZER_FILE, CREATORS_FILE]) cpSync(join(modelDir, f), join(dir, f));
    },
    { perplexityBefore: before, perplexityAfter: after, reason, pool: selection.report, options },
  );
  if (reason === null) activateLmVersion(modelDir, version);
  return {
    version,
    parent,
    activated: reason === null,
    reason,
    perplexityBefore: before,
    perplexityAfter: after,
    pool: selection.report,
    training: { step: training.step, seconds: training.seconds, selections: training.selections },
  };
}

/** What an online update of the estimator did, as one line (null: nothing to learn from). */
export function formatOnlineUpdate(result: OnlineUpdateResult | null): string {
  if (result === null) return 'no fresh labelled posts: nothing to learn from';
  return result.activated
    ? `saved and activated ${result.version} (from ${result.parent}): held-out MSE ${result.active.mse.toFixed(5)} -> ${result.candidate.mse.toFixed(5)}, Spearman ${result.active.spearman.toFixed(4)} -> ${result.candidate.spearman.toFixed(4)}`
    : `saved ${result.version} but kept ${result.parent} active: ${result.reason}`;
}

/**
 * Adds `viralscore update|rollback` and `lm update|versions|rollback` to the groups that exist (and creates
 * them if not).
 */
export function addFeedbackCommands(program: Command): void {
  const group = (name: string, description: string) =>
    program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
  const vs = group('viralscore', 'the ViralScore estimator');
  const lm = group('lm', 'TKLLM, the creator-style language model');

  vs.command('update')
    .description(
      'online update of the active estimator from engagement recorded in experiments (guarded; a new version)',
    )
    .option('--since <time>', 'only events recorded after this time (ISO 8601)')
    .option('--experiment <id>', 'only this experiment')
    .option('--steps <n>', 'optimiser steps', positiveInt('--steps'))
    .option('--lr <x>', 'step size', nonNegative('--lr'))
    .option('--replay-ratio <x>', 'old rows replayed per new row', nonNegative('--replay-ratio'))
    .option('--mse-margin <x>', 'largest relative rise of held-out MSE', nonNegative('--mse-margin'))
    .option('--spearman-margin <x>', 'largest fall of held-out Spearman', nonNegative('--spearman-margin'))
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: {
          since?: string;
          experiment?: string;
          steps?: number;
          lr?: number;
          replayRatio?: number;
          mseMargin?: number;
          spearmanMargin?: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        const since = opts.since === undefined ? undefined : new Date(opts.since);
        if (since !== undefined && Number.isNaN(since.getTime()))
          throw new ValidationError(`\`--since\` must be a time, got "${opts.since}"`);
        const result = await withLake(dir, async (lake) => {
          const fresh = await freshLabels(lake, {
            ...(since ? { since } : {}),
            ...(opts.experiment ? { experimentId: opts.experiment } : {}),
          });
          if (fresh.length === 0) return null;
          await extractFeatures(lake);
          const { json: _json, since: _since, experiment, ...update } = opts;
          return updateEstimatorOnline(lake, dir, fresh, {
            ...update,
            provenance: { experiment: experiment ?? null, since: opts.since ?? null },
          });
        });
        console.log(opts.json ? JSON.stringify(result, null, 2) : formatOnlineUpdate(result));
      },
    );

  vs.command('rollback')
    .description('activate the version before the active one (its parent); nothing is deleted')
    .action((_opts: unknown, command: Command) => {
      const { from, to } = rollbackEstimator(new ViralScoreRegistry(dataDirOf(command)));
      console.log(`active viralscore model: ${to} (was ${from})`);
    });

  const lmModelDir = (opts: { modelDir?: string }, command: Command) =>
    opts.modelDir ?? join(dataDirOf(command), 'models', 'lm');

  lm.command('versions')
    .description('list the saved LM versions (the first served model, each update and later retrain)')
    .option('--model-dir <dir>', 'the LM (default <data-dir>/models/lm)')
    .option('--json', 'print one JSON object')
    .action((opts: { modelDir?: string; json?: boolean }, command: Command) => {
      const listed = lmVersions(lmModelDir(opts, command));
      if (opts.json) {
        console.log(JSON.stringify(listed, null, 2));
        return;
      }
      if (listed.versions.length === 0) {
        console.log('no LM versions yet: the first `tkllm lm update` saves the served model as v1');
        return;
      }
      for (const v of listed.versions) {
        const d = v.details;
        const perplexity =
          typeof d.perplexityBefore === 'number' && typeof d.perplexityAfter === 'number'
            ? `, held-out perplexity ${d.perplexityBefore.toFixed(2)} -> ${d.perplexityAfter.toFixed(2)}`
            : '';
        const verdict = typeof d.reason === 'string' ? ` (not activated: ${d.reason})` : '';
        console.log(
          `${v.version === listed.active ? '*' : ' '} ${v.version}  ${v.kind ?? 'update'}` +
            `${v.parent === null ? '' : ` from ${v.parent}`}${v.createdAt === null ? '' : `, ${v.createdAt}`}` +
            `${perplexity}${verdict}`,
        );
      }
    });

  lm.command('rollback')
    .description("serve an earlier LM version: the active one's parent, or --to; nothing is deleted")
    .option('--model-dir <dir>', 'the LM (default <data-dir>/models/lm)')
    .option('--to <version>', 'the version to serve (see `tkllm lm versions`)')
    .action((opts: { modelDir?: string; to?: string }, command: Command) => {
      const { from, to } = rollbackLm(lmModelDir(opts, command), opts.to);
      console.log(`active LM: ${to} (was ${from})`);
    });

  lm.command('update')
    .description(
      'refresh the high-value pool from fresh ViralScores and GSPF-fine-tune the LM on it (guarded; a new version)',
    )
    .option('--model-dir <dir>', 'the LM (default <data-dir>/models/lm)')
    .option('--steps <n>', 'fine-tuning steps', positiveInt('--steps'), 100)
    .option('--top-k <n>', 'layers GSPF unfreezes', positiveInt('--top-k'), 2)
    .option('--lr <x>', 'peak learning rate', nonNegative('--lr'), 5e-4)
    .option('--top-share <x>', 'share of posts in the pool', share('--top-share'), 0.3)
    .option('--lambda <x>', 'w_i = 1 + lambda V_i', nonNegative('--lambda'), 1)
    .option('--margin <x>', 'largest relative rise of held-out perplexity', nonNegative('--margin'), 0.02)
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: {
          modelDir?: string;
          steps: number;
          topK: number;
          lr: number;
          topShare: number;
          lambda: number;
          margin: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        const modelDir = lmModelDir(opts, command);
        const captions = await withLake(dir, async (lake) => {
          await extractFeatures(lake);
          const scorer = await openViralScorer(lake, dir, { topFeatures: 0 });
          try {
            const scores = await scorePosts(lake, scorer);
            return readCaptions(lake, new Map(scores.map((s) => [s.postKey, s.v])), opts.lambda);
          } finally {
            scorer.close();
          }
        });
        const result = updateLmOnPool(modelDir, captions, {
          steps: opts.steps,
          topK: opts.topK,
          lr: opts.lr,
          topShare: opts.topShare,
          lambda: opts.lambda,
          perplexityMargin: opts.margin,
        });
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else
          console.log(
            `${result.activated ? 'saved and activated' : 'saved but did not activate'} LM ${result.version} (from ${result.parent}): pool ${result.pool.byRole.positive.posts} posts, GSPF layers ${result.training.selections.at(-1)?.selected.join(', ') ?? '-'}, held-out perplexity ${result.perplexityBefore.toFixed(2)} -> ${result.perplexityAfter.toFixed(2)}${result.reason ? `: ${result.reason}` : ''}`,
          );
      },
    );
}
