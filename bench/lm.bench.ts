// `npm run bench -- lm [--json] [--steps N] [--new-tokens N]`: trains the default small TKLLM
// (vocabulary 1024, width 128, 4 layers, 4 heads, context 64, batch 32) on the bundled sample's captions
// and reports training tokens/s (real, unpadded target tokens), then generates 16 candidates as one batch
// with the key/value cache and reports new tokens/s, beside the same decoding without the cache (full
// pass over the prefix at every step). The machine is shared, so the CPU-second figures are steadier.
import { readFileSync } from 'node:fs';
import {
  DEFAULT_LM_CONFIG,
  LmModel,
  encodeSamples,
  sampleScripts,
  trainLm,
  trainTokenizer,
} from '../src/lm/index.js';
import { bundledSample } from '../src/lake/index.js';
import type { LogitsProcessor } from '../src/lm/index.js';
import { Tensor, noGrad } from '../src/tensor/index.js';
import type { BenchOptions, BenchResult } from './run.js';

function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** The distinct titles of the bundled sample (its second column; titles hold no commas in this file's quoting). */
function sampleTitles(): string[] {
  const lines = readFileSync(bundledSample.path, 'utf8').split('\n').slice(1);
  const titles = new Set<string>();
  for (const line of lines) {
    const m = /^[^,]*,("(?:[^"]|"")*"|[^,]*),/.exec(line);
    if (m !== null) titles.add(m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1]);
  }
  return [...titles].filter((t) => t.length > 0);
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Trains briefly, then decodes a batch of 16 with and without the cache. */
export function run(options: BenchOptions): Promise<BenchResult> {
  const steps = intArg(options.args, '--steps', 40);
  const newTokens = intArg(options.args, '--new-tokens', 48);
  const titles = sampleTitles();
  const tokenizer = trainTokenizer(titles, { vocabSize: DEFAULT_LM_CONFIG.vocabSize });
  const model = new LmModel({ ...DEFAULT_LM_CONFIG, vocabSize: tokenizer.vocabSize }, { seed: 1 });
  const samples = encodeSamples(
    tokenizer,
    titles.map((text) => ({ text })),
    model.config.contextLength,
  );
  options.log(
    `training ${steps} steps on ${samples.length} sample titles, ${model.parameterCount()} weights`,
  );
  // Two warm-up steps build the onnxruntime sessions; they are not timed.
  trainLm(model, samples, { steps: 2, batchSize: 32, seed: 9 });
  const cpu = process.cpuUsage();
  const training = trainLm(model, samples, { steps, batchSize: 32 });
  const trainCpu = cpuSeconds(cpu);
  const trainTokens = training.history.reduce((n, s) => n + s.tokens, 0);

  // Every candidate writes exactly `newTokens` tokens: the end of script is banned.
  const noEnd: LogitsProcessor = (logits) => {
    logits[tokenizer.endOfScriptId] = -Infinity;
  };
  const decode = { candidates: 16, maxNewTokens: newTokens, seed: 3, logitsProcessors: [noEnd] };
  sampleScripts(model, tokenizer, { ...decode, maxNewTokens: 4 });
  const genCpu = process.cpuUsage();
  const genStarted = performance.now();
  const generated = sampleScripts(model, tokenizer, decode);
  const generateMs = performance.now() - genStarted;
  const generateCpu = cpuSeconds(genCpu);
  const produced = generated.candidates.reduce((n, c) => n + c.tokens.length, 0);

  // The same decoding without a cache (greedy): one full causal pass over the whole prefix per new token.
  const started = performance.now();
  noGrad(() => {
    const rows = Array.from({ length: 16 }, () => [tokenizer.styleId]);
    for (let step = 0; step < newTokens; step++) {
      const t = rows[0].length;
      const tokens = new Tensor(Int32Array.from(rows.flat()), [16, t], 'int32');
      const logits = model.forward(tokens, new Tensor(new Int32Array(16), [16], 'int32'));
      const v = model.config.vocabSize;
      for (let b = 0; b < 16; b++) {
        const offset = (b * t + t - 1) * v;
        let best = 0;
        for (let k = 1; k < v; k++) if (logits.data[offset + k] > logits.data[offset + best]) best = k;
        rows[b].push(best);
      }
    }
  });
  const noCacheSeconds = (performance.now() - started) / 1000;

  return Promise.resolve({
    trainTokensPerSecond: Math.round(training.tokensPerSecond),
    trainTokensPerCpuSecond: Math.round(trainTokens / trainCpu),
    trainSteps: steps,
    trainTokens,
    generateTokensPerSecond: Math.round(generated.tokensPerSecond),
    generateTokensPerCpuSecond: Math.round(produced / generateCpu),
    // Per batched decoding step (16 candidates, one new token each), the prompt pass included.
    generateMsPerStep: Number((generateMs / generated.steps).toFixed(2)),
    generateCpuMsPerStep: Number(((generateCpu * 1000) / generated.steps).toFixed(2)),
    generateTokensPerSecondNoCache: Math.round((16 * newTokens) / noCacheSeconds),
    generateBatch: 16,
    generateNewTokens: newTokens,
    parameters: model.parameterCount(),
    config: model.config,
  });
}
