// `npm run bench -- lm-weighting [--json] [--data FILE] [--year Y] [--steps N] [--lambda L] [--seed S]
//   [--scripts N] [--prompts N] [--model small|default] [--estimator-epochs N] [--estimator-members N]`:
// does Entry A (w_i = 1 + λ·V_i) move TKLLM toward high-V text? Builds a lake in a temporary data
// directory (default: the bundled sample, dated 2017), extracts features, trains the ViralScore estimator,
// scores every post, then trains two LMs that differ only in the weights (same records, split, tokenizer,
// seed, configuration and step budget), samples the same prompts with the same seeds from each, scores the
// scripts with the estimator, and compares their mean V and their held-out perplexity.
//
// V of a post (scorePosts) reads its stored features, engagement-derived groups included; V of a sampled
// script can only read its text. So the real held-out captions are scored the same way as the scripts
// (`meanViralHeldOutDrafts`), the level a script is to be compared with, and the V shift that the weights
// put into the training distribution (`trainShiftV`: weighted minus plain mean V of the training captions)
// is printed too: it is λ·Var(V)/(1 + λ·mean V), the most the sampled scripts could move if the model
// reproduced its weighted training distribution exactly and the estimator read only text.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { extractFeatures } from '../src/features/index.js';
import { bundledSamplePath, readScoredCaptions } from '../src/generate/index.js';
import type { ScoredCaption } from '../src/generate/index.js';
import { ingestFiles, Lake } from '../src/lake/index.js';
import {
  DEFAULT_LM_CONFIG,
  loadTrainedLm,
  sampleScripts,
  splitByTime,
  trainCaptionLm,
} from '../src/lm/index.js';
import type { CaptionRecord, LmConfig } from '../src/lm/index.js';
import { openViralScorer, trainViralScore } from '../src/viralscore/index.js';
import type { BenchOptions, BenchResult } from './run.js';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

function numberArg(args: string[], name: string, fallback: number, integer = true): number {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value)))
    throw new Error(`${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${raw}`);
  return value;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const variance = (xs: readonly number[]) => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1);
};

