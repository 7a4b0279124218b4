import { readFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { terminalProgress, ValidationError } from '../core/index.js';
import { saveStyleEmbeddings, similarCreators } from '../generate/index.js';
import { ingestBundledSample, Lake } from '../lake/index.js';
import { lmVersions, loadTrainedLm, sampleScripts, snapshotLm, trainCaptionLm } from '../lm/index.js';
import type { CaptionLmResult, CaptionRecord, SampleOptions } from '../lm/index.js';
import { dataDirOf, nonNegative, numberOption, positiveInt, share } from './options.js';

const defaultModelDir = (command: Command) => join(dataDirOf(command), 'models', 'lm');

const dropoutRate = (name: string) => numberOption(name, (n) => n >= 0 && n < 1, 'a number in [0, 1)');

/**
 * The captions of the lake as plain data for the LM: one per distinct text (the earliest post), with
 * its author and posting time (the observation time where the posting time is unknown).
 */
export async function readCaptions(
  lake: Lake,
  scores?: Map<string, number>,
  lambda = 1,
): Promise<CaptionRecord[]> {
  const rows = await lake.all(`
    SELECT post_key, text, author_key,
           epoch_ms(coalesce(posted_at, observed_at))::DOUBLE AS time
    FROM posts
    WHERE text IS NOT NULL AND length(trim(text)) > 0
    QUALIFY row_number() OVER (PARTITION BY text ORDER BY coalesce(posted_at, observed_at), post_key) = 1
    ORDER BY time, post_key`);
  return rows.map((r) => {
    const record: CaptionRecord = {
      text: r.text as string,
      creator: (r.author_key as string | null) ?? null,
      time: Number(r.time),
    };
    const v = scores?.get(r.post_key as string);
    if (v !== undefined) {
      record.viralScore = v;
      record.weight = 1 + lambda * v;
    }
    return record;
  });
}

/** Reads `{ "post_key": V, ... }` ViralScores from a JSON file. */
function readScores(path: string): Map<string, number> {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const scores = new Map<string, number>();
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1))
      throw new ValidationError(
        `${path}: the score of "${key}" must be a number in [0, 1], got ${JSON.stringify(value)}`,
      );
    scores.set(key, value);
  }
  return scores;
}

interface TrainFlags {
  modelDir?: string;
  /** Absent: the corpus-size rule (`corpusDefaults`). */
  vocabSize?: number;
  /** dModel, layers, heads, dropout, steps, batchSize, lr, weightDecay absent: the corpus rule. */
  dModel?: number;
  layers?: number;
  heads?: number;
  context?: number;
  dropout?: number;
  directOrder?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  heldOut: number;
  mu: number;
  lambda: number;
  scores?: string;
  minPosts: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  fresh?: boolean;
  json?: boolean;
}

interface TrainDefaults {
  dModel: number;
  nLayers: number;
  dropout: number;
  directOrder: number;
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
}

// `lm train` leaves the architecture and the budget to the corpus rule of src/lm/pipeline.ts
// (`corpusDefaults`, `trainingDefaults`). `lm demo` keeps its own budget for the two-minute demo: the
// bundled sample has about 400 distinct titles (18,000 byte tokens); a small model with dropout keeps
// from memorising them; 800 steps (35 epochs, 630k tokens) fit the demo's two minutes on a quiet machine.
// Without direct connections, whose 2.2M-entry table would double its time per step.
const DEMO_DEFAULTS: TrainDefaults = {
  dModel: 64,
  nLayers: 2,
  dropout: 0.2,
  directOrder: 0,
  steps: 800,
  batchSize: 16,
  lr: 5e-3,
  weightDecay: 0.05,
};

