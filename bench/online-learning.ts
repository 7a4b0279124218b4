// The learning half of `npm run bench -- online`: does an online update lower the estimator's error on a
// freshly shifted stream faster than no update, and how long from an event to the updated model?
//
// A lake of synthetic posts whose engagement follows a planted function of their features (viralscore's
// syntheticDataset) trains v1. Then the world shifts: hooks stop working and a second emotion feature
// starts to matter (z' = z - 2.4 hook_0 + 1.5 emotion_1, z the planted logit), and new posts arrive in
// batches whose 24 h engagement follows z'. Each batch goes through `recordEvents(..., { feedback })` with
// the estimator's sink (prequential: a batch is scored by the model active before it, then learned from).
// `errorWithUpdate` is the mean MSE over batches 2..B of the model active before each batch against the
// posts' fresh labels; `errorWithoutUpdate` the same for v1 throughout. Planted data: simulated figures,
// never results.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExperiment, recordEvents } from '../src/experiments/index.js';
import type { EngagementEvent } from '../src/experiments/index.js';
import { ingestFile, Lake } from '../src/lake/index.js';
import {
  alignDataset,
  estimatorFeedbackSink,
  freshSnapshotLabels,
  openViralScorer,
  regressionMetrics,
  syntheticDataset,
  trainViralScore,
  ViralScoreRegistry,
} from '../src/viralscore/index.js';
import type { FeatureSource, OnlineLakeOptions, ViralScorer } from '../src/viralscore/index.js';

export interface LearningOptions {
  oldPosts: number;
  batches: number;
  batchPosts: number;
  /** Options of every online update (defaults: the estimator's). */
  update: OnlineLakeOptions;
  log: (line: string) => void;
}

const posted = Date.UTC(2025, 5, 1);
const spacingMs = 30 * 60_000;

