/**
 * lm: TKLLM, the creator-style language model: byte-level BPE tokenizer, decoder-only transformer with
 * creator style embeddings and a key/value cache, weighted training (Entry A) with an auxiliary virality
 * loss (Entry B), gradient-surgical fine-tuning (GSPF), an n-gram baseline, batched sampling and the
 * saved versions of a served model (rollback).
 * Takes its data as plain values (texts, style rows, weights, ViralScores): it never reads the lake.
 * @example
 * const tokenizer = trainTokenizer(texts, { vocabSize: 1024 });
 * trainLm(model, encodeSamples(tokenizer, samples, model.config.contextLength), { steps: 600 });
 * const { candidates } = sampleScripts(model, tokenizer, { prompt: 'POV:', candidates: 8, topP: 0.9 });
 */
export { Tokenizer, trainTokenizer, SPECIAL_TOKENS } from './tokenizer.js';
export type { TrainTokenizerOptions } from './tokenizer.js';
export { LmModel, KvCache, resolveLmConfig, LM_ARCHITECTURE } from './model.js';
export type { LmConfig } from './model.js';
export { formatScript, encodeSamples, makeBatch, epochBatches, splitByTime } from './data.js';
export type { LmSample, EncodedSample, LmBatch } from './data.js';
export { batchLoss, evaluateLm } from './loss.js';
export type { BatchLoss, Evaluation } from './loss.js';
export { trainLm } from './train.js';
export type { TrainLmOptions, TrainLmResult, StepLog } from './train.js';
export { ResumableAdamW } from './optimizer.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export type { CheckpointState } from './checkpoint.js';
export {
  layerGroups,
  measureLayerScores,
  probeLayers,
  selectLayers,
  applyLayerSelection,
  resolveGspfOptions,
} from './gspf.js';
export type { GspfOptions, LayerGroup, LayerProbe, LayerScore } from './gspf.js';
export { KneserNeyTrigram } from './ngram.js';
export type { KneserNeyOptions } from './ngram.js';
export { sampleScripts, scriptText } from './sampling.js';
export {
  lmVersions,
  saveLmVersion,
  snapshotLm,
  activateLmVersion,
  finishLmActivation,
  rollbackLm,
  TOKENIZER_FILE,
  CREATORS_FILE,
} from './versions.js';
export type { LmVersion, LmVersionKind } from './versions.js';
export type { SampleOptions, SampleResult, Candidate, LogitsProcessor, LogitsContext } from './sampling.js';
export {
  trainCaptionLm,
  loadTrainedLm,
  assignStyleRows,
  corpusDefaults,
  trainingDefaults,
  DEFAULT_LM_CONFIG,
  SMALL_CORPUS_CONFIG,
  TINY_CORPUS_CONFIG,
  MANY_PASSES_BELOW_BYTES,
  DEFAULT_EPOCHS,
  DEFAULT_TOKEN_BUDGET,
} from './pipeline.js';
export type {
  CaptionRecord,
  CaptionLmOptions,
  CaptionLmResult,
  CreatorStyle,
  TrainedLm,
  TrainingPlan,
} from './pipeline.js';
