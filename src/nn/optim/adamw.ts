import { Optimizer, requireNonNegative, requireUnitInterval } from './optimizer.js';
import type { OptimizerOptions, TrainableParameter } from './optimizer.js';

/** Options of AdamW; the defaults are PyTorch's except the learning rate, which is required. */
export interface AdamWOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay: each step multiplies the weights by (1 - lr * weightDecay). */
  weightDecay?: number;
}

/** The moment estimates of one parameter, and how many updates it has had (its own bias correction). */
export interface AdamWState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019), as torch.optim.AdamW:
 * p <- p - lr*wd*p; m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2;
 * p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class AdamW extends Optimizer<AdamWState> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Iterable<TrainableParameter>, options: AdamWOptions) {
    super(params, options);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    requireUnitInterval('beta1', this.beta1);
    requireUnitInterval('beta2', this.beta2);
    requireNonNegative('eps', this.eps);
    requireNonNegative('weightDecay', this.weightDecay);
  }

  protected override initState(param: TrainableParameter): AdamWState {
    return { step: 0, m: new Float32Array(param.data.length), v: new Float32Array(param.data.length) };
  }

  protected override update(data: Float32Array, grad: Float32Array, state: AdamWState): void {
    const { beta1: b1, beta2: b2, eps, lr } = this;
    state.step++;
    const correction1 = 1 - b1 ** state.step;
    const correction2 = 1 - b2 ** state.step;
    const stepSize = lr / correction1;
    const invSqrtCorrection2 = 1 / Math.sqrt(correction2);
    const decay = 1 - lr * this.weightDecay;
    const a1 = 1 - b1;
    const a2 = 1 - b2;
    const { m, v } = state;
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      const mi = b1 * m[i] + a1 * g;
      const vi = b2 * v[i] + a2 * g * g;
      m[i] = mi;
      v[i] = vi;
      data[i] = data[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invSqrtCorrection2 + eps);
    }
  }
}
