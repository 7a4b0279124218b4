import { ConfigError, Random, ValidationError, mix32 } from '../core/index.js';
import {
  Embedding,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  TransformerBlock,
  loadWeights,
  readConfig,
  saveWeights,
} from '../nn/index.js';
import {
  Tensor,
  add,
  attention,
  concat,
  dropout,
  matmul,
  reshape,
  sigmoid,
  split,
  sum,
} from '../tensor/index.js';

/** The architecture of a TKLLM model, as data: saved beside the weights and enough to rebuild it. */
export interface LmConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  contextLength: number;
  /** Rows of the creator style table; row 0 is the generic style of unknown creators (default 1). */
  styleCount?: number;
  /** Adds the virality head (Entry B) on the pooled final hidden state (default false). */
  viralityHead?: boolean;
  /** Dropout on embeddings and residual branches in training mode (default 0). */
  dropout?: number;
  /**
   * Direct connections (Mikolov's RNNME): learned next-token logits for each context of the last 1 to
   * `directOrder` - 1 tokens, added to the head's, so that a narrow model still has full-rank n-gram
   * statistics (0 = none, else 2 to 8; default 0). The last token has its own row; longer contexts are
   * hashed into `directBuckets` rows.
   */
  directOrder?: number;
  /** Hashed context rows of the direct connections (default 4096; unused when `directOrder` is 0). */
  directBuckets?: number;
}

/** The longest n-gram the direct connections take (contexts of up to 7 tokens). */
export const MAX_DIRECT_ORDER = 8;

/** The architecture name written in `config.json`. */
export const LM_ARCHITECTURE = 'tkllm';

/** Checks a config and fills its defaults; messages name the field and the value. */
export function resolveLmConfig(config: LmConfig): Required<LmConfig> {
  const resolved: Required<LmConfig> = {
    vocabSize: config.vocabSize,
    dModel: config.dModel,
    nLayers: config.nLayers,
    nHeads: config.nHeads,
    contextLength: config.contextLength,
    styleCount: config.styleCount ?? 1,
    viralityHead: config.viralityHead ?? false,
    dropout: config.dropout ?? 0,
    directOrder: config.directOrder ?? 0,
    directBuckets: config.directBuckets ?? 4096,
  };
  const positive = [
    'vocabSize',
    'dModel',
    'nLayers',
    'nHeads',
    'contextLength',
    'styleCount',
    'directBuckets',
  ] as const;
  for (const key of positive) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value <= 0)
      throw new ConfigError(`LM config \`${key}\` must be a positive integer, got ${String(value)}`);
  }
  if (resolved.dModel % resolved.nHeads !== 0)
    throw new ConfigError(
      `LM config \`dModel\` (${resolved.dModel}) must be a multiple of \`nHeads\` (${resolved.nHeads})`,
    );
  const order = resolved.directOrder;
  if (!(order === 0 || (Number.isInteger(order) && order >= 2 && order <= MAX_DIRECT_ORDER)))
    throw new ConfigError(
      `LM config \`directOrder\` must be 0 or an integer from 2 to ${MAX_DIRECT_ORDER}, got ${String(order)}`,
    );
  if (!(resolved.dropout >= 0 && resolved.dropout < 1))
    throw new ConfigError(`LM config \`dropout\` must be in [0, 1), got ${resolved.dropout}`);
  return resolved;
}

/**
 * Keys and values of past positions, one pair per layer, so that decoding one more token costs one
 * step: the new token's query attends to the cached keys instead of re-running the whole prefix.
 */
export class KvCache {
  readonly keys: (Tensor | null)[];
  readonly values: (Tensor | null)[];
  /** Positions held so far. */
  length = 0;
  /** Tokens held so far, [B, length] row by row: the direct connections' contexts reach back into them. */
  tokens: Int32Array = new Int32Array(0);

  constructor(layers: number) {
    this.keys = new Array<Tensor | null>(layers).fill(null);
    this.values = new Array<Tensor | null>(layers).fill(null);
  }
}

/**
 * The TKLLM decoder: token + learned position + creator style embeddings, pre-norm transformer blocks
 * (the engine's `TransformerBlock`), a final LayerNorm, an untied LM head and an optional virality head.
 * The style vector is added at every position, so a creator's style conditions every prediction.
 * @example
 * const model = new LmModel({ vocabSize: 1024, dModel: 128, nLayers: 4, nHeads: 4, contextLength: 64 });
 * const logits = model.forward(tokens, styles); // [B, T] int32, [B] int32 -> [B, T, vocabSize]
 */
export class LmModel extends Module {
  readonly config: Readonly<Required<LmConfig>>;
  readonly tok: Embedding;
  readonly pos: Embedding;
  readonly style: Embedding;
  readonly blocks: ModuleList<TransformerBlock>;
  readonly lnF: LayerNorm;
  readonly head: Linear;
  readonly virality: Linear | null;
  /** Direct connections' logits, [vocabSize + directBuckets, vocabSize]; null when `directOrder` is 0. */
  readonly direct: Embedding | null;
  private readonly rng: Random;

