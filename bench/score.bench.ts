// `npm run bench -- score [--json]`: ingests the bundled sample into a fresh lake, extracts features,
// trains a small estimator (few epochs: speed, not quality, is measured here), then scores drafts end to
// end — featurising against the lake's history, standardising and running the exported ONNX graph (V,
// subscores, contributions). Reports drafts per second in batches of 256 and the median latency of one
// batch of 16 (the target: under 20 ms on 2 cores, features included), float and int8, and the
// same with the top-features explanation (a gradient pass through the four networks) switched on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/index.js';
import { extractFeatures, type Draft } from '../src/features/index.js';
import { ingestBundledSample, Lake } from '../src/lake/index.js';
import { openViralScorer, trainViralScore, type ViralScorer } from '../src/viralscore/index.js';
import { openers as allOpeners, topics as allTopics } from './draft-words.js';
import type { BenchOptions, BenchResult } from './run.js';

// The first six of each list: the drafts this bench has always scored.
const openers = allOpeners.slice(0, 6);
const topics = allTopics.slice(0, 6);

function drafts(n: number, rng: Random): Draft[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    text: `${openers[rng.int(openers.length)]} ${topics[rng.int(topics.length)]}! Would you try it? #fyp #${topics[rng.int(topics.length)].split(' ').at(-1)}`,
    hashtags: ['fyp', 'viral'],
    postedAt: new Date('2017-10-01T18:00:00Z'),
  }));
}

async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await work();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function measure(scorer: ViralScorer, rng: Random) {
  const batch16 = drafts(16, rng);
  const batch256 = drafts(256, rng);
  for (let i = 0; i < 5; i++) await scorer.score(batch16); // warm the kernel caches and the JIT
  const batch16Ms = await median(40, () => scorer.score(batch16));
  const batch256Ms = await median(5, () => scorer.score(batch256));
  return { batch16Ms, draftsPerSecond: (256 / batch256Ms) * 1000 };
}

/** Builds a lake and a model from the bundled sample, then times scoring. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-score-'));
  const lake = await Lake.open(join(dir, 'lake'));
  try {
    await ingestBundledSample(lake);
    await extractFeatures(lake);
    options.log('features extracted; training a small model (5 epochs)');
    await trainViralScore(lake, dir, { epochs: 5 });
    const rng = new Random(1);
    const result: BenchResult = {};
    for (const variant of ['float', 'int8'] as const) {
      const scorer = await openViralScorer(lake, dir, { variant });
      const noTop = await openViralScorer(lake, dir, { variant, topFeatures: 0 });
      try {
        const full = await measure(scorer, rng);
        const bare = await measure(noTop, rng);
        const prefix = variant === 'float' ? '' : 'int8';
        const key = (k: string) => (prefix === '' ? k : `${prefix}${k[0].toUpperCase()}${k.slice(1)}`);
        result[key('draftsPerSecond')] = Math.round(bare.draftsPerSecond);
        result[key('batch16Ms')] = Number(bare.batch16Ms.toFixed(2));
        result[key('draftsPerSecondWithTopFeatures')] = Math.round(full.draftsPerSecond);
        result[key('batch16MsWithTopFeatures')] = Number(full.batch16Ms.toFixed(2));
      } finally {
        scorer.close();
        noTop.close();
      }
    }
    return result;
  } finally {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
