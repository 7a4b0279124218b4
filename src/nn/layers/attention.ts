import { ValidationError } from '../../core/index.js';
import type { Random } from '../../core/index.js';
import {
  dropout,
  maskedFill,
  matmul,
  mul,
  reshape,
  softmax,
  split,
  transpose,
  Tensor,
} from '../../tensor/index.js';
import { Module } from '../module.js';
import { resolveInit } from './init.js';
import type { InitOptions } from './init.js';
import { Linear } from './linear.js';
import { requireDropout, requirePositiveInteger } from './validate.js';

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
  /** Dropout on the attention weights and on the output, in training mode (default 0). */
  dropout?: number;
}

/** Per-call options of `MultiHeadAttention.forward`. */
export interface AttentionCallOptions {
  /** Extra blocked positions, true where attention is not allowed; broadcast to [batch, heads, T, S]. */
  mask?: Tensor<'bool'>;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., 2017): softmax(q k^T / sqrt(d_head)) v per
 * head, then an output projection. Self-attention fuses the q, k, v projections into one Linear.
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
  private readonly masks = new Map<string, Tensor<'bool'>>();

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
   * [B, T, dim].
   */
  forward(x: Tensor, context?: Tensor, options: AttentionCallOptions = {}): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim)
      throw new ValidationError(
        `attention input must be [batch, length, ${this.dim}], got [${x.shape.join(', ')}]`,
      );
    const [b, t] = x.shape as [number, number, number];
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (this.kvProj === null) {
      if (context !== undefined) throw new ValidationError('self-attention takes no `context`');
      [q, k, v] = this.heads3(this.inProj.forward(x), b, t, 3);
    } else {
      if (context === undefined || context.rank !== 3 || context.shape[0] !== b)
        throw new ValidationError(
          `cross-attention needs a context [${b}, length, ${this.kvProj.inFeatures}], got ${context === undefined ? 'none' : `[${context.shape.join(', ')}]`}`,
        );
      const s = context.shape[1];
      // [B, T, dim] -> [B, H, T, hd]
      q = transpose(reshape(this.inProj.forward(x), [b, t, this.heads, this.headDim]), [0, 2, 1, 3]);
      [k, v] = this.heads3(this.kvProj.forward(context), b, s, 2);
    }
    const s = k.shape[2];
    let scores = mul(matmul(q, k, { transB: true }), 1 / Math.sqrt(this.headDim));
    if (this.causal) scores = maskedFill(scores, this.causalMask(t, s), -1e9);
    if (options.mask !== undefined) scores = maskedFill(scores, options.mask, -1e9);
    let weights = softmax(scores, -1);
    if (this.training && this.dropout > 0) weights = dropout(weights, this.dropout, this.rng);
    // [B, H, T, hd] -> [B, T, H, hd] -> [B, T, dim]
    const merged = reshape(transpose(matmul(weights, v), [0, 2, 1, 3]), [b, t, this.dim]);
    const y = this.proj.forward(merged);
    return this.training && this.dropout > 0 ? dropout(y, this.dropout, this.rng) : y;
  }

  /**
   * Splits a fused projection [B, L, n * dim] into n tensors [B, H, L, hd] with one transpose
   * ([B, L, n, H, hd] -> [n, B, H, L, hd]) and contiguous slices, instead of one transpose per part.
   */
  private heads3(fused: Tensor, b: number, length: number, n: number): Tensor[] {
    const parts = transpose(reshape(fused, [b, length, n, this.heads, this.headDim]), [2, 0, 3, 1, 4]);
    return split(parts, new Array<number>(n).fill(1), 0).map((p) =>
      reshape(p, [b, this.heads, length, this.headDim]),
    );
  }

  /** True above the diagonal (j > i + s - t): the future positions, cached per shape. */
  private causalMask(t: number, s: number): Tensor<'bool'> {
    const key = `${t}x${s}`;
    let mask = this.masks.get(key);
    if (mask === undefined) {
      const data = new Uint8Array(t * s);
      for (let i = 0; i < t; i++) for (let j = 0; j < s; j++) data[i * s + j] = j > i + s - t ? 1 : 0;
      mask = new Tensor(data, [t, s], 'bool');
      this.masks.set(key, mask);
    }
    return mask;
  }
}
