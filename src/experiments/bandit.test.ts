import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { ingestBundledSample } from '../lake/index.js';
import { tempLake } from '../../test/temp-lake.js';
import {
  allocation,
  BetaBernoulliThompson,
  calibrateSimulator,
  createExperiment,
  EngagementSimulator,
  GaussianThompson,
  loggedDecisions,
  recordEvents,
  replayEvaluate,
  UniformPolicy,
  type LoggedDecision,
} from './index.js';

/** A uniformly logged history of Bernoulli rewards with the given rates. */
function bernoulliLog(rates: number[], events: number, random: Random): LoggedDecision[] {
  return Array.from({ length: events }, () => {
    const arm = random.int(rates.length);
    return { arm, reward: random.next() < (rates[arm] ?? 0) ? 1 : 0 };
  });
}

describe('Thompson sampling', () => {
  it('Beta-Bernoulli concentrates on the best arm but keeps the exploration floor', () => {
    const random = new Random(1);
    const policy = new BetaBernoulliThompson({ arms: 3, random, explorationFloor: 0.02 });
    const rates = [0.05, 0.1, 0.2];
    for (let i = 0; i < 3000; i++) {
      const arm = policy.choose();
      policy.update(arm, random.next() < rates[arm] ? 1 : 0);
    }
    const shares = allocation(policy, 20_000);
    expect(shares[2]).toBeGreaterThan(0.9);
    // Each other arm keeps at least its floor of 2% (less sampling noise).
    expect(Math.min(shares[0], shares[1])).toBeGreaterThan(0.015);
  });

  it('rejects a floor that leaves nothing for Thompson sampling, and rewards outside [0, 1]', () => {
    expect(() => new BetaBernoulliThompson({ arms: 4, random: new Random(), explorationFloor: 0.3 })).toThrow(
      /between 0 and 1\/arms \(0.250\), got 0.3/,
    );
    const policy = new BetaBernoulliThompson({ arms: 2, random: new Random() });
    expect(() => policy.update(0, 3)).toThrow(/rewards must be in \[0, 1\], got 3: use GaussianThompson/);
    expect(() => policy.update(2, 1)).toThrow(/`arm` must be an integer in \[0, 2\), got 2/);
  });

  it('Gaussian plays every arm twice first, then favours the higher mean', () => {
    const random = new Random(2);
    const policy = new GaussianThompson({ arms: 3, random, explorationFloor: 0 });
    const first = [];
    for (let i = 0; i < 6; i++) {
      const arm = policy.choose();
      first.push(arm);
      policy.update(arm, 10 + random.normal());
    }
    expect(first.sort()).toEqual([0, 0, 1, 1, 2, 2]);
    for (let i = 0; i < 2000; i++) {
      const arm = policy.choose();
      policy.update(arm, [10, 10.5, 11][arm] + 2 * random.normal());
    }
    expect(allocation(policy, 5000)[2]).toBeGreaterThan(0.8);
  });
});

describe('replayEvaluate', () => {
  it('gives Beta-Bernoulli Thompson sampling less regret than uniform allocation on a logged history', () => {
    const log = bernoulliLog([0.04, 0.05, 0.08], 60_000, new Random(3));
    const steps = 15_000;
    const thompson = replayEvaluate(log, new BetaBernoulliThompson({ arms: 3, random: new Random(4) }), {
      random: new Random(5),
      steps,
    });
    const uniform = replayEvaluate(log, new UniformPolicy(3, new Random(6)), {
      random: new Random(7),
      steps,
    });
    expect(thompson.matched).toBe(steps);
    expect(uniform.matched).toBe(steps);
    expect(thompson.bestArm).toBe(2);
    // Uniform's expected regret: steps * (0.08 - 0.0567) = 350; Thompson's grows only logarithmically.
    expect(uniform.regret).toBeGreaterThan(250);
    expect(thompson.regret).toBeLessThan(uniform.regret / 2);
  });

  it('thins a non-uniform log to uniform using the logging propensities', () => {
    const random = new Random(8);
    // Arm 0 was logged 3 times as often as arm 1.
    const log = Array.from({ length: 40_000 }, () => {
      const arm = random.next() < 0.75 ? 0 : 1;
      return { arm, reward: arm };
    });
    const result = replayEvaluate(log, new UniformPolicy(2, new Random(9)), {
      random: new Random(10),
      propensities: [0.75, 0.25],
    });
    expect(result.picks[0] / result.matched).toBeCloseTo(0.5, 1);
  });
});

describe('replay on logged lake data', () => {
  let t: Awaited<ReturnType<typeof tempLake>>;
  beforeAll(async () => {
    t = await tempLake();
    await ingestBundledSample(t.lake);
  });
  afterAll(() => t.cleanup());

  it('Gaussian Thompson sampling beats uniform on like rates of a simulated three-script test', async () => {
    const model = await calibrateSimulator(t.lake);
    const experiment = await createExperiment(t.lake, {
      id: 'scripts',
      arms: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1 },
        { name: 'c', weight: 1 },
      ],
      startsAt: new Date('2025-06-01T00:00:00Z'),
    });
    const simulator = new EngagementSimulator(model, {
      random: new Random(11),
      lifts: { c: { likes: 0.5 } },
    });
    await recordEvents(
      t.lake,
      'scripts',
      simulator.simulateExperiment(experiment, { units: 9000, spacingSeconds: 5 }),
    );
    const { arms, log, propensities } = await loggedDecisions(t.lake, 'scripts', { kpi: 'likeRate' });
    expect(arms).toEqual(['a', 'b', 'c']);
    expect(log).toHaveLength(9000);
    const runs = { thompson: 0, uniform: 0 };
    for (let r = 0; r < 5; r++) {
      const options = { random: new Random(100 + r), propensities: propensities!, steps: 2500 };
      runs.thompson += replayEvaluate(
        log,
        new GaussianThompson({ arms: 3, random: new Random(r) }),
        options,
      ).regret;
      runs.uniform += replayEvaluate(log, new UniformPolicy(3, new Random(50 + r)), options).regret;
    }
    expect(runs.thompson).toBeLessThan(runs.uniform * 0.7);
  });
});
