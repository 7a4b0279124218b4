// `npm run bench -- lm-weighting [--json] [--data FILE] [--year Y] [--steps N] [--lambda L] [--seed S]
//   [--seeds K] [--base-steps B] [--weighting linear|rank|top] [--top-share X] [--v-source post|text] [--scripts N]
//   [--prompts N] [--model small|default] [--estimator-epochs N] [--estimator-members N]`:
// does Entry A move TKLLM toward high-V text? Builds a lake in a temporary data directory (default: the
// bundled sample, dated 2017), extracts features, trains the ViralScore estimator, scores every post, then
// for each of K seeds trains two LMs that differ only in the weights (same records, split, tokenizer,
// seed, configuration and step budget), samples the same prompts with the same seeds from each, scores the
// scripts with the estimator, and compares their mean V and their held-out perplexity. The verdict is
// the mean over seeds of (weighted − unweighted) with its standard error across seeds, which holds both
// the sampling noise of the scripts and the seed-to-seed noise of training.
//
// With `--base-steps B` > 0 both runs of every seed start from one unweighted base model trained for B
// steps (seed `--seed`), and each trains `--steps` more from it (resuming its checkpoint: same schedule,
// batch order by the seed): Entry A acts in the last `--steps` of B + `--steps`, as in `tkllm lm update`,
// and the base's cost is paid once, so the compared models are trained long enough to write words.
//
// Weights (src/select's `weighting`): `linear` w = 1 + λ·V (DESIGN's form), `rank` w = 1 + λ·rank(V)
// (rank normalised to [0, 1]), `top` w = 1 + λ for the top X % by V, 1 for the rest. `--v-source text`
// (default) weights each training caption by the V of its text alone (scored like the scripts), `post` by
// the V of the post (its stored features, engagement included), as `tkllm lm train --scores` would.
// Defaults: 4 seeds, base 600 steps + 200, top 30 % at λ = 4, text V, 256 scripts per seed.
//
// V of a post (scorePosts) reads its stored features, engagement-derived groups included; V of a sampled
// script can only read its text. So the real held-out captions are scored the same way as the scripts
// (`meanViralHeldOutDrafts`), the level a script is to be compared with, and the V shift that the weights
// put into the training distribution (`trainShiftV`: weighted minus plain mean V of the training captions)
// is printed too: it is λ·Var(V)/(1 + λ·mean V), the most the sampled scripts could move if the model
// reproduced its weighted training distribution exactly and the estimator read only text.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { extractFeatures } from '../src/features/index.js';
import { readScoredCaptions } from '../src/generate/index.js';
import type { ScoredCaption } from '../src/generate/index.js';
import { bundledSample, ingestFiles, Lake } from '../src/lake/index.js';
import {
  DEFAULT_LM_CONFIG,
  loadTrainedLm,
  sampleScripts,
  splitByTime,
  trainCaptionLm,
} from '../src/lm/index.js';
import type { CaptionRecord, LmConfig } from '../src/lm/index.js';
import { openViralScorer, trainViralScore } from '../src/viralscore/index.js';
import { selectHighValue } from '../src/select/index.js';
import type { Weighting } from '../src/select/index.js';
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

/** The two model sizes: the demo's (seconds per hundred steps on the sample) and the large-corpus one. */
const MODELS: Record<
  string,
  { config: Partial<LmConfig>; batchSize: number; lr: number; newTokens: number }
