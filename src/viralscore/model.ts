/**
 * The ViralScore network: one encoder per feature group, a cross-attention fusion in which each of the
 * five subscores has its own query over the group tokens, five heads, and V as a non-negative mix of the
 * subscores, so that every subscore's share of V can be read off.
 */
import { ValidationError } from '../core/index.js';
import type { Random } from '../core/index.js';
import { LayerNorm, Linear, Mlp, Module, ModuleList } from '../nn/index.js';
import {
  add,
  attention,
  concat,
  div,
  gather,
  gelu,
  greaterOrEqual,
  matmul,
  mul,
  randn,
  relu,
  reshape,
  sigmoid,
  slice,
  softplus,
  split,
  sub,
  sum,
  Tensor,
  tensor,
  transpose,
  where,
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
  /** Pieces of the piecewise-linear encoding of each feature (1 = the standardised value as is). */
  bins: number;
  heads: number;
  /** Hidden width of the fusion's feed-forward block. */
  hidden: number;
  /**
   * A linear path from the present features straight into each head's pre-activation (absent in configs
   * saved before it existed: off). With it the network contains a ridge-like linear model, which is what
   * wins on a few hundred rows, and the attention fusion only has to learn what a linear model misses.
   */
  linear?: boolean;
  /**
   * With the linear path, a per-group presence term [groups, 5] beside it: the ridge baseline's presence
   * columns (absent in configs saved before it existed: off). It is fitted by ridge, not trained: zero in the
   * trained members, the ridge's coefficients in the ridge member (see `ViralScoreModelConfig`).
   */
  presence?: boolean;
  /**
   * A tree path (absent: none): boosted regression trees of the same design as the baseline (features,
   * then presence columns), padded to full depth, whose sum is added to every head's pre-activation. Only
   * the estimator's tree member has one; its trees are fitted by boosting, not trained (see `fit.ts`).
   */
  trees?: { count: number; depth: number };
}

