// `npm run bench -- generate [--json] [--runs=9] [--fresh] [--dir=DIR]`: times whole generate requests on
// the model `tkllm lm train` builds with no flags on the bundled sample (prepareWorkspace's 'lm-train': the
// corpus rule of `corpusDefaults` — byte vocabulary of 259, context 128, on the sample 4 blocks of width 24 — and the budget
// of `trainingDefaults`), and the estimator with its defaults. The workspace is built once and kept in DIR
// (default tkllm-data/bench-generate-default) for later runs; --fresh rebuilds it.
//
// A request: 16 candidates of a 15-second script (37 words at 2.5 words/s; each candidate ends at its end of
// script, at its 37th word, or at the context), banned-term mask, estimator scoring, policy screening,
// rerank and the audit write. Reports medians over `runs` requests interleaved with and without RAD:
// `requestMs` (wall, without RAD), `requestCpuMs` (CPU time of the same requests: what a loaded machine does
// not inflate), `rerankMs` (scoring + screening + sorting), `radOverheadPercent` (CPU per generated token,
// RAD against plain), `sampledTokens` (tokens decoded for the 16 candidates), and the load average.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  generatePaths,
  openGenerator,
  prepareWorkspace,
  readCaptionRecords,
  type GenerationResult,
} from '../src/generate/index.js';
import { Lake } from '../src/lake/index.js';
import { corpusDefaults, type LmConfig } from '../src/lm/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const arg = (name: string) => options.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const runs = Number(arg('runs') ?? 9);
  const dir = arg('dir') ?? join(process.cwd(), 'tkllm-data', 'bench-generate-default');
  if (options.args.includes('--fresh')) rmSync(dir, { recursive: true, force: true });
  const { lmDir } = generatePaths(dir);
  const reused = existsSync(join(lmDir, 'model.safetensors'));
  const buildStarted = performance.now();
  if (!reused) options.log(`building ${dir}: bundled sample, features, estimator, TKLLM (a few minutes)`);
  await prepareWorkspace(dir, { lm: 'lm-train' });
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  const lake = await Lake.open(dir);
  // The model must be what `tkllm lm train` picks for this lake's captions.
  const rule = corpusDefaults((await readCaptionRecords(lake)).map((r) => r.text));
  const config = JSON.parse(readFileSync(join(lmDir, 'config.json'), 'utf8')) as Required<LmConfig>;
  const trainedSteps = (
    JSON.parse(readFileSync(join(lmDir, 'checkpoints', 'latest.json'), 'utf8')) as { step: number }
  ).step;
  const asLmTrain =
    config.vocabSize === rule.vocabSize &&
    config.contextLength === rule.contextLength &&
    config.dModel === rule.dModel &&
    config.nLayers === rule.nLayers &&
    config.nHeads === rule.nHeads &&
    config.directOrder === (rule.directOrder ?? 0);
  const g = await openGenerator(lake, dir, { rad: true });
  try {
    const prompts = ['How to', 'Wait for it', 'My first', 'Why nobody talks about'];
    const request = async (i: number, radEta: number) => {
      const cpu = process.cpuUsage();
      const r = await g.generator.generate(prompts[i % prompts.length], {
        n: 16,
        seconds: 15,
        seed: i,
        radEta,
      });
      const used = process.cpuUsage(cpu);
      return { r, cpuMs: (used.user + used.system) / 1000 };
    };
    // Warm-up: the decode graph is traced once per batch size, the mask's memo fills.
    for (let i = 0; i < 3; i++) {
      await request(i, 0);
      await request(i, 2);
    }
    const load = loadavg()[0];
    const plain: { r: GenerationResult; cpuMs: number }[] = [];
    const rad: { r: GenerationResult; cpuMs: number }[] = [];
    // Interleaved, so that a change in the machine's load hits both alike.
    for (let i = 0; i < runs; i++) {
      plain.push(await request(i, 0));
      rad.push(await request(i, 2));
      const p = plain.at(-1)!;
      options.log(
        `run ${i + 1}/${runs}: ${p.r.timings.totalMs.toFixed(0)} ms (${p.cpuMs.toFixed(0)} CPU ms, ${p.r.sampledTokens} tokens), with RAD ${rad.at(-1)!.r.timings.totalMs.toFixed(0)} ms`,
      );
    }
    const loadAfter = loadavg()[0];
    // RAD changes which tokens are drawn, and so how long the scripts run: its overhead is compared per
    // generated token (CPU time, which the machine's load does not inflate), the whole requests beside it.
    const perToken = (p: { r: GenerationResult; cpuMs: number }) => p.cpuMs / Math.max(p.r.sampledTokens, 1);
    const requestMs = median(plain.map((p) => p.r.timings.totalMs));
    const radMs = median(rad.map((p) => p.r.timings.totalMs));
    const finish: Record<string, number> = {};
    for (const p of plain)
      for (const c of p.r.candidates) finish[c.finishReason] = (finish[c.finishReason] ?? 0) + 1;
    return {
      requestMs,
      requestCpuMs: median(plain.map((p) => p.cpuMs)),
      rerankMs: median(plain.map((p) => p.r.timings.rerankMs)),
      radOverheadPercent: (median(rad.map(perToken)) / median(plain.map(perToken)) - 1) * 100,
      sampledTokens: median(plain.map((p) => p.r.sampledTokens)),
      sampleMs: median(plain.map((p) => p.r.timings.sampleMs)),
      auditMs: median(plain.map((p) => p.r.timings.auditMs)),
      cpuMsPerToken: median(plain.map(perToken)),
      radWallOverheadPercent: ((radMs - requestMs) / requestMs) * 100,
      radRequestMs: radMs,
      radRequestCpuMs: median(rad.map((p) => p.cpuMs)),
      radMicrosecondsPerToken: median(rad.map((p) => p.r.rad?.microsecondsPerToken ?? 0)),
      radSampledTokens: median(rad.map((p) => p.r.sampledTokens)),
      candidates: 16,
      returned: median(plain.map((p) => p.r.candidates.length)),
      wordsPerScript: median(plain.flatMap((p) => p.r.candidates.map((c) => c.text.split(/\s+/).length))),
      finishReasons: finish,
      maxNewTokens: plain[0].r.settings.maxNewTokens,
      model:
        `${config.nLayers} layers, width ${config.dModel}, ${config.nHeads} heads, context ${config.contextLength}, ` +
        `vocabulary ${config.vocabSize}, ` +
        (config.directOrder > 0 ? `direct connections of order ${config.directOrder}, ` : '') +
        `${trainedSteps} training steps` +
        (asLmTrain
          ? " (tkllm lm train's architecture and corpus rule for this lake)"
          : ' (NOT the lm train default)'),
      asLmTrain,
      workspace: reused ? `${dir} (reused)` : `${dir} (built in ${buildSeconds.toFixed(0)} s)`,
      load1: Number(load.toFixed(2)),
      load1After: Number(loadAfter.toFixed(2)),
      runs,
    };
  } finally {
    g.close();
    lake.close();
  }
}
