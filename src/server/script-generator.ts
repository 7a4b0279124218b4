import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { TkllmError } from '../core/index.js';
import {
  generatePaths,
  type GeneratedCandidate as Candidate,
  type GenerationResult,
} from '../generate/index.js';
import type { Lake } from '../lake/index.js';
import { lmVersions, TOKENIZER_FILE } from '../lm/index.js';
import { recordAudit, type AuditRecord } from '../safety/index.js';
import { ViralScoreRegistry } from '../viralscore/index.js';
import type { FromGenerateWorker, GenerateWorkerData, ToGenerateWorker } from './generate-worker-protocol.js';
import type {
  GeneratedCandidate,
  GenerateRequest,
  GenerationEvent,
  LakeUse,
  ScriptGenerator,
} from './models.js';
import { answerLake, errorFromWorker, startWorker } from './worker-thread.js';

const toCandidate = (c: Candidate, rank: number): GeneratedCandidate => ({
  rank,
  index: c.index,
  text: c.text,
  tokens: c.tokens,
  logProbNorm: c.logProbNorm,
  v: c.v,
  vPenalised: c.vPenalised,
  score: c.score,
  subscores: { ...c.subscores },
  contributions: { ...c.contributions },
  policy: {
    blocked: c.policy.blocked,
    brandSafety: c.policy.brandSafety,
    reasons: [...c.policy.reasons],
    hits: c.policy.hits.map((h) => ({
      ruleId: h.ruleId,
      category: String(h.category),
      severity: String(h.severity),
      text: h.text,
    })),
  },
  keywordHit: c.keywordHit,
  finishReason: c.finishReason,
});

/** Messages of one request, waited for in order. */
class Inbox {
  private readonly items: FromGenerateWorker[] = [];
  private wake: (() => void) | undefined;
  failure: Error | undefined;

  push(message: FromGenerateWorker) {
    this.items.push(message);
    this.wake?.();
  }

  fail(error: Error) {
    this.failure ??= error;
    this.wake?.();
  }

  async next(): Promise<FromGenerateWorker> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

interface Running {
  id: number;
  inbox: Inbox;
  useLake: LakeUse;
  /** Resolves when the thread has answered the request (result or failure), read or not. */
  finished: Promise<void>;
  finish: () => void;
}

/**
 * The generation thread seen from the server: one request at a time (the thread decodes synchronously),
 * each request's token pieces, result and lake calls routed by its id. The thread's reads of the lake and
 * its audit writes run through the `useLake` of the request it is working on (the server's lake gate), or
 * straight on the lake before serving starts.
 */
class GenerateThread {
  private nextId = 0;
  private running: Running | undefined;
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private readonly exited: Promise<void>;
  readonly ready: Promise<{ version: string; estimator: string }>;

  constructor(
    private readonly worker: Worker,
    /** The lake outside a request (the thread's start): the server's gate when it opens while serving. */
    private readonly outsideRequests: LakeUse,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (message: FromGenerateWorker) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'lake') void this.answerLake(message);
        else if (message.type === 'failed' && message.id === -1) reject(errorFromWorker(message.error));
        else if (message.type === 'closed') return;
        else if (this.running?.id === message.id) {
          this.running.inbox.push(message);
          if (message.type !== 'tokens') this.running.finish();
        }
      });
      worker.on('error', (error) => {
        this.fail(error);
        reject(error);
      });
      worker.on('exit', (code) => {
        const error = new TkllmError('INTERNAL', `the generation thread exited (${code})`);
        this.fail(error);
        reject(error);
      });
    });
  }

  private fail(error: Error) {
    this.failure ??= error;
    this.running?.inbox.fail(error);
    this.running?.finish();
  }

  private answerLake(message: Extract<FromGenerateWorker, { type: 'lake' }>) {
    const useLake: LakeUse = this.running?.useLake ?? this.outsideRequests;
    return answerLake(this.worker, message.id, () =>
      useLake<unknown>((lake) => {
        if (message.method === 'all') return lake.all(String(message.args[0]));
        if (message.method === 'audit') return recordAudit(lake, message.args[0] as AuditRecord);
        return lake.ensureSchema(
          String(message.args[0]),
          message.args[1] as Parameters<Lake['ensureSchema']>[1],
        );
      }),
    );
  }

  /** Runs one request after the earlier ones; yields its token pieces, then its result. */
  async *generate(
    request: GenerateRequest,
    signal: AbortSignal,
    useLake: LakeUse,
  ): AsyncGenerator<GenerationResult | { candidate: number; text: string }[]> {
    const turn = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => (release = resolve));
    let running: Running | undefined;
    const abort = new SharedArrayBuffer(4);
    const onAbort = () => Atomics.store(new Int32Array(abort), 0, 1);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await turn;
      if (this.failure !== undefined) throw this.failure;
      if (signal.aborted) return;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      running = { id: this.nextId++, inbox: new Inbox(), useLake, finished, finish };
      this.running = running;
      this.worker.postMessage({
        type: 'generate',
        id: running.id,
        request,
        abort,
      } satisfies ToGenerateWorker);
      for (;;) {
        const message = await running.inbox.next();
        if (message.type === 'tokens') yield message.pieces.map(([candidate, text]) => ({ candidate, text }));
        else if (message.type === 'result') {
          yield message.result;
          return;
        } else if (message.type === 'failed') throw errorFromWorker(message.error);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A reader that left early stops the decoding at its next step; the next request starts once the
      // thread has answered this one, so that lake calls are never routed to the wrong request.
      onAbort();
      const done = running?.finished ?? Promise.resolve();
      void done.then(() => {
        if (this.running === running) this.running = undefined;
        release();
      });
    }
  }

  /** Resolves once every request given so far has finished. */
  async drain(): Promise<void> {
    for (let tail = this.tail; ; tail = this.tail) {
      await tail;
      if (tail === this.tail) return;
    }
  }

  /** Asks the thread to free its sessions and end; resolves once it has (by force after 5 s). */
  async close(): Promise<void> {
    this.fail(new TkllmError('MODEL_STATE', 'the generator is closed'));
    this.worker.postMessage({ type: 'close' } satisfies ToGenerateWorker);
    const force = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(force);
  }
}

