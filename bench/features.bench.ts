// `npm run bench -- features [--json] [--video-seconds N]`: feature extraction speed.
// - postsPerSecond: the text groups (text, hook, emotion, embedding) and the history groups built on them
//   (trend, replicability, creator, hook norms) for every post of the bundled sample, in memory: the work per
//   post, without DuckDB reads and writes (extractPostsPerSecond is the end-to-end figure with them).
//   The target is 5,000 posts/s on 2 cores; cpuPostsPerSecond divides by CPU time instead of wall
//   time, the steadier figure on a shared machine.
// - secondsPerVideoMinute: decoding and measuring the audio and video groups of a generated clip (ffmpeg's
//   testsrc2 pattern with a tone, 640x360 at 30 fps), per minute of video.
// - draftsMs16: featurising 16 text-only drafts through an open FeatureContext (median of 50 calls), the part
//   of the scoring benchmark's 20 ms budget that features use; draftsCpuMs16 is the mean CPU time per call.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractFeatures, openFeatureContext, type Draft } from '../src/features/index.js';
// Internals, to time the per-post work apart from the lake's I/O.
import { rowGroups } from '../src/features/groups.js';
import { loadHistory } from '../src/features/history.js';
import { loadStoredEncoder } from '../src/features/names.js';
import { subjectOf } from '../src/features/extract.js';
import { analyseText } from '../src/features/text.js';
import { mediaFeatures } from '../src/features/media.js';
import { ingestBundledSample, Lake } from '../src/lake/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;

function timed<T>(work: () => T): { result: T; wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = work();
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { result, wall, cpu: (used.user + used.system) / 1e6 };
}

async function textGroups(lake: Lake, log: (l: string) => void) {
  const history = await loadHistory(lake);
  const encoder = await loadStoredEncoder(lake);
  const posts = history.posts;
  const pass = () => {
    for (const p of posts) {
      const analysis = analyseText(p.script, { creatorName: p.authorName, fieldHashtags: p.tags.length });
      const embedding = encoder?.encodeOne(p.script);
      rowGroups(
        history,
        { ...subjectOf(p), analysis },
        {
          timeIsFirstSeen: p.timeIsFirstSeen,
          postedAt: null,
          durationSeconds: null,
          ...(embedding ? { embedding } : {}),
        },
      );
    }
  };
  // Steady state, as in a long extraction: warm-up passes let V8 optimise the hot paths before timing (the
  // first pass over the sample ran about 3 times slower than the third).
  for (let r = 0; r < 5; r++) pass();
  const rounds = 30;
  const t = timed(() => {
    for (let r = 0; r < rounds; r++) pass();
  });
  const n = posts.length * rounds;
  log(`text groups: ${n} posts in ${t.wall.toFixed(3)} s wall, ${t.cpu.toFixed(3)} s CPU`);
  return {
    posts: posts.length,
    postsPerSecond: Math.round(n / t.wall),
    cpuPostsPerSecond: Math.round(n / t.cpu),
  };
}

async function drafts(lake: Lake) {
  const context = await openFeatureContext(lake);
  const batch: Draft[] = Array.from({ length: 16 }, (_, i) => ({
    text: `Wait for it... you won't believe what ${i + 2} cats did with one box! Follow for part ${i + 2}.`,
    creator: 'Logan Paul Vlogs',
    hashtags: ['funny', 'cats', 'vlog'],
    postedAt: new Date('2017-10-01T18:00:00Z'),
  }));
  const times: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < 60; i++) {
    if (i === 10) cpu = process.cpuUsage();
    const start = performance.now();
    await context.featurise(batch);
    if (i >= 10) times.push(performance.now() - start);
  }
  const used = process.cpuUsage(cpu);
  return {
    draftsMs16: Number(median(times).toFixed(3)),
    draftsCpuMs16: Number(((used.user + used.system) / 1000 / 50).toFixed(3)),
  };
}

async function media(dir: string, seconds: number, log: (l: string) => void) {
  const clip = join(dir, 'clip.mp4');
  try {
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`],
      ...['-f', 'lavfi', '-i', `sine=frequency=330:sample_rate=44100:duration=${seconds}`],
      ...['-c:v', 'mpeg4', '-q:v', '5', '-c:a', 'aac', '-shortest', clip],
    ]);
  } catch (error) {
    log(`ffmpeg could not make the test clip (${(error as Error).message}): no media figure`);
    return null;
  }
  const start = performance.now();
  const r = await mediaFeatures(clip);
  const wall = (performance.now() - start) / 1000;
  if (!r.ok) {
    log(`media groups failed: ${r.error.message}`);
    return null;
  }
  log(`media groups: ${seconds} s of 640x360/30 fps video with audio in ${wall.toFixed(2)} s`);
  return Number((wall / (seconds / 60)).toFixed(3));
}

/** Runs the three measurements on the bundled sample and a generated clip. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const arg = options.args.indexOf('--video-seconds');
  const videoSeconds = arg >= 0 ? Number(options.args[arg + 1]) : 60;
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-features-'));
  try {
    const lake = await Lake.open(join(dir, 'lake'));
    try {
      await ingestBundledSample(lake);
      const start = performance.now();
      const report = await extractFeatures(lake, { force: true });
      const extractSeconds = (performance.now() - start) / 1000;
      options.log(
        `extractFeatures: ${report.computed} posts in ${extractSeconds.toFixed(2)} s (reads, encoder fit, writes)`,
      );
      const again = performance.now();
      await extractFeatures(lake, { force: true });
      const reSeconds = (performance.now() - again) / 1000;
      const text = await textGroups(lake, options.log);
      return {
        ...text,
        extractPostsPerSecond: Math.round(report.computed / reSeconds),
        firstExtractSeconds: Number(extractSeconds.toFixed(3)),
        ...(await drafts(lake)),
        secondsPerVideoMinute: await media(dir, videoSeconds, options.log),
        videoSeconds,
      };
    } finally {
      lake.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
