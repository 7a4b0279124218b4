// `npx tsx bench/engine-profile.ts [--steps N]`: where one training step of the reference GPT spends its
// time, per kernel (op chain and input shapes), split into forward and backward. It borrows the trace
// recorder hook of src/tensor (src/tensor/exec.ts, not the module's face) until the tensor library
// exposes a profiler: the time between two recorded kernels is charged to the second, so JS work between
// kernels (gradient accumulation, index conversion) shows up on the kernel that follows it.
import { Random } from '../src/core/index.js';
import { AdamW, Gpt } from '../src/nn/index.js';
import { Tensor, crossEntropy, mean } from '../src/tensor/index.js';
import { setRecorder } from '../src/tensor/exec.js';
import type { KernelRecorder } from '../src/tensor/exec.js';

const stepsArg = process.argv.indexOf('--steps');
const steps = stepsArg >= 0 ? Number(process.argv[stepsArg + 1]) : 5;
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

const stats = new Map<string, { calls: number; ms: number }>();
let phase = 'fwd';
let last = 0;
const recorder: KernelRecorder = {
  record(kernel, inputs) {
    const now = performance.now();
    const ops = kernel.nodes.map((n) => n.op).join('+');
    const shapes = inputs.map((t) => `[${t.shape.join('x')}]`).join(' ');
    const key = `${phase}\t${ops}\t${shapes}`;
    const s = stats.get(key) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += now - last;
    stats.set(key, s);
    last = performance.now();
  },
};

let optimizerMs = 0;
let wallMs = 0;
function step(profile: boolean): void {
  const t0 = performance.now();
  if (profile) setRecorder(recorder);
  phase = 'fwd';
  last = performance.now();
  const loss = mean(crossEntropy(model.logits2d(x), y));
  phase = 'bwd';
  last = performance.now();
  loss.backward();
  setRecorder(null);
  const t1 = performance.now();
  optimizer.step();
  optimizer.zeroGrad();
  if (profile) {
    optimizerMs += performance.now() - t1;
    wallMs += performance.now() - t0;
  }
}

for (let i = 0; i < 3; i++) step(false);
for (let i = 0; i < steps; i++) step(true);

const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
const kernelMs = rows.reduce((n, [, s]) => n + s.ms, 0);
const calls = rows.reduce((n, [, s]) => n + s.calls, 0);
console.log(
  `per step: wall ${(wallMs / steps).toFixed(1)} ms, kernels ${(kernelMs / steps).toFixed(1)} ms ` +
    `(${calls / steps} kernel runs), optimizer ${(optimizerMs / steps).toFixed(1)} ms`,
);
const byOp = new Map<string, number>();
for (const [key, s] of rows) {
  const [ph, ops] = key.split('\t');
  byOp.set(`${ph} ${ops}`, (byOp.get(`${ph} ${ops}`) ?? 0) + s.ms);
}
console.log('\nms/step  share  phase and op chain');
for (const [key, ms] of [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20))
  console.log(
    `${(ms / steps).toFixed(1).padStart(7)}  ${((100 * ms) / kernelMs).toFixed(1).padStart(4)}%  ${key}`,
  );
console.log('\nms/step  calls  phase, op chain, input shapes');
for (const [key, s] of rows.slice(0, 30))
  console.log(
    `${(s.ms / steps).toFixed(1).padStart(7)}  ${String(s.calls / steps).padStart(5)}  ${key.replaceAll('\t', '  ')}`,
  );
