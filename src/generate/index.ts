/**
 * generate: script generation with virality. N candidates from TKLLM with banned terms masked while
 * decoding, each scored by the ViralScore estimator and checked against policy, reranked by
 * logP_norm + η·V (blocked ones never returned, every generation audited); reward-augmented decoding with a
 * prefix reward; creator guidance for a draft; the generation evaluation; and the Style Embedding DB.
 * @example
 * const g = await openGenerator(lake, './tkllm-data');
 * const { candidates } = await g.generator.generate('POV: you finally', { creator: 'chef', n: 16, seconds: 15 });
 */
export { styleSchema, saveStyleEmbeddings, loadStyleEmbeddings, similarCreators } from './style-db.js';
export type { StyleEmbedding, SimilarCreator } from './style-db.js';
export { Generator, creatorRow } from './generator.js';
export type { GeneratorParts, GenerateOptions, GeneratedCandidate, GenerationResult } from './generator.js';
export { rerank, rerankScore, lengthNormalisedLogProb } from './rerank.js';
export type { Rerankable } from './rerank.js';
export {
  DEFAULT_WORDS_PER_SECOND,
  wordBudget,
  cutToWords,
  hasKeyword,
  keywordProcessor,
  withStyleStrength,
} from './controls.js';
export { IncrementalDecoder, ScriptGrowth } from './stream.js';
export type { TokenPiece } from './stream.js';
export { PrefixReward, trainPrefixReward } from './rad.js';
export type { PrefixRewardModel, PrefixRewardFit, RadStats, TrainPrefixRewardOptions } from './rad.js';
export { readScoredCaptions } from './lake-data.js';
export type { ScoredCaption } from './lake-data.js';
export {
  openGenerator,
  prepareWorkspace,
  TINY_WORKSPACE,
  prefixRewardFor,
  readCaptionRecords,
  generatePaths,
} from './workspace.js';
export type { OpenGeneratorOptions, OpenedGenerator, PrepareWorkspaceOptions } from './workspace.js';
export { checkDraft, subscoreLabels, firstSentence } from './guidance.js';
export type { Guidance, Suggestion, PolicyWarning, CheckDraftOptions } from './guidance.js';
export { evaluateGeneration, formatGenerationEval, distinctN, sentenceBleu, rougeL } from './evaluate.js';
export type { EvaluateGenerationOptions, GenerationEvalRow, GenerationEvalReport } from './evaluate.js';
