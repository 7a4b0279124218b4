import { resolve } from 'node:path';
import type { Command } from 'commander';
import { terminalProgress } from '../core/index.js';
import {
  checkDraft,
  evaluateGeneration,
  formatGenerationEval,
  openGenerator,
  prepareWorkspace,
} from '../generate/index.js';
import type { GenerateOptions, GenerationResult, Guidance } from '../generate/index.js';
import { loadPolicyPack, type PolicyPack } from '../safety/index.js';
import { openViralScorer } from '../viralscore/index.js';
import { dataDirOf, dateOption, nonNegative, positive, positiveInt, withLake } from './options.js';

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const repeat = (v: string, all: string[]) => [...all, v];

const parseDate = dateOption('--posted-at', '2025-06-01T18:00:00Z');

const packsOf = (paths: string[]): PolicyPack[] | undefined =>
  paths.length === 0 ? undefined : paths.map((p) => loadPolicyPack(p));

interface GenerateFlags {
  modelDir?: string;
  creator?: string;
  n: number;
  eta: number;
  seconds: number;
  wordsPerSecond: number;
  styleStrength: number;
  keywords: string[];
  keywordBias: number;
  ban: string[];
  region?: string;
  hashtags: string[];
  postedAt?: Date;
  rad: number;
  radTopK: number;
  temperature: number;
  topP: number;
  seed: number;
  pack: string[];
  explain: number;
  json?: boolean;
}

function formatGeneration(r: GenerationResult): string {
  const out = [
    `${r.candidates.length} of ${r.sampled} candidates returned (${r.blocked} blocked by policy, ${r.withoutKeyword} without a keyword, ${r.empty} empty); score = logP_norm + ${r.settings.eta}·V; ${r.settings.seconds} s ≈ ${r.settings.words} words at ${r.settings.wordsPerSecond} words/s`,
  ];
  if (r.candidates.length === 0 && r.withoutKeyword > 0)
    out.push('no candidate held a keyword: raise --keyword-bias, sample more (-n), or loosen --keywords');
  r.candidates.forEach((c, i) => {
    const subs = Object.entries(c.subscores)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(' ');
    const warn = c.policy.hits.length === 0 ? '' : `  policy: ${c.policy.reasons.join('; ')}`;
    out.push(
      `#${i + 1} score ${c.score.toFixed(3)}  V ${c.v.toFixed(3)}${c.vPenalised < c.v ? ` (penalised ${c.vPenalised.toFixed(3)})` : ''}  logP ${c.logProbNorm.toFixed(2)}  ${subs}${warn}`,
      `   ${c.text.replaceAll('\n', '\n   ')}`,
    );
  });
  out.push(
    `sample ${r.timings.sampleMs.toFixed(0)} ms, rerank ${r.timings.rerankMs.toFixed(0)} ms${r.rad === undefined ? '' : `, RAD ${r.rad.microsecondsPerToken.toFixed(1)} µs/token`}${r.auditId === undefined ? '' : `; audit ${r.auditId}`}`,
  );
  return out.join('\n');
}

function formatGuidance(g: Guidance): string {
  const out = [
    `V ${g.v.toFixed(3)}  ${Object.entries(g.subscores)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join('  ')}`,
    `weakest: ${g.weakest.label} (${g.weakest.subscore} ${g.weakest.value.toFixed(2)})`,
  ];
  for (const s of g.suggestions) {
    out.push(`- ${s.message}`);
    for (const e of s.examples) out.push(`    ${e}`);
  }
  if (g.pullingDown.length > 0)
    out.push(`pulling V down: ${g.pullingDown.map((f) => `${f.group}.${f.feature}`).join(', ')}`);
  if (g.policy.warnings.length === 0) out.push('policy: no rule fired');
  else {
    out.push(
      `policy: ${g.policy.blocked ? 'BLOCKED' : 'warnings'} (brand safety ${g.policy.brandSafety.toFixed(2)})`,
    );
    for (const w of g.policy.warnings)
      out.push(`  ${w.ruleId} (${w.kind}, ${w.severity}): "${w.text}" — ${w.why}`);
  }
  return out.join('\n');
}

