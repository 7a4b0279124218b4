/**
 * The ViralScore network: one encoder per feature group, a cross-attention fusion in which each of the
 * five subscores has its own query over the group tokens, five heads, and V as a non-negative mix of the
 * subscores, so that every subscore's share of V can be read off.
 */
import { ValidationError } from '../core/index.js';
import type { Random } from '../core/index.js';
import { LayerNorm, Linear, Mlp, Module } from '../nn/index.js';
import {
  add,
  attention,
  concat,
  div,
  gelu,
  matmul,
  mul,
  randn,
  reshape,
  sigmoid,
  slice,
  softplus,
  split,
  sub,
  sum,
  Tensor,
  zeros,
} from '../tensor/index.js';

/** The subscores, in head order: EmotionIntensity, HookStrength, Replicability, ShareTrigger, TrendMatch. */
export const subscoreNames = ['E', 'H', 'R', 'S', 'T'] as const;
/** One subscore name. */
export type SubscoreName = (typeof subscoreNames)[number];

/** The architecture as data: saved beside the weights, it rebuilds the same network. */
export interface ViralScoreConfig {
  /** Input width of each feature group, in model order (the schema's groups). */
  groupDims: number[];
  /** Width of the group tokens. */
  dModel: number;
  heads: number;
  /** Hidden width of the fusion's feed-forward block. */
  hidden: number;
}

/** Defaults of the architecture (small on purpose: a few thousand posts train it). */
export const defaultArchitecture = { dModel: 32, heads: 4, hidden: 64 } as const;

/** What one forward pass gives for a batch of B rows. */
export interface ViralScoreOutput {
  /** [B] the logit of V. */
  logit: Tensor;
  /** [B] V in (0, 1). */
  v: Tensor;
  /** [B, 5] subscores in (0, 1), in `subscoreNames` order. */
  subscores: Tensor;
  /** [B, 5] each subscore times its non-negative weight: its additive share of V's logit. */
  contributions: Tensor;
}

// Added to the attention score of an absent group: exp(-1e9) is exactly 0 in float32.
const BLOCKED = 1e9;

/** Validates an architecture config and returns it. */
export function checkConfig(config: ViralScoreConfig): ViralScoreConfig {
  const { groupDims, dModel, heads, hidden } = config;
  if (
    !Array.isArray(groupDims) ||
    groupDims.length === 0 ||
    groupDims.some((d) => !Number.isInteger(d) || d <= 0)
  )
    throw new ValidationError(
      `\`groupDims\` must be a non-empty list of positive integers, got ${JSON.stringify(groupDims)}`,
    );
  for (const [name, v] of Object.entries({ dModel, heads, hidden }))
    if (!Number.isInteger(v) || v <= 0)
      throw new ValidationError(`\`${name}\` must be a positive integer, got ${v}`);
  if (dModel % heads !== 0)
    throw new ValidationError(`\`dModel\` (${dModel}) must be a multiple of \`heads\` (${heads})`);
  return config;
}

/**
 * The estimator's network.
 * Group encoders: all groups run as one matmul with a block-diagonal weight (the weight times a fixed 0/1
 * mask), so group g's token reads only group g's features, at the cost of one op instead of one per group.
 * Absent groups are masked out of the attention and the pooled context, so their (meaningless) values
 * cannot move any output. A learned null token, always present, keeps the softmax defined when a row has
 * few groups and lets a head say "nothing here".
 * @example
 * const net = new ViralScoreNet({ groupDims: [12, 6], dModel: 32, heads: 4, hidden: 64 }, new Random(1));
 * const { v, subscores } = net.forward(x, present);
 */
export class ViralScoreNet extends Module {
  readonly config: ViralScoreConfig;
  readonly inputWidth: number;
  readonly encoderWeight: Tensor;
  readonly encoderBias: Tensor;
  readonly groupEmbedding: Tensor;
  readonly nullToken: Tensor;
  readonly queries: Tensor;
  readonly headWeight: Tensor;
  readonly headBias: Tensor;
  /** softplus of this is the weight a..e of each subscore in V. */
  readonly mixRaw: Tensor;
  readonly mixBias: Tensor;
  private readonly encoderMask: Tensor;
  private readonly tokenNorm: LayerNorm;
  private readonly contextProj: Linear;
  private readonly qProj: Linear;
  private readonly kvProj: Linear;
  private readonly outProj: Linear;
  private readonly norm1: LayerNorm;
  private readonly mlp: Mlp;
  private readonly norm2: LayerNorm;

