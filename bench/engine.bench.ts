// `npm run bench -- engine [--json] [--steps N] [--warmup N] [--no-pytorch]`: trains the reference GPT
// (vocabulary 2048, width 192, 4 layers, 4 heads, context 64, batch 16, AdamW lr 3e-4 wd 0.1) on random
// tokens, times training steps and no-grad forwards, and — where /usr/bin/python3 imports torch — trains
// the identical model in PyTorch (bench/engine_pytorch.py) in the same run for the ratio TKLLM / PyTorch.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/index.js';
import { AdamW, Gpt } from '../src/nn/index.js';
import type { GptConfig } from '../src/nn/index.js';
import { Tensor, crossEntropy, mean, noGrad } from '../src/tensor/index.js';
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

interface PytorchResult {
  trainTokensPerSecond: number;
  trainTokensPerSecondMedian: number;
  forwardTokensPerSecond: number;
  torchVersion: string;
  phasesMsPerStep: Phases;
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

function runPytorch(warmup: number, steps: number): PytorchResult {
  const script = join(here, 'engine_pytorch.py');
  const child = spawnSync(PYTHON, [script, '--warmup', String(warmup), '--steps', String(steps)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`engine_pytorch.py failed (${child.status}): ${child.stderr}`);
  const last = child.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as PytorchResult;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

/** Runs the engine benchmark and returns its figures (synchronous work: the tensor API is synchronous). */
export function run(options: BenchOptions): Promise<BenchResult> {
  return Promise.resolve(measure(options));
}

function measure(options: BenchOptions): BenchResult {
  const steps = intArg(options.args, '--steps', 10);
  if (steps === 0) throw new Error('--steps must be at least 1');
  const warmup = intArg(options.args, '--warmup', 3);
  const withPytorch = !options.args.includes('--no-pytorch');
  const tokensPerStep = BATCH * CONFIG.contextLength;

  const model = new Gpt(CONFIG, { seed: 0 });
  const optimizer = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
  const batches = makeBatches(4, 0);
  options.log(
    `engine: GPT ${model.parameterCount()} parameters, batch ${BATCH} x ${CONFIG.contextLength}, ` +
      `${warmup} warm-up + ${steps} timed steps`,
  );

  const phases: Phases = { forwardMs: 0, backwardMs: 0, optimizerMs: 0 };
  const stepMs: number[] = [];
  let loss = NaN;
  const trainStep = (i: number, timed: boolean): void => {
    const { x, y } = batches[i % batches.length];
    const t0 = performance.now();
    const l = mean(crossEntropy(model.logits2d(x), y));
    const t1 = performance.now();
    l.backward();
    const t2 = performance.now();
    optimizer.step();
    optimizer.zeroGrad();
    const t3 = performance.now();
    loss = l.item();
    if (timed) {
      phases.forwardMs += t1 - t0;
      phases.backwardMs += t2 - t1;
      phases.optimizerMs += t3 - t2;
      stepMs.push(t3 - t0);
    }
  };
  for (let i = 0; i < warmup; i++) trainStep(i, false);
  const start = performance.now();
  for (let i = 0; i < steps; i++) trainStep(i, true);
  const trainMs = performance.now() - start;
  const trainTokensPerSecond = (tokensPerStep * steps) / (trainMs / 1000);
  // The median step is less sensitive than the mean to other processes on a shared machine.
  const trainTokensPerSecondMedian = (tokensPerStep * 1000) / median(stepMs);
  options.log(
    `engine: train ${trainTokensPerSecond.toFixed(0)} tokens/s, loss ${loss.toFixed(4)}; per step ` +
      `forward ${(phases.forwardMs / steps).toFixed(1)} ms, backward ${(phases.backwardMs / steps).toFixed(1)} ms, ` +
      `optimizer ${(phases.optimizerMs / steps).toFixed(1)} ms`,
  );

  model.eval();
  const forwardMs = noGrad(() => {
    for (let i = 0; i < warmup; i++) model.forward(batches[i % batches.length].x);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) model.forward(batches[i % batches.length].x);
    return performance.now() - t0;
  });
  const forwardTokensPerSecond = (tokensPerStep * steps) / (forwardMs / 1000);
  options.log(`engine: forward (no grad) ${forwardTokensPerSecond.toFixed(0)} tokens/s`);

  const result: BenchResult = {
    trainTokensPerSecond: round(trainTokensPerSecond),
    trainTokensPerSecondMedian: round(trainTokensPerSecondMedian),
    forwardTokensPerSecond: round(forwardTokensPerSecond),
    peakRssMb: round(process.resourceUsage().maxRSS / 1024),
    parameters: model.parameterCount(),
    finalLoss: round(loss, 4),
    steps,
    warmupSteps: warmup,
    phasesMsPerStep: {
      forward: round(phases.forwardMs / steps),
      backward: round(phases.backwardMs / steps),
      optimizer: round(phases.optimizerMs / steps),
    },
  };

  const torch = withPytorch ? torchAvailable() : { ok: false as const, why: 'skipped with --no-pytorch' };
  if (!torch.ok) {
    options.log(`engine: PyTorch comparison absent: ${torch.why}`);
    return result;
  }
  // Sequential, not concurrent: both sides get the same two cores.
  const py = runPytorch(warmup, steps);
  options.log(
    `engine: PyTorch ${py.torchVersion} train ${py.trainTokensPerSecond.toFixed(0)} tokens/s, forward ` +
      `${py.forwardTokensPerSecond.toFixed(0)} tokens/s; per step forward ${py.phasesMsPerStep.forwardMs.toFixed(1)} ms, ` +
      `backward ${py.phasesMsPerStep.backwardMs.toFixed(1)} ms, optimizer ${py.phasesMsPerStep.optimizerMs.toFixed(1)} ms`,
  );
  return {
    ...result,
    pytorchTrainTokensPerSecond: round(py.trainTokensPerSecond),
    pytorchForwardTokensPerSecond: round(py.forwardTokensPerSecond),
    ratioVsPytorch: round(trainTokensPerSecond / py.trainTokensPerSecond, 3),
    pytorchTrainTokensPerSecondMedian: round(py.trainTokensPerSecondMedian),
    ratioVsPytorchMedian: round(trainTokensPerSecondMedian / py.trainTokensPerSecondMedian, 3),
    forwardRatioVsPytorch: round(forwardTokensPerSecond / py.forwardTokensPerSecond, 3),
    pytorchVersion: py.torchVersion,
    pytorchPhasesMsPerStep: {
      forward: round(py.phasesMsPerStep.forwardMs),
      backward: round(py.phasesMsPerStep.backwardMs),
      optimizer: round(py.phasesMsPerStep.optimizerMs),
    },
  };
}
