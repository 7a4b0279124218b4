import { gather } from '../../tensor/index.js';
import type { IndexTensor, Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';
import { normalParameter, resolveInit } from './init.js';
import type { InitOptions } from './init.js';
import { requirePositiveInteger } from './validate.js';

/** A table of `count` learned vectors of size `dim`, looked up by integer index. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly count: number,
    readonly dim: number,
    options: InitOptions = {},
  ) {
    super();
    requirePositiveInteger('count', count);
    requirePositiveInteger('dim', dim);
    const { rng, std } = resolveInit(options);
    this.weight = this.registerParameter('weight', normalParameter([count, dim], rng, std));
  }

  /** The rows at `indices` [...], giving [..., dim]; the gradient scatters back into the table. */
  forward(indices: IndexTensor): Tensor {
    return gather(this.weight, indices);
  }
}
