/**
 * Runs kernels on tensors and wires results into autograd. A trace (see trace.ts) installs a recorder
 * here to see every kernel an eager forward runs, so that graph mode reuses the eager ops unchanged.
 */
import { availableParallelism } from 'node:os';
import { ValidationError } from '../core/index.js';
import type { DType, Kernel } from './ort-backend.js';
import { runKernel } from './ort-backend.js';
import { isGradEnabled } from './grad-mode.js';
import { Tensor, fromRaw } from './tensor.js';
import type { GradFn } from './tensor.js';

/** Sees each kernel run (inputs and outputs as tensors) while a trace is active. */
export interface KernelRecorder {
  record(kernel: Kernel, inputs: readonly Tensor<DType>[], outputs: readonly Tensor<DType>[]): void;
  /** Whether ops that draw random numbers in JS (dropout) must refuse: the draw would be frozen. */
  readonly refusesRandomness?: boolean;
}

/** How ops spread work over onnxruntime's intra-op threads. */
export interface EngineOptions {
  /** Most threads one op may use (default: the machine's available parallelism, at most 8). */
  maxThreads?: number;
  /** Ops of at least this many FLOPs use `maxThreads`; smaller ones use one thread. */
  parallelFlops?: number;
  /**
   * Fused element-wise kernels (GELU, layer norm, attention's score chain) over at least this many
   * values per operand use `maxThreads`.
   */
  parallelElements?: number;
}

// Measured on the project's 2-core machine when idle: a second thread slowed 192^3 and 256^3 products
// (waking the pool costs more than it saves) and sped up 512^3 (74 vs 64 GFLOP/s) and 1024^3
// (126 vs 70 GFLOP/s); 1.5e8 FLOP sits between. On a loaded machine one thread is safer.
// Element-wise kernels: the fused ones run 5 to 20 passes over their operands, so at 2^18 values
// (1 MB) each kernel takes milliseconds and waking a second thread (microseconds) pays. Measured with
// 2 threads: GELU on [1024, 768] and attention on [16, 4, 64, 64] scores took the same CPU time as
// with one (3.6-4.3 and 6.4-7.6 ms), so on an idle machine their wall time halves.
const engine = {
  maxThreads: Math.min(availableParallelism(), 8),
  parallelFlops: 1.5e8,
  parallelElements: 2 ** 18,
};

/**
 * Changes how many threads ops use (e.g. `{ maxThreads: 1 }` when other work shares the CPU) and
 * returns the previous settings, so that a caller can restore them.
 */
export function configureEngine(options: EngineOptions): Required<EngineOptions> {
  const previous = { ...engine };
  if (options.maxThreads !== undefined) {
    if (!Number.isInteger(options.maxThreads) || options.maxThreads < 1) {
      throw new ValidationError(`\`maxThreads\` must be a positive integer, got ${options.maxThreads}`);
    }
    engine.maxThreads = options.maxThreads;
  }
  if (options.parallelFlops !== undefined) engine.parallelFlops = options.parallelFlops;
  if (options.parallelElements !== undefined) engine.parallelElements = options.parallelElements;
  return previous;
}

/** Threads for an op of `flops` floating-point operations. */
export function threadsFor(flops: number): number {
  return flops >= engine.parallelFlops ? engine.maxThreads : 1;
}

/** Threads for a fused element-wise kernel over `elements` values per operand. */
export function threadsForElements(elements: number): number {
  return elements >= engine.parallelElements ? engine.maxThreads : 1;
}

let recorder: KernelRecorder | null = null;
let runs = 0;

/** How many kernels have run in this process (tests use it to prove that work was skipped). */
export function executedKernelCount(): number {
  return runs;
}

/** Whether an active recording would freeze JS-drawn random numbers into constants. */
export function recordingRefusesRandomness(): boolean {
  return recorder?.refusesRandomness ?? false;
}

/** Installs (or with null removes) the recorder; returns the previous one. */
export function setRecorder(next: KernelRecorder | null): KernelRecorder | null {
  const previous = recorder;
  recorder = next;
  return previous;
}

/** Time and calls spent in one kind of kernel, as measured by `profileKernels`. */
export interface KernelProfile {
  kernel: string;
  calls: number;
  ms: number;
}

let profile: Map<string, KernelProfile> | null = null;

/** Runs `fn` and reports where kernel time went, most expensive first (a diagnostic for tuning). */
export function profileKernels(fn: () => void): KernelProfile[] {
  const previous = profile;
  profile = new Map();
  const current = profile;
  try {
    fn();
  } finally {
    profile = previous;
  }
  return [...current.values()].sort((a, b) => b.ms - a.ms);
}

function timed(
  kernel: Kernel,
  inputs: readonly Tensor<DType>[],
  threads: number,
  table: Map<string, KernelProfile>,
): ReturnType<typeof runKernel> {
  const start = performance.now();
  const out = runKernel(kernel, inputs, threads);
  const label =
    kernel.nodes.map((n) => n.op).join('+') + ' ' + inputs.map((t) => `[${t.shape.join(',')}]`).join('');
  const entry = table.get(label) ?? { kernel: label, calls: 0, ms: 0 };
  entry.calls++;
  entry.ms += performance.now() - start;
  table.set(label, entry);
  return out;
}

/** Runs `kernel` and returns its outputs as tensors (without gradient history). */
export function execute(kernel: Kernel, inputs: readonly Tensor<DType>[], threads = 1): Tensor<DType>[] {
  runs++;
  const raw = profile === null ? runKernel(kernel, inputs, threads) : timed(kernel, inputs, threads, profile);
  const outputs = raw.map((r) => fromRaw<DType>(r));
  if (recorder !== null) recorder.record(kernel, inputs, outputs);
  return outputs;
}

/** Runs a kernel with one float output. */
export function execute1(kernel: Kernel, inputs: readonly Tensor<DType>[], threads = 1): Tensor {
  return execute(kernel, inputs, threads)[0] as Tensor;
}

/** Tells an active trace that `output` was computed from `inputs` by `kernel` without a session run. */
export function recordOnly(kernel: Kernel, inputs: readonly Tensor<DType>[], output: Tensor<DType>): void {
  if (recorder !== null) recorder.record(kernel, inputs, [output]);
}

/**
 * Attaches a backward rule to `output` when recording is on and some input requires grad; returns
 * `output`. The rule receives the output's gradient and which inputs want a gradient.
 */
export function withGrad<D extends DType>(
  output: Tensor<D>,
  name: string,
  inputs: readonly Tensor<DType>[],
  backward: GradFn['backward'],
): Tensor<D> {
  if (!isGradEnabled()) return output;
  let any = false;
  for (const x of inputs) if (x.requiresGrad) any = true;
  if (!any) return output;
  output.requiresGrad = true;
  output.gradFn = { name, inputs, backward };
  return output;
}