export async function measureOnlineLearning(o: LearningOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-online-learning-'));
  const lake = await Lake.open(join(dir, 'lake'));
  try {
    const total = o.oldPosts + o.batches * o.batchPosts;
    const data = syntheticDataset({ rows: total, seed: 21, noise: 0.3, creators: 60 });
    const value = (group: 'hook' | 'emotion', r: number, j: number) =>
      data.matrix.groups[group].values[r * data.matrix.groups[group].names.length + j];
    const z = (r: number) => Math.log(data.posts[r].label / (1 - data.posts[r].label));
    const shifted = (r: number) => z(r) - 2.4 * value('hook', r, 0) + 1.5 * value('emotion', r, 1);
    const counts = (logit: number) => {
      const plays = Math.max(1, Math.round(Math.exp(7 + logit)));
      return {
        plays,
        likes: Math.round(plays * 0.04),
        comments: Math.round(plays * 0.004),
        shares: Math.round(plays * 0.002),
      };
    };
    // Old posts carry their engagement; stream posts are known to the lake but have none until their events.
    const csv = join(dir, 'posts.csv');
    const out = createWriteStream(csv);
    out.write('id,username,video_description,create_time,view_count,like_count,comment_count,share_count\n');
    for (let r = 0; r < total; r++) {
      const c = r < o.oldPosts ? counts(z(r)) : null;
      out.write(
        `${r},creator_${r % 60},script ${r},${(posted + r * spacingMs) / 1000},${c ? `${c.plays},${c.likes},${c.comments},${c.shares}` : ',,,'}\n`,
      );
    }
    out.end();
    await once(out, 'finish');
    await ingestFile(lake, csv, { observedAt: new Date(posted + (total + 48) * spacingMs * 2) });
    // The planted features stand in for the features module's stored matrix, keyed as the lake keys posts.
    const posts = data.posts.map((p, r) => ({ ...p, postKey: `tiktok:${r}` }));
    const matrix = { ...data.matrix, keys: posts.map((p) => p.postKey) };
    const rowOf = new Map(posts.map((p, r) => [p.postKey, r]));
    const select = (keys: readonly string[]) =>
      alignDataset(
        keys.filter((k) => rowOf.has(k)).map((k) => posts[rowOf.get(k) as number]),
        matrix,
      ).matrix;
    const features: FeatureSource = (_lake, { postKeys }) => Promise.resolve(select(postKeys));
    const trained = await trainViralScore(lake, dir, {
      features,
      members: 1,
      epochs: 25,
      patience: 6,
      seed: 1,
    });
    o.log(`v1 on ${o.oldPosts} planted posts: validation Spearman ${trained.validation.spearman.toFixed(3)}`);

    await createExperiment(lake, {
      id: 'stream',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
      unit: 'post',
      startsAt: new Date(posted),
    });
    const registry = new ViralScoreRegistry(dir);
    const feedback = estimatorFeedbackSink(lake, dir, { ...o.update, features });
    const activeBefore: string[] = [];
    const secondsToModel: number[] = [];
    for (let b = 0; b < o.batches; b++) {
      activeBefore.push(registry.active() as string);
      const events: EngagementEvent[] = [];
      for (let i = 0; i < o.batchPosts; i++) {
        const r = o.oldPosts + b * o.batchPosts + i;
        events.push({
          unitId: `tiktok:${r}`,
          horizon: 24,
          observedAt: new Date(posted + r * spacingMs + 24 * 3_600_000),
          ...counts(shifted(r)),
        });
      }
      const started = performance.now();
      await recordEvents(lake, 'stream', events, { feedback });
      const seconds = (performance.now() - started) / 1000;
      const result = feedback.results.at(-1);
      if (result?.activated) secondsToModel.push(seconds);
      o.log(
        `batch ${b + 1}: ${result ? `${result.version} ${result.activated ? 'activated' : `rejected (${result.reason})`}` : 'nothing to learn'}, ${seconds.toFixed(2)} s from recordEvents to model`,
      );
    }

    // Errors against the final fresh labels (percentiles among every stream post's 24 h engagement).
    const keys = Array.from({ length: o.batches * o.batchPosts }, (_, i) => `tiktok:${o.oldPosts + i}`);
    const labels = await freshSnapshotLabels(lake, keys);
    const scorers = new Map<string, ViralScorer>();
    const errorOf = async (version: string, b: number) => {
      let scorer = scorers.get(version);
      if (scorer === undefined) {
        scorer = await openViralScorer(lake, dir, {
          version,
          topFeatures: 0,
          featurise: () => Promise.reject(new Error('the bench scores stored rows only')),
        });
        scorers.set(version, scorer);
      }
      const batch = keys.slice(b * o.batchPosts, (b + 1) * o.batchPosts);
      const scored = scorer.scoreMatrix(select(batch), { topFeatures: 0 });
      return regressionMetrics(
        scored.map((s) => s.v),
        batch.map((k) => labels.get(k) as number),
      ).mse;
    };
    const withUpdate: number[] = [];
    const withoutUpdate: number[] = [];
    for (let b = 1; b < o.batches; b++) {
      withUpdate.push(await errorOf(activeBefore[b], b));
      withoutUpdate.push(await errorOf(activeBefore[0], b));
    }
    scorers.forEach((s) => s.close());
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    secondsToModel.sort((a, b) => a - b);
    return {
      errorWithUpdate: Number(mean(withUpdate).toFixed(5)),
      errorWithoutUpdate: Number(mean(withoutUpdate).toFixed(5)),
      errorByBatchWithUpdate: withUpdate.map((e) => Number(e.toFixed(5))),
      errorByBatchWithoutUpdate: withoutUpdate.map((e) => Number(e.toFixed(5))),
      updatesActivated: feedback.results.filter((r) => r?.activated).length,
      updatesRejected: feedback.results.filter((r) => r && !r.activated).length,
      secondsEventToModel:
        secondsToModel.length === 0
          ? null
          : Number(secondsToModel[Math.floor(secondsToModel.length / 2)].toFixed(3)),
    };
  } finally {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