/**
 * src/generate's generator (TKLLM, the active estimator, policy, rerank, audit) in a worker thread behind the
 * server's `ScriptGenerator` face, or undefined when the data directory has no LM (`models/lm/tokenizer.json`)
 * or no estimator. Decoding runs off the HTTP event loop; each decoding step's text pieces arrive as a
 * `tokens` event while the batch decodes, then the ranked candidates and `done`. Requests run one after
 * another. While serving, the thread's lake reads and its audit write go through `useLake` (the server's
 * lake gate) one call at a time, so the gate is never held while decoding.
 * @example
 * const generator = await openScriptGenerator(lake, './tkllm-data');
 * try { for await (const e of generator.generate(request, signal, gate)) ...; } finally { await generator.close(); }
 */
export async function openScriptGenerator(
  lake: Lake | LakeUse,
  dataDir: string,
): Promise<ScriptGenerator | undefined> {
  const { lmDir } = generatePaths(dataDir);
  if (!existsSync(join(lmDir, TOKENIZER_FILE))) return undefined;
  if (new ViralScoreRegistry(dataDir).list().length === 0) return undefined;
  const thread = new GenerateThread(
    startWorker('generate-worker', { dataDir } satisfies GenerateWorkerData),
    typeof lake === 'function' ? lake : (work) => work(lake),
  );
  let estimator: string;
  try {
    ({ estimator } = await thread.ready);
  } catch (error) {
    await thread.close();
    throw error;
  }
  // The LM's saved version, once `tkllm lm update` or a switch has begun versions: lm@v2+v1.
  const lmVersion = lmVersions(lmDir).active;
  const version = `${basename(lmDir)}${lmVersion === null ? '' : `@${lmVersion}`}+${estimator}`;
  return {
    version,
    close: () => thread.close(),
    drain: () => thread.drain(),
    async *generate(request: GenerateRequest, signal: AbortSignal, useLake: LakeUse) {
      for await (const item of thread.generate(request, signal, useLake)) {
        if (signal.aborted) return;
        if (Array.isArray(item)) {
          yield { type: 'tokens', pieces: item } satisfies GenerationEvent;
          continue;
        }
        const result = item;
        for (const [rank, c] of result.candidates.entries())
          yield { type: 'candidate', candidate: toCandidate(c, rank) } satisfies GenerationEvent;
        yield {
          type: 'done',
          summary: {
            modelVersion: version,
            estimator: result.settings.estimator,
            sampled: result.sampled,
            blocked: result.blocked,
            withoutKeyword: result.withoutKeyword,
            empty: result.empty,
            auditId: result.auditId ?? null,
            sampledTokens: result.sampledTokens,
            timings: result.timings,
          },
        } satisfies GenerationEvent;
      }
    },
  };
}

/**
 * The generator the routes hold: it passes each request to the generator it holds now, and `replace`
 * swaps in another (a switched LM or estimator) without stopping requests already running on the old one,
 * which is closed once they have finished.
 */
export class SwitchableGenerator implements ScriptGenerator {
  constructor(private current: ScriptGenerator) {}

  get version(): string {
    return this.current.version;
  }

  // The generator is picked when the request starts (its first `next`), which is also when it joins that
  // generator's queue: a `replace` either finds it queued there (and waits) or it starts on the new one.
  async *generate(
    request: GenerateRequest,
    signal: AbortSignal,
    useLake: LakeUse,
  ): AsyncGenerator<GenerationEvent> {
    yield* this.current.generate(request, signal, useLake);
  }

  /** Serves `next` from now on; resolves once the previous generator's requests ended and it is closed. */
  async replace(next: ScriptGenerator): Promise<void> {
    const previous = this.current;
    this.current = next;
    await previous.drain?.();
    await previous.close?.();
  }

  close(): void | Promise<void> {
    return this.current.close?.();
  }
}
