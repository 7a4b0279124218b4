import { requireNonNegative } from './optimizer.js';
import type { TrainableParameter } from './optimizer.js';

/**
 * Scales all gradients together so that their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ (factor maxNorm / (norm + 1e-6), never above 1). Parameters without a
 * gradient are skipped. Returns the norm before clipping, which is worth logging.
 */
export function clipGradNorm(params: Iterable<TrainableParameter>, maxNorm: number): number {
  requireNonNegative('maxNorm', maxNorm);
  const grads: Float32Array[] = [];
  for (const p of params) if (p.grad !== null) grads.push(p.grad.data);
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  const norm = Math.sqrt(sum);
  const factor = maxNorm / (norm + 1e-6);
  if (factor < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i] * factor;
  return norm;
}
