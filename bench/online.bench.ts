// `npm run bench -- online [--json] [--units N]`: the engagement feedback path. A fresh lake gets N (default
// 100,000) synthetic posts, exported twice (2 h and 24 h after posting) so that the simulator can fit its
// growth curve; the simulator calibrated on that lake draws 1 h and 24 h events for every post of a two-arm
// experiment, and `recordEvents` takes them in one call (check, append, set-based merge, lake snapshots, one
// transaction). Reports events per second (the target: 50,000/s into the embedded lake), the same
// batch again (all duplicates), and the seconds from a small batch of events to its labelled posts reaching
// a feedback sink. The simulator's figures are simulations, never results. Then the learning half
// (online-learning.ts): the estimator's error on a freshly shifted stream with online updates and without,
// and the seconds from recordEvents to the updated model being active (--old-posts, --batches,
// --batch-posts; --no-learning skips it).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/index.js';
import {
  calibrateSimulator,
  createExperiment,
  EngagementSimulator,
  recordEvents,
  type LabelledPost,
} from '../src/experiments/index.js';
import { ingestFile, Lake } from '../src/lake/index.js';
import { measureOnlineLearning } from './online-learning.js';
import type { BenchOptions, BenchResult } from './run.js';

const posted = 1_748_736_000; // 2025-06-01T00:00:00Z

async function writeExport(path: string, units: number, hours: number, random: Random): Promise<void> {
  const out = createWriteStream(path);
  out.write('id,username,video_description,create_time,view_count,like_count,comment_count,share_count\n');
  for (let i = 0; i < units; i++) {
    // A post's own scale (fixed by its id) grows as a power of its age, with noise per export.
    const scale = Math.exp(7 + 1.5 * Math.sin(i * 12.9898) * 1.7);
    const plays = Math.max(1, Math.round(scale * Math.pow(hours / 24, 0.45) * (1 + 0.1 * random.normal())));
    const line = `${i},creator_${i % 2000},script ${i},${posted + (i % 3600)},${plays},${Math.round(plays * (0.02 + 0.04 * random.next()))},${Math.round(plays * 0.002)},${Math.round(plays * (0.001 + 0.004 * random.next()))}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Builds the lake and the events, records them, and returns the figures named in issue 9. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const arg = (name: string, fallback: number) => {
    const at = options.args.indexOf(name);
    return at >= 0 ? Number(options.args[at + 1]) : fallback;
  };
  const units = arg('--units', 100_000);
  const ingest = await measureIngest(options, units);
  if (options.args.includes('--no-learning')) return ingest;
  const learning = await measureOnlineLearning({
    oldPosts: arg('--old-posts', 1500),
    batches: arg('--batches', 8),
    batchPosts: arg('--batch-posts', 60),
    update: Object.fromEntries(
      (['steps', 'lr', 'replayRatio'] as const)
        .filter((k) => options.args.includes(`--${k}`))
        .map((k) => [k, arg(`--${k}`, 0)]),
    ),
    log: options.log,
  });
  return { ...ingest, ...learning };
}

async function measureIngest(options: BenchOptions, units: number): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-online-'));
  const lake = await Lake.open(join(dir, 'lake'));
  try {
    const random = new Random(42);
    for (const hours of [2, 24]) {
      const csv = join(dir, `export-${hours}h.csv`);
      await writeExport(csv, units, hours, random);
      await ingestFile(lake, csv, { observedAt: new Date((posted + hours * 3600) * 1000) });
    }
    const model = await calibrateSimulator(lake);
    options.log(`lake: ${units} posts, 2 exports; simulator: ${model.notes.join('; ')}`);
    const experiment = await createExperiment(lake, {
      id: 'bench',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
      startsAt: new Date('2025-07-01T00:00:00Z'),
    });
    const simulator = new EngagementSimulator(model, { random: random.fork(), lifts: { B: { likes: 0.1 } } });
    const events = simulator.simulateExperiment(experiment, {
      units,
      spacingSeconds: 1,
      unitPrefix: 'tiktok:',
    });
    // The last 100 units' events are held back to time one small batch from event to labelled posts.
    const small = events.splice(events.length - 200);
    options.log(`recording ${events.length} events (1 h and 24 h of ${units - 100} posts)`);

    // Seconds in each step of recordEvents, as announced by its progress reporter.
    const phases: Record<string, number> = {};
    const phasesCpu: Record<string, number> = {};
    let mark = performance.now();
    let cpuMark = process.cpuUsage();
    let step = 'checking events';
    const endStep = (next: string) => {
      const now = performance.now();
      const cpuNow = process.cpuUsage(cpuMark);
      phases[step] = Number(((now - mark) / 1000 + (phases[step] ?? 0)).toFixed(3));
      phasesCpu[step] = Number(((cpuNow.user + cpuNow.system) / 1e6 + (phasesCpu[step] ?? 0)).toFixed(3));
      [step, mark, cpuMark] = [next, now, process.cpuUsage()];
    };
    const progress = {
      update: (_d: number, _t: number | undefined, label?: string) => endStep(label ?? step),
      finish: () => endStep('after'),
    };
    const cpu = process.cpuUsage();
    let started = performance.now();
    const first = await recordEvents(lake, 'bench', events, { progress });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    if (first.recorded !== events.length)
      throw new Error(`expected ${events.length} recorded, got ${first.recorded}`);

    started = performance.now();
    const again = await recordEvents(lake, 'bench', events);
    const duplicateSeconds = (performance.now() - started) / 1000;
    if (again.recorded !== 0) throw new Error(`a resend recorded ${again.recorded} events again`);

    let labelled: LabelledPost[] = [];
    started = performance.now();
    let secondsEventToLabel = Number.NaN;
    await recordEvents(lake, 'bench', small, {
      feedback: {
        accept: (posts) => {
          secondsEventToLabel = (performance.now() - started) / 1000;
          labelled = posts;
        },
      },
    });
    if (labelled.length !== small.length)
      throw new Error(`expected ${small.length} labelled posts, got ${labelled.length}`);
    return {
      eventsPerSecond: Math.round(events.length / seconds),
      events: events.length,
      seconds: Number(seconds.toFixed(3)),
      cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(3)),
      // On a shared machine wall time waits for other processes; events per CPU second (all of DuckDB's
      // threads and JavaScript together) is the steadier figure across runs.
      eventsPerCpuSecond: Math.round(events.length / ((used.user + used.system) / 1e6)),
      phases,
      phasesCpu,
      snapshotsWritten: first.snapshots,
      duplicateEventsPerSecond: Math.round(events.length / duplicateSeconds),
      secondsEventToLabel: Number(secondsEventToLabel.toFixed(4)),
    };
  } finally {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
