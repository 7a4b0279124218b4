import { ValidationError } from '../../core/index.js';

/** A learning rate as a function of the step (0-based): set `optimizer.lr = schedule(step)` before each step. */
export type LrSchedule = (step: number) => number;

/** Options of the warm-up + cosine schedule. */
export interface WarmupCosineOptions {
  /** The peak learning rate, reached at the end of the warm-up. */
  lr: number;
  /** Steps of linear warm-up from lr/warmupSteps up to lr. */
  warmupSteps: number;
  /** Total steps; the cosine decay ends here and the rate stays at `minLr` afterwards. */
  totalSteps: number;
  /** The floor of the decay (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine decay (Loshchilov & Hutter, SGDR, 2017; the GPT-2/3 recipe):
 * lr * (s+1)/warmup during warm-up, then minLr + (lr - minLr) * (1 + cos(pi * progress)) / 2.
 * @example
 * const schedule = warmupCosineSchedule({ lr: 3e-4, warmupSteps: 100, totalSteps: 5000, minLr: 3e-5 });
 * optimizer.lr = schedule(step);
 */
export function warmupCosineSchedule(options: WarmupCosineOptions): LrSchedule {
  const { lr, warmupSteps, totalSteps, minLr = 0 } = options;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0)
    throw new ValidationError(`\`warmupSteps\` must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps < warmupSteps)
    throw new ValidationError(
      `\`totalSteps\` must be an integer >= warmupSteps (${warmupSteps}), got ${totalSteps}`,
    );
  if (!(minLr >= 0 && minLr <= lr))
    throw new ValidationError(`\`minLr\` must be in [0, lr] = [0, ${lr}], got ${minLr}`);
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  return (step) => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / decaySteps);
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
  };
}
