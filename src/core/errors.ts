/** Stable machine-readable error codes; messages are for people, codes are for programs. */
export type ErrorCode =
  'VALIDATION' | 'NOT_FOUND' | 'CONFIG' | 'MODEL_STATE' | 'IO' | 'UNSUPPORTED' | 'INTERNAL';

/** Base class of every error TKLLM throws on purpose: a `code` for programs and an optional `cause`. */
export class TkllmError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input: a parameter, a file, a row or a field that cannot be used as given. */
export class ValidationError extends TkllmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VALIDATION', message, options);
  }
}

/** Something named (a post, a model, a file) does not exist. */
export class NotFoundError extends TkllmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

/** A configuration value is missing or inconsistent. */
export class ConfigError extends TkllmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG', message, options);
  }
}

/** A model is used in a state that does not allow it (not trained, wrong shapes, frozen). */
export class ModelStateError extends TkllmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_STATE', message, options);
  }
}

/** Reading or writing a file failed. */
export class IoError extends TkllmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, options);
  }
}

/** An expected outcome that may fail, returned as a value rather than thrown. */
export type Result<T, E = TkllmError> = { ok: true; value: T } | { ok: false; error: E };

/** Formats any thrown value for a person, keeping the code of our own errors. */
export function describeError(error: unknown): string {
  if (error instanceof TkllmError) return `${error.message} [${error.code}]`;
  if (error instanceof Error) return error.message;
  return String(error);
}
