import type { Random } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { BetaBernoulliThompson, GaussianThompson, type ArmPolicy } from './bandit.js';
import { assignArm, getExperiment } from './experiment.js';
import type { Kpi } from './kpis.js';
import { loggedDecisions } from './replay.js';

/** KPIs bounded to [0, 1], which the Beta-Bernoulli sampler models; the rest use the Gaussian one. */
const rateKpis: readonly Kpi[] = ['watchThrough', 'likeRate', 'shareRate', 'conversionRate'];

/** Options of `allocateUnits`. */
export interface AllocateOptions {
  /** The KPI a bandit experiment optimises (default likeRate). */
  kpi?: Kpi;
  /** Draws the bandit's picks; unused under hash allocation. */
  random: Random;
  explorationFloor?: number;
  /** Horizon of the engagement the bandit learns from (default 24). */
  horizon?: number;
}

/**
 * Arms for new units. Under hash allocation each unit gets its fixed arm; under bandit allocation a Thompson
 * sampler is fitted to the engagement recorded so far and draws one arm per unit, so arms that did well get
 * more of the next publications while the exploration floor keeps every arm alive. Bandit picks are not
 * reproducible from the unit id, so their events must carry the arm.
 */
export async function allocateUnits(
  lake: Lake,
  experimentId: string,
  units: readonly string[],
  options: AllocateOptions,
): Promise<{ unitId: string; arm: string }[]> {
  const experiment = await getExperiment(lake, experimentId);
  if (experiment.allocation === 'hash')
    return units.map((unitId) => ({ unitId, arm: assignArm(experiment, unitId) }));
  const kpi = options.kpi ?? 'likeRate';
  const { arms, log } = await loggedDecisions(lake, experimentId, {
    kpi,
    ...(options.horizon === undefined ? {} : { horizon: options.horizon }),
  });
  const settings = {
    arms: arms.length,
    random: options.random,
    ...(options.explorationFloor === undefined ? {} : { explorationFloor: options.explorationFloor }),
  };
  const policy: ArmPolicy = rateKpis.includes(kpi)
    ? new BetaBernoulliThompson(settings)
    : new GaussianThompson(settings);
  for (const { arm, reward } of log)
    if (arm >= 0) policy.update(arm, rateKpis.includes(kpi) ? Math.min(1, reward) : reward);
  return units.map((unitId) => ({ unitId, arm: arms[policy.choose()] ?? '' }));
}