function formatTraining(result: CaptionLmResult, modelDir: string): string {
  const t = result.training;
  const c = result.config;
  return [
    `model: ${c.nLayers} layers, width ${c.dModel}, ${c.nHeads} heads, context ${c.contextLength}, vocabulary ${c.vocabSize}, ${c.styleCount - 1} creator styles${c.directOrder > 0 ? `, direct connections of order ${c.directOrder} (${c.directBuckets} buckets)` : ''}`,
    `budget: ${result.plan.steps} steps × ${result.plan.batchSize} (${result.plan.epochs.toFixed(1)} epochs), lr ${result.plan.lr}, dropout ${result.plan.dropout}, weight decay ${result.plan.weightDecay}`,
    `data: ${result.trainCaptions} training captions (${result.trainTokens} tokens), ${result.heldOutCaptions} held out by time (${result.heldOutTokens} tokens)`,
    `steps: ${t.step}${t.resumedFrom > 0 ? ` (resumed from ${t.resumedFrom})` : ''} in ${t.seconds.toFixed(1)} s, ${Math.round(t.tokensPerSecond)} tokens/s, last loss ${t.history.at(-1)?.loss.toFixed(3) ?? '-'}`,
    `held-out perplexity: TKLLM ${result.perplexity.toFixed(2)}  |  Kneser-Ney trigram ${result.baselinePerplexity.toFixed(2)}`,
    `saved to ${modelDir}`,
  ].join('\n');
}

async function trainFromLake(dir: string, modelDir: string, flags: TrainFlags): Promise<CaptionLmResult> {
  const lake = await Lake.open(dir);
  try {
    const scores = flags.scores === undefined ? undefined : readScores(flags.scores);
    const records = await readCaptions(lake, scores, flags.lambda);
    if (flags.fresh === true) rmSync(join(modelDir, 'checkpoints'), { recursive: true, force: true });
    const defined = <T extends object>(o: T) =>
      Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
    const result = trainCaptionLm(records, {
      modelDir,
      config: defined({
        vocabSize: flags.vocabSize,
        dModel: flags.dModel,
        nLayers: flags.layers,
        nHeads: flags.heads,
        contextLength: flags.context,
        dropout: flags.dropout,
        directOrder: flags.directOrder,
      }),
      ...defined({
        steps: flags.steps,
        batchSize: flags.batchSize,
        lr: flags.lr,
        weightDecay: flags.weightDecay,
      }),
      heldOutShare: flags.heldOut,
      mu: flags.mu,
      minPostsForStyle: flags.minPosts,
      seed: flags.seed,
      evalEvery: flags.evalEvery,
      checkpointEvery: flags.checkpointEvery,
      progress: terminalProgress(),
    });
    await saveStyleEmbeddings(lake, basename(modelDir), result.styles);
    // Once updates have begun versions, the retrained model is one too, so that `lm rollback` can go back
    // to what was served before it (its own tokenizer included).
    if (lmVersions(modelDir).versions.length > 0)
      snapshotLm(modelDir, 'train', {
        perplexity: result.perplexity,
        baselinePerplexity: result.baselinePerplexity,
      });
    return result;
  } finally {
    lake.close();
  }
}

