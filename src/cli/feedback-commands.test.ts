import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { createExperiment, recordEvents } from '../experiments/index.js';
import type { EngagementEvent } from '../experiments/index.js';
import { ingestFile } from '../lake/index.js';
import { lmVersions, trainCaptionLm } from '../lm/index.js';
import {
  alignDataset,
  estimatorFeedbackSink,
  syntheticDataset,
  trainViralScore,
  ViralScoreRegistry,
} from '../viralscore/index.js';
import type { FeatureSource } from '../viralscore/index.js';
import { addFeedbackCommands, updateLmOnPool } from './feedback-commands.js';

const posted = Date.UTC(2025, 5, 1);
const hour = 3_600_000;
const oldPosts = 240;
const streamPosts = 40;

// A lake whose old posts' engagement follows viralscore's planted synthetic label; the stream posts are
// known to the lake without engagement until their experiment events arrive.
const data = syntheticDataset({ rows: oldPosts + streamPosts, seed: 5, noise: 0.3, creators: 20 });
const posts = data.posts.map((p, r) => ({ ...p, postKey: `tiktok:${r}` }));
const matrix = { ...data.matrix, keys: posts.map((p) => p.postKey) };
const rowOf = new Map(posts.map((p, r) => [p.postKey, r]));
const features: FeatureSource = (_lake, { postKeys }) =>
  Promise.resolve(
    alignDataset(
      postKeys.filter((k) => rowOf.has(k)).map((k) => posts[rowOf.get(k) as number]),
      matrix,
    ).matrix,
  );
const plays = (r: number, lift = 0) =>
  Math.round(Math.exp(6 + Math.log(data.posts[r].label / (1 - data.posts[r].label)) + lift));

const temp = await tempLake();
afterAll(() => temp.cleanup());
afterEach(() => vi.restoreAllMocks());

async function run(args: string[]): Promise<string[]> {
  const program = new Command('tkllm').option('--data-dir <dir>', 'data', temp.dir).exitOverride();
  addFeedbackCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  await program.parseAsync(args, { from: 'user' });
  return out;
}

beforeAll(async () => {
  const rows = posts.map((_, r) => {
    const p = r < oldPosts ? plays(r) : null;
    const counts =
      p === null ? ',,,' : `${p},${Math.round(p * 0.05)},${Math.round(p * 0.005)},${Math.round(p * 0.002)}`;
    return `${r},creator_${r % 20},a planted script number ${r},${(posted + r * hour) / 1000},${counts}`;
  });
  const csv = temp.write(
    'posts.csv',
    `id,username,video_description,create_time,view_count,like_count,comment_count,share_count\n${rows.join('\n')}\n`,
  );
  await ingestFile(temp.lake, csv, { observedAt: new Date(posted + 60 * 24 * hour) });
  await trainViralScore(temp.lake, temp.dir, { features, members: 1, epochs: 4, patience: 2, seed: 1 });
});

describe('feedback into the estimator', () => {
  it('runs an online update inside recordEvents, so the new version exists when the call returns', async () => {
    await createExperiment(temp.lake, {
      id: 'stream',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
      unit: 'post',
      startsAt: new Date(posted),
    });
    const events: EngagementEvent[] = Array.from({ length: streamPosts }, (_, i) => {
      const r = oldPosts + i;
      const p = plays(r, 1);
      return {
        unitId: `tiktok:${r}`,
        horizon: 24,
        observedAt: new Date(posted + (r + 24) * hour),
        plays: p,
        likes: Math.round(p * 0.05),
      };
    });
    const feedback = estimatorFeedbackSink(temp.lake, temp.dir, { features, steps: 5 });
    const recorded = await recordEvents(temp.lake, 'stream', events, { feedback });
    expect(recorded.recorded).toBe(streamPosts);
    const [result] = feedback.results;
    expect(result).not.toBeNull();
    expect(result?.version).toBe('v2');
    expect(result?.parent).toBe('v1');
    // About a fifth of the 40 stream posts is held out for the guard, never trained on.
    expect(result?.freshRows).toBeGreaterThan(20);
    expect(result?.freshRows).toBeLessThan(40);
    const registry = new ViralScoreRegistry(temp.dir);
    expect(registry.versions()).toEqual(['v1', 'v2']);
    expect(registry.load('v2').training).toMatchObject({ kind: 'online', parent: 'v1' });
    // A resend records nothing new and so triggers no update.
    await recordEvents(temp.lake, 'stream', events, { feedback });
    expect(registry.versions()).toEqual(['v1', 'v2']);
  });

  it('rolls back with `tkllm viralscore rollback`', async () => {
    const registry = new ViralScoreRegistry(temp.dir);
    registry.activate('v2');
    expect(await run(['viralscore', 'rollback'])).toEqual(['active viralscore model: v1 (was v2)']);
    expect(registry.active()).toBe('v1');
    await expect(run(['viralscore', 'rollback'])).rejects.toThrow(/nothing to roll back to/);
  });
});

