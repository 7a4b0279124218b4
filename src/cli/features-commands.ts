import type { Command } from 'commander';
import { terminalProgress, ValidationError } from '../core/index.js';
import {
  explainPostFeatures,
  extractFeatures,
  OnnxTextEncoder,
  type ExtractOptions,
  type ExtractReport,
  type PostFeatureExplanation,
} from '../features/index.js';
import { Lake } from '../lake/index.js';

const dataDir = (command: Command) => String(command.optsWithGlobals<{ dataDir: string }>().dataDir);

interface FeaturesOptions {
  explain?: string;
  force?: boolean;
  refitEncoder?: boolean;
  onnxEncoder?: string;
  onnxVocab?: string;
  ffmpeg?: string;
  json?: boolean;
}

/** Adds `features` (extract every post's feature groups, or `--explain POST_ID`) to the program. */
export function addFeatureCommands(program: Command): void {
  program
    .command('features')
    .description(
      "compute every post's feature groups (text, hook, emotion, embedding, trend, replicability, creator, behaviour, audio, video) into the lake; only changed posts are recomputed",
    )
    .option(
      '--explain <postId>',
      'print the stored groups of one post (post key such as youtube:ID, or the id)',
    )
    .option('--force', 'recompute every post')
    .option('--refit-encoder', "fit the lake's PPMI + SVD text encoder again (recomputes every embedding)")
    .option('--onnx-encoder <file>', 'use an ONNX sentence encoder for the embedding group instead')
    .option('--onnx-vocab <file>', 'its vocabulary, one token per line (word-level tokenizer)')
    .option('--ffmpeg <path>', 'ffmpeg executable for the media groups (default: ffmpeg on the PATH)')
    .option('--json', 'print one JSON object')
    .action(async (opts: FeaturesOptions, command: Command) => {
      const lake = await Lake.open(dataDir(command));
      try {
        if (opts.explain !== undefined) {
          const e = await explainPostFeatures(lake, opts.explain);
          console.log(opts.json ? JSON.stringify(e, null, 2) : formatExplanation(e));
          return;
        }
        const options: ExtractOptions = { progress: terminalProgress() };
        if (opts.force) options.force = true;
        if (opts.refitEncoder) options.refitEncoder = true;
        if (opts.ffmpeg !== undefined) options.media = { ffmpegPath: opts.ffmpeg };
        if (opts.onnxVocab !== undefined && opts.onnxEncoder === undefined)
          throw new ValidationError('`--onnx-vocab` needs `--onnx-encoder <file>`');
        if (opts.onnxEncoder !== undefined)
          options.encoder = await OnnxTextEncoder.load({
            modelPath: opts.onnxEncoder,
            ...(opts.onnxVocab === undefined ? {} : { vocabPath: opts.onnxVocab }),
          });
        const report = await extractFeatures(lake, options);
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
      } finally {
        lake.close();
      }
    });
}

/** The extraction summary for a person. */
export function formatReport(r: ExtractReport): string {
  const lines = [
    `features (extractor v${r.extractorVersion}, text encoder ${r.encoderId}): ${r.posts} posts, ` +
      `${r.computed} computed, ${r.unchanged} unchanged, ${r.seconds.toFixed(2)} s`,
  ];
  if (r.computed > 0)
    lines.push(
      '  groups present: ' +
        Object.entries(r.present)
          .map(([g, n]) => `${g} ${n}`)
          .join(', '),
    );
  for (const e of r.mediaErrors.slice(0, 10))
    lines.push(`  media not analysed for ${e.postKey}: ${e.reason}`);
  if (r.mediaErrors.length > 10) lines.push(`  ... and ${r.mediaErrors.length - 10} more media errors`);
  return lines.join('\n');
}

const fmt = (v: number) =>
  Number.isInteger(v)
    ? String(v)
    : Math.abs(v) >= 100
      ? v.toFixed(1)
      : v.toPrecision(3).replace(/\.?0+$/, '');

/** One post's groups, a block per group, names and values in aligned columns. */
export function formatExplanation(e: PostFeatureExplanation): string {
  const lines = [
    `post ${e.postKey}   history cut at ${e.refTime}   extractor v${e.extractorVersion}`,
    `script: ${e.script.length > 200 ? `${e.script.slice(0, 200)}…` : e.script}`,
    `hook:   ${e.hook}`,
  ];
  for (const g of e.groups) {
    if (!g.present) {
      lines.push('', `${g.name}: absent`);
      continue;
    }
    lines.push('', `${g.name}:`);
    const entries = Object.entries(g.values);
    if (g.name === 'embedding') {
      lines.push(
        `  ${entries.length} dimensions: ${entries
          .slice(0, 8)
          .map(([, v]) => fmt(v))
          .join(' ')} …`,
      );
      continue;
    }
    const width = Math.max(...entries.map(([k]) => k.length));
    for (let i = 0; i < entries.length; i += 3)
      lines.push(
        '  ' +
          entries
            .slice(i, i + 3)
            .map(([k, v]) => `${k.padEnd(width)} ${fmt(v).padStart(9)}`)
            .join('   '),
      );
  }
  return lines.join('\n');
}
