/** Optimisers, gradient clipping and learning-rate schedules over float32 parameters, updated in place. */
export { Optimizer } from './optimizer.js';
export type { TrainableParameter, OptimizerOptions } from './optimizer.js';
export { AdamW } from './adamw.js';
export type { AdamWOptions, AdamWState } from './adamw.js';
export { Sgd } from './sgd.js';
export type { SgdOptions, SgdState } from './sgd.js';
export { clipGradNorm } from './clip.js';
export { warmupCosineSchedule } from './schedule.js';
export type { LrSchedule, WarmupCosineOptions } from './schedule.js';