  constructor(config: LmConfig, options: { seed?: number } = {}) {
    super();
    this.config = Object.freeze(resolveLmConfig(config));
    const { vocabSize, dModel, nLayers, nHeads, contextLength, styleCount, dropout: p } = this.config;
    const rng = new Random(options.seed ?? 0);
    this.tok = this.registerModule('tok', new Embedding(vocabSize, dModel, { rng }));
    this.pos = this.registerModule('pos', new Embedding(contextLength, dModel, { rng }));
    this.style = this.registerModule('style', new Embedding(styleCount, dModel, { rng }));
    const blocks: TransformerBlock[] = [];
    for (let i = 0; i < nLayers; i++) blocks.push(new TransformerBlock(dModel, nHeads, { rng, dropout: p }));
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.lnF = this.registerModule('lnF', new LayerNorm(dModel));
    this.head = this.registerModule('head', new Linear(dModel, vocabSize, { rng, bias: false }));
    this.virality = this.config.viralityHead
      ? this.registerModule('virality', new Linear(dModel, 1, { rng }))
      : null;
    this.rng = rng.fork();
    this.direct = null;
    if (this.config.directOrder > 0) {
      // Zero rows: training starts from the transformer's own predictions, and the other weights are the
      // same as without direct connections (this table draws nothing from `rng`).
      const rows = vocabSize + this.config.directBuckets;
      this.direct = this.registerModule('direct', new Embedding(rows, vocabSize, { rng: new Random(0) }));
      this.direct.weight.data.fill(0);
    }
  }

  /**
   * The direct connections' context rows for positions `from`..`to`-1 of B token sequences stored row by
   * row with `stride` tokens a row: [B, to - from, directOrder - 1], the last token's own row first, then
   * the hashed rows of the last 2, 3, ... tokens; null without direct connections.
   */
  directContexts(
    sequences: Int32Array,
    b: number,
    stride: number,
    from: number,
    to: number,
  ): Tensor<'int32'> | null {
    const { directOrder, vocabSize, directBuckets } = this.config;
    if (directOrder === 0) return null;
    const t = to - from;
    const k = directOrder - 1;
    const rows = new Int32Array(b * t * k);
    for (let i = 0; i < b; i++)
      for (let j = 0; j < t; j++) {
        const at = i * stride + from + j;
        const out = (i * t + j) * k;
        rows[out] = sequences[at];
        for (let n = 2; n <= k; n++) {
          let h = Math.imul(n, 0x27d4eb2f);
          // Positions before the sequence's start hash as -1, so that short contexts stay distinct.
          for (let m = 0; m < n; m++)
            h = mix32(h ^ Math.imul((from + j - m >= 0 ? sequences[at - m] : -1) + 2, 0x9e3779b1));
          rows[out + n - 1] = vocabSize + (h % directBuckets);
        }
      }
    return new Tensor(rows, [b, t, k], 'int32');
  }

  /** Next-token logits from final hidden states and their direct-connection contexts (`directContexts`). */
  logitsOf(hidden: Tensor, contexts: Tensor<'int32'> | null): Tensor {
    const logits = this.head.forward(hidden);
    if (this.direct === null || contexts === null) return logits;
    // One gather of all K context rows and a sum over them: the table's gradient is then one scatter into
    // a table-sized buffer per step, not one per context length.
    return add(logits, sum(this.direct.forward(contexts), { axes: [2] }));
  }

  /** Next-token logits for hidden states [B, T, C] of whole sequences `tokens` [B, T]. */
  logits(hidden: Tensor, tokens: Tensor<'int32'>): Tensor {
    const [b, t] = tokens.shape;
    return this.logitsOf(hidden, this.directContexts(tokens.data, b, t, 0, t));
  }

  /** Final hidden states [B, T, dModel] for `tokens` [B, T] and `styles` [B] (style rows). */
  hidden(tokens: Tensor<'int32'>, styles: Tensor<'int32'>): Tensor {
    this.checkInput(tokens, styles, 0);
    let x = this.embed(tokens, styles, 0);
    if (this.training && this.config.dropout > 0) x = dropout(x, this.config.dropout, this.rng);
    for (const block of this.blocks.items) x = block.forward(x);
    return this.lnF.forward(x);
  }

  /** Next-token logits [B, T, vocabSize]. */
  forward(tokens: Tensor<'int32'>, styles: Tensor<'int32'>): Tensor {
    return this.logits(this.hidden(tokens, styles), tokens);
  }