/** The two model sizes: the demo's (seconds per hundred steps on the sample) and `tkllm lm train`'s. */
const MODELS: Record<string, { config: Partial<LmConfig>; batchSize: number; lr: number }> = {
  small: { config: { vocabSize: 320, dModel: 64, nLayers: 2, dropout: 0.2 }, batchSize: 16, lr: 5e-3 },
  default: { config: { ...DEFAULT_LM_CONFIG }, batchSize: 32, lr: 3e-3 },
};

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { args } = options;
  const dataArg = flag(args, '--data');
  const source = dataArg === undefined ? bundledSamplePath : resolve(dataArg);
  if (!existsSync(source)) throw new Error(`--data ${source} does not exist`);
  const sample = source === bundledSamplePath;
  const year = numberArg(args, '--year', sample ? 2017 : 0);
  const steps = numberArg(args, '--steps', 200);
  const lambda = numberArg(args, '--lambda', 1, false);
  const seed = numberArg(args, '--seed', 0);
  const scripts = numberArg(args, '--scripts', 64);
  const promptCount = numberArg(args, '--prompts', 16);
  const modelName = flag(args, '--model') ?? 'small';
  const model = MODELS[modelName];
  if (model === undefined) throw new Error(`--model must be small or default, got ${modelName}`);
  const estimator = {
    epochs: numberArg(args, '--estimator-epochs', 8),
    members: numberArg(args, '--estimator-members', 2),
  };
  options.log(`data: ${sample ? `the bundled sample ${source}` : source}`);

  const dir = mkdtempSync(join(tmpdir(), 'tkllm-bench-lm-weighting-'));
  const lake = await Lake.open(dir);
  try {
    await ingestFiles(lake, [source], year > 0 ? { year } : {});
    await extractFeatures(lake);
    const started = performance.now();
    const trained = await trainViralScore(lake, dir, { ...estimator, seed });
    options.log(
      `estimator ${trained.version}: validation Spearman ${trained.validation.spearman.toFixed(3)} ` +
        `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    const scorer = await openViralScorer(lake, dir, { topFeatures: 0 });
    try {
      // Only scored captions train, so that both runs see the same records and so the same split.
      const captions: ScoredCaption[] = await readScoredCaptions(lake, scorer);
      const plain: CaptionRecord[] = captions.map((c) => ({
        text: c.text,
        creator: c.creator,
        time: c.time,
      }));
      const weighted: CaptionRecord[] = captions.map((c, i) => ({
        ...plain[i],
        weight: 1 + lambda * c.v,
        viralScore: c.v,
      }));
      // The split trainCaptionLm makes (same key, same share), for the prompts and the reference figures.
      const { train, heldOut } = splitByTime(
        captions.map((c, i) => ({ c, i })),
        ({ c, i }) => c.time + i * 1e-9,
        0.1,
      );
      const trainV = train.map(({ c }) => c.v);
      const weights = trainV.map((v) => 1 + lambda * v);
      const trainShiftV =
        trainV.reduce((a, v, k) => a + v * weights[k], 0) / weights.reduce((a, w) => a + w, 0) - mean(trainV);
      options.log(
        `${captions.length} scored captions (${train.length} train, ${heldOut.length} held out); ` +
          `train V mean ${mean(trainV).toFixed(4)} sd ${Math.sqrt(variance(trainV)).toFixed(4)}; ` +
          `λ = ${lambda} moves the training distribution's mean V by ${trainShiftV.toFixed(4)}`,
      );

      const trainOne = (name: string, records: CaptionRecord[]) => {
        const t0 = performance.now();
        const r = trainCaptionLm(records, {
          modelDir: join(dir, 'models', name),
          config: model.config,
          steps,
          batchSize: model.batchSize,
          lr: model.lr,
          seed,
          minPostsForStyle: 2,
          mu: 0,
        });
        const seconds = (performance.now() - t0) / 1000;
        options.log(`${name}: held-out perplexity ${r.perplexity.toFixed(2)} (${seconds.toFixed(0)} s)`);
        return { ...r, seconds };
      };
      const unweightedRun = trainOne('unweighted', plain);
      const weightedRun = trainOne('weighted', weighted);

      // The first two words of held-out captions: openings the models have not seen, the same for both.
      const prompts = heldOut
        .slice(0, Math.max(1, Math.min(promptCount, heldOut.length)))
        .map(({ c }) => c.text.trim().split(/\s+/).slice(0, 2).join(' '));
      const perPrompt = Math.max(1, Math.ceil(scripts / prompts.length));
      const sampleFrom = (name: string) => {
        const { model: lm, tokenizer } = loadTrainedLm(join(dir, 'models', name));
        lm.eval();
        const texts: string[] = [];
        prompts.forEach((prompt, k) => {
          const { candidates } = sampleScripts(lm, tokenizer, {
            prompt,
            candidates: perPrompt,
            maxNewTokens: 40,
            temperature: 0.9,
            topP: 0.95,
            repetitionPenalty: 1.1,
            seed: seed * 1000 + k,
          });
          for (const c of candidates) if (texts.length < scripts) texts.push(`${prompt}${c.text}`);
        });
        return texts;
      };
      const scoreTexts = async (texts: readonly string[]) =>
        (await scorer.score(texts.map((text, i) => ({ id: String(i), text })))).map((r) => r.v);
      const textsUnweighted = sampleFrom('unweighted');
      const textsWeighted = sampleFrom('weighted');
      const vUnweighted = await scoreTexts(textsUnweighted);
      const vWeighted = await scoreTexts(textsWeighted);
      const vHeldOut = await scoreTexts(heldOut.map(({ c }) => c.text));
      const difference = mean(vWeighted) - mean(vUnweighted);
      const standardError = Math.sqrt(
        variance(vWeighted) / vWeighted.length + variance(vUnweighted) / vUnweighted.length,
      );
      const relative = (weightedRun.perplexity - unweightedRun.perplexity) / unweightedRun.perplexity;
      options.log(`weighted sample: ${textsWeighted.slice(0, 3).join(' | ')}`);
      options.log(`unweighted sample: ${textsUnweighted.slice(0, 3).join(' | ')}`);
      return {
        data: sample ? 'bundled sample (data/youtube-trending-sample.csv, 2017)' : source,
        meanViralWeighted: mean(vWeighted),
        meanViralUnweighted: mean(vUnweighted),
        meanViralDifference: difference,
        meanViralDifferenceStandardError: standardError,
        perplexityWeighted: weightedRun.perplexity,
        perplexityUnweighted: unweightedRun.perplexity,
        perplexityRelativeDifference: relative,
        baselinePerplexity: unweightedRun.baselinePerplexity,
        weightedHigherV: difference > 0,
        perplexityWithin10Percent: relative <= 0.1,
        meanViralHeldOutDrafts: mean(vHeldOut),
        meanViralTrainPosts: mean(trainV),
        sdViralTrainPosts: Math.sqrt(variance(trainV)),
        trainShiftV,
        estimatorSpearman: trained.validation.spearman,
        trainCaptions: unweightedRun.trainCaptions,
        heldOutCaptions: unweightedRun.heldOutCaptions,
        scripts: vWeighted.length,
        prompts: prompts.length,
        steps,
        lambda,
        seed,
        model: modelName,
        secondsWeighted: weightedRun.seconds,
        secondsUnweighted: unweightedRun.seconds,
      };
    } finally {
      scorer.close();
    }
  } finally {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
