// `npm run bench -- ingest [--json] [--rows N]`: writes a synthetic CSV of N (default 200,000) posts in the
// TikTok Research API shape, with humanised-free numeric counts and a few hashtags each, then ingests it
// into a fresh lake and reports rows per second (the target: 100,000 rows/s on 2 cores).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Generates the CSV, ingests it into a fresh lake and returns `{ rowsPerSecond, rows, seconds }`. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const rowsArg = options.args.indexOf('--rows');
  const rows = rowsArg >= 0 ? Number(options.args[rowsArg + 1]) : 200_000;
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-ingest-'));
  try {
    const csv = join(dir, 'posts.csv');
    await writeCsv(csv, rows, new Random(42));
    options.log(`wrote ${rows} rows to ${csv}`);
    const lake = await Lake.open(join(dir, 'lake'));
    try {
      // Seconds spent in each step, as announced by the progress reporter (`open` is sniffing the file).
      // The machine is shared, so cpuSeconds (all of DuckDB's threads) is the steadier figure across runs.
      const phases: Record<string, number> = {};
      const phaseCpuSeconds: Record<string, number> = {};
      let step = 'open';
      let mark = performance.now();
      let cpuMark = process.cpuUsage();
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
      const cpu = process.cpuUsage();
      const started = performance.now();
      [mark, cpuMark] = [started, cpu];
      const result = await ingestFile(lake, csv, { observedAt: new Date('2025-06-01T00:00:00Z'), progress });
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      endStep('');
      if (result.rowsAccepted !== rows)
        throw new Error(`expected ${rows} accepted rows, got ${result.rowsAccepted}`);
      const hashtags = await lake.count('SELECT count(*) FROM hashtags');
      return {
        rowsPerSecond: Math.round(rows / seconds),
        rows,
        seconds: Number(seconds.toFixed(3)),
        cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(3)),
        hashtags,
        phases,
        phaseCpuSeconds,
      };
    } finally {
      lake.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