function addTrainOptions(command: Command, defaults?: TrainDefaults): Command {
  const rule = ' (default: the corpus rule, docs/lm.md)';
  const fallback = (value: number | undefined, what: string) =>
    defaults === undefined ? [what + rule] : [what, value];
  return command
    .option('--model-dir <dir>', 'where the model goes (default <data-dir>/models/lm)')
    .option(
      '--vocab-size <n>',
      'BPE vocabulary size (default: 259, bytes alone, under 2 MB of training text, else 1024)',
      positiveInt('--vocab-size'),
    )
    .option('--d-model <n>', ...withParser(fallback(defaults?.dModel, 'width'), positiveInt('--d-model')))
    .option(
      '--layers <n>',
      ...withParser(fallback(defaults?.nLayers, 'transformer blocks'), positiveInt('--layers')),
    )
    .option('--heads <n>', ...withParser(fallback(undefined, 'attention heads'), positiveInt('--heads')))
    .option(
      '--context <n>',
      'context length in tokens (default: 128 with the byte vocabulary, else 64)',
      positiveInt('--context'),
    )
    .option(
      '--dropout <p>',
      ...withParser(fallback(defaults?.dropout, 'dropout in training'), dropoutRate('--dropout')),
    )
    .option(
      '--direct-order <n>',
      ...withParser(
        fallback(defaults?.directOrder, 'n-gram order of the direct connections, 0 for none'),
        nonNegative('--direct-order'),
      ),
    )
    .option(
      '--steps <n>',
      ...withParser(fallback(defaults?.steps, 'optimiser steps'), positiveInt('--steps')),
    )
    .option(
      '--batch-size <n>',
      ...withParser(fallback(defaults?.batchSize, 'captions per step'), positiveInt('--batch-size')),
    )
    .option('--lr <rate>', ...withParser(fallback(defaults?.lr, 'peak learning rate'), nonNegative('--lr')))
    .option(
      '--weight-decay <d>',
      ...withParser(fallback(defaults?.weightDecay, 'AdamW weight decay'), nonNegative('--weight-decay')),
    )
    .option('--held-out <share>', 'latest share of captions held out', share('--held-out'), 0.1)
    .option('--mu <mu>', 'weight of the virality MSE (Entry B; needs --scores)', nonNegative('--mu'), 0)
    .option('--lambda <lambda>', 'w = 1 + lambda * V (Entry A; needs --scores)', nonNegative('--lambda'), 1)
    .option('--scores <file>', 'JSON object of ViralScores by post_key')
    .option(
      '--min-posts <n>',
      'training captions a creator needs for a style row',
      positiveInt('--min-posts'),
      3,
    )
    .option('--seed <n>', 'seed of weights and batch order', nonNegative('--seed'), 0)
    .option(
      '--eval-every <n>',
      'steps between held-out evaluations (0: at the end)',
      nonNegative('--eval-every'),
      0,
    )
    .option('--checkpoint-every <n>', 'steps between checkpoints', positiveInt('--checkpoint-every'), 100)
    .option('--fresh', 'ignore existing checkpoints and start over')
    .option('--json', 'print one JSON object');
}

/** Commander's (description, parser, default?) from (description, default?) and a parser. */
function withParser<T>(
  [description, value]: (string | number | undefined)[],
  parser: (raw: string) => T,
): [string, (raw: string) => T, T] {
  return [String(description), parser, value as T];
}

function printTraining(result: CaptionLmResult, modelDir: string, json: boolean | undefined): void {
  if (json === true) {
    const { training, styles, ...summary } = result;
    console.log(
      JSON.stringify({
        ...summary,
        steps: training.step,
        resumedFrom: training.resumedFrom,
        seconds: training.seconds,
        tokensPerSecond: training.tokensPerSecond,
        evaluations: training.evaluations,
        creatorStyles: styles.length,
      }),
    );
  } else console.log(formatTraining(result, modelDir));
}

interface GenerateFlags {
  modelDir?: string;
  prompt: string;
  creator?: string;
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxTokens?: number;
  stop: string[];
  seed: number;
  json?: boolean;
}

function generate(modelDir: string, flags: GenerateFlags): void {
  const { model, tokenizer, creators } = loadTrainedLm(modelDir);
  let style = 0;
  if (flags.creator !== undefined) {
    style = creators.indexOf(flags.creator);
    if (style <= 0)
      throw new ValidationError(
        `creator "${flags.creator}" has no style row in ${modelDir} (${creators.length - 1} creators have one)`,
      );
  }
  const options: SampleOptions = {
    prompt: flags.prompt,
    style,
    candidates: flags.n,
    temperature: flags.temperature,
    topK: flags.topK,
    topP: flags.topP,
    repetitionPenalty: flags.repetitionPenalty,
    stop: flags.stop,
    seed: flags.seed,
  };
  if (flags.maxTokens !== undefined) options.maxNewTokens = flags.maxTokens;
  const result = sampleScripts(model, tokenizer, options);
  if (flags.json === true) {
    console.log(JSON.stringify(result));
    return;
  }
  result.candidates.forEach((c, i) => {
    const mean = c.logProbs.length === 0 ? 0 : c.logProbs.reduce((a, b) => a + b, 0) / c.logProbs.length;
    console.log(`#${i + 1} (${c.tokens.length} tokens, mean log-prob ${mean.toFixed(2)}, ${c.finishReason})`);
    console.log(`${flags.prompt}${c.text}\n`);
  });
}