  constructor(config: ViralScoreConfig, rng: Random) {
    super();
    this.config = checkConfig(config);
    const { groupDims, dModel: d, heads: _heads, hidden } = config;
    const g = groupDims.length;
    const width = groupDims.reduce((s, x) => s + x, 0);
    this.inputWidth = width;
    const w = new Float32Array(width * g * d);
    const m = new Float32Array(width * g * d);
    let row = 0;
    groupDims.forEach((dim, gi) => {
      const std = 1 / Math.sqrt(dim);
      for (let r = row; r < row + dim; r++)
        for (let c = gi * d; c < (gi + 1) * d; c++) {
          w[r * g * d + c] = rng.normal() * std;
          m[r * g * d + c] = 1;
        }
      row += dim;
    });
    this.encoderWeight = this.registerParameter('encoder.weight', new Tensor(w, [width, g * d], 'float32'));
    this.encoderBias = this.registerParameter('encoder.bias', zeros([g * d]));
    this.encoderMask = new Tensor(m, [width, g * d], 'float32');
    this.groupEmbedding = this.registerParameter('groupEmbedding', randn([g, d], rng, 0.1));
    this.nullToken = this.registerParameter('nullToken', randn([1, d], rng, 0.1));
    this.tokenNorm = this.registerModule('tokenNorm', new LayerNorm(d));
    const init = { rng, initStd: 1 / Math.sqrt(d) };
    this.queries = this.registerParameter('queries', randn([subscoreNames.length, d], rng, 0.5));
    this.contextProj = this.registerModule('contextProj', new Linear(d, d, init));
    this.qProj = this.registerModule('q', new Linear(d, d, init));
    this.kvProj = this.registerModule('kv', new Linear(d, 2 * d, init));
    this.outProj = this.registerModule('proj', new Linear(d, d, init));
    this.norm1 = this.registerModule('norm1', new LayerNorm(d));
    this.mlp = this.registerModule('mlp', new Mlp(d, { hidden, ...init }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(d));
    this.headWeight = this.registerParameter('head.weight', randn([subscoreNames.length, d], rng, 0.1));
    this.headBias = this.registerParameter('head.bias', zeros([subscoreNames.length]));
    // softplus(0.5413) = 1: every subscore starts with weight 1.
    this.mixRaw = this.registerParameter(
      'mix.weight',
      new Tensor(new Float32Array(5).fill(0.5413), [5], 'float32'),
    );
    this.mixBias = this.registerParameter('mix.bias', new Tensor(new Float32Array([-2.5]), [1], 'float32'));
  }

  /** The non-negative weights a..e of the subscores in V (softplus of the raw parameters). */
  mixWeights(): number[] {
    return Array.from(this.mixRaw.data, (r) => Math.log1p(Math.exp(r)));
  }

  /**
   * Scores `x` [B, inputWidth] (standardised features, absent groups any value) given `present`
   * [B, groups] (1 where the row has the group). Rows are independent of each other.
   */
  forward(x: Tensor, present: Tensor): ViralScoreOutput {
    const { groupDims, dModel: d, heads } = this.config;
    const g = groupDims.length;
    if (x.rank !== 2 || x.shape[1] !== this.inputWidth)
      throw new ValidationError(`features must be [rows, ${this.inputWidth}], got [${x.shape.join(', ')}]`);
    if (present.rank !== 2 || present.shape[1] !== g || present.shape[0] !== x.shape[0])
      throw new ValidationError(
        `\`present\` must be [${x.shape[0]}, ${g}], got [${present.shape.join(', ')}]`,
      );
    const encoded = gelu(add(matmul(x, mul(this.encoderWeight, this.encoderMask)), this.encoderBias));
    const tokens = add(reshape(encoded, [-1, g, d]), this.groupEmbedding);
    // Batch-shaped zeros derived from an input, so that a traced graph keeps the batch dim dynamic.
    const zeroCol = mul(slice(present, 1, 0, 1), 0);
    const nullTok = add(reshape(zeroCol, [-1, 1, 1]), reshape(this.nullToken, [1, 1, d]));
    const all = this.tokenNorm.forward(concat([tokens, nullTok], 1));
    const presentAll = concat([present, add(zeroCol, 1)], 1);
    const mask = reshape(mul(sub(presentAll, 1), BLOCKED), [-1, 1, 1, g + 1]);
    // Reductions keep their dims and reshape with -1: a dropped dim would be fixed at trace time.
    const pooled = div(
      sum(mul(all, reshape(presentAll, [-1, g + 1, 1])), { axes: [1], keepDims: true }),
      sum(reshape(presentAll, [-1, g + 1, 1]), { axes: [1], keepDims: true }),
    );
    const queries = add(
      reshape(this.queries, [1, subscoreNames.length, d]),
      this.contextProj.forward(pooled),
    );
    const [k, v] = split(this.kvProj.forward(all), [d, d], 2) as [Tensor, Tensor];
    const attended = attention(this.qProj.forward(queries), k, v, { heads, mask });
    let h = this.norm1.forward(add(queries, this.outProj.forward(attended)));
    h = this.norm2.forward(add(h, this.mlp.forward(h)));
    const raw = reshape(sum(mul(h, this.headWeight), { axes: [2], keepDims: true }), [
      -1,
      subscoreNames.length,
    ]);
    const subscores = sigmoid(add(raw, this.headBias));
    const contributions = mul(subscores, softplus(this.mixRaw));
    const logit = reshape(add(sum(contributions, { axes: [1], keepDims: true }), this.mixBias), [-1]);
    return { logit, v: sigmoid(logit), subscores, contributions };
  }
}
