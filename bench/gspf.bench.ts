// `npm run bench -- gspf [--json] [--base-steps N] [--steps N] [--top-k K] [--repeats R]`: gradient-surgical
// fine-tuning against full fine-tuning of the same trained model. Reads ../shared/data/tiktok_en_2025.csv
// when present (else the bundled sample, and says so): a base TKLLM is trained on every creator but the
// one with the most captions; that creator's earlier captions are the fine-tuning set, their later ones
// the evaluation set (on the sample, whose creators have three titles at most, the newest 20 % of titles
// play the new creator). Each fine-tuning runs in its own process, so peak RSS is its own. Timings on a
// shared machine drift, so each mode runs R times (default 2) in ABBA order (full, GSPF, GSPF, full, ...)
// and the figures are means over the runs; the per-run seconds are printed beside them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptions } from '../src/cli/lm-commands.js';
import { bundledSample, ingestFiles, Lake } from '../src/lake/index.js';
import {
  DEFAULT_LM_CONFIG,
  LmModel,
  Tokenizer,
  encodeSamples,
  evaluateLm,
  trainLm,
  trainTokenizer,
} from '../src/lm/index.js';
import type { CaptionRecord } from '../src/lm/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const here = fileURLToPath(import.meta.url);
const SHARED = fileURLToPath(new URL('../../shared/data/tiktok_en_2025.csv', import.meta.url));

interface Job {
  dir: string;
  mode: 'full' | 'gspf';
  steps: number;
  topK: number;
}

interface WorkerResult {
  perplexity: number;
  seconds: number;
  /** Median wall time of one step (a probe's time falls on the step it selects for). */
  medianStepMs: number;
  /** Seconds the GSPF probes took in all (0 for full fine-tuning). */
  probeSeconds: number;
  /** This process's peak RSS (VmHWM) over its whole life, loading included. */
  peakRssMb: number;
  /** Peak RSS during training above the RSS just before it: what training itself added. */
  trainingRssMb: number;
  trainableParameters: number;
  /** AdamW's moments as held at the end of the run (measured, not computed from the weight count). */
  optimizerStateMb: number;
  /** Weight-gradient buffers of one step: one float32 per trainable weight. */
  gradientMb: number;
  selected: string[][];
  scores: string[];
}

function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/**
 * The peak RSS of this process in bytes. Not `process.resourceUsage().maxRSS`: Linux carries the
 * high-water mark across fork and exec, so a child spawned by the ~400 MB bench process reports the
 * parent's RSS at spawn time. VmHWM belongs to this process's own address space.
 */
function peakRss(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb === null ? process.resourceUsage().maxRSS * 1024 : Number(kb[1]) * 1024;
}

