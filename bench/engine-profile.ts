// `npx tsx bench/engine-profile.ts [--steps N] [--threads N] [--graph]`: where training steps of the
// reference GPT spend their time. Eager (default): per kernel (op chain and input shapes) as measured
// by the tensor library's `profileKernels`, split into forward, backward and optimiser, with the time
// outside kernels (JS) shown apart. --graph: the traced training step (nn's TrainingStep) under
// onnxruntime's own profiler, per op type and per node with shapes, beside the step's CPU time.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/index.js';
import { AdamW, Gpt } from '../src/nn/index.js';
import {
  Tensor,
  TrainingStepSession,
  configureEngine,
  crossEntropy,
  mean,
  profileKernels,
  traceTrainingStep,
} from '../src/tensor/index.js';

const stepsArg = process.argv.indexOf('--steps');
const steps = stepsArg >= 0 ? Number(process.argv[stepsArg + 1]) : 5;
const threadsArg = process.argv.indexOf('--threads');
if (threadsArg >= 0) configureEngine({ maxThreads: Number(process.argv[threadsArg + 1]) });
const model = new Gpt(
  { vocabSize: 2048, dModel: 192, nLayers: 4, nHeads: 4, contextLength: 64 },
  { seed: 0 },
);
const optimizer = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
const rng = new Random(0);
const x = new Tensor(
  Int32Array.from({ length: 1024 }, () => rng.int(2048)),
  [16, 64],
  'int32',
);
const y = new Tensor(
  Int32Array.from({ length: 1024 }, () => rng.int(2048)),
  [1024],
  'int32',
);

interface Row {
  calls: number;
  ms: number;
}
const table = new Map<string, Row>();
const wall = { forward: 0, backward: 0, optimizer: 0 };
const kernelTotals = { forward: 0, backward: 0 };

function collect(phase: 'forward' | 'backward', fn: () => void): void {
  const t0 = performance.now();
  const rows = profileKernels(fn);
  wall[phase] += performance.now() - t0;
  for (const r of rows) {
    const key = `${phase === 'forward' ? 'fwd' : 'bwd'}  ${r.kernel}`;
    const row = table.get(key) ?? { calls: 0, ms: 0 };
    row.calls += r.calls;
    row.ms += r.ms;
    table.set(key, row);
    kernelTotals[phase] += r.ms;
  }
}

function step(profile: boolean): void {
  let loss: Tensor | undefined;
  const forward = (): void => {
    loss = mean(crossEntropy(model.logits2d(x), y));
  };
  const backward = (): void => loss!.backward();
  if (profile) {
    collect('forward', forward);
    collect('backward', backward);
  } else {
    forward();
    backward();
  }
  const t0 = performance.now();
  optimizer.step();
  optimizer.zeroGrad();
  if (profile) wall.optimizer += performance.now() - t0;
}

interface OrtEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

/** The traced step under onnxruntime's profiler: per op type and per node, for the timed runs. */
function profileGraph(): void {
  const threads = configureEngine({}).maxThreads;
  const params = model.parameters();
  const traced = traceTrainingStep(
    (a, b) => mean(crossEntropy(model.logits2d(a as Tensor<'int32'>), b as Tensor<'int32'>)),
    [x, y],
    params,
  );
  const session = new TrainingStepSession(traced, threads, { profilePrefix: join(tmpdir(), 'tkllm-ort') });
  const grads = traced.gradientOf.map((i) => new Float32Array(params[i].size));
  const warmup = 3;
  for (let i = 0; i < warmup; i++) session.run([x, y], params, grads);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) session.run([x, y], params, grads);
  const wallMs = (performance.now() - t0) / steps;
  const used = process.cpuUsage(cpu);
  const file = session.endProfiling();
  session.dispose();
  const events = JSON.parse(readFileSync(file, 'utf8')) as OrtEvent[];
  rmSync(file, { force: true });
  const runs = events.filter((e) => e.name === 'model_run');
  const since = runs[runs.length - steps].ts;
  const byOp = new Map<string, { us: number; calls: number }>();
  const byNode = new Map<string, { us: number; shapes: string; op: string }>();
  let kernelUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < since) continue;
    const op = e.args?.op_name ?? '?';
    const row = byOp.get(op) ?? { us: 0, calls: 0 };
    row.us += e.dur;
    row.calls++;
    byOp.set(op, row);
    const shapes = (e.args?.input_type_shape ?? []).map((d) => `[${Object.values(d)[0].join(',')}]`).join('');
    const n = byNode.get(e.name) ?? { us: 0, shapes, op };
    n.us += e.dur;
    byNode.set(e.name, n);
    kernelUs += e.dur;
  }
  const per = (us: number): string => (us / 1000 / steps).toFixed(1);
  console.log(
    `graph step (forward + backward, ${threads} threads): ${wallMs.toFixed(1)} ms wall ` +
      `(${((1024 * 1000) / wallMs).toFixed(0)} tokens/s without the optimiser), ` +
      `${((used.user + used.system) / 1000 / steps).toFixed(1)} ms CPU, node kernels ${per(kernelUs)} ms`,
  );
  console.log('\nms/step  share  calls  op type');
  for (const [op, r] of [...byOp.entries()].sort((a, b) => b[1].us - a[1].us))
    console.log(
      `${per(r.us).padStart(7)}  ${((100 * r.us) / kernelUs).toFixed(1).padStart(4)}%  ${String(r.calls / steps).padStart(5)}  ${op}`,
    );
  console.log('\nms/step  op and input shapes (top 25 nodes)');
  for (const [, r] of [...byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 25))
    console.log(`${per(r.us).padStart(7)}  ${r.op} ${r.shapes}`);
}

if (process.argv.includes('--graph')) {
  profileGraph();
  process.exit(0);
}
for (let i = 0; i < 3; i++) step(false);
for (let i = 0; i < steps; i++) step(true);

const per = (ms: number): string => (ms / steps).toFixed(1);
const total = wall.forward + wall.backward + wall.optimizer;
console.log(
  `per step ${per(total)} ms (${((1024 * 1000 * steps) / total).toFixed(0)} tokens/s): ` +
    `forward ${per(wall.forward)} (kernels ${per(kernelTotals.forward)}), ` +
    `backward ${per(wall.backward)} (kernels ${per(kernelTotals.backward)}), optimizer ${per(wall.optimizer)}`,
);
const byOp = new Map<string, number>();
for (const [key, r] of table) {
  const op = key.replace(/ \[.*$/, '');
  byOp.set(op, (byOp.get(op) ?? 0) + r.ms);
}
console.log('\nms/step  share  phase  op chain (all shapes)');
for (const [op, ms] of [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20))
  console.log(`${per(ms).padStart(7)}  ${((100 * ms) / total).toFixed(1).padStart(4)}%  ${op}`);
console.log('\nms/step  calls  phase  op chain and input shapes');
for (const [key, r] of [...table.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30))
  console.log(`${per(r.ms).padStart(7)}  ${String(r.calls / steps).padStart(5)}  ${key}`);
