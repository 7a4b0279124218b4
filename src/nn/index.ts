/** nn: layers, optimisers, schedules and safetensors files, built on the tensor library. */
export { encodeSafetensors, decodeSafetensors, saveSafetensors, loadSafetensors } from './safetensors.js';
export type {
  SafetensorsDtype,
  SafetensorsData,
  TensorRecord,
  TensorRecords,
  SafetensorsContent,
} from './safetensors.js';
export { Optimizer, AdamW, Sgd, clipGradNorm, warmupCosineSchedule } from './optim/index.js';
export type {
  TrainableParameter,
  OptimizerOptions,
  AdamWOptions,
  AdamWState,
  SgdOptions,
  SgdState,
  LrSchedule,
  WarmupCosineOptions,
} from './optim/index.js';
export { TrainingStep } from './training-step.js';
export type { TrainingStepOptions } from './training-step.js';
export { Module } from './module.js';
export type { LoadStateDictOptions } from './module.js';
export type { InitOptions } from './layers/init.js';
export { Linear } from './layers/linear.js';
export type { LinearOptions } from './layers/linear.js';
export { Embedding } from './layers/embedding.js';
export { LayerNorm } from './layers/layer-norm.js';
export type { LayerNormOptions } from './layers/layer-norm.js';
export { Mlp } from './layers/mlp.js';
export type { MlpOptions } from './layers/mlp.js';
export { MultiHeadAttention } from './layers/attention.js';
export type { MultiHeadAttentionOptions, AttentionCallOptions } from './layers/attention.js';
export { TransformerBlock } from './layers/transformer-block.js';
export type { TransformerBlockOptions } from './layers/transformer-block.js';
export { ModuleList } from './layers/module-list.js';
export { Gpt, resolveGptConfig } from './models/gpt.js';
export type { GptConfig, GptOptions } from './models/gpt.js';
export {
  saveModel,
  loadModel,
  saveWeights,
  loadWeights,
  readConfig,
  WEIGHTS_FILE,
  CONFIG_FILE,
} from './model-io.js';
export type { SavedConfig } from './model-io.js';
