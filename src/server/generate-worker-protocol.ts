// Messages between the server and its generation thread (generate-worker.ts); structured-cloned, so plain
// data. A request's abort flag is a SharedArrayBuffer: the thread decodes synchronously and cannot read a
// message until a batch is done, but it reads the flag at every step.
import type { GenerationResult } from '../generate/index.js';
import type { AuditRecord } from '../safety/index.js';
import type { GenerateRequest } from './models.js';
import type { WorkerError } from './worker-protocol.js';

export interface GenerateWorkerData {
  dataDir: string;
}

export type ToGenerateWorker =
  | { type: 'generate'; id: number; request: GenerateRequest; abort: SharedArrayBuffer }
  | { type: 'lake'; id: number; value?: unknown; error?: string }
  | { type: 'close' };

export type FromGenerateWorker =
  | { type: 'ready'; version: string; estimator: string }
  /** Text pieces of one or more decoding steps, in order: `[candidate, text]`. */
  | { type: 'tokens'; id: number; pieces: [number, string][] }
  | { type: 'result'; id: number; result: GenerationResult }
  | { type: 'failed'; id: number; error: WorkerError }
  | { type: 'lake'; id: number; method: 'all' | 'ensureSchema' | 'audit'; args: unknown[] }
  | { type: 'closed' };

export type { AuditRecord };
