// `npm run bench -- ingest [--json] [--rows N] [--repeat N]`: writes a synthetic CSV of N (default 200,000)
// posts in the TikTok Research API shape, with humanised-free numeric counts and a few hashtags each, then
// ingests it into a fresh lake and reports rows per second (the target: 100,000 rows/s on 2 cores).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Random } from '../src/core/index.js';
import { ingestFile, Lake } from '../src/lake/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const words = ['dance', 'recipe', 'prank', 'tutorial', 'travel', 'cat', 'gym', 'makeup', 'story', 'music'];

async function writeCsv(path: string, rows: number, random: Random): Promise<void> {
  const out = createWriteStream(path);
  out.write(
    'id,username,video_description,create_time,region_code,view_count,like_count,comment_count,share_count,hashtag_names\n',
  );
  const start = 1_700_000_000;
  for (let i = 0; i < rows; i++) {
    const a = words[random.int(words.length)];
    const b = words[random.int(words.length)];
    const plays = Math.floor(1000 * Math.exp(random.next() * 8));
    const line =
      `${7_000_000_000_000_000_000n + BigInt(i)},creator_${i % 5000},"a ${a} video about ${b} #${a} #${b}",` +
      `${start + i * 13},US,${plays},${Math.floor(plays / 12)},${Math.floor(plays / 400)},${Math.floor(plays / 150)},"${a},${b}"\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  load1: number;
  hashtags: number;
  phases: Record<string, number>;
  phaseCpuSeconds: Record<string, number>;
}

/** Ingests `csv` into a fresh lake under `dir`, timing each step as the progress reporter announces it. */
async function ingestOnce(dir: string, csv: string, rows: number): Promise<Run> {
  const lake = await Lake.open(dir);
  try {
    // Seconds spent in each step (`open` is sniffing the file). The machine is shared, so cpuSeconds (all of
    // DuckDB's threads) is the steadier figure across runs.
    const phases: Record<string, number> = {};
    const phaseCpuSeconds: Record<string, number> = {};
    let step = 'open';
    const cpu = process.cpuUsage();
    const started = performance.now();
    let [mark, cpuMark] = [started, cpu];
    const endStep = (next: string) => {
      const now = performance.now();
      const used = process.cpuUsage(cpuMark);
      phases[step] = Number(((now - mark) / 1000).toFixed(3));
      phaseCpuSeconds[step] = Number(((used.user + used.system) / 1e6).toFixed(3));
      [step, mark, cpuMark] = [next, now, process.cpuUsage()];
    };
    const progress = {
      update: (_done: number, _total: number | undefined, label?: string) =>
        endStep(label?.slice(label.lastIndexOf(': ') + 2) ?? 'step'),
      finish: () => endStep('commit'),
    };
    const result = await ingestFile(lake, csv, { observedAt: new Date('2025-06-01T00:00:00Z'), progress });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    endStep('');
    if (result.rowsAccepted !== rows)
      throw new Error(`expected ${rows} accepted rows, got ${result.rowsAccepted}`);
    return {
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      load1: loadavg()[0],
      hashtags: await lake.count('SELECT count(*) FROM hashtags'),
      phases,
      phaseCpuSeconds,
    };
  } finally {
    lake.close();
  }
}

/**
 * Generates the CSV, ingests it into a fresh lake (`--repeat N` times, each into its own lake) and returns
 * the median run: `{ rowsPerSecond, rows, seconds, cpuSeconds, ... }`, with every run's seconds beside it.
 */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const arg = (name: string, fallback: number) => {
    const at = options.args.indexOf(name);
    return at >= 0 ? Number(options.args[at + 1]) : fallback;
  };
  const rows = arg('--rows', 200_000);
  const repeat = arg('--repeat', 1);
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-ingest-'));
  try {
    const csv = join(dir, 'posts.csv');
    await writeCsv(csv, rows, new Random(42));
    options.log(`wrote ${rows} rows to ${csv}`);
    const runs: Run[] = [];
    for (let i = 0; i < repeat; i++) {
      runs.push(await ingestOnce(join(dir, `lake-${i}`), csv, rows));
      const r = runs[runs.length - 1];
      options.log(
        `run ${i + 1}: ${r.seconds.toFixed(3)} s, ${r.cpuSeconds.toFixed(3)} CPU s, load ${r.load1.toFixed(2)}`,
      );
    }
    const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)];
    const round = (x: number) => Number(x.toFixed(3));
    return {
      rowsPerSecond: Math.round(rows / median.seconds),
      rows,
      seconds: round(median.seconds),
      cpuSeconds: round(median.cpuSeconds),
      // The 1-minute load average when the run ended: on a shared machine the wall time follows it.
      load1: round(median.load1),
      hashtags: median.hashtags,
      phases: median.phases,
      phaseCpuSeconds: median.phaseCpuSeconds,
      ...(runs.length > 1
        ? {
            runs: runs.map((r) => ({
              seconds: round(r.seconds),
              cpuSeconds: round(r.cpuSeconds),
              load1: round(r.load1),
            })),
          }
        : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