/** Resets VmHWM to the current RSS (Linux: `clear_refs` 5), so that the next peak is training's own. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Fine-tunes the saved base model in this process and prints one JSON line. */
function worker(jobFile: string): void {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as Job;
  const tokenizer = Tokenizer.load(join(job.dir, 'tokenizer.json'));
  const model = LmModel.load(join(job.dir, 'base'));
  const data = JSON.parse(readFileSync(join(job.dir, 'finetune.json'), 'utf8')) as {
    train: string[];
    evaluation: string[];
  };
  const train = encodeSamples(
    tokenizer,
    data.train.map((text) => ({ text })),
    model.config.contextLength,
  );
  const evaluation = encodeSamples(
    tokenizer,
    data.evaluation.map((text) => ({ text })),
    model.config.contextLength,
  );
  const peakBefore = peakRss();
  const reset = resetPeakRss();
  const rssBefore = process.memoryUsage().rss;
  const stepEnds: number[] = [];
  const started = performance.now();
  const result = trainLm(model, train, {
    steps: job.steps,
    batchSize: 8,
    lr: 1e-3,
    warmupSteps: 2,
    seed: 1,
    onStep: () => {
      stepEnds.push(performance.now());
    },
    ...(job.mode === 'gspf'
      ? { gspf: { topK: job.topK, probeBatches: 2, reselectEvery: Math.max(1, Math.floor(job.steps / 2)) } }
      : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const peakTraining = peakRss();
  const stepMs = stepEnds.map((t, i) => t - (i === 0 ? started : stepEnds[i - 1])).sort((a, b) => a - b);
  const trainableValues = model.trainableParameters().reduce((n, p) => n + p.size, 0);
  const out: WorkerResult = {
    perplexity: evaluateLm(model, evaluation).perplexity,
    seconds,
    medianStepMs: stepMs[Math.floor(stepMs.length / 2)],
    probeSeconds: result.selections.reduce((n, s) => n + s.seconds, 0),
    peakRssMb: Math.max(peakBefore, peakTraining) / 2 ** 20,
    trainingRssMb: reset ? Math.max(0, peakTraining - rssBefore) / 2 ** 20 : NaN,
    trainableParameters: trainableValues,
    optimizerStateMb: (result.optimizerStateValues * 4) / 2 ** 20,
    gradientMb: (trainableValues * 4) / 2 ** 20,
    selected: result.selections.map((s) => s.selected),
    scores: result.selections.map((s) =>
      s.scores.map((x) => `${x.name} ${x.ratio.toPrecision(3)}`).join(', '),
    ),
  };
  console.log(JSON.stringify(out));
}

function runWorker(job: Job): WorkerResult {
  const jobFile = join(job.dir, `job-${job.mode}.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawnSync(process.execPath, [...process.execArgv, here, '--gspf-worker', jobFile], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`fine-tuning (${job.mode}) failed: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as WorkerResult;
}

async function loadCaptions(path: string, dir: string): Promise<CaptionRecord[]> {
  const lake = await Lake.open(join(dir, 'lake'));
  try {
    await ingestFiles(lake, [path], path === bundledSample.path ? { year: bundledSample.year } : {});
    return await readCaptions(lake);
  } finally {
    lake.close();
  }
}

/** Trains the base model, then fine-tunes it fully and with GSPF, each in a child process. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const baseSteps = intArg(options.args, '--base-steps', 150);
  const steps = intArg(options.args, '--steps', 60);
  const topK = intArg(options.args, '--top-k', 2);
  const repeats = intArg(options.args, '--repeats', 2);
  const shared = existsSync(SHARED);
  const source = shared ? SHARED : bundledSample.path;
  options.log(shared ? `data: ${source}` : `../shared/data is absent: data is the bundled sample ${source}`);
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-gspf-'));
  try {
    const captions = await loadCaptions(source, dir);
    const counts = new Map<string, number>();
    for (const c of captions) if (c.creator) counts.set(c.creator, (counts.get(c.creator) ?? 0) + 1);
    const [creator, posts] = [...counts].sort((a, b) => b[1] - a[1])[0];
    let base: CaptionRecord[];
    let target: CaptionRecord[];
    let targetName: string;
    if (posts >= 12) {
      base = captions.filter((c) => c.creator !== creator);
      target = captions.filter((c) => c.creator === creator);
      targetName = creator;
    } else {
      const cut = Math.round(captions.length * 0.8);
      base = captions.slice(0, cut);
      target = captions.slice(cut);
      targetName = 'the newest 20 % of captions';
    }
    const split = Math.round(target.length * 0.75);
    const finetune = {
      train: target.slice(0, split).map((c) => c.text),
      evaluation: target.slice(split).map((c) => c.text),
    };
    writeFileSync(join(dir, 'finetune.json'), JSON.stringify(finetune));
    options.log(
      `base: ${base.length} captions, ${baseSteps} steps; fine-tuning on ${targetName}: ${finetune.train.length} captions, evaluated on ${finetune.evaluation.length}`,
    );

    const tokenizer = trainTokenizer(
      base.map((c) => c.text),
      { vocabSize: DEFAULT_LM_CONFIG.vocabSize },
    );
    tokenizer.save(join(dir, 'tokenizer.json'));
    const model = new LmModel({ ...DEFAULT_LM_CONFIG, vocabSize: tokenizer.vocabSize }, { seed: 1 });
    const baseSamples = encodeSamples(
      tokenizer,
      base.map((c) => ({ text: c.text })),
      model.config.contextLength,
    );
    trainLm(model, baseSamples, { steps: baseSteps, batchSize: 32, lr: 3e-3 });
    model.save(join(dir, 'base'));
    const evaluation = encodeSamples(
      tokenizer,
      finetune.evaluation.map((text) => ({ text })),
      model.config.contextLength,
    );
    const perplexityBase = evaluateLm(model, evaluation).perplexity;
    options.log(`base model perplexity on the evaluation captions: ${perplexityBase.toFixed(2)}`);

    const runs: Record<'full' | 'gspf', WorkerResult[]> = { full: [], gspf: [] };
    for (let r = 0; r < repeats; r++) {
      const order: ('full' | 'gspf')[] = r % 2 === 0 ? ['full', 'gspf'] : ['gspf', 'full'];
      for (const mode of order) {
        const out = runWorker({ dir, mode, steps, topK });
        options.log(`${mode === 'full' ? 'full' : 'GSPF'} fine-tuning, run ${r + 1}: ${JSON.stringify(out)}`);
        runs[mode].push(out);
      }
    }
    const mean = (xs: WorkerResult[], f: (w: WorkerResult) => number) =>
      xs.reduce((n, w) => n + f(w), 0) / xs.length;
    const [full, gspf] = [runs.full[0], runs.gspf[0]];
    const secondsFull = mean(runs.full, (w) => w.seconds);
    const secondsGspf = mean(runs.gspf, (w) => w.seconds);
    const stepMsFull = mean(runs.full, (w) => w.medianStepMs);
    const stepMsGspf = mean(runs.gspf, (w) => w.medianStepMs);
    return {
      data: shared ? 'tiktok_en_2025.csv' : 'bundled sample',
      target: targetName,
      perplexityBase,
      perplexityGspf: gspf.perplexity,
      perplexityFull: full.perplexity,
      perplexityRatio: gspf.perplexity / full.perplexity,
      // Training is deterministic: every run of a mode must end at the same perplexity.
      perplexityRepeatable:
        runs.full.every((w) => w.perplexity === full.perplexity) &&
        runs.gspf.every((w) => w.perplexity === gspf.perplexity),
      secondsGspf,
      secondsFull,
      secondsRatio: secondsGspf / secondsFull,
      secondsGspfRuns: runs.gspf.map((w) => Number(w.seconds.toFixed(3))),
      secondsFullRuns: runs.full.map((w) => Number(w.seconds.toFixed(3))),
      medianStepMsGspf: stepMsGspf,
      medianStepMsFull: stepMsFull,
      stepMsRatio: stepMsGspf / stepMsFull,
      probeSecondsGspf: mean(runs.gspf, (w) => w.probeSeconds),
      peakRssMbGspf: mean(runs.gspf, (w) => w.peakRssMb),
      peakRssMbFull: mean(runs.full, (w) => w.peakRssMb),
      trainingRssMbGspf: mean(runs.gspf, (w) => w.trainingRssMb),
      trainingRssMbFull: mean(runs.full, (w) => w.trainingRssMb),
      trainableParametersGspf: gspf.trainableParameters,
      trainableParametersFull: full.trainableParameters,
      optimizerStateMbGspf: gspf.optimizerStateMb,
      optimizerStateMbFull: full.optimizerStateMb,
      gradientMbGspf: gspf.gradientMb,
      gradientMbFull: full.gradientMb,
      gspfSelections: gspf.selected.map((s) => s.join('+')).join(' | '),
      gspfScores: gspf.scores.join(' | '),
      repeats,
      steps,
      topK,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--gspf-worker') worker(process.argv[3]);
