import { ValidationError } from '../../core/index.js';

/** Throws a ValidationError unless `value` is a positive integer; the message names the option. */
export function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0)
    throw new ValidationError(`\`${name}\` must be a positive integer, got ${value}`);
}

/** Throws a ValidationError unless `value` is a probability in [0, 1). */
export function requireDropout(name: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new ValidationError(`\`${name}\` must be in [0, 1), got ${value}`);
}