/** Defaults of the architecture (small on purpose: a few thousand posts train it). */
export const defaultArchitecture = {
  dModel: 32,
  heads: 4,
  hidden: 64,
  bins: 8,
  linear: true,
  presence: true,
  members: 8,
} as const;

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
  const { groupDims, dModel, heads, hidden, bins } = config;
  if (
    !Array.isArray(groupDims) ||
    groupDims.length === 0 ||
    groupDims.some((d) => !Number.isInteger(d) || d <= 0)
  )
    throw new ValidationError(
      `\`groupDims\` must be a non-empty list of positive integers, got ${JSON.stringify(groupDims)}`,
    );
  const trees =
    config.trees === undefined
      ? {}
      : { 'trees.count': config.trees.count, 'trees.depth': config.trees.depth };
  for (const [name, v] of Object.entries({ dModel, heads, hidden, bins, ...trees }))
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
  /** Lower edge and inverse width of each feature's pieces, [inputWidth, bins]: fitted, not trained. */
  readonly binLower: Tensor;
  readonly binScale: Tensor;
  readonly encoderWeight: Tensor;
  readonly encoderBias: Tensor;
  readonly groupEmbedding: Tensor;
  readonly nullToken: Tensor;
  readonly queries: Tensor;
  readonly headWeight: Tensor;
  readonly headBias: Tensor;
  /** [inputWidth, 5] the linear path into the heads, or null when the config has none. */
  readonly linearWeight: Tensor | null;
  /** [groups, 5] the presence term of the linear path (frozen), or null when the config has none. */
  readonly presenceWeight: Tensor | null;
  /** The tree path's node columns, thresholds and leaf values, or null when the config has none. */
  readonly treeFeature: Tensor | null;
  readonly treeThreshold: Tensor | null;
  readonly treeLeaf: Tensor | null;
  /** softplus of this is the weight a..e of each subscore in V. */
  readonly mixRaw: Tensor;
  readonly mixBias: Tensor;
  private readonly encoderMask: Tensor;
  /** [groups, inputWidth] 1 where feature j belongs to group g: spreads a row's presence to its features. */
  private readonly featureOfGroup: Tensor;
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
    const { groupDims, dModel: d, hidden, bins } = config;
    const g = groupDims.length;
    const width = groupDims.reduce((s, x) => s + x, 0);
    this.inputWidth = width;
    // Until fitBins sees data, piece t of a feature covers standardised values [-2 + 4t/T, -2 + 4(t+1)/T).
    const lower = new Float32Array(width * bins);
    for (let j = 0; j < width; j++) for (let t = 0; t < bins; t++) lower[j * bins + t] = -2 + (4 * t) / bins;
    this.binLower = this.registerParameter(
      'bins.lower',
      new Tensor(lower, [width, bins], 'float32'),
    ).freeze();
    this.binScale = this.registerParameter(
      'bins.scale',
      new Tensor(new Float32Array(width * bins).fill(bins / 4), [width, bins], 'float32'),
    ).freeze();
    const rowsIn = width * bins;
    const w = new Float32Array(rowsIn * g * d);
    const m = new Float32Array(rowsIn * g * d);
    let row = 0;
    groupDims.forEach((dim, gi) => {
      const std = 1 / Math.sqrt((dim * bins) / 2);
      for (let r = row; r < row + dim * bins; r++)
        for (let c = gi * d; c < (gi + 1) * d; c++) {
          w[r * g * d + c] = rng.normal() * std;
          m[r * g * d + c] = 1;
        }
      row += dim * bins;
    });
    this.encoderWeight = this.registerParameter('encoder.weight', new Tensor(w, [rowsIn, g * d], 'float32'));
    this.encoderBias = this.registerParameter('encoder.bias', zeros([g * d]));
    this.encoderMask = new Tensor(m, [rowsIn, g * d], 'float32');
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
    const spread = new Float32Array(g * width);
    let first = 0;
    groupDims.forEach((dim, gi) => {
      for (let j = first; j < first + dim; j++) spread[gi * width + j] = 1;
      first += dim;
    });
    this.featureOfGroup = new Tensor(spread, [g, width], 'float32');
    // Zero at the start: the linear path grows only as far as the data (and weight decay) lets it.
    this.linearWeight =
      config.linear === true
        ? this.registerParameter('linear.weight', zeros([width, subscoreNames.length]))
        : null;
    this.presenceWeight =
      config.linear === true && config.presence === true
        ? this.registerParameter('linear.presence', zeros([g, subscoreNames.length])).freeze()
        : null;
    const trees = config.trees;
    const internal = trees === undefined ? 0 : 2 ** trees.depth - 1;
    const treeParam = (name: string, cols: number) =>
      trees === undefined ? null : this.registerParameter(name, zeros([trees.count, cols])).freeze();
    this.treeFeature = treeParam('trees.feature', internal);
    this.treeThreshold = treeParam('trees.threshold', internal);
    this.treeLeaf = treeParam('trees.leaf', internal + 1);
    // softplus(0.5413) = 1: every subscore starts with weight 1.
    this.mixRaw = this.registerParameter(
      'mix.weight',
      new Tensor(new Float32Array(5).fill(0.5413), [5], 'float32'),
    );
    this.mixBias = this.registerParameter('mix.bias', new Tensor(new Float32Array([-2.5]), [1], 'float32'));
  }

  /**
   * Sets each feature's pieces from training rows (standardised, rows × inputWidth; `present` rows ×
   * groups): edges at the quantiles t/bins of the rows that have the feature's group, as in the
   * piecewise-linear encoding of Gorishniy et al. ("On Embeddings for Numerical Features in Tabular Deep
   * Learning", 2022), which gives a network the per-feature thresholds that make boosted trees strong.
   */
  fitBins(x: Float32Array, present: Float32Array, rows: number): void {
    const { groupDims, bins } = this.config;
    const g = groupDims.length;
    let j = 0;
    groupDims.forEach((dim, gi) => {
      const have: number[] = [];
      for (let r = 0; r < rows; r++) if (present[r * g + gi] === 1) have.push(r);
      for (let k = 0; k < dim; k++, j++) {
        const values = Float64Array.from(have, (r) => x[r * this.inputWidth + j]).sort();
        if (values.length === 0) continue;
        const q = (t: number) => values[Math.min(values.length - 1, Math.floor((t * values.length) / bins))];
        for (let t = 0; t < bins; t++) {
          const lo = t === 0 ? values[0] : q(t);
          const hi = t === bins - 1 ? values[values.length - 1] : q(t + 1);
          this.binLower.data[j * bins + t] = lo;
          // A piece narrower than 1e-3 standard deviations is a step (a discrete value), not a slope.
          this.binScale.data[j * bins + t] = 1 / Math.max(hi - lo, 1e-3);
        }
      }
    });
  }

  /** Packed rows' features with absent groups' values zeroed: what the linear path reads. */
  seenFeatures(f: { x: Float32Array; present: Float32Array; rows: number; width: number }): Float64Array {
    const g = this.config.groupDims.length;
    const out = new Float64Array(f.rows * this.inputWidth);
    const spread = this.featureOfGroup.data;
    for (let r = 0; r < f.rows; r++)
      for (let gi = 0; gi < g; gi++) {
        if (f.present[r * g + gi] !== 1) continue;
        for (let j = 0; j < this.inputWidth; j++)
          if (spread[gi * this.inputWidth + j] === 1) out[r * this.inputWidth + j] = f.x[r * f.width + j];
      }
    return out;
  }

  /** [B, 5] the cross-attention fusion's contribution to each head's pre-activation. */
  private fusion(x: Tensor, present: Tensor): Tensor {
    const { groupDims, dModel: d, heads } = this.config;
    const g = groupDims.length;
    const { bins } = this.config;
    // Piece t of feature j: 0 below its lower edge, rising to 1 at its upper edge.
    const z = mul(sub(reshape(x, [-1, this.inputWidth, 1]), this.binLower), this.binScale);
    const pieces = reshape(sub(relu(z), relu(sub(z, 1))), [-1, this.inputWidth * bins]);
    const encoded = gelu(add(matmul(pieces, mul(this.encoderWeight, this.encoderMask)), this.encoderBias));
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
    return reshape(sum(mul(h, this.headWeight), { axes: [2], keepDims: true }), [-1, subscoreNames.length]);
  }

  /**
   * [B, 1] the tree path: each tree's leaf reached by the row (design = seen features, then presence),
   * summed. Every node of every tree is compared at once (a Gather of the design's columns and one
   * GreaterOrEqual); the leaf each tree reaches is found by a product with the leaves' paths.
   */
  private treeSum(seen: Tensor, present: Tensor): Tensor {
    const { count, depth } = this.config.trees!;
    const internal = 2 ** depth - 1;
    const design = transpose(concat([seen, present], 1));
    const columns = tensor(Int32Array.from(this.treeFeature!.data), undefined, 'int32');
    const picked = gather(design, columns);
    const right = where(greaterOrEqual(picked, reshape(this.treeThreshold!, [-1, 1])), 1, 0);
    const { sign, lefts } = leafPaths(depth);
    const turns = add(matmul(reshape(transpose(right), [-1, count, internal]), sign), lefts);
    // Exactly one leaf of each tree has `depth` matching turns; every other has fewer.
    const reached = relu(sub(turns, depth - 1));
    return reshape(sum(mul(reached, this.treeLeaf!), { axes: [1, 2], keepDims: true }), [-1, 1]);
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
    const { groupDims } = this.config;
    const g = groupDims.length;
    if (x.rank !== 2 || x.shape[1] !== this.inputWidth)
      throw new ValidationError(`features must be [rows, ${this.inputWidth}], got [${x.shape.join(', ')}]`);
    if (present.rank !== 2 || present.shape[1] !== g || present.shape[0] !== x.shape[0])
      throw new ValidationError(
        `\`present\` must be [${x.shape[0]}, ${g}], got [${present.shape.join(', ')}]`,
      );
    // The tree member's fusion is off (zero head weights, never trained), so it is not computed at all.
    const raw = this.treeFeature === null ? this.fusion(x, present) : null;
    // Absent groups' values are zeroed first, so they cannot move the linear or the tree path either.
    const seen = mul(x, matmul(present, this.featureOfGroup));
    let pre = raw === null ? add(this.treeSum(seen, present), this.headBias) : add(raw, this.headBias);
    if (this.linearWeight !== null) pre = add(pre, matmul(seen, this.linearWeight));
    if (this.presenceWeight !== null) pre = add(pre, matmul(present, this.presenceWeight));
    const subscores = sigmoid(pre);
    const contributions = mul(subscores, softplus(this.mixRaw));
    const logit = reshape(add(sum(contributions, { axes: [1], keepDims: true }), this.mixBias), [-1]);
    return { logit, v: sigmoid(logit), subscores, contributions };
  }
}

