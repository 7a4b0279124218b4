import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { IoError, terminalProgress, ValidationError } from '../core/index.js';
import { extractFeatures, type Draft } from '../features/index.js';
import {
  evaluateViralScore,
  openViralScorer,
  trainViralScore,
  ViralScoreRegistry,
  type EvaluationReport,
  type SplitKind,
  type ViralScoreResult,
} from '../viralscore/index.js';
import { dataDirOf, dateOption, positiveInt, withLake } from './options.js';

const atOption = dateOption('--at', '2025-06-01T18:00:00Z');

const fixed = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** The evaluation as a table: models side by side, then the ablation. */
export function formatEvaluation(report: EvaluationReport): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `split by ${report.split}: train ${report.rows.train}, validation ${report.rows.validation}, test ${report.rows.test}`,
    `groups: ${report.groups.join(', ')}`,
    '',
    `${pad('model', 34)}spearman      mse  ndcg@10  calib.err  calib.slope`,
  ];
  for (const m of report.models)
    lines.push(
      `${pad(m.model, 34)}${fixed(m.spearman).padStart(8)} ${fixed(m.mse).padStart(8)} ${fixed(m.ndcg10, 3).padStart(8)} ${fixed(m.calibrationError).padStart(10)} ${fixed(m.calibrationSlope, 2).padStart(12)}`,
    );
  if (report.ablation.length > 0) {
    lines.push('', `${pad('ablation (viralscore without)', 34)}spearman  change`);
    for (const a of report.ablation)
      lines.push(
        `${pad(a.dropped, 34)}${fixed(a.spearman).padStart(8)} ${(a.spearmanDrop > 0 ? '-' : '+') + fixed(Math.abs(a.spearmanDrop))}`,
      );
  }
  const w = report.estimator.mixWeights.map((x) => x.toFixed(2)).join(', ');
  lines.push(
    '',
    `viralscore: ${report.estimator.members} networks, kept epochs ${report.estimator.bestEpochs.join(', ')}; ridge member's share ${report.estimator.ridgeShare} (validation Spearman by share: ${report.estimator.ridgeShareSpearman.map((t) => `${t.share} ${fixed(t.spearman)}`).join(', ') || 'not tried'}); tree member's share ${report.estimator.treeShare} (${report.estimator.treeRounds} boosting rounds; validation Spearman by share: ${report.estimator.treeShareSpearman.map((t) => `${t.share} ${fixed(t.spearman)}`).join(', ') || 'not tried'}; held-out Spearman without it ${fixed(report.estimator.withoutTreesSpearman)})${report.estimator.refitted ? '; then refitted, with every baseline, on the training and validation rows' : ''}; mean weights of E, H, R, S, T in V: ${w}`,
  );
  return lines.join('\n');
}

/** One draft's score as a few readable lines. */
export function formatScore(r: ViralScoreResult): string {
  const subs = Object.entries(r.subscores)
    .map(
      ([k, v]) => `${k} ${v.toFixed(2)} (+${r.contributions[k as keyof typeof r.contributions].toFixed(2)})`,
    )
    .join('  ');
  const top = r.topFeatures
    .map(
      (f) =>
        `${f.group}.${f.feature}=${Number(f.value.toPrecision(4))} (${f.effect >= 0 ? '+' : ''}${f.effect.toFixed(3)})`,
    )
    .join(', ');
  return `${r.id}: V ${r.v.toFixed(3)}\n  subscores (contribution to V's logit): ${subs}\n  top features: ${top || 'none'}`;
}

function readDrafts(file: string): Draft[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new IoError(`could not read ${file}: ${(cause as Error).message}`, { cause });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!file.endsWith('.jsonl')) return lines.map((line, i) => ({ id: String(i + 1), text: line }));
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ValidationError(`${file} line ${i + 1}: not JSON`);
    }
    const d = value as Record<string, unknown>;
    if (typeof d.text !== 'string')
      throw new ValidationError(`${file} line ${i + 1}: \`text\` must be a string`);
    const draft: Draft = { id: typeof d.id === 'string' ? d.id : String(i + 1), text: d.text };
    if (typeof d.creator === 'string') draft.creator = d.creator;
    if (Array.isArray(d.hashtags)) draft.hashtags = d.hashtags.map(String);
    if (typeof d.sound === 'string') draft.sound = d.sound;
    if (typeof d.postedAt === 'string') draft.postedAt = atOption(d.postedAt);
    if (typeof d.mediaPath === 'string') draft.mediaPath = d.mediaPath;
    return draft;
  });
}

