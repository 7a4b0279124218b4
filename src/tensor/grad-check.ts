/** Numeric gradient checking by central differences, for the tests of ops and of modules built on them. */
import { Random } from '../core/index.js';
import { noGrad } from './grad-mode.js';
import { mul } from './elementwise.js';
import { sum } from './reduce.js';
import { Tensor } from './tensor.js';

/** Options of `checkGradients`. */
export interface GradCheckOptions {
  /** Finite-difference step (float32 arithmetic needs a large one: 1e-2 .. 1e-3). */
  eps?: number;
  /** Allowed error relative to max(|analytic|, |numeric|). */
  rtol?: number;
  /** Allowed absolute error. */
  atol?: number;
  /** Seed of the random weights that turn a tensor output into a scalar. */
  seed?: number;
}

/** The outcome of a gradient check: the worst mismatch found and where. */
export interface GradCheckResult {
  ok: boolean;
  maxError: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/**
 * Compares the autograd gradients of `sum(w * fn(inputs))` (random fixed weights `w`) with central
 * differences, for every element of every input that requires grad.
 */
export function checkGradients(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradCheckOptions = {},
): GradCheckResult {
  const eps = options.eps ?? 1e-2;
  const rtol = options.rtol ?? 1e-2;
  const atol = options.atol ?? 1e-3;
  const rng = new Random(options.seed ?? 7);
  const probe = fn(...inputs);
  const weights = new Tensor(
    Float32Array.from({ length: probe.size }, () => rng.normal()),
    probe.shape,
    'float32',
  );
  const objective = (): number => noGrad(() => sum(mul(fn(...inputs), weights)).item());

  for (const x of inputs) x.grad = null;
  sum(mul(fn(...inputs), weights)).backward();

  let maxError = 0;
  let ok = true;
  let worst: GradCheckResult['worst'] = null;
  inputs.forEach((x, input) => {
    if (!x.requiresGrad) return;
    const analyticAll = x.grad?.data ?? new Float32Array(x.size);
    for (let index = 0; index < x.size; index++) {
      const keep = x.data[index];
      x.data[index] = keep + eps;
      const up = objective();
      x.data[index] = keep - eps;
      const down = objective();
      x.data[index] = keep;
      const numeric = (up - down) / (2 * eps);
      const analytic = analyticAll[index];
      const error = Math.abs(analytic - numeric);
      const allowed = atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric));
      if (error > allowed) ok = false;
      if (worst === null || error > maxError) {
        maxError = error;
        worst = { input, index, analytic, numeric };
      }
    }
  });
  return { ok, maxError, worst };
}