/**
 * Each leaf's path as a matrix: [internal, leaves] +1 where the path goes right at a node, -1 where it goes
 * left, and the count of left turns, so that `right · sign + lefts` is `depth` for the reached leaf alone.
 * Nodes are in heap order (node k's children are 2k + 1, left, and 2k + 2, right); leaf l is node
 * internal + l.
 */
export function leafPaths(depth: number): { sign: Tensor; lefts: Tensor } {
  const internal = 2 ** depth - 1;
  const sign = new Float32Array(internal * (internal + 1));
  const lefts = new Float32Array(internal + 1);
  for (let l = 0; l <= internal; l++)
    for (let k = internal + l; k > 0; k = (k - 1) >> 1) {
      const parent = (k - 1) >> 1;
      const right = k === 2 * parent + 2;
      sign[parent * (internal + 1) + l] = right ? 1 : -1;
      if (!right) lefts[l] += 1;
    }
  return {
    sign: new Tensor(sign, [internal, internal + 1], 'float32'),
    lefts: new Tensor(lefts, [internal + 1], 'float32'),
  };
}

/** The estimator's architecture: the member network's config and how many members are averaged. */
export interface ViralScoreModelConfig extends ViralScoreConfig {
  /** Networks trained from different seeds whose logits, subscores and contributions are averaged. */
  members: number;
  /**
   * Weight of each member in the average (non-negative, summing to 1); absent: equal weights. With a ridge
   * member (the last one: the ridge baseline inside the model) the trained networks share 1 - w and the
   * ridge member has w, chosen on the validation split.
   */
  memberWeights?: number[];
  /**
   * Trees of the last member (absent: none): the estimator's tree member, the boosted-trees baseline as a
   * network whose fusion and linear path are off, blended in with the share the validation split prefers.
   */
  treeMember?: { count: number; depth: number };
}

