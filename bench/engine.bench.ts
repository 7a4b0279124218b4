// `npm run bench -- engine [--json] [--steps N] [--rounds N] [--warmup N] [--threads N] [--no-pytorch]
// [--pytorch-passive] [--eager]`: trains the
// reference GPT (vocabulary 2048, width 192, 4 layers, 4 heads, context 64, batch 16, AdamW lr 3e-4 wd
// 0.1) on random tokens, times training steps and no-grad forwards, and — where /usr/bin/python3 imports
// torch — trains the identical model in PyTorch (bench/engine_pytorch.py, same thread count) in the same
// run for the ratio TKLLM / PyTorch. TKLLM trains in graph mode (nn's TrainingStep: forward and
// backward as one traced ONNX graph, one session run per step) and forwards with the traced model
// (trace + GraphSession) unless --eager (one session per op for both).
//
// Fair under load: the machine is shared, so the timed steps are split into rounds, and each round runs
// a block of TKLLM steps and a block of PyTorch steps back to back (ABBA order across rounds, so that a
// load that rises or falls during the run favours neither). PyTorch waits in a server process between
// its blocks, idle. The ratio compares the two engines over the same rounds. CPU time per step is
// reported too: with --threads 1 it measures work, which other processes on the machine barely change.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/index.js';
import { AdamW, Gpt, TrainingStep } from '../src/nn/index.js';
import type { GptConfig } from '../src/nn/index.js';
import {
  GraphSession,
  Tensor,
  configureEngine,
  crossEntropy,
  mean,
  noGrad,
  trace,
} from '../src/tensor/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const CONFIG: GptConfig = { vocabSize: 2048, dModel: 192, nLayers: 4, nHeads: 4, contextLength: 64 };
const BATCH = 16;
const PYTHON = '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));

interface Phases {
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
}

interface BlockResult {
  stepMs: number[];
  /** CPU time PyTorch's process used while it waited for this request (TKLLM's block ran then). */
  idleCpuMs?: number;
  /** CPU time of the block, all threads (training blocks only). */
  cpuMs?: number;
  phasesMs?: Phases;
  loss?: number;
}

interface PytorchInfo {
  torchVersion: string;
  threads: number;
  parameters: number;
}