> = {
  // `tkllm lm demo`'s configuration: the byte vocabulary (corpus rule), width 64, 2 blocks, dropout 0.2.
  small: {
    config: { dModel: 64, nLayers: 2, dropout: 0.2, directOrder: 0 },
    batchSize: 16,
    lr: 5e-3,
    newTokens: 80,
  },
  default: { config: { ...DEFAULT_LM_CONFIG }, batchSize: 32, lr: 3e-3, newTokens: 40 },
};

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { args } = options;
  const dataArg = flag(args, '--data');
  const source = dataArg === undefined ? bundledSample.path : resolve(dataArg);
  if (!existsSync(source)) throw new Error(`--data ${source} does not exist`);
  const sample = source === bundledSample.path;
  const year = numberArg(args, '--year', sample ? 2017 : 0);
  const steps = numberArg(args, '--steps', 200);
  const baseSteps = numberArg(args, '--base-steps', 600);
  const lambda = numberArg(args, '--lambda', 4, false);
  const firstSeed = numberArg(args, '--seed', 0);
  const seedCount = Math.max(1, numberArg(args, '--seeds', 4));
  const weighting = (flag(args, '--weighting') ?? 'top') as Weighting;
  if (!['linear', 'rank', 'top'].includes(weighting))
    throw new Error(`--weighting must be linear, rank or top, got ${weighting}`);
  const topShare = numberArg(args, '--top-share', 0.3, false);
  const vSource = flag(args, '--v-source') ?? 'text';
  if (vSource !== 'post' && vSource !== 'text')
    throw new Error(`--v-source must be post or text, got ${vSource}`);
  const scripts = numberArg(args, '--scripts', 256);
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
    const trained = await trainViralScore(lake, dir, { ...estimator, seed: firstSeed });
    options.log(
      `estimator ${trained.version}: validation Spearman ${trained.validation.spearman.toFixed(3)} ` +
        `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    const scorer = await openViralScorer(lake, dir, { topFeatures: 0 });
    try {
      const scoreTexts = async (texts: readonly string[]) =>
        (await scorer.score(texts.map((text, i) => ({ id: String(i), text })))).map((r) => r.v);
      // Only scored captions train, so that both runs see the same records and so the same split.
      const captions: ScoredCaption[] = await readScoredCaptions(lake, scorer);
      const textV = await scoreTexts(captions.map((c) => c.text));
      const vOf = (i: number) => (vSource === 'text' ? textV[i] : captions[i].v);
      const plain: CaptionRecord[] = captions.map((c) => ({
        text: c.text,
        creator: c.creator,
        time: c.time,
      }));
      const { posts: selected } = selectHighValue(
        captions.map((c, i) => ({ id: String(i), text: c.text, viralScore: vOf(i) })),
        { lambda, weighting, topShare, bottomShare: 0, stratify: false },
      );
      const weightOf = selected.map((p) => p.weight);
      const weighted: CaptionRecord[] = captions.map((_, i) => ({ ...plain[i], weight: weightOf[i] }));
      // The split trainCaptionLm makes (same key, same share), for the prompts and the reference figures.
      const { train, heldOut } = splitByTime(
        captions.map((c, i) => ({ c, i })),
        ({ c, i }) => c.time + i * 1e-9,
        0.1,
      );
      const trainV = train.map(({ i }) => vOf(i));
      const trainTextV = train.map(({ i }) => textV[i]);
      const weights = train.map(({ i }) => weightOf[i]);
      const weightedMean = (xs: number[]) =>
        xs.reduce((a, v, k) => a + v * weights[k], 0) / weights.reduce((a, w) => a + w, 0);
      const trainShiftV = weightedMean(trainV) - mean(trainV);
      // What the judge of the scripts can see: the text V of the training captions, plain and weighted.
      const trainShiftTextV = weightedMean(trainTextV) - mean(trainTextV);
      options.log(
        `${captions.length} scored captions (${train.length} train, ${heldOut.length} held out); ` +
          `train V (${vSource}) mean ${mean(trainV).toFixed(4)} sd ${Math.sqrt(variance(trainV)).toFixed(4)}; ` +
          `${weighting} weights, λ = ${lambda}, in [${Math.min(...weights).toFixed(2)}, ${Math.max(...weights).toFixed(2)}], ` +
          `move the training mean V by ${trainShiftV.toFixed(4)} and its text V by ${trainShiftTextV.toFixed(4)}`,
      );

      // The first two words of held-out captions: openings the models have not seen, the same for both.
      const prompts = heldOut
        .slice(0, Math.max(1, Math.min(promptCount, heldOut.length)))
        .map(({ c }) => c.text.trim().split(/\s+/).slice(0, 2).join(' '));
      const perPrompt = Math.max(1, Math.ceil(scripts / prompts.length));
      const runs: {
        seed: number;
        vWeighted: number;
        vUnweighted: number;
        difference: number;
        standardError: number;
        pairedStandardError: number;
        perplexityWeighted: number;
        perplexityUnweighted: number;
        seconds: number;
      }[] = [];
      const allWeighted: number[] = [];
      const allUnweighted: number[] = [];
      let baselinePerplexity = 0;
      let trainCaptions = 0;
      let heldOutCaptions = 0;
      let examples: string[] = [];
      let base: string | null = null;
      const baseDir = () => {
        if (base !== null) return base;
        base = join(dir, 'models', 'base');
        const t0 = performance.now();
        const r = trainCaptionLm(plain, {
          modelDir: base,
          config: model.config,
          steps: baseSteps,
          batchSize: model.batchSize,
          lr: model.lr,
          seed: firstSeed,
          minPostsForStyle: 2,
          mu: 0,
          checkpointEvery: baseSteps,
        });
        options.log(
          `base (${baseSteps} steps, unweighted): held-out perplexity ${r.perplexity.toFixed(2)} ` +
            `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
        return base;
      };
      for (let seed = firstSeed; seed < firstSeed + seedCount; seed++) {
        const trainOne = (name: string, records: CaptionRecord[]) => {
          const t0 = performance.now();
          const modelDir = join(dir, 'models', `${name}-${seed}`);
          if (baseSteps > 0) cpSync(baseDir(), modelDir, { recursive: true });
          const r = trainCaptionLm(records, {
            modelDir,
            config: model.config,
            steps: baseSteps + steps,
            batchSize: model.batchSize,
            lr: model.lr,
            seed,
            minPostsForStyle: 2,
            mu: 0,
          });
          const seconds = (performance.now() - t0) / 1000;
          options.log(
            `seed ${seed} ${name}: held-out perplexity ${r.perplexity.toFixed(2)} (${seconds.toFixed(0)} s)`,
          );
          return { ...r, seconds };
        };
        const unweightedRun = trainOne('unweighted', plain);
        const weightedRun = trainOne('weighted', weighted);
        baselinePerplexity = unweightedRun.baselinePerplexity;
        trainCaptions = unweightedRun.trainCaptions;
        heldOutCaptions = unweightedRun.heldOutCaptions;
        const sampleFrom = (name: string) => {
          const { model: lm, tokenizer } = loadTrainedLm(join(dir, 'models', `${name}-${seed}`));
          lm.eval();
          const texts: string[] = [];
          prompts.forEach((prompt, k) => {
            const { candidates } = sampleScripts(lm, tokenizer, {
              prompt,
              candidates: perPrompt,
              maxNewTokens: model.newTokens,
              temperature: 0.9,
              topP: 0.95,
              repetitionPenalty: 1.1,
              seed: seed * 1000 + k,
            });
            for (const c of candidates) if (texts.length < scripts) texts.push(`${prompt}${c.text}`);
          });
          return texts;
        };
        const textsUnweighted = sampleFrom('unweighted');
        const textsWeighted = sampleFrom('weighted');
        const vUnweighted = await scoreTexts(textsUnweighted);
        const vWeighted = await scoreTexts(textsWeighted);
        allWeighted.push(...vWeighted);
        allUnweighted.push(...vUnweighted);
        const run = {
          seed,
          vWeighted: mean(vWeighted),
          vUnweighted: mean(vUnweighted),
          difference: mean(vWeighted) - mean(vUnweighted),
          standardError: Math.sqrt(
            variance(vWeighted) / vWeighted.length + variance(vUnweighted) / vUnweighted.length,
          ),
          // Script k of both models has the same prompt and the same sampling seed: paired differences.
          pairedStandardError: Math.sqrt(
            variance(vWeighted.map((v, k) => v - vUnweighted[k])) / Math.max(1, vWeighted.length),
          ),
          perplexityWeighted: weightedRun.perplexity,
          perplexityUnweighted: unweightedRun.perplexity,
          seconds: weightedRun.seconds + unweightedRun.seconds,
        };
        runs.push(run);
        options.log(
          `seed ${seed}: mean V weighted ${run.vWeighted.toFixed(4)}, unweighted ${run.vUnweighted.toFixed(4)}, ` +
            `difference ${run.difference.toFixed(4)} ± ${run.standardError.toFixed(4)}`,
        );
        if (seed === firstSeed) examples = [...textsWeighted.slice(0, 2), ...textsUnweighted.slice(0, 2)];
      }
      const differences = runs.map((r) => r.difference);
      const difference = mean(differences);
      // Across seeds: the spread of the per-seed differences holds sampling and training noise together.
      const standardError =
        runs.length > 1 ? Math.sqrt(variance(differences) / runs.length) : runs[0].standardError;
      // The sampling noise alone, from each seed's paired standard error (script k of both models shares
      // its prompt and sampling seed): a floor for when K is small and the K differences happen to agree.
      const samplingStandardError = Math.sqrt(
        runs.reduce((a, r) => a + r.pairedStandardError ** 2, 0) / runs.length ** 2,
      );
      const verdictError = Math.max(standardError, samplingStandardError);
      const perplexityWeighted = mean(runs.map((r) => r.perplexityWeighted));
      const perplexityUnweighted = mean(runs.map((r) => r.perplexityUnweighted));
      const relative = (perplexityWeighted - perplexityUnweighted) / perplexityUnweighted;
      const vHeldOut = await scoreTexts(heldOut.map(({ c }) => c.text));
      options.log(`weighted samples (seed ${firstSeed}): ${examples.slice(0, 2).join(' | ')}`);
      options.log(`unweighted samples (seed ${firstSeed}): ${examples.slice(2).join(' | ')}`);
      return {
        data: sample ? 'bundled sample (data/youtube-trending-sample.csv, 2017)' : source,
        meanViralWeighted: mean(allWeighted),
        meanViralUnweighted: mean(allUnweighted),
        meanViralDifference: difference,
        meanViralDifferenceStandardError: standardError,
        meanViralDifferenceSamplingStandardError: samplingStandardError,
        meanViralDifferenceZ: verdictError > 0 ? difference / verdictError : null,
        weightedHigherV: difference > 2 * verdictError,
        perplexityWeighted,
        perplexityUnweighted,
        perplexityRelativeDifference: relative,
        perplexityWithin10Percent: Math.abs(relative) <= 0.1,
        baselinePerplexity,
        runs,
        meanViralHeldOutDrafts: mean(vHeldOut),
        meanViralTrainPosts: mean(trainV),
        sdViralTrainPosts: Math.sqrt(variance(trainV)),
        trainShiftV,
        trainShiftTextV,
        estimatorSpearman: trained.validation.spearman,
        trainCaptions,
        heldOutCaptions,
        scriptsPerSeed: Math.min(scripts, perPrompt * prompts.length),
        prompts: prompts.length,
        seeds: seedCount,
        baseSteps,
        steps,
        lambda,
        weighting,
        topShare,
        vSource,
        model: modelName,
      };
    } finally {
      scorer.close();
    }
  } finally {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
