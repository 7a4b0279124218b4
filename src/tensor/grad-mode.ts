/** Whether ops record the graph for backward; switched off inside `noGrad` and during backward. */
let enabled = true;

/** Whether gradient recording is on. */
export function isGradEnabled(): boolean {
  return enabled;
}

/**
 * Runs `fn` without recording the graph: ops inside produce tensors with no gradient history,
 * which saves the memory of saved activations (inference, evaluation, optimiser updates).
 * @example const logits = noGrad(() => model.forward(tokens));
 */
export function noGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

/** Runs `fn` with gradient recording on (the opposite of `noGrad`), restoring the previous mode. */
export function enableGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}
