import { ValidationError } from '../../core/index.js';
import { Optimizer, requireNonNegative } from './optimizer.js';
import type { OptimizerOptions, TrainableParameter } from './optimizer.js';

/** Options of SGD, as torch.optim.SGD. */
export interface SgdOptions extends OptimizerOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, unlike AdamW's decoupled decay). */
  weightDecay?: number;
}

/** The momentum buffer of one parameter; absent (undefined) while momentum is 0. */
export interface SgdState {
  buffer: Float32Array | undefined;
}

/**
 * Stochastic gradient descent with momentum, as torch.optim.SGD: g <- g + wd*p;
 * b <- g on the first step, then b <- momentum*b + (1-dampening)*g; p <- p - lr*(nesterov ? g + momentum*b : b).
 */
export class Sgd extends Optimizer<SgdState> {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Iterable<TrainableParameter>, options: SgdOptions) {
    super(params, options);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    requireNonNegative('momentum', this.momentum);
    requireNonNegative('dampening', this.dampening);
    requireNonNegative('weightDecay', this.weightDecay);
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0))
      throw new ValidationError('`nesterov` needs a momentum > 0 and a dampening of 0');
  }

  protected override initState(): SgdState {
    return { buffer: undefined };
  }

  protected override update(data: Float32Array, grad: Float32Array, state: SgdState): void {
    const { lr, momentum, dampening, nesterov, weightDecay: wd } = this;
    if (momentum === 0) {
      for (let i = 0; i < data.length; i++) data[i] = data[i] - lr * (grad[i] + wd * data[i]);
      return;
    }
    const first = state.buffer === undefined;
    const buffer = (state.buffer ??= new Float32Array(data.length));
    for (let i = 0; i < data.length; i++) {
      const g = grad[i] + wd * data[i];
      const b = first ? g : momentum * buffer[i] + (1 - dampening) * g;
      buffer[i] = b;
      data[i] = data[i] - lr * (nesterov ? g + momentum * b : b);
    }
  }
}
