import { AdamWSlot } from './adamw-simd.js';
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

/**
 * The moment estimates of one parameter, and how many updates it has had (its own bias correction).
 * A state made elsewhere (say restored from a checkpoint) may hold any arrays: at its next update the
 * optimiser copies them into its own memory and points `m` and `v` there.
 */
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

  // Each state's moments live in the WebAssembly memory of its slot (see adamw-simd.ts).
  private readonly slots = new WeakMap<AdamWState, AdamWSlot>();

  protected override initState(param: TrainableParameter): AdamWState {
    const slot = new AdamWSlot(param.data.length);
    const state = { step: 0, m: slot.m, v: slot.v };
    this.slots.set(state, slot);
    return state;
  }

  protected override update(data: Float32Array, grad: Float32Array, state: AdamWState): void {
    let slot = this.slots.get(state);
    if (slot === undefined || state.m !== slot.m || state.v !== slot.v) {
      slot = new AdamWSlot(data.length);
      slot.m.set(state.m);
      slot.v.set(state.v);
      state.m = slot.m;
      state.v = slot.v;
      this.slots.set(state, slot);
    }
    const { beta1: b1, beta2: b2, eps, lr } = this;
    state.step++;
    slot.update(data, grad, {
      b1,
      b2,
      c2: 1 / (1 - b2 ** state.step),
      eps,
      stepSize: lr / (1 - b1 ** state.step),
      decay: 1 - lr * this.weightDecay,
    });
  }
}
