import { dropout, gelu } from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { Random } from '../../core/index.js';
import { Module } from '../module.js';
import { resolveInit } from './init.js';
import type { InitOptions } from './init.js';
import { Linear } from './linear.js';
import { requireDropout, requirePositiveInteger } from './validate.js';

/** Options of `Mlp`. */
export interface MlpOptions extends InitOptions {
  /** Width of the hidden layer (default 4 * dim, as in GPT). */
  hidden?: number;
  /** Dropout on the output, in training mode (default 0). */
  dropout?: number;
}

/** The transformer feed-forward block: Linear -> GELU -> Linear (-> dropout). */
export class Mlp extends Module {
  readonly fc: Linear;
  readonly out: Linear;
  readonly dropout: number;
  private readonly rng: Random;

  constructor(
    readonly dim: number,
    options: MlpOptions = {},
  ) {
    super();
    requirePositiveInteger('dim', dim);
    const hidden = options.hidden ?? 4 * dim;
    requirePositiveInteger('hidden', hidden);
    this.dropout = options.dropout ?? 0;
    requireDropout('dropout', this.dropout);
    const { rng, std } = resolveInit(options);
    this.fc = this.registerModule('fc', new Linear(dim, hidden, { rng, initStd: std }));
    this.out = this.registerModule('out', new Linear(hidden, dim, { rng, initStd: std }));
    this.rng = rng.fork();
  }

  /** Applies the block to `x` [..., dim]. */
  forward(x: Tensor): Tensor {
    const y = this.out.forward(gelu(this.fc.forward(x)));
    return this.training && this.dropout > 0 ? dropout(y, this.dropout, this.rng) : y;
  }
}
