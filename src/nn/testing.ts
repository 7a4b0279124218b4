/**
 * Test support for the layers: a numeric gradient check. Not exported from the module's face.
 * The loss is L = sum(out * R) for a fixed random R, evaluated in float64 over the float32 outputs, so
 * that the analytic gradient is one `out.backward(R)` and the numeric one a central difference.
 */
import { Random } from '../core/index.js';
import { Tensor, noGrad } from '../tensor/index.js';

/** Options of `gradientCheck`. */
export interface GradientCheckOptions {
  /** Elements checked per tensor, chosen at random (default 12). */
  samples?: number;
  /** Finite-difference step (default 1e-2: float32 outputs need a large step). */
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

/** One disagreement between analytic and numeric gradient. */
export interface GradientMismatch {
  tensor: string;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * Compares the autograd gradients of `targets` (name -> float tensor with requiresGrad) with central
 * differences of L = sum(forward() * R); returns the mismatches (empty when the gradients agree) and
 * the number of elements checked.
 */
export function gradientCheck(
  forward: () => Tensor,
  targets: Record<string, Tensor>,
  options: GradientCheckOptions = {},
): { mismatches: GradientMismatch[]; checked: number } {
  const { samples = 12, eps = 1e-2, atol = 2e-3, rtol = 2e-2, seed = 7 } = options;
  const rng = new Random(seed);
  for (const t of Object.values(targets)) t.grad = null;
  const out = forward();
  const r = new Float32Array(out.size).map(() => rng.normal());
  out.backward(new Tensor(r, out.shape, 'float32'));
  const loss = (): number =>
    noGrad(() => {
      const y = forward().data;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * r[i];
      return s;
    });
  const mismatches: GradientMismatch[] = [];
  let checked = 0;
  for (const [name, t] of Object.entries(targets)) {
    const data = t.data;
    const grad = t.grad?.data as Float32Array | undefined;
    const picks =
      data.length <= samples ? [...data.keys()] : Array.from({ length: samples }, () => rng.int(data.length));
    for (const i of picks) {
      const saved = data[i];
      data[i] = saved + eps;
      const up = loss();
      data[i] = saved - eps;
      const down = loss();
      data[i] = saved;
      const numeric = (up - down) / (2 * eps);
      const analytic = grad === undefined ? 0 : grad[i];
      checked++;
      if (Math.abs(analytic - numeric) > atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric)))
        mismatches.push({ tensor: name, index: i, analytic, numeric });
    }
  }
  return { mismatches, checked };
}