/** Adds `viralscore train|eval|list|activate` and `score` to the program. */
export function addViralScoreCommands(program: Command): void {
  const vs = program
    .command('viralscore')
    .description('the ViralScore estimator: train, evaluate, list versions');
  const treeMemberOption = () =>
    new Option(
      '--no-tree-member',
      'leave the boosted-trees member out of the estimator (the networks and the ridge member alone)',
    );
  const splitOption = () =>
    new Option('--split <kind>', 'held-out rows: the newest posts, or whole creators')
      .choices(['time', 'creator'])
      .default('time');

  vs.command('train')
    .description(
      'extract features if needed, train the estimator on the lake and save it as the next version',
    )
    .addOption(splitOption())
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 42)
    .option('--epochs <n>', 'most epochs', positiveInt('--epochs'))
    .option('--members <n>', 'networks trained for the estimator (default 8)', positiveInt('--members'))
    .addOption(treeMemberOption())
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: {
          split: SplitKind;
          seed: number;
          epochs?: number;
          members?: number;
          treeMember: boolean;
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        const result = await withLake(dir, async (lake) => {
          await extractFeatures(lake, { progress: terminalProgress() });
          return trainViralScore(lake, dir, {
            split: opts.split,
            seed: opts.seed,
            progress: terminalProgress(),
            ...(opts.epochs === undefined ? {} : { epochs: opts.epochs }),
            ...(opts.members === undefined ? {} : { members: opts.members }),
            ...(opts.treeMember ? {} : { treeShares: [0] }),
          });
        });
        const summary = {
          version: result.version,
          dir: result.dir,
          bestEpochs: result.bestEpochs,
          validation: result.validation,
        };
        console.log(
          opts.json
            ? JSON.stringify(summary, null, 2)
            : `saved ${result.version} in ${result.dir} (kept epochs ${result.bestEpochs.join(', ')}); validation Spearman ${fixed(result.validation.spearman)}, MSE ${fixed(result.validation.mse)}`,
        );
      },
    );

  vs.command('eval')
    .description(
      'train the estimator and the baselines on the training split and compare them on the held-out split',
    )
    .addOption(splitOption())
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 42)
    .option('--no-ablation', 'skip retraining without each feature group')
    .addOption(treeMemberOption())
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: { split: SplitKind; seed: number; ablation: boolean; treeMember: boolean; json?: boolean },
        command: Command,
      ) => {
        const report = await withLake(dataDirOf(command), async (lake) => {
          await extractFeatures(lake, { progress: terminalProgress() });
          return evaluateViralScore(lake, {
            split: opts.split,
            seed: opts.seed,
            ablation: opts.ablation,
            ...(opts.treeMember ? {} : { treeShares: [0] }),
            progress: terminalProgress(),
          });
        });
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatEvaluation(report));
      },
    );

  vs.command('list')
    .description('list the saved versions')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, command: Command) => {
      const entries = new ViralScoreRegistry(dataDirOf(command)).list();
      if (opts.json) console.log(JSON.stringify(entries, null, 2));
      else if (entries.length === 0) console.log('no viralscore models yet: run tkllm viralscore train');
      else
        for (const e of entries) {
          const v = e.metrics.validation as { spearman?: number } | undefined;
          console.log(
            `${e.active ? '*' : ' '} ${e.version}  ${e.createdAt ?? ''}  validation Spearman ${fixed(v?.spearman ?? Number.NaN)}`,
          );
        }
    });

  vs.command('activate')
    .description('make a saved version the one scoring uses')
    .argument('<version>', 'e.g. v2')
    .action((version: string, _opts: unknown, command: Command) => {
      new ViralScoreRegistry(dataDirOf(command)).activate(version);
      console.log(`active viralscore model: ${version}`);
    });

  program
    .command('score')
    .description('score a draft (or a file of drafts: one text per line, or .jsonl of draft objects)')
    .argument('[draft]', 'the draft text')
    .option('--creator <name>', 'creator name as the lake knows it')
    .option('--hashtags <tags>', 'comma-separated hashtags')
    .option('--sound <sound>', 'sound id or title')
    .option('--at <time>', 'posting time (default now)', atOption)
    .option('--media <file>', 'a video or audio file')
    .option('--file <file>', 'score every draft of a file')
    .option('--version <v>', 'model version (default the active one)')
    .option('--int8', 'use the int8 graph')
    .option('--top <n>', 'top features to list', positiveInt('--top'), 5)
    .option('--json', 'print JSON')
    .action(
      async (
        text: string | undefined,
        opts: {
          creator?: string;
          hashtags?: string;
          sound?: string;
          at?: Date;
          media?: string;
          file?: string;
          version?: string;
          int8?: boolean;
          top: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        if ((text === undefined) === (opts.file === undefined))
          throw new ValidationError('give either a draft text or `--file`, not both or neither');
        let drafts: Draft[];
        if (opts.file !== undefined) drafts = readDrafts(opts.file);
        else {
          const draft: Draft = { id: 'draft', text: text as string };
          if (opts.creator !== undefined) draft.creator = opts.creator;
          if (opts.hashtags !== undefined)
            draft.hashtags = opts.hashtags
              .split(',')
              .map((t) => t.trim().replace(/^#/, ''))
              .filter(Boolean);
          if (opts.sound !== undefined) draft.sound = opts.sound;
          if (opts.at !== undefined) draft.postedAt = opts.at;
          if (opts.media !== undefined) draft.mediaPath = opts.media;
          drafts = [draft];
        }
        const dir = dataDirOf(command);
        const results = await withLake(dir, async (lake) => {
          const scorer = await openViralScorer(lake, dir, {
            variant: opts.int8 === true ? 'int8' : 'float',
            topFeatures: opts.top,
            ...(opts.version === undefined ? {} : { version: opts.version }),
          });
          try {
            return await scorer.score(drafts);
          } finally {
            scorer.close();
          }
        });
        console.log(
          opts.json
            ? JSON.stringify(results.length === 1 && opts.file === undefined ? results[0] : results, null, 2)
            : results.map(formatScore).join('\n'),
        );
      },
    );
}