/** Adds `lm train`, `lm generate`, `lm demo` and `style similar` to the program. */
export function addLmCommands(program: Command): void {
  const lm = program.command('lm').description('TKLLM, the creator-style language model');

  addTrainOptions(
    lm
      .command('train')
      .description(
        "train TKLLM on the lake's captions (split by time), print held-out perplexity beside a Kneser-Ney trigram; resumes from the latest checkpoint",
      ),
  ).action(async (flags: TrainFlags, command: Command) => {
    const modelDir = resolve(flags.modelDir ?? defaultModelDir(command));
    const result = await trainFromLake(dataDirOf(command), modelDir, flags);
    printTraining(result, modelDir, flags.json);
  });

  lm.command('generate')
    .description(
      'sample scripts from a trained TKLLM, N candidates in one batch with their log-probabilities',
    )
    .option('--model-dir <dir>', 'the trained model (default <data-dir>/models/lm)')
    .option('--prompt <text>', 'text the scripts start with', '')
    .option('--creator <key>', "write in this creator's style (an author key, e.g. tiktok:creator_…)")
    .option('-n, --n <n>', 'candidates', positiveInt('-n'), 4)
    .option('--temperature <t>', 'softmax temperature (0: greedy)', nonNegative('--temperature'), 0.9)
    .option('--top-k <k>', 'keep the k most likely tokens (0: all)', nonNegative('--top-k'), 0)
    .option('--top-p <p>', 'nucleus probability', nonNegative('--top-p'), 0.95)
    .option(
      '--repetition-penalty <r>',
      'penalty on repeated tokens',
      nonNegative('--repetition-penalty'),
      1.1,
    )
    .option('--max-tokens <n>', 'new tokens at most', positiveInt('--max-tokens'))
    .option('--stop <text>', 'stop sequence (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--seed <n>', 'sampling seed', nonNegative('--seed'), 0)
    .option('--json', 'print the result as JSON')
    .action((flags: GenerateFlags, command: Command) => {
      generate(resolve(flags.modelDir ?? defaultModelDir(command)), flags);
    });

  addTrainOptions(
    lm
      .command('demo')
      .description(
        'ingest the bundled sample into a fresh lake at <data-dir>/lm-demo, train a small model on its titles and sample from it',
      ),
    DEMO_DEFAULTS,
  ).action(async (flags: TrainFlags, command: Command) => {
    const dir = join(dataDirOf(command), 'lm-demo');
    rmSync(dir, { recursive: true, force: true });
    const lake = await Lake.open(dir);
    try {
      await ingestBundledSample(lake);
    } finally {
      lake.close();
    }
    const modelDir = resolve(flags.modelDir ?? join(dir, 'models', 'lm'));
    const result = await trainFromLake(dir, modelDir, flags);
    printTraining(result, modelDir, flags.json);
    if (flags.json !== true) {
      console.log('\nsamples:');
      generate(modelDir, {
        prompt: '',
        n: 3,
        temperature: 0.9,
        topK: 0,
        topP: 0.95,
        repetitionPenalty: 1.1,
        stop: [],
        seed: 0,
      });
    }
  });

  program
    .command('style')
    .description('the Style Embedding DB: creators compared by their learned style vectors')
    .command('similar')
    .description('the creators whose style vectors are nearest to CREATOR')
    .argument('<creator>', 'author key, e.g. tiktok:creator_af4db8412e')
    .option('--model <name>', 'which model’s vectors (the model directory name)', 'lm')
    .option('--top <n>', 'how many', positiveInt('--top'), 5)
    .option('--json', 'print JSON')
    .action(
      async (creator: string, flags: { model: string; top: number; json?: boolean }, command: Command) => {
        const lake = await Lake.open(dataDirOf(command));
        try {
          const near = await similarCreators(lake, creator, { model: flags.model, top: flags.top });
          if (flags.json === true) console.log(JSON.stringify(near));
          else
            for (const s of near) console.log(`${s.similarity.toFixed(3)}  ${s.creator}  (${s.posts} posts)`);
        } finally {
          lake.close();
        }
      },
    );
}
