import { Random } from '../../core/index.js';
import { ones, randn, zeros } from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** Initialisation options shared by the layers. */
export interface InitOptions {
  /** The seeded generator that draws the initial weights (and dropout masks); default `new Random(0)`. */
  rng?: Random;
  /** Standard deviation of the normal initialisation of weights (default 0.02, as GPT-2). */
  initStd?: number;
}

/** Resolves the generator and the weight scale of `options`. */
export function resolveInit(options: InitOptions): { rng: Random; std: number } {
  return { rng: options.rng ?? new Random(0), std: options.initStd ?? 0.02 };
}

/** A parameter of normal values with mean 0 and standard deviation `std`. */
export function normalParameter(shape: readonly number[], rng: Random, std: number): Tensor {
  return randn(shape, rng, std).asParameter();
}

/** A parameter of zeros (biases, LayerNorm shifts). */
export function zerosParameter(shape: readonly number[]): Tensor {
  return zeros(shape).asParameter();
}

/** A parameter of ones (LayerNorm scales). */
export function onesParameter(shape: readonly number[]): Tensor {
  return ones(shape).asParameter();
}
