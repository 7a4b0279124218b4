import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { ingestFile, Lake } from '../lake/index.js';
import { openViralScorer, scorePosts, ViralScoreRegistry } from '../viralscore/index.js';
import { addViralScoreCommands, formatEvaluation } from './viralscore-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-viralscore-'));
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(): Command {
  const p = new Command('tkllm').option('--data-dir <dir>', '', dir).exitOverride();
  addViralScoreCommands(p);
  return p;
}

async function run(args: string[]): Promise<string> {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  await program().parseAsync(args, { from: 'user' });
  return out.join('\n');
}

it('trains on a small lake, lists the version and scores a draft with its breakdown', async () => {
  // 60 posts of 12 creators over three weeks; engagement grows with a question in the text.
  const lines = ['id,username,video_description,create_time,view_count,like_count,share_count,hashtag_names'];
  for (let i = 0; i < 60; i++) {
    const question = i % 3 === 0;
    const plays = 1000 + ((i * 7919) % 5000) + (question ? 20000 : 0);
    lines.push(
      `${i + 1},creator${i % 12},"${question ? 'Would you try this?' : 'my day'} #food #t${i % 4}",${1748736000 + i * 30000},${plays},${Math.floor(plays / 20)},${Math.floor(plays / 200)},"food,t${i % 4}"`,
    );
  }
  const csv = join(dir, 'posts.csv');
  writeFileSync(csv, `${lines.join('\n')}\n`);
  const lake = await Lake.open(dir);
  await ingestFile(lake, csv, { observedAt: new Date('2025-07-01T00:00:00Z') });
  lake.close();

  const trained = JSON.parse(
    await run(['viralscore', 'train', '--epochs', '2', '--members', '2', '--json']),
  ) as {
    version: string;
  };
  expect(trained.version).toBe('v1');
  expect(await run(['viralscore', 'list'])).toMatch(/^\* v1 /);
  // --no-tree-member leaves the trees out; the default lets the validation split choose.
  await run(['viralscore', 'train', '--epochs', '2', '--members', '2', '--no-tree-member', '--json']);
  const registry = new ViralScoreRegistry(dir);
  expect(registry.load('v2').config.treeMember).toBeUndefined();
  expect(registry.load('v2').training.options).toMatchObject({ treeShares: [0] });
  expect(registry.load('v1').training.options).toMatchObject({ treeShares: [0, 0.25, 0.5, 0.75] });
  registry.activate('v1');
  const scored = JSON.parse(
    await run([
      'score',
      'Would you try this pasta?',
      '--creator',
      'creator1',
      '--hashtags',
      '#food,t1',
      '--json',
    ]),
  ) as {
    v: number;
    subscores: Record<string, number>;
    contributions: Record<string, number>;
    topFeatures: unknown[];
  };
  expect(scored.v).toBeGreaterThan(0);
  expect(scored.v).toBeLessThan(1);
  expect(Object.keys(scored.subscores)).toEqual(['E', 'H', 'R', 'S', 'T']);
  expect(scored.topFeatures.length).toBeGreaterThan(0);

  const reopened = await Lake.open(dir);
  try {
    const scorer = await openViralScorer(reopened, dir, { topFeatures: 0 });
    const posts = await scorePosts(reopened, scorer);
    scorer.close();
    expect(posts).toHaveLength(60);
    expect(posts.every((p) => p.v > 0 && p.v < 1)).toBe(true);
  } finally {
    reopened.close();
  }

  const batch = join(dir, 'drafts.jsonl');
  writeFileSync(batch, '{"id":"a","text":"Would you?"}\n{"id":"b","text":"my day","hashtags":["food"]}\n');
  const text = await run(['score', '--file', batch]);
  expect(text).toMatch(/^a: V 0\.\d{3}/m);
  expect(text).toMatch(/^b: V 0\.\d{3}/m);
});

it('refuses a draft and a file together, and an unknown version', async () => {
  await expect(run(['score', 'x', '--file', 'y'])).rejects.toThrow(/either a draft text or `--file`/);
  await expect(run(['viralscore', 'activate', 'v7'])).rejects.toThrow(/no viralscore model "v7"/);
});

it('prints the evaluation as a table with the ablation', () => {
  const m = { n: 10, mse: 0.05, spearman: 0.3, ndcg10: 0.8, calibrationError: 0.02, calibrationSlope: 0.9 };
  const text = formatEvaluation({
    split: 'time',
    rows: { train: 70, validation: 10, test: 20 },
    models: [
      { model: 'viralscore', ...m },
      { model: 'ridge', ...m, spearman: 0.2 },
    ],
    ablation: [{ model: 'viralscore without hook', dropped: 'hook', spearmanDrop: 0.1, ...m, spearman: 0.2 }],
    estimator: {
      members: 1,
      bestEpochs: [3],
      epochs: [9],
      ridgeShare: 0.25,
      ridgeShareSpearman: [
        { share: 0, spearman: 0.3 },
        { share: 0.25, spearman: 0.31 },
      ],
      treeShare: 0.5,
      treeRounds: 80,
      treeShareSpearman: [
        { share: 0, spearman: 0.31 },
        { share: 0.5, spearman: 0.33 },
      ],
      withoutTreesSpearman: 0.28,
      refitted: true,
      mixWeights: [1, 1, 1, 1, 1],
    },
    groups: ['text', 'hook'],
  });
  expect(text).toMatch(/viralscore\s+0\.3000/);
  expect(text).toMatch(/hook\s+0\.2000 -0\.1000/);
  expect(text).toMatch(/ridge member's share 0.25 \(validation Spearman by share: 0 0.3000, 0.25 0.3100\)/);
  expect(text).toMatch(
    /tree member's share 0.5 \(80 boosting rounds; validation Spearman by share: 0 0.3100, 0.5 0.3300; held-out Spearman without it 0.2800\)/,
  );
  expect(text).toMatch(/then refitted, with every baseline, on the training and validation rows/);
});
