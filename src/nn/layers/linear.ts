import { linear } from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';
import { normalParameter, resolveInit, zerosParameter } from './init.js';
import type { InitOptions } from './init.js';
import { requirePositiveInteger } from './validate.js';

/** Options of `Linear`. */
export interface LinearOptions extends InitOptions {
  /** Whether to add a bias (default true). */
  bias?: boolean;
}

/**
 * y = x W + b over the last dimension. The weight is stored [inFeatures, outFeatures] (as GPT-2's Conv1D)
 * so that the forward product needs no transpose; PyTorch's nn.Linear stores the transpose.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    requirePositiveInteger('inFeatures', inFeatures);
    requirePositiveInteger('outFeatures', outFeatures);
    const { rng, std } = resolveInit(options);
    this.weight = this.registerParameter('weight', normalParameter([inFeatures, outFeatures], rng, std));
    this.bias = options.bias === false ? null : this.registerParameter('bias', zerosParameter([outFeatures]));
  }

  /** Applies the layer to `x` [..., inFeatures], giving [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    // One fused op (Gemm with the bias inside): no separate pass over the output for the bias.
    return this.bias === null ? linear(x, this.weight) : linear(x, this.weight, this.bias);
  }
}
