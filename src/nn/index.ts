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
