import { ConfigError, Random } from '../../core/index.js';
import { add, dropout, reshape, Tensor } from '../../tensor/index.js';
import type { IndexTensor } from '../../tensor/index.js';
import { Module } from '../module.js';
import { Embedding } from '../layers/embedding.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { Linear } from '../layers/linear.js';
import { ModuleList } from '../layers/module-list.js';
import { TransformerBlock } from '../layers/transformer-block.js';

/** The configuration of a GPT, as data: saved beside the weights, and enough to rebuild the model. */
export interface GptConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  contextLength: number;
  /** Dropout on embeddings and residual branches in training mode (default 0). */
  dropout?: number;
}

/** Options of the GPT constructor that are not part of its saved config. */
export interface GptOptions {
  /** Seed of the initial weights and dropout masks (default 0). */
  seed?: number;
}

/** Checks a GPT config and fills its defaults; the messages name the field and the value. */
export function resolveGptConfig(config: GptConfig): Required<GptConfig> {
  // Only the known fields: a config read from JSON may carry others, which must not leak into the model.
  const resolved: Required<GptConfig> = {
    vocabSize: config.vocabSize,
    dModel: config.dModel,
    nLayers: config.nLayers,
    nHeads: config.nHeads,
    contextLength: config.contextLength,
    dropout: config.dropout ?? 0,
  };
  for (const key of ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'contextLength'] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value <= 0)
      throw new ConfigError(`GPT config \`${key}\` must be a positive integer, got ${String(value)}`);
  }
  if (resolved.dModel % resolved.nHeads !== 0)
    throw new ConfigError(
      `GPT config \`dModel\` (${resolved.dModel}) must be a multiple of \`nHeads\` (${resolved.nHeads})`,
    );
  if (!(resolved.dropout >= 0 && resolved.dropout < 1))
    throw new ConfigError(`GPT config \`dropout\` must be in [0, 1), got ${resolved.dropout}`);
  return resolved;
}

/**
 * A decoder-only transformer language model (GPT-2 layout): token and learned position embeddings,
 * pre-norm blocks, a final LayerNorm and an untied LM head without bias. Weights start normal with std
 * 0.02 and biases at zero, drawn from a seeded generator.
 * @example
 * const model = new Gpt({ vocabSize: 2048, dModel: 192, nLayers: 4, nHeads: 4, contextLength: 64 });
 * const logits = model.forward(tokens); // [B, T] int32 -> [B, T, vocabSize]
 */
export class Gpt extends Module {
  readonly config: Readonly<Required<GptConfig>>;
  readonly tok: Embedding;
  readonly pos: Embedding;
  readonly blocks: ModuleList<TransformerBlock>;
  readonly lnF: LayerNorm;
  readonly head: Linear;
  private readonly rng: Random;
  private readonly positions = new Map<number, Tensor<'int32'>>();

  constructor(config: GptConfig, options: GptOptions = {}) {
    super();
    this.config = Object.freeze(resolveGptConfig(config));
    const { vocabSize, dModel, nLayers, nHeads, contextLength, dropout: p } = this.config;
    const rng = new Random(options.seed ?? 0);
    this.tok = this.registerModule('tok', new Embedding(vocabSize, dModel, { rng }));
    this.pos = this.registerModule('pos', new Embedding(contextLength, dModel, { rng }));
    const blocks: TransformerBlock[] = [];
    for (let i = 0; i < nLayers; i++) blocks.push(new TransformerBlock(dModel, nHeads, { rng, dropout: p }));
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.lnF = this.registerModule('lnF', new LayerNorm(dModel));
    this.head = this.registerModule('head', new Linear(dModel, vocabSize, { rng, bias: false }));
    this.rng = rng.fork();
  }

  /** The final hidden states [B, T, dModel] (after the last LayerNorm) for `tokens` [B, T]. */
  hidden(tokens: IndexTensor): Tensor {
    if (tokens.rank !== 2)
      throw new ConfigError(`GPT input must be [batch, length] token ids, got [${tokens.shape.join(', ')}]`);
    const t = tokens.shape[1];
    if (t > this.config.contextLength)
      throw new ConfigError(
        `sequence length ${t} exceeds the model's contextLength ${this.config.contextLength}`,
      );
    let x = add(this.tok.forward(tokens), this.pos.forward(this.positionIds(t)));
    if (this.training && this.config.dropout > 0) x = dropout(x, this.config.dropout, this.rng);
    for (const block of this.blocks.items) x = block.forward(x);
    return this.lnF.forward(x);
  }

  /** Next-token logits [B, T, vocabSize] for `tokens` [B, T]. */
  forward(tokens: IndexTensor): Tensor {
    return this.head.forward(this.hidden(tokens));
  }

  /** Logits flattened to [B * T, vocabSize], the shape `crossEntropy` takes with flat targets. */
  logits2d(tokens: IndexTensor): Tensor {
    return reshape(this.forward(tokens), [-1, this.config.vocabSize]);
  }

  private positionIds(t: number): Tensor<'int32'> {
    let ids = this.positions.get(t);
    if (ids === undefined) {
      ids = new Tensor(
        Int32Array.from({ length: t }, (_, i) => i),
        [t],
        'int32',
      );
      this.positions.set(t, ids);
    }
    return ids;
  }
}
