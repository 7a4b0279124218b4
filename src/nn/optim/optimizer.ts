import { ValidationError } from '../../core/index.js';

/**
 * What an optimiser needs from a parameter: its values and its gradient as float32 arrays, updated in
 * place, and whether it takes gradients. The tensor library's parameters have this shape.
 */
export interface TrainableParameter {
  readonly data: Float32Array;
  grad: { readonly data: Float32Array } | null;
  readonly requiresGrad: boolean;
}

/** Options every optimiser shares. */
export interface OptimizerOptions {
  /** The learning rate; schedules change it between steps through `optimizer.lr`. */
  lr: number;
}

/**
 * Base of the optimisers: holds the parameters, keeps per-parameter state that is allocated lazily the
 * first time a parameter has a gradient (so frozen parameters cost no optimiser memory), and updates
 * parameters in place in plain JS (a few million float32 values: cheaper than any op dispatch).
 */
export abstract class Optimizer<State> {
  /** The learning rate used by the next `step()`. */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly params: readonly TrainableParameter[];
  private readonly states = new Map<TrainableParameter, State>();

  constructor(params: Iterable<TrainableParameter>, options: OptimizerOptions) {
    this.params = [...new Set(params)];
    requireNonNegative('lr', options.lr);
    this.lr = options.lr;
  }

  /** Applies one update to every parameter that has a gradient; frozen ones are left exactly as they are. */
  step(): void {
    this.stepCount++;
    for (const p of this.params) {
      if (!p.requiresGrad || p.grad === null) continue;
      if (p.grad.data.length !== p.data.length)
        throw new ValidationError(
          `gradient has ${p.grad.data.length} elements, its parameter ${p.data.length}`,
        );
      let state = this.states.get(p);
      if (state === undefined) {
        state = this.initState(p);
        this.states.set(p, state);
      }
      this.update(p.data, p.grad.data, state);
    }
  }

  /** Clears the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** The optimiser state of a parameter, or undefined when it has never had a gradient. */
  stateOf(param: TrainableParameter): State | undefined {
    return this.states.get(param);
  }

  /** How many parameters hold optimiser state. */
  get stateCount(): number {
    return this.states.size;
  }

  /** Drops the state of a parameter (for instance after it is frozen for good), releasing its memory. */
  releaseState(param: TrainableParameter): void {
    this.states.delete(param);
  }

  protected abstract initState(param: TrainableParameter): State;
  protected abstract update(data: Float32Array, grad: Float32Array, state: State): void;
}

/** Throws a ValidationError unless `value` is a finite number >= 0. */
export function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new ValidationError(`\`${name}\` must be a finite number >= 0, got ${value}`);
}

/** Throws a ValidationError unless `value` lies in [0, 1). */
export function requireUnitInterval(name: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new ValidationError(`\`${name}\` must be in [0, 1), got ${value}`);
}
