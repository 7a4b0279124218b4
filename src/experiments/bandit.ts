import { ValidationError, type Random } from '../core/index.js';
import { sampleBeta, sampleGamma } from './distributions.js';

/** Picks one of `arms` arms and learns from the reward of each pick. */
export interface ArmPolicy {
  readonly arms: number;
  /** Index of the arm to play next. */
  choose(): number;
  /** Reward observed after playing `arm`. */
  update(arm: number, reward: number): void;
}

/** Options shared by the Thompson samplers. */
export interface ThompsonOptions {
  arms: number;
  random: Random;
  /**
   * Least probability of every arm at every pick (default 0.01): a pick is uniform with probability
   * arms * floor, so no arm starves while its posterior is still wrong, and logged picks keep propensities
   * that off-policy evaluation can divide by. At most 1 / arms.
   */
  explorationFloor?: number;
}

function checkOptions(options: ThompsonOptions): number {
  if (!Number.isInteger(options.arms) || options.arms < 2)
    throw new ValidationError(`\`arms\` must be an integer of at least 2, got ${options.arms}`);
  const floor = options.explorationFloor ?? 0.01;
  if (!(floor >= 0 && floor * options.arms <= 1))
    throw new ValidationError(
      `\`explorationFloor\` must be between 0 and 1/arms (${(1 / options.arms).toFixed(3)}), got ${floor}`,
    );
  return floor;
}

function checkArm(policy: ArmPolicy, arm: number): void {
  if (!Number.isInteger(arm) || arm < 0 || arm >= policy.arms)
    throw new ValidationError(`\`arm\` must be an integer in [0, ${policy.arms}), got ${arm}`);
}

/** Index of the largest value (the first on ties). */
function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++)
    if ((values[i] ?? -Infinity) > (values[best] ?? -Infinity)) best = i;
  return best;
}

/**
 * Thompson sampling for rates (Beta-Bernoulli): each arm's rate has a Beta posterior; a pick draws one rate
 * per arm and plays the largest. Rewards in [0, 1] count as fractional successes (alpha += r,
 * beta += 1 - r), so per-view rates such as watch-through fit as well as 0/1 outcomes.
 *
 * @example
 * const policy = new BetaBernoulliThompson({ arms: 3, random: new Random(1) });
 * const arm = policy.choose(); policy.update(arm, clicked ? 1 : 0);
 */
export class BetaBernoulliThompson implements ArmPolicy {
  readonly arms: number;
  private readonly alpha: number[];
  private readonly beta: number[];
  private readonly floor: number;
  private readonly random: Random;

  constructor(options: ThompsonOptions & { priorAlpha?: number; priorBeta?: number }) {
    this.floor = checkOptions(options);
    const a = options.priorAlpha ?? 1;
    const b = options.priorBeta ?? 1;
    if (!(a > 0 && b > 0))
      throw new ValidationError(`Beta prior must be positive, got alpha ${a} and beta ${b}`);
    this.arms = options.arms;
    this.random = options.random;
    this.alpha = new Array<number>(this.arms).fill(a);
    this.beta = new Array<number>(this.arms).fill(b);
  }

  choose(): number {
    if (this.random.next() < this.floor * this.arms) return this.random.int(this.arms);
    return argmax(this.alpha.map((a, i) => sampleBeta(a, this.beta[i] ?? 1, this.random)));
  }

  update(arm: number, reward: number): void {
    checkArm(this, arm);
    if (!(reward >= 0 && reward <= 1))
      throw new ValidationError(
        `Beta-Bernoulli rewards must be in [0, 1], got ${reward}: use GaussianThompson`,
      );
    this.alpha[arm] = (this.alpha[arm] ?? 1) + reward;
    this.beta[arm] = (this.beta[arm] ?? 1) + 1 - reward;
  }

  /** The posterior Beta(alpha, beta) of an arm's rate. */
  posterior(arm: number): { alpha: number; beta: number } {
    checkArm(this, arm);
    return { alpha: this.alpha[arm] ?? 1, beta: this.beta[arm] ?? 1 };
  }
}

/**
 * Thompson sampling for continuous KPIs (plays, watch time): under the Jeffreys prior p(mu, sigma^2) ~
 * 1/sigma^2 an arm's mean has the posterior mean_k + s_k / sqrt(n_k) * t_{n_k - 1}, a Student t that this
 * policy draws from. Arms with fewer than two rewards are played first, in turn, since their posterior is
 * improper.
 */
export class GaussianThompson implements ArmPolicy {
  readonly arms: number;
  private readonly n: number[];
  private readonly mean: number[];
  private readonly m2: number[];
  private readonly floor: number;
  private readonly random: Random;

  constructor(options: ThompsonOptions) {
    this.floor = checkOptions(options);
    this.arms = options.arms;
    this.random = options.random;
    this.n = new Array<number>(this.arms).fill(0);
    this.mean = new Array<number>(this.arms).fill(0);
    this.m2 = new Array<number>(this.arms).fill(0);
  }

  choose(): number {
    if (this.random.next() < this.floor * this.arms) return this.random.int(this.arms);
    const cold = this.n.findIndex((n) => n < 2);
    if (cold >= 0) return cold;
    const draws = this.n.map((n, k) => {
      const df = n - 1;
      // Student t draw: z / sqrt(chi2_df / df), with chi2_df = 2 Gamma(df / 2).
      const t = this.random.normal() / Math.sqrt((2 * sampleGamma(df / 2, this.random)) / df);
      const sd = Math.sqrt((this.m2[k] ?? 0) / df);
      return (this.mean[k] ?? 0) + (sd / Math.sqrt(n)) * t;
    });
    return argmax(draws);
  }

  update(arm: number, reward: number): void {
    checkArm(this, arm);
    if (!Number.isFinite(reward)) throw new ValidationError(`reward must be a finite number, got ${reward}`);
    const n = (this.n[arm] ?? 0) + 1;
    const delta = reward - (this.mean[arm] ?? 0);
    this.n[arm] = n;
    this.mean[arm] = (this.mean[arm] ?? 0) + delta / n;
    this.m2[arm] = (this.m2[arm] ?? 0) + delta * (reward - (this.mean[arm] ?? 0));
  }
}

/** Plays every arm with equal probability: the baseline that replay regret is compared with. */
export class UniformPolicy implements ArmPolicy {
  constructor(
    readonly arms: number,
    private readonly random: Random,
  ) {}

  choose(): number {
    return this.random.int(this.arms);
  }

  update(): void {}
}

/** Share of `draws` picks that go to each arm now (without learning): the policy's current allocation. */
export function allocation(policy: ArmPolicy, draws = 1000): number[] {
  const counts = new Array<number>(policy.arms).fill(0);
  for (let i = 0; i < draws; i++) {
    const arm = policy.choose();
    counts[arm] = (counts[arm] ?? 0) + 1;
  }
  return counts.map((c) => c / draws);
}