describe('tkllm lm update', () => {
  const captions = posts.map((p, r) => ({
    text: `a planted script number ${r} about ${r % 2 === 0 ? 'pasta' : 'running'}`,
    creator: `creator_${r % 20}`,
    time: posted + r * hour,
    viralScore: p.label,
  }));
  const modelDir = join(temp.dir, 'models', 'lm');
  beforeAll(() => {
    trainCaptionLm(captions, {
      modelDir,
      // The transformer alone, as the guard test was written: on this little text the corpus rule would add
      // direct connections (a 2.5M-entry table: 10 MB files that the byte comparisons below crawl through).
      config: { vocabSize: 300, dModel: 16, nLayers: 2, nHeads: 2, contextLength: 32, directOrder: 0 },
      steps: 3,
      batchSize: 8,
      // The base this guard test was written against (trainCaptionLm's defaults before the corpus rule).
      lr: 2e-3,
      weightDecay: 0.05,
    });
  });

  it('fine-tunes the upper layers on the high-value pool and saves a new version behind the guard', () => {
    const result = updateLmOnPool(modelDir, captions, { steps: 4, topK: 1, perplexityMargin: 10 });
    expect(result).toMatchObject({ version: 'v2', parent: 'v1', activated: true, reason: null });
    expect(result.training.selections[0].selected).toHaveLength(1);
    // Only the top 30% by ViralScore of the training captions is in the pool.
    expect(result.pool.byRole.positive.posts).toBeGreaterThan(0);
    expect(result.pool.byRole.positive.posts).toBeLessThan(0.4 * captions.length);
    const listed = lmVersions(modelDir);
    expect(listed.active).toBe('v2');
    expect(listed.versions.map((v) => [v.version, v.kind, v.parent])).toEqual([
      ['v1', 'initial', null],
      ['v2', 'update', 'v1'],
    ]);
    expect(listed.versions[1].details).toMatchObject({
      reason: null,
      perplexityAfter: result.perplexityAfter,
    });
    expect(readFileSync(join(modelDir, 'model.safetensors'))).toEqual(
      readFileSync(join(modelDir, 'versions', 'v2', 'model.safetensors')),
    );
  });

  it('keeps the served model when the update raises held-out perplexity beyond the margin', () => {
    const served = readFileSync(join(modelDir, 'model.safetensors'));
    const result = updateLmOnPool(modelDir, captions, { steps: 6, lr: 0.5, topK: 2, perplexityMargin: 0 });
    expect(result.activated).toBe(false);
    expect(result.reason).toMatch(/held-out perplexity rose/);
    expect(existsSync(join(modelDir, 'versions', result.version))).toBe(true);
    expect(lmVersions(modelDir).active).toBe('v2');
    expect(readFileSync(join(modelDir, 'model.safetensors'))).toEqual(served);
  });

  it('lists the versions and rolls back with `tkllm lm versions` and `tkllm lm rollback`', async () => {
    const lines = await run(['lm', 'versions']);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ {2}v1 {2}initial, /);
    expect(lines[1]).toMatch(/^\* v2 {2}update from v1, .*held-out perplexity [0-9.]+ -> [0-9.]+$/);
    expect(lines[2]).toMatch(/^ {2}v3 {2}update from v2, .*\(not activated: held-out perplexity rose/);
    const v1 = readFileSync(join(modelDir, 'versions', 'v1', 'model.safetensors'));
    expect(await run(['lm', 'rollback'])).toEqual(['active LM: v1 (was v2)']);
    expect(readFileSync(join(modelDir, 'model.safetensors'))).toEqual(v1);
    await expect(run(['lm', 'rollback'])).rejects.toThrow(/oldest LM version/);
    expect(await run(['lm', 'rollback', '--to', 'v2'])).toEqual(['active LM: v2 (was v1)']);
    expect(JSON.parse((await run(['lm', 'versions', '--json'])).join('\n'))).toMatchObject({ active: 'v2' });
  });
});