/** Adds `generate`, `check` and `eval generation` to the program. */
export function addGenerateCommands(program: Command): void {
  program
    .command('generate')
    .description(
      'generate N scripts with TKLLM, score each with the ViralScore estimator, drop those policy blocks, rerank by logP_norm + eta·V',
    )
    .argument('<prompt>', 'text the scripts start with')
    .option('--model-dir <dir>', 'the trained TKLLM (default <data-dir>/models/lm)')
    .option('--creator <name>', "write in this creator's style (author key or name)")
    .option('-n, --n <n>', 'candidates', positiveInt('-n'), 16)
    .option('--eta <eta>', 'weight of V in the rerank score', nonNegative('--eta'), 1)
    .option('--seconds <s>', 'longest script in seconds of speech (15, 30, 60)', positive('--seconds'), 15)
    .option('--words-per-second <r>', 'speaking rate', positive('--words-per-second'), 2.5)
    .option(
      '--style-strength <s>',
      "scale of the creator's style vector (0 generic, 1 as trained)",
      nonNegative('--style-strength'),
      1,
    )
    .option('--keywords <list>', 'comma-separated topic words; returned scripts hold one', list, [])
    .option('--keyword-bias <b>', 'logit bonus of keyword tokens', nonNegative('--keyword-bias'), 4)
    .option('--ban <term>', 'banned word or phrase, masked while decoding (repeatable)', repeat, [])
    .option('--pack <file>', 'policy pack file instead of the shipped ones (repeatable)', repeat, [])
    .option('--region <code>', 'region whose policy rules apply')
    .option('--hashtags <list>', 'hashtags the post will carry', list, [])
    .option('--posted-at <date>', 'when it will be posted (default now)', parseDate)
    .option('--rad <eta>', 'reward-augmented decoding strength (0: off)', nonNegative('--rad'), 0)
    .option('--rad-top-k <k>', 'next tokens RAD re-weights', positiveInt('--rad-top-k'), 8)
    .option('--temperature <t>', 'softmax temperature', nonNegative('--temperature'), 0.9)
    .option('--top-p <p>', 'nucleus probability', positive('--top-p'), 0.95)
    .option('--seed <n>', 'sampling seed', nonNegative('--seed'), 0)
    .option(
      '--explain <k>',
      'list the k features that moved V most per candidate',
      nonNegative('--explain'),
      0,
    )
    .option('--json', 'print one JSON object')
    .action(async (prompt: string, flags: GenerateFlags, command: Command) => {
      const dir = dataDirOf(command);
      const result = await withLake(dir, async (lake) => {
        const packs = packsOf(flags.pack);
        const g = await openGenerator(lake, dir, {
          rad: flags.rad > 0,
          topFeatures: flags.explain,
          ...(flags.modelDir === undefined ? {} : { modelDir: resolve(flags.modelDir) }),
          ...(packs === undefined ? {} : { packs }),
        });
        try {
          const options: GenerateOptions = {
            n: flags.n,
            eta: flags.eta,
            seconds: flags.seconds,
            wordsPerSecond: flags.wordsPerSecond,
            styleStrength: flags.styleStrength,
            keywords: flags.keywords,
            keywordBias: flags.keywordBias,
            bannedWords: flags.ban,
            radEta: flags.rad,
            radTopK: flags.radTopK,
            temperature: flags.temperature,
            topP: flags.topP,
            seed: flags.seed,
          };
          if (flags.creator !== undefined) options.creator = flags.creator;
          if (flags.region !== undefined) options.region = flags.region;
          if (flags.hashtags.length > 0) options.hashtags = flags.hashtags;
          if (flags.postedAt !== undefined) options.postedAt = flags.postedAt;
          return await g.generator.generate(prompt, options);
        } finally {
          g.close();
        }
      });
      console.log(flags.json === true ? JSON.stringify(result) : formatGeneration(result));
    });

  program
    .command('check')
    .description(
      'guidance before publishing: V and subscores, the weakest one with suggestions from the lake, policy warnings',
    )
    .argument('<draft>', 'the script or caption to check')
    .option('--creator <name>', 'the creator (author key or name) whose best posts and hours to use')
    .option('--hashtags <list>', 'hashtags the post will carry', list, [])
    .option('--sound <name>', 'sound or music title')
    .option('--posted-at <date>', 'when it will be posted (default now)', parseDate)
    .option('--region <code>', 'region whose policy rules apply')
    .option('--pack <file>', 'policy pack file instead of the shipped ones (repeatable)', repeat, [])
    .option('--json', 'print one JSON object')
    .action(
      async (
        draft: string,
        flags: {
          creator?: string;
          hashtags: string[];
          sound?: string;
          postedAt?: Date;
          region?: string;
          pack: string[];
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        const guidance = await withLake(dir, async (lake) => {
          const scorer = await openViralScorer(lake, dir, { topFeatures: 5 });
          try {
            const packs = packsOf(flags.pack);
            return await checkDraft(lake, scorer, draft, {
              ...(flags.creator === undefined ? {} : { creator: flags.creator }),
              ...(flags.hashtags.length === 0 ? {} : { hashtags: flags.hashtags }),
              ...(flags.sound === undefined ? {} : { sound: flags.sound }),
              ...(flags.postedAt === undefined ? {} : { postedAt: flags.postedAt }),
              ...(flags.region === undefined ? {} : { region: flags.region }),
              ...(packs === undefined ? {} : { packs }),
            });
          } finally {
            scorer.close();
          }
        });
        console.log(flags.json === true ? JSON.stringify(guidance) : formatGuidance(guidance));
      },
    );

  const evalCommand =
    program.commands.find((c) => c.name() === 'eval') ?? program.command('eval').description('evaluations');
  evalCommand
    .command('generation')
    .description(
      'held-out prompts generated with and without reranking and reward-augmented decoding: mean and top-1 V, perplexity, distinct-n, BLEU, ROUGE-L, share blocked',
    )
    .option(
      '--prepare [file]',
      'first build what is missing in <data-dir>: ingest FILE (default: the bundled sample), extract features, train the estimator and TKLLM',
    )
    .option('--lm-steps <n>', 'TKLLM training steps when --prepare trains it', positiveInt('--lm-steps'))
    .option('--prompts <n>', 'held-out prompts', positiveInt('--prompts'), 20)
    .option('-n, --n <n>', 'candidates per prompt', positiveInt('-n'), 16)
    .option('--keep <k>', 'scripts returned per prompt', positiveInt('--keep'), 4)
    .option('--eta <eta>', 'weight of V in the rerank score', nonNegative('--eta'), 1)
    .option('--rad <eta>', 'reward-augmented decoding strength', nonNegative('--rad'), 2)
    .option('--seconds <s>', 'longest script in seconds of speech', positive('--seconds'), 15)
    .option('--seed <n>', 'sampling seed', nonNegative('--seed'), 0)
    .option('--json', 'print one JSON object')
    .action(
      async (
        flags: {
          prepare?: string | true;
          lmSteps?: number;
          prompts: number;
          n: number;
          keep: number;
          eta: number;
          rad: number;
          seconds: number;
          seed: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        if (flags.prepare !== undefined)
          await prepareWorkspace(dir, {
            ...(typeof flags.prepare === 'string' ? { files: [resolve(flags.prepare)] } : {}),
            ...(flags.lmSteps === undefined ? {} : { lm: { steps: flags.lmSteps } }),
            progress: terminalProgress(),
          });
        const report = await withLake(dir, async (lake) => {
          const g = await openGenerator(lake, dir, { rad: true });
          try {
            return await evaluateGeneration(lake, g.generator, {
              prompts: flags.prompts,
              n: flags.n,
              keep: flags.keep,
              eta: flags.eta,
              radEta: flags.rad,
              seconds: flags.seconds,
              seed: flags.seed,
              progress: terminalProgress(),
            });
          } finally {
            g.close();
          }
        });
        console.log(flags.json === true ? JSON.stringify(report) : formatGenerationEval(report));
      },
    );
}
