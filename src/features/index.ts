/**
 * features: turns every post in the lake, and any draft, into named feature groups (text, hook, emotion,
 * embedding, trend, replicability, creator, behaviour, audio, video) using only history before its time.
 */
export { featureGroupNames } from './types.js';
export type { Draft, FeatureGroupMatrix, FeatureGroupName, FeatureMatrix } from './types.js';
export { extractFeatures, loadFeatureMatrix } from './extract.js';
export type { ExtractOptions, ExtractReport, LoadFeatureOptions } from './extract.js';
export { openFeatureContext } from './context.js';
export type { FeatureContext, FeatureContextOptions } from './context.js';
export { explainPostFeatures } from './explain.js';
export type { PostFeatureExplanation } from './explain.js';
export type { TextEncoder } from './embedding.js';
export { extractorVersion } from './groups.js';
export { trendWindowMs } from './history.js';
export { earlyWindowsHours } from './behaviour.js';
export { featureSchema } from './store.js';
export type { MediaOptions } from './media.js';
export { analyseText } from './text.js';
export { fitPpmi, PpmiTextEncoder, defaultPpmiConfig } from './ppmi.js';
export type { PpmiConfig, PpmiModel } from './ppmi.js';
export { OnnxTextEncoder } from './onnx-encoder.js';
export type { OnnxEncoderOptions } from './onnx-encoder.js';
