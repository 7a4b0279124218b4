// `npx tsx bench/lm-decode-profile.ts [--steps N]`: where one batched decoding step of the default TKLLM
// (16 candidates, vocabulary 1024, width 128, 4 layers) spends its time: per kernel as measured by the
// tensor library's `profileKernels`, the model step against the JS sampling work, wall and CPU time.
import { bundledSample } from '../src/lake/index.js';
import { DEFAULT_LM_CONFIG, LmModel } from '../src/lm/index.js';
import { Tensor, noGrad, profileKernels } from '../src/tensor/index.js';

const stepsArg = process.argv.indexOf('--steps');
const steps = stepsArg >= 0 ? Number(process.argv[stepsArg + 1]) : 40;
const model = new LmModel({ ...DEFAULT_LM_CONFIG, vocabSize: 1024 }, { seed: 1 });
model.eval();
const b = 16;
const styles = new Tensor(new Int32Array(b), [b], 'int32');
const table = new Map<string, { calls: number; ms: number }>();
let wall = 0;
let cpu = 0;
noGrad(() => {
  for (let round = 0; round < 2; round++) {
    const cache = model.newCache();
    model.forwardCached(new Tensor(new Int32Array(b * 4).fill(3), [b, 4], 'int32'), styles, cache);
    for (let s = 0; s < steps; s++) {
      const tokens = new Tensor(
        Int32Array.from({ length: b }, (_, i) => (i * 7 + s) % 1024),
        [b, 1],
        'int32',
      );
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const rows = profileKernels(() => model.forwardCached(tokens, styles, cache));
      const c = process.cpuUsage(c0);
      if (round === 0) continue;
      wall += performance.now() - t0;
      cpu += (c.user + c.system) / 1000;
      for (const r of rows) {
        const key = r.kernel.replace(/ \[.*$/, '');
        const row = table.get(key) ?? { calls: 0, ms: 0 };
        row.calls += r.calls;
        row.ms += r.ms;
        table.set(key, row);
      }
    }
  }
});
const kernels = [...table.values()].reduce((a, r) => a + r.ms, 0);
const calls = [...table.values()].reduce((a, r) => a + r.calls, 0);
console.log(
  `model step: ${(wall / steps).toFixed(2)} ms wall, ${(cpu / steps).toFixed(2)} ms CPU, ` +
    `kernels ${(kernels / steps).toFixed(2)} ms in ${calls / steps} calls`,
);
for (const [k, r] of [...table.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 15))
  console.log(`${(r.ms / steps).toFixed(3).padStart(7)} ms ${String(r.calls / steps).padStart(4)}x  ${k}`);

// The traced step (src/lm/decode-graph.ts): one session run per step.
{
  const { GraphDecoder } = await import('../src/lm/decode-graph.js');
  let gWall = 0;
  let gCpu = 0;
  for (let round = 0; round < 2; round++) {
    const decoder = new GraphDecoder(model, b);
    decoder.prefill(new Tensor(new Int32Array(b * 4).fill(3), [b, 4], 'int32'), styles);
    for (let s = 0; s < steps; s++) {
      const tokens = Int32Array.from({ length: b }, (_, i) => (i * 7 + s) % 1024);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      decoder.step(tokens);
      const c = process.cpuUsage(c0);
      if (round === 0) continue;
      gWall += performance.now() - t0;
      gCpu += (c.user + c.system) / 1000;
    }
  }
  console.log(`graph step: ${(gWall / steps).toFixed(2)} ms wall, ${(gCpu / steps).toFixed(2)} ms CPU`);
}

// A whole `sampleScripts` request as `src/generate` makes it (top-p 0.95, penalty 1.1, temperature 0.9),
// every candidate writing `steps` tokens: the JS sampling work is the difference to the graph step.
{
  const { sampleScripts, trainTokenizer } = await import('../src/lm/index.js');
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(bundledSample.path, 'utf8').split('\n');
  const tokenizer = trainTokenizer(lines, { vocabSize: 1024 });
  const small = new LmModel({ ...DEFAULT_LM_CONFIG, vocabSize: tokenizer.vocabSize }, { seed: 1 });
  const options = {
    prompt: 'POV:',
    candidates: b,
    maxNewTokens: Math.min(steps, 48),
    temperature: 0.9,
    topP: 0.95,
    repetitionPenalty: 1.1,
    seed: 2,
    logitsProcessors: [
      (logits: Float32Array): void => {
        logits[tokenizer.endOfScriptId] = -Infinity;
      },
    ],
  };
  sampleScripts(small, tokenizer, options);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const result = sampleScripts(small, tokenizer, options);
  const c = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  console.log(
    `sampleScripts: ${result.steps} steps, ${(ms / result.steps).toFixed(2)} ms wall and ` +
      `${((c.user + c.system) / 1000 / result.steps).toFixed(2)} ms CPU per step, ` +
      `${Math.round(result.tokensPerSecond)} tokens/s, request ${ms.toFixed(0)} ms`,
  );
}
