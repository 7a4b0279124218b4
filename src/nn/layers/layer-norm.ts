import { layerNorm } from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';
import { onesParameter, zerosParameter } from './init.js';
import { requirePositiveInteger } from './validate.js';

/** Options of `LayerNorm`. */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5, PyTorch's). */
  eps?: number;
}

/** Layer normalisation over the last dimension with a learned scale (ones) and shift (zeros). */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(
    readonly dim: number,
    options: LayerNormOptions = {},
  ) {
    super();
    requirePositiveInteger('dim', dim);
    this.eps = options.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', onesParameter([dim]));
    this.bias = this.registerParameter('bias', zerosParameter([dim]));
  }

  /** Normalises `x` [..., dim]. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