/** Validates an estimator config (members, member weights and the member network's config). */
export function checkModelConfig(config: ViralScoreModelConfig): ViralScoreModelConfig {
  if (!Number.isInteger(config.members) || config.members <= 0)
    throw new ValidationError(`\`members\` must be a positive integer, got ${config.members}`);
  const w = config.memberWeights;
  if (w !== undefined) {
    if (
      !Array.isArray(w) ||
      w.length !== config.members ||
      w.some((x) => !Number.isFinite(x) || x < 0) ||
      Math.abs(w.reduce((s, x) => s + x, 0) - 1) > 1e-6
    )
      throw new ValidationError(
        `\`memberWeights\` must be ${config.members} non-negative numbers summing to 1, got ${JSON.stringify(w)}`,
      );
  }
  const { members: _members, memberWeights: _weights, treeMember, ...net } = config;
  checkConfig(treeMember === undefined ? net : { ...net, trees: treeMember });
  return config;
}

/**
 * The estimator: a few member networks trained from different seeds, averaged on the logit scale (a deep
 * ensemble, Lakshminarayanan et al., 2017). On engagement labels the test Spearman of one network moved by
 * several hundredths from seed to seed; the average moves far less. The average may be weighted
 * (`memberWeights`): training adds a ridge member (the ridge baseline as a network with its fusion off) with
 * the share the validation split prefers. The readable form survives averaging: subscore k is the members'
 * (weighted) mean s_k, its contribution the members' mean a_k s_k, and V = sigmoid(mean bias + the sum of
 * contributions), still monotone in every member's subscores.
 */
export class ViralScoreModel extends Module {
  readonly config: ViralScoreModelConfig;
  readonly members: ModuleList<ViralScoreNet>;

  constructor(config: ViralScoreModelConfig, rng: Random, members?: ViralScoreNet[]) {
    super();
    checkModelConfig(config);
    const { members: count, memberWeights: _weights, treeMember, ...net } = config;
    this.config = config;
    const last = treeMember === undefined ? net : { ...net, trees: treeMember };
    const list =
      members ??
      Array.from({ length: count }, (_, i) => new ViralScoreNet(i === count - 1 ? last : net, rng.fork()));
    if (list.length !== count)
      throw new ValidationError(`the model has ${count} members, got ${list.length} networks`);
    this.members = this.registerModule('members', new ModuleList(list));
  }

  /** Width of the standardised features the model reads. */
  get inputWidth(): number {
    return this.members.items[0].inputWidth;
  }

  /** Each member's weight in the average. */
  memberWeights(): number[] {
    const n = this.members.length;
    return this.config.memberWeights ?? new Array<number>(n).fill(1 / n);
  }

  /** The members' (weighted) mean weights a..e of the subscores in V. */
  mixWeights(): number[] {
    const all = this.members.items.map((m) => m.mixWeights());
    const w = this.memberWeights();
    return all[0].map((_, k) => all.reduce((s, a, i) => s + w[i] * a[k], 0));
  }

  /** The members' (weighted) mean bias of V's logit. */
  mixBias(): number {
    const w = this.memberWeights();
    return this.members.items.reduce((s, m, i) => s + w[i] * m.mixBias.data[0], 0);
  }

  /** Scores rows as the members' (weighted) average (see the class comment); rows are independent. */
  forward(x: Tensor, present: Tensor): ViralScoreOutput {
    const outs = this.members.items.map((m) => m.forward(x, present));
    if (outs.length === 1) return outs[0];
    const weights = this.config.memberWeights;
    const avg = (pick: (o: ViralScoreOutput) => Tensor) =>
      weights === undefined
        ? mul(
            outs.slice(1).reduce((s, o) => add(s, pick(o)), pick(outs[0])),
            1 / outs.length,
          )
        : outs
            .slice(1)
            .reduce((s, o, i) => add(s, mul(pick(o), weights[i + 1])), mul(pick(outs[0]), weights[0]));
    const logit = avg((o) => o.logit);
    return {
      logit,
      v: sigmoid(logit),
      subscores: avg((o) => o.subscores),
      contributions: avg((o) => o.contributions),
    };
  }
}
