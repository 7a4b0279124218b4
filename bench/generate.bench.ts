// `npm run bench -- generate [--json]`: builds a workspace from the bundled sample (lake, features, a small
// estimator, and TKLLM with the default architecture trained for a few steps: speed, not quality, is
// measured, and an under-trained model rarely ends early, so every candidate runs to the length limit —
// the worst case), then times whole generate requests: 16 candidates of a 15-second script (37 words at
// 2.5 words/s, at most 62 new tokens in the 64-token context), banned-term mask, estimator scoring,
// policy screening, rerank and the audit write. Reports medians: `requestMs` (the whole request, without
// RAD), `rerankMs` (scoring + screening + sorting), `radOverheadPercent` (the request with reward-augmented
// decoding against without, in CPU time per generated token), and CPU milliseconds per request, which a
// loaded machine does not inflate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGenerator, prepareWorkspace, type GenerationResult } from '../src/generate/index.js';
import { Lake } from '../src/lake/index.js';
import { DEFAULT_LM_CONFIG } from '../src/lm/index.js';
import type { BenchOptions, BenchResult } from './run.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const runs = Number(options.args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 9);
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-generate-'));
  try {
    options.log('building the workspace: bundled sample, features, estimator, TKLLM (default architecture)');
    await prepareWorkspace(dir, {
      lm: { ...DEFAULT_LM_CONFIG, steps: 20, batchSize: 16, lr: 3e-3, dropout: 0 },
      estimator: { epochs: 2, members: 4 },
    });
    const lake = await Lake.open(dir);
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
      for (let i = 0; i < 3; i++) {
        await request(i, 0);
        await request(i, 2);
      }
      const plain: { r: GenerationResult; cpuMs: number }[] = [];
      const rad: { r: GenerationResult; cpuMs: number }[] = [];
      // Interleaved, so that a change in the machine's load hits both alike.
      for (let i = 0; i < runs; i++) {
        plain.push(await request(i, 0));
        rad.push(await request(i, 2));
        options.log(
          `run ${i + 1}/${runs}: ${plain.at(-1)!.r.timings.totalMs.toFixed(0)} ms, with RAD ${rad.at(-1)!.r.timings.totalMs.toFixed(0)} ms`,
        );
      }
      // RAD changes which tokens are drawn, and so how long the scripts run: its overhead is compared per
      // generated token (CPU time, which the machine's load does not inflate), the whole requests beside it.
      const perToken = (p: { r: GenerationResult; cpuMs: number }) =>
        p.cpuMs / Math.max(p.r.sampledTokens, 1);
      const requestMs = median(plain.map((p) => p.r.timings.totalMs));
      const radMs = median(rad.map((p) => p.r.timings.totalMs));
      const tokens = median(plain.map((p) => p.r.sampledTokens));
      return {
        requestMs,
        rerankMs: median(plain.map((p) => p.r.timings.rerankMs)),
        radOverheadPercent: (median(rad.map(perToken)) / median(plain.map(perToken)) - 1) * 100,
        radWallOverheadPercent: ((radMs - requestMs) / requestMs) * 100,
        radProcessorPercent: median(rad.map((p) => ((p.r.rad?.ms ?? 0) / p.r.timings.totalMs) * 100)),
        sampleMs: median(plain.map((p) => p.r.timings.sampleMs)),
        auditMs: median(plain.map((p) => p.r.timings.auditMs)),
        requestCpuMs: median(plain.map((p) => p.cpuMs)),
        radRequestMs: radMs,
        radRequestCpuMs: median(rad.map((p) => p.cpuMs)),
        radMicrosecondsPerToken: median(rad.map((p) => p.r.rad?.microsecondsPerToken ?? 0)),
        candidates: 16,
        sampledTokens: tokens,
        radSampledTokens: median(rad.map((p) => p.r.sampledTokens)),
        maxNewTokens: plain[0].r.settings.maxNewTokens,
        model: `${DEFAULT_LM_CONFIG.nLayers} layers, width ${DEFAULT_LM_CONFIG.dModel}, context ${DEFAULT_LM_CONFIG.contextLength}`,
        runs,
      };
    } finally {
      g.close();
      lake.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
