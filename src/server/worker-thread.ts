// What the server's two kinds of thread (scoring: score-worker.ts, generation: generate-worker.ts) share:
// starting one, turning its errors back into TkllmErrors, and the lake calls a thread forwards to the main
// thread, which owns the lake's one DuckDB connection.
import { Worker } from 'node:worker_threads';
import { TkllmError, type ErrorCode } from '../core/index.js';
import type { WorkerError } from './worker-protocol.js';

/**
 * Starts the thread module `name` (a file beside this one, without extension) with `data`. Under tsx or
 * vitest the module is TypeScript, which Node itself cannot load, so the thread first registers tsx's loader
 * (the same one the parent runs under).
 */
export function startWorker(name: string, data: unknown): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`./${name}${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(url, { workerData: data });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}

/** The error a thread reported, as the TkllmError it was there (code, name and message kept). */
export function errorFromWorker(e: WorkerError): TkllmError {
  const error = new TkllmError(e.code as ErrorCode, e.message);
  error.name = e.name;
  return error;
}

/** A lake call a thread asks of the main thread, and its answer. */
export interface LakeRequest<Method extends string> {
  type: 'lake';
  id: number;
  method: Method;
  args: unknown[];
}
export interface LakeAnswer {
  type: 'lake';
  id: number;
  value?: unknown;
  error?: string;
}

/** In a thread: lake calls sent to the main thread, each settled when its answer comes back. */
export class LakeRequests<Method extends string> {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(private readonly send: (request: LakeRequest<Method>) => void) {}

  ask(method: Method, args: unknown[]): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'lake', id, method, args });
    });
  }

  settle(answer: LakeAnswer): void {
    const waiting = this.pending.get(answer.id);
    this.pending.delete(answer.id);
    if (answer.error === undefined) waiting?.resolve(answer.value);
    else waiting?.reject(new Error(answer.error));
  }
}

/** In the main thread: runs one forwarded lake call and posts its value, or its error's message, back. */
export async function answerLake(worker: Worker, id: number, call: () => Promise<unknown>): Promise<void> {
  let answer: LakeAnswer;
  try {
    answer = { type: 'lake', id, value: await call() };
  } catch (error) {
    answer = { type: 'lake', id, error: (error as Error).message };
  }
  worker.postMessage(answer);
}
