import { add } from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';
import { MultiHeadAttention } from './attention.js';
import type { AttentionCallOptions } from './attention.js';
import { resolveInit } from './init.js';
import type { InitOptions } from './init.js';
import { LayerNorm } from './layer-norm.js';
import { Mlp } from './mlp.js';

/** Options of `TransformerBlock`. */
export interface TransformerBlockOptions extends InitOptions {
  /** Hidden width of the MLP as a multiple of dim (default 4). */
  mlpRatio?: number;
  /** Dropout on the attention and MLP outputs (residual branches), in training mode (default 0). */
  dropout?: number;
  /** Whether self-attention is causal (default true: a decoder block). */
  causal?: boolean;
  /** Adds a cross-attention sub-layer over a context of this width (a decoder block of an encoder-decoder). */
  crossAttentionDim?: number;
}

/**
 * A pre-norm transformer block (GPT-2): x + attn(ln1(x)), then [x + cross(lnCross(x), context)],
 * then x + mlp(ln2(x)). Normalising before each sub-layer keeps deep stacks stable without warm-up tricks.
 */
export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly lnCross: LayerNorm | null;
  readonly cross: MultiHeadAttention | null;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;

  constructor(
    readonly dim: number,
    readonly heads: number,
    options: TransformerBlockOptions = {},
  ) {
    super();
    const { rng, std } = resolveInit(options);
    const dropout = options.dropout ?? 0;
    const init = { rng, initStd: std, dropout };
    this.ln1 = this.registerModule('ln1', new LayerNorm(dim));
    this.attn = this.registerModule(
      'attn',
      new MultiHeadAttention(dim, heads, { ...init, kind: 'self', causal: options.causal ?? true }),
    );
    if (options.crossAttentionDim === undefined) {
      this.lnCross = null;
      this.cross = null;
    } else {
      this.lnCross = this.registerModule('lnCross', new LayerNorm(dim));
      this.cross = this.registerModule(
        'cross',
        new MultiHeadAttention(dim, heads, { ...init, kind: 'cross', contextDim: options.crossAttentionDim }),
      );
    }
    this.ln2 = this.registerModule('ln2', new LayerNorm(dim));
    this.mlp = this.registerModule(
      'mlp',
      new Mlp(dim, { ...init, hidden: Math.round((options.mlpRatio ?? 4) * dim) }),
    );
  }

  /** Applies the block to `x` [B, T, dim]; `context` [B, S, crossAttentionDim] feeds the cross-attention. */
  forward(x: Tensor, context?: Tensor, options: AttentionCallOptions = {}): Tensor {
    let h = add(x, this.attn.forward(this.ln1.forward(x), undefined, options));
    if (this.cross !== null && this.lnCross !== null) {
      h = add(h, this.cross.forward(this.lnCross.forward(h), context));
    }
    return add(h, this.mlp.forward(this.ln2.forward(h)));
  }
}
