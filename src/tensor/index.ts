/**
 * tensor: a small autograd tensor library whose ops run on onnxruntime (imports only core).
 * Ops are named functions (`matmul(a, b)`, `add(a, b)`), tensors carry `.data`, `.shape`, `.grad`.
 * Each op is one cached onnxruntime session call (about 13 us of overhead); layer norm, attention,
 * softmax cross-entropy and GELU run fused. `trace` turns a forward function into one ONNX graph.
 * @example
 * const w = randn([4, 2], new Random(1), 0.1).asParameter();
 * const loss = mean(crossEntropy(matmul(x, w), targets));
 * loss.backward(); // w.grad now holds d loss / d w
 */
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  randn,
  rand,
  parameter,
  shapeSize,
  gradientsOf,
} from './tensor.js';
export type { GradFn, GradientSink, FloatTensor, IndexTensor } from './tensor.js';
export type { DType, TensorData } from './ort-backend.js';
export { noGrad, enableGrad, isGradEnabled } from './grad-mode.js';
export {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  pow,
  tanh,
  sigmoid,
  relu,
  softplus,
  gelu,
  where,
  greaterOrEqual,
  maskedFill,
  boolTensor,
  reshape,
  sumTo,
  scalar,
} from './elementwise.js';
export type { TensorLike } from './elementwise.js';
export { transpose, transposeLast, slice, concat, split, gather } from './shape-ops.js';
export { sum, mean, max } from './reduce.js';
export type { ReduceOptions } from './reduce.js';
export {
  matmul,
  linear,
  softmax,
  logSoftmax,
  layerNorm,
  rmsNorm,
  crossEntropy,
  mse,
  dropout,
} from './nn-ops.js';
export type { MatmulOptions } from './nn-ops.js';
export { checkGradients } from './grad-check.js';
export type { GradCheckOptions, GradCheckResult } from './grad-check.js';
export { attention, selfAttention } from './attention.js';
export type { AttentionOptions } from './attention.js';
export { trace, GraphSession, traceTrainingStep, TrainingStepSession } from './trace.js';
export type { TraceOptions, TracedModel, TracedTrainingStep } from './trace.js';
export { quantizeModel } from './quantize.js';
export type { QuantizeOptions, QuantizeResult } from './quantize.js';
export { profileKernels, configureEngine } from './exec.js';
export type { KernelProfile, EngineOptions } from './exec.js';
