import { ValidationError } from '../../core/index.js';
import type { Random } from '../../core/index.js';
import { Tensor, attention, dropout, selfAttention, split } from '../../tensor/index.js';
import type { AttentionOptions } from '../../tensor/index.js';
import { Module } from '../module.js';
import { resolveInit } from './init.js';
import type { InitOptions } from './init.js';
import { Linear } from './linear.js';
import { requireDropout, requirePositiveInteger } from './validate.js';

// Added to blocked scores before the softmax: exp(-1e9) is exactly 0 in float32.
const BLOCKED = -1e9;

/** Options of `MultiHeadAttention`. */
export interface MultiHeadAttentionOptions extends InitOptions {
  /**
   * `self` projects queries, keys and values from the same input with one fused qkv Linear; `cross`
   * projects queries from the input and keys and values from a context (one fused kv Linear).
   */
  kind?: 'self' | 'cross';
  /** Whether position i may attend only to positions <= i (default true for self, false for cross). */
  causal?: boolean;
  /** Width of the context for cross-attention (default dim). */
  contextDim?: number;
  /**
   * Dropout on the output, in training mode (default 0). The attention weights themselves are not
   * dropped: the fused kernels never materialise them outside the session.
   */
  dropout?: number;
}

/** Per-call options of `MultiHeadAttention.forward`. */
export interface AttentionCallOptions {
  /** Extra blocked positions, true where attention is not allowed; broadcast to [batch, heads, T, S]. */
  mask?: Tensor<'bool'>;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., 2017): softmax(q k^T / sqrt(d_head)) v per
 * head, then an output projection. Self-attention fuses the q, k, v projections into one Linear;
 * cross-attention fuses the k, v projections of the context.
 * @example
 * const attn = new MultiHeadAttention(192, 4, { rng });
 * const y = attn.forward(x); // [B, T, 192] -> [B, T, 192], causal
 */
export class MultiHeadAttention extends Module {
  readonly kind: 'self' | 'cross';
  readonly causal: boolean;
  readonly headDim: number;
  readonly dropout: number;
  /** The fused q, k, v projection (self-attention) or the q projection (cross-attention). */
  readonly inProj: Linear;
  /** The fused k, v projection of the context (cross-attention only). */
  readonly kvProj: Linear | null;
  readonly proj: Linear;
  private readonly rng: Random;

  constructor(
    readonly dim: number,
    readonly heads: number,
    options: MultiHeadAttentionOptions = {},
  ) {
    super();
    requirePositiveInteger('dim', dim);
    requirePositiveInteger('heads', heads);
    if (dim % heads !== 0)
      throw new ValidationError(`\`dim\` (${dim}) must be a multiple of \`heads\` (${heads})`);
    this.kind = options.kind ?? 'self';
    this.causal = options.causal ?? this.kind === 'self';
    this.headDim = dim / heads;
    this.dropout = options.dropout ?? 0;
    requireDropout('dropout', this.dropout);
    const { rng, std } = resolveInit(options);
    const init = { rng, initStd: std };
    if (this.kind === 'self') {
      this.inProj = this.registerModule('qkv', new Linear(dim, 3 * dim, init));
      this.kvProj = null;
    } else {
      const contextDim = options.contextDim ?? dim;
      requirePositiveInteger('contextDim', contextDim);
      this.inProj = this.registerModule('q', new Linear(dim, dim, init));
      this.kvProj = this.registerModule('kv', new Linear(contextDim, 2 * dim, init));
    }
    this.proj = this.registerModule('proj', new Linear(dim, dim, init));
    this.rng = rng.fork();
  }

  /**
   * Attends from `x` [B, T, dim] to itself (self) or to `context` [B, S, contextDim] (cross), giving
   * [B, T, dim]. Runs on the tensor library's fused attention kernels (one session forward, one backward).
   */
  forward(x: Tensor, context?: Tensor, options: AttentionCallOptions = {}): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim)
      throw new ValidationError(
        `attention input must be [batch, length, ${this.dim}], got [${x.shape.join(', ')}]`,
      );
    const settings: AttentionOptions = { heads: this.heads, causal: this.causal };
    if (options.mask !== undefined) settings.mask = additiveMask(options.mask);
    let y: Tensor;
    if (this.kvProj === null) {
      if (context !== undefined) throw new ValidationError('self-attention takes no `context`');
      y = selfAttention(this.inProj.forward(x), settings);
    } else {
      if (context === undefined || context.rank !== 3 || context.shape[0] !== x.shape[0])
        throw new ValidationError(
          `cross-attention needs a context [${x.shape[0]}, length, ${this.kvProj.inFeatures}], got ${context === undefined ? 'none' : `[${context.shape.join(', ')}]`}`,
        );
      const [k, v] = split(this.kvProj.forward(context), [this.dim, this.dim], 2) as [Tensor, Tensor];
      y = attention(this.inProj.forward(x), k, v, settings);
    }
    y = this.proj.forward(y);
    return this.training && this.dropout > 0 ? dropout(y, this.dropout, this.rng) : y;
  }
}

/** A blocking bool mask (true = blocked) as the additive float mask the fused kernels take. */
function additiveMask(mask: Tensor<'bool'>): Tensor {
  const data = new Float32Array(mask.size);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] === 0 ? 0 : BLOCKED;
  return new Tensor(data, mask.shape, 'float32');
}