  /**
   * The virality estimate V̂ in (0, 1) per sequence [B] from hidden states [B, T, C], averaged over the
   * positions where `mask` [B, T] is 1 (padding excluded).
   */
  viralityOf(hidden: Tensor, mask: Float32Array): Tensor {
    if (this.virality === null) throw new ConfigError('this model has no virality head (`viralityHead`)');
    const [b, t] = hidden.shape;
    const pool = new Float32Array(b * t);
    for (let i = 0; i < b; i++) {
      let n = 0;
      for (let j = 0; j < t; j++) n += mask[i * t + j];
      for (let j = 0; j < t; j++) pool[i * t + j] = n > 0 ? mask[i * t + j] / n : 0;
    }
    const pooled = matmul(new Tensor(pool, [b, 1, t], 'float32'), hidden);
    return reshape(sigmoid(this.virality.forward(pooled)), [b]);
  }

  /**
   * Logits [B, Tnew, vocabSize] for `tokens` [B, Tnew] that follow the positions held in `cache`,
   * appending their keys and values to it. Call without gradients (inside `noGrad`) when generating.
   */
  forwardCached(tokens: Tensor<'int32'>, styles: Tensor<'int32'>, cache: KvCache): Tensor {
    const offset = cache.length;
    this.checkInput(tokens, styles, offset);
    const c = this.config.dModel;
    let x = this.embed(tokens, styles, offset);
    this.blocks.items.forEach((block, i) => {
      const qkv = block.attn.inProj.forward(block.ln1.forward(x));
      const [q, k, v] = split(qkv, [c, c, c], 2) as [Tensor, Tensor, Tensor];
      const pastKeys = cache.keys[i];
      const pastValues = cache.values[i];
      const keys = pastKeys === null ? k : concat([pastKeys, k], 1);
      const values = pastValues === null ? v : concat([pastValues, v], 1);
      cache.keys[i] = keys;
      cache.values[i] = values;
      // Queries sit at offset..offset+Tnew-1 among the keys: the causal mask follows from the shapes.
      const a = attention(q, keys, values, { heads: this.config.nHeads, causal: true });
      x = add(x, block.attn.proj.forward(a));
      x = add(x, block.mlp.forward(block.ln2.forward(x)));
    });
    const [b, t] = tokens.shape;
    cache.length = offset + t;
    if (this.direct === null) return this.head.forward(this.lnF.forward(x));
    const history = new Int32Array(b * (offset + t));
    for (let i = 0; i < b; i++) {
      history.set(cache.tokens.subarray(i * offset, (i + 1) * offset), i * (offset + t));
      history.set(tokens.data.subarray(i * t, (i + 1) * t), i * (offset + t) + offset);
    }
    cache.tokens = history;
    return this.logitsOf(
      this.lnF.forward(x),
      this.directContexts(history, b, offset + t, offset, offset + t),
    );
  }

  /** An empty key/value cache for this model. */
  newCache(): KvCache {
    return new KvCache(this.config.nLayers);
  }

  /** Writes config.json and model.safetensors into `dir`, atomically. */
  save(dir: string): void {
    saveWeights(dir, this, { architecture: LM_ARCHITECTURE, ...this.config });
  }

  /**
   * Rebuilds the model saved in `dir` and loads its weights.
   * @example const model = LmModel.load('tkllm-data/lm');
   */
  static load(dir: string): LmModel {
    const { architecture: _architecture, ...fields } = readConfig(dir, LM_ARCHITECTURE);
    const model = new LmModel(resolveLmConfig(fields as unknown as LmConfig));
    loadWeights(dir, model);
    return model;
  }

  private embed(tokens: Tensor<'int32'>, styles: Tensor<'int32'>, offset: number): Tensor {
    const [b, t] = tokens.shape;
    const positions = new Tensor(
      Int32Array.from({ length: t }, (_, i) => offset + i),
      [t],
      'int32',
    );
    const style = reshape(this.style.forward(styles), [b, 1, this.config.dModel]);
    return add(add(this.tok.forward(tokens), this.pos.forward(positions)), style);
  }

  private checkInput(tokens: Tensor<'int32'>, styles: Tensor<'int32'>, offset: number): void {
    if (tokens.rank !== 2)
      throw new ValidationError(
        `LM input must be [batch, length] token ids, got [${tokens.shape.join(', ')}]`,
      );
    const [b, t] = tokens.shape;
    if (styles.rank !== 1 || styles.shape[0] !== b)
      throw new ValidationError(`LM styles must be [${b}] style rows, got [${styles.shape.join(', ')}]`);
    if (offset + t > this.config.contextLength)
      throw new ValidationError(
        `sequence length ${offset + t} exceeds the model's contextLength ${this.config.contextLength}`,
      );
    for (const s of styles.data)
      if (!(s >= 0 && s < this.config.styleCount))
        throw new ValidationError(`style row ${s} is outside [0, ${this.config.styleCount})`);
  }
}
