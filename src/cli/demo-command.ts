// `tkllm demo`: the whole pipeline on the bundled sample, from an empty directory to the studio, so that a
// newcomer sees every stage work on one machine with nothing to download and no server to set up first.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { terminalProgress } from '../core/index.js';
import { openGenerator, prepareWorkspace } from '../generate/index.js';
import type { GeneratedCandidate } from '../generate/index.js';
import { bundledSample, lakeStats } from '../lake/index.js';
import { ViralScoreRegistry } from '../viralscore/index.js';
import { formatStats } from './format-lake.js';
import { dataDirOf, positiveInt, withLake } from './options.js';
import { startServe } from './server-commands.js';

const subscoreOrder = ['E', 'H', 'R', 'S', 'T'] as const;

/**
 * The demo's ranking: one line a candidate with its rank, score, length-normalised log-probability, V (after
 * any policy penalty) and the five subscores, then the script on one line cut to 70 characters.
 */
export function formatCandidateTable(
  candidates: readonly Pick<
    GeneratedCandidate,
    'score' | 'logProbNorm' | 'vPenalised' | 'subscores' | 'text'
  >[],
): string {
  const lines = ['rank  score  logP/t      V    E    H    R    S    T  script'];
  candidates.forEach((c, i) => {
    const numbers =
      c.score.toFixed(3).padStart(6) +
      c.logProbNorm.toFixed(2).padStart(8) +
      c.vPenalised.toFixed(2).padStart(7);
    const subs = subscoreOrder.map((k) => c.subscores[k].toFixed(2).padStart(5)).join('');
    lines.push(`${String(i + 1).padStart(4)} ${numbers}${subs}  ${c.text.replace(/\s+/g, ' ').slice(0, 70)}`);
  });
  return lines.join('\n');
}

/** Adds `demo` to the program. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole pipeline on the bundled sample in a fresh <data-dir>/demo: ingest, features, the ViralScore ' +
        'estimator, TKLLM, 16 generated scripts reranked by ViralScore, then the studio (Ctrl-C stops it)',
    )
    .option('--no-serve', 'stop after the generated scripts instead of serving the studio')
    .option('--port <port>', 'studio port', positiveInt('--port'), 8080)
    .option('--host <host>', 'studio address', '127.0.0.1')
    .option('--prompt <text>', 'start of the generated scripts', 'How to')
    .action(
      async (opts: { serve: boolean; port: number; host: string; prompt: string }, command: Command) => {
        const dir = join(dataDirOf(command), 'demo');
        rmSync(dir, { recursive: true, force: true });
        const started = Date.now();
        console.log(`TKLLM demo in ${dir}\n`);
        console.log(
          `1/4 Ingesting the bundled sample ${bundledSample.path}, extracting features, training the`,
        );
        console.log('    ViralScore estimator and TKLLM (a few minutes on 2 cores)...');
        await prepareWorkspace(dir, { progress: terminalProgress() });

        await withLake(dir, async (lake) => {
          console.log('\n2/4 The lake\n');
          console.log(formatStats(await lakeStats(lake, { topHashtags: 5 })));

          const active = new ViralScoreRegistry(dir).list().find((e) => e.active);
          console.log(
            `\n3/4 ViralScore estimator ${active?.version ?? '(none)'} (held-out metrics of its training run)`,
          );
          const validation = active?.metrics.validation as Record<string, number> | undefined;
          if (validation !== undefined)
            console.log(
              `    Spearman ${validation.spearman?.toFixed(3)}, NDCG@10 ${validation.ndcg10?.toFixed(3)}, ` +
                `MSE ${validation.mse?.toFixed(4)} on ${validation.n} validation posts`,
            );

          console.log(
            `\n4/4 16 scripts from TKLLM for "${opts.prompt}", reranked by score = logP/token + V:\n`,
          );
          const opened = await openGenerator(lake, dir);
          try {
            const result = await opened.generator.generate(opts.prompt, { n: 16, seconds: 15, seed: 1 });
            console.log(formatCandidateTable(result.candidates.slice(0, 8)));
            console.log(
              `\n${result.sampled} sampled, ${result.blocked} blocked by policy, ` +
                `${result.timings.totalMs.toFixed(0)} ms for generation and rerank.`,
            );
          } finally {
            opened.close();
          }
        });
        console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(0)} s.`);

        if (!opts.serve) {
          console.log(`Serve the studio with: tkllm --data-dir ${dir} serve`);
          return;
        }
        const served = await startServe({ dataDir: dir, host: opts.host, port: opts.port, logLevel: 'warn' });
        console.log(`\nTKLLM studio: ${served.url}  (Ctrl-C stops it)`);
        const stop = () => void served.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await served.closed;
      },
    );
}