function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be an integer >= 0, got ${args[i + 1]}`);
  return value;
}

/** Random batches [B, T+1] split into inputs [B, T] and flat next-token targets [B*T]. */
function makeBatches(count: number, seed: number): { x: Tensor<'int32'>; y: Tensor<'int32'> }[] {
  const rng = new Random(seed);
  const t = CONFIG.contextLength;
  return Array.from({ length: count }, () => {
    const x = new Int32Array(BATCH * t);
    const y = new Int32Array(BATCH * t);
    for (let b = 0; b < BATCH; b++) {
      let previous = rng.int(CONFIG.vocabSize);
      for (let i = 0; i < t; i++) {
        const next = rng.int(CONFIG.vocabSize);
        x[b * t + i] = previous;
        y[b * t + i] = next;
        previous = next;
      }
    }
    return { x: new Tensor(x, [BATCH, t], 'int32'), y: new Tensor(y, [BATCH * t], 'int32') };
  });
}

function torchAvailable(): { ok: true } | { ok: false; why: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, why: `${PYTHON} not runnable (${probe.error.message})` };
  if (probe.status !== 0) return { ok: false, why: `${PYTHON} cannot import torch` };
  return { ok: true };
}

/** bench/engine_pytorch.py in --serve mode: warmed up once, then timed blocks on request. */
class PytorchServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(warmup: number, threads: number, passive: boolean) {
    const script = join(here, 'engine_pytorch.py');
    // --pytorch-passive: OpenMP workers sleep instead of spinning between parallel regions, as this
    // engine's pools do; on a loaded machine spinning workers slowed PyTorch several times over.
    const env = passive ? { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } : process.env;
    this.child = spawn(
      PYTHON,
      [script, '--serve', '--warmup', String(warmup), '--threads', String(threads)],
      { env },
    );
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async next<T>(): Promise<T> {
    const line = await this.lines.next();
    if (line.done === true) throw new Error(`engine_pytorch.py stopped: ${this.stderr}`);
    return JSON.parse(line.value) as T;
  }

  async run(kind: 'train' | 'forward', steps: number): Promise<BlockResult> {
    this.child.stdin.write(`${kind} ${steps}\n`);
    return this.next<BlockResult>();
  }

  close(): void {
    this.child.stdin.end('quit\n');
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const total = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

/** Runs the engine benchmark and returns its figures. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const steps = intArg(options.args, '--steps', 20);
  const rounds = intArg(options.args, '--rounds', 4);
  if (steps === 0 || rounds === 0) throw new Error('--steps and --rounds must be at least 1');
  const block = Math.max(1, Math.round(steps / rounds));
  const warmup = intArg(options.args, '--warmup', 3);
  const tokensPerStep = BATCH * CONFIG.contextLength;
  // The same thread count on both sides: the tensor engine's setting, or --threads.
  const threadsArg = intArg(options.args, '--threads', 0);
  if (threadsArg > 0) configureEngine({ maxThreads: threadsArg });
  const threads = configureEngine({}).maxThreads;

  const torch = options.args.includes('--no-pytorch')
    ? { ok: false as const, why: 'skipped with --no-pytorch' }
    : torchAvailable();
  // Started first: PyTorch builds and warms up its model while this process builds its own.
  const passive = options.args.includes('--pytorch-passive');
  const server = torch.ok ? new PytorchServer(warmup, threads, passive) : null;
  try {
    const eager = options.args.includes('--eager');
    return await measure(options, { block, rounds, warmup, tokensPerStep, threads, eager, server, torch });
  } finally {
    server?.close();
  }
}

interface Plan {
  block: number;
  rounds: number;
  warmup: number;
  tokensPerStep: number;
  threads: number;
  eager: boolean;
  server: PytorchServer | null;
  torch: { ok: true } | { ok: false; why: string };
}

async function measure(options: BenchOptions, plan: Plan): Promise<BenchResult> {
  const { block, rounds, warmup, tokensPerStep, server } = plan;
  const model = new Gpt(CONFIG, { seed: 0 });
  const optimizer = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
  const batches = makeBatches(4, 0);
  options.log(
    `engine: GPT ${model.parameterCount()} parameters, batch ${BATCH} x ${CONFIG.contextLength}, ` +
      `${plan.threads} threads, ${plan.eager ? 'eager' : 'graph'} mode, ${warmup} warm-up + ${rounds} rounds x ${block} timed steps per engine`,
  );

  const phases: Phases = { forwardMs: 0, backwardMs: 0, optimizerMs: 0 };
  let loss = NaN;
  let counter = 0;
  const lossOf = (x: Tensor<'int32'>, y: Tensor<'int32'>): Tensor => mean(crossEntropy(model.logits2d(x), y));
  // Graph mode (the default): forward and backward traced once into one ONNX graph, one session run
  // per step; its phase time is reported as forward (the backward is inside it). --eager runs op by op.
  const graph = plan.eager ? null : new TrainingStep(model.parameters(), lossOf);
  const trainBlock = (k: number, timed: boolean): number[] => {
    const stepMs: number[] = [];
    for (let s = 0; s < k; s++) {
      const { x, y } = batches[counter++ % batches.length];
      const t0 = performance.now();
      let t1: number;
      if (graph !== null) {
        loss = graph.run(x, y);
        t1 = performance.now();
      } else {
        const l = mean(crossEntropy(model.logits2d(x), y));
        t1 = performance.now();
        l.backward();
        loss = l.item();
      }
      const t2 = performance.now();
      optimizer.step();
      optimizer.zeroGrad();
      const t3 = performance.now();
      if (timed) {
        phases.forwardMs += t1 - t0;
        phases.backwardMs += t2 - t1;
        phases.optimizerMs += t3 - t2;
        stepMs.push(t3 - t0);
      }
    }
    return stepMs;
  };
  // The no-grad forward: in graph mode the traced model (as served: one session, its arena kept for
  // the fixed batch shape), with --eager op by op.
  model.eval();
  const forwardGraph = plan.eager
    ? null
    : new GraphSession(
        trace((x) => model.forward(x as Tensor<'int32'>), [batches[0].x]),
        plan.threads,
        {
          arena: true,
        },
      );
  model.train();
  const forwardBlock = (k: number): number[] => {
    model.eval();
    const stepMs = noGrad(() =>
      Array.from({ length: k }, (_, i) => {
        const t0 = performance.now();
        if (forwardGraph !== null) forwardGraph.run([batches[i % batches.length].x]);
        else model.forward(batches[i % batches.length].x);
        return performance.now() - t0;
      }),
    );
    model.train();
    return stepMs;
  };

  trainBlock(warmup, false);
  forwardBlock(warmup);
  let info: PytorchInfo | null = null;
  if (server !== null) {
    info = await server.next<PytorchInfo & { ready: boolean }>();
  } else options.log(`engine: PyTorch comparison absent: ${plan.torch.ok ? '' : plan.torch.why}`);

  // Rounds in ABBA order: TKLLM first in even rounds, PyTorch first in odd ones.
  const ours = { train: [] as number[][], forward: [] as number[][], cpuMs: 0, cpuMsWhileTheirs: 0 };
  const theirs = { train: [] as BlockResult[], forward: [] as number[][], idleCpuMs: 0 };
  for (const kind of ['train', 'forward'] as const) {
    for (let r = 0; r < rounds; r++) {
      const runOurs = (): void => {
        const cpu = process.cpuUsage();
        ours[kind].push(kind === 'train' ? trainBlock(block, true) : forwardBlock(block));
        const used = process.cpuUsage(cpu);
        if (kind === 'train') ours.cpuMs += (used.user + used.system) / 1000;
      };
      const runTheirs = async (): Promise<void> => {
        if (server === null) return;
        const cpu = process.cpuUsage();
        const result = await server.run(kind, block);
        const used = process.cpuUsage(cpu);
        if (kind === 'train') {
          // Fairness both ways: what each process burns while the other one's block runs.
          ours.cpuMsWhileTheirs += (used.user + used.system) / 1000;
          theirs.idleCpuMs += result.idleCpuMs ?? 0;
        }
        if (kind === 'train') theirs.train.push(result);
        else theirs.forward.push(result.stepMs);
      };
      if (r % 2 === 0) {
        runOurs();
        await runTheirs();
      } else {
        await runTheirs();
        runOurs();
      }
    }
  }

  const n = rounds * block;
  const trainMs = ours.train.flat();
  const forwardMs = ours.forward.flat();
  const perSecond = (ms: readonly number[]): number => (tokensPerStep * ms.length * 1000) / total(ms);
  const trainTokensPerSecond = perSecond(trainMs);
  const forwardTokensPerSecond = perSecond(forwardMs);
  // The median step is less sensitive than the mean to bursts of other work on a shared machine.
  const trainTokensPerSecondMedian = (tokensPerStep * 1000) / median(trainMs);
  options.log(
    `engine: TKLLM train ${trainTokensPerSecond.toFixed(0)} tokens/s (median step ` +
      `${trainTokensPerSecondMedian.toFixed(0)}), loss ${loss.toFixed(4)}; per step ` +
      (plan.eager
        ? `forward ${(phases.forwardMs / n).toFixed(1)} ms, backward ${(phases.backwardMs / n).toFixed(1)} ms, `
        : `forward+backward (one graph) ${(phases.forwardMs / n).toFixed(1)} ms, `) +
      `optimizer ${(phases.optimizerMs / n).toFixed(1)} ms; forward (no grad) ${forwardTokensPerSecond.toFixed(0)} tokens/s`,
  );

  const result: BenchResult = {
    trainTokensPerSecond: round(trainTokensPerSecond),
    trainTokensPerSecondMedian: round(trainTokensPerSecondMedian),
    forwardTokensPerSecond: round(forwardTokensPerSecond),
    peakRssMb: round(process.resourceUsage().maxRSS / 1024),
    parameters: model.parameterCount(),
    finalLoss: round(loss, 4),
    threads: plan.threads,
    mode: plan.eager ? 'eager' : 'graph',
    steps: n,
    rounds,
    warmupSteps: warmup,
    phasesMsPerStep: plan.eager
      ? {
          forward: round(phases.forwardMs / n),
          backward: round(phases.backwardMs / n),
          optimizer: round(phases.optimizerMs / n),
        }
      : { forwardBackward: round(phases.forwardMs / n), optimizer: round(phases.optimizerMs / n) },
    trainCpuMsPerStep: round(ours.cpuMs / n),
  };
  if (server === null || info === null) return result;

  const pyTrainMs = theirs.train.flatMap((b) => b.stepMs);
  const pyForwardMs = theirs.forward.flat();
  const pyTrain = perSecond(pyTrainMs);
  const pyTrainMedian = (tokensPerStep * 1000) / median(pyTrainMs);
  const pyForward = perSecond(pyForwardMs);
  const pyCpuMs = total(theirs.train.map((b) => b.cpuMs ?? NaN));
  const pyPhases = { forwardMs: 0, backwardMs: 0, optimizerMs: 0 };
  for (const b of theirs.train)
    for (const k of Object.keys(pyPhases) as (keyof Phases)[]) pyPhases[k] += b.phasesMs?.[k] ?? 0;
  // Per round: the two engines' blocks ran back to back, under the same load.
  const roundRatios = ours.train.map((ms, r) => round(total(theirs.train[r].stepMs) / total(ms), 3));
  options.log(
    `engine: PyTorch ${info.torchVersion} (${info.threads} threads) train ${pyTrain.toFixed(0)} tokens/s ` +
      `(median step ${pyTrainMedian.toFixed(0)}), forward ${pyForward.toFixed(0)} tokens/s; per step forward ` +
      `${(pyPhases.forwardMs / n).toFixed(1)} ms, backward ${(pyPhases.backwardMs / n).toFixed(1)} ms, ` +
      `optimizer ${(pyPhases.optimizerMs / n).toFixed(1)} ms`,
  );
  options.log(
    `engine: ratio TKLLM / PyTorch ${(trainTokensPerSecond / pyTrain).toFixed(3)} ` +
      `(per round ${roundRatios.join(', ')})`,
  );
  return {
    ...result,
    pytorchTrainTokensPerSecond: round(pyTrain),
    pytorchForwardTokensPerSecond: round(pyForward),
    ratioVsPytorch: round(trainTokensPerSecond / pyTrain, 3),
    ratioVsPytorchRounds: roundRatios,
    pytorchTrainTokensPerSecondMedian: round(pyTrainMedian),
    ratioVsPytorchMedian: round(trainTokensPerSecondMedian / pyTrainMedian, 3),
    forwardRatioVsPytorch: round(forwardTokensPerSecond / pyForward, 3),
    pytorchVersion: info.torchVersion,
    pytorchThreads: info.threads,
    pytorchTrainCpuMsPerStep: round(pyCpuMs / n),
    // CPU each process used per step of the other's training blocks (its own idle time): both near
    // zero means neither disturbs the other's measurement.
    tkllmCpuMsPerStepWhilePytorchTrains: round(ours.cpuMsWhileTheirs / n),
    pytorchCpuMsPerStepWhileIdle: round(theirs.idleCpuMs / n),
    // PyTorch's CPU time over ours: a work ratio, meaningful with --threads 1 (spinning threads
    // inflate CPU time with more).
    cpuRatioVsPytorch: round(pyCpuMs / ours.cpuMs, 3),
    pytorchPhasesMsPerStep: {
      forward: round(pyPhases.forwardMs / n),
      backward: round(pyPhases.backwardMs / n),
      optimizer: round(pyPhases.optimizerMs / n),
    },
  };
}
