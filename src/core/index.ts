/** core: errors, seeded randomness, atomic files and progress reporting. Imports nothing of ours. */
export {
  TkllmError,
  ValidationError,
  NotFoundError,
  ConfigError,
  ModelStateError,
  IoError,
  describeError,
} from './errors.js';
export type { ErrorCode, Result } from './errors.js';
export { Random } from './random.js';
export { mix32 } from './hash.js';
export { writeFileAtomic } from './fs.js';
export { terminalProgress, silentProgress } from './progress.js';
export type { ProgressReporter } from './progress.js';
