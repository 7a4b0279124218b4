import type { Worker } from 'node:worker_threads';
import { NotFoundError, TkllmError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { ViralScorer, ViralScoreResult } from '../viralscore/index.js';
import type { Draft, DraftScore, DraftScorer, ScoreOptions, TwoStageScores } from './models.js';
import type { FromScoreWorker, ScoreWorkerData, ToScoreWorker } from './worker-protocol.js';
import { answerLake, errorFromWorker, startWorker } from './worker-thread.js';

/** The estimator's subscore letters (DESIGN.md: E, H, R, S, T) under the API's names. */
const subscoreKeys = { E: 'emotion', H: 'hook', R: 'replicability', S: 'share', T: 'trend' } as const;

/** Guidance lines from the features that pulled V down most, largest pull first. */
function guidanceOf(result: ViralScoreResult): string[] {
  return result.topFeatures
    .filter((f) => f.effect < 0)
    .map((f) => `${f.group}: ${f.feature} (${Number(f.value.toPrecision(3))}) lowers the score`);
}

/** src/viralscore's result under the API's names. */
export function toDraftScore(result: ViralScoreResult): DraftScore {
  const subscores = { emotion: 0, hook: 0, replicability: 0, share: 0, trend: 0 };
  const contributions = { ...subscores };
  for (const [letter, key] of Object.entries(subscoreKeys)) {
    subscores[key] = result.subscores[letter as keyof typeof subscoreKeys];
    contributions[key] = result.contributions[letter as keyof typeof subscoreKeys];
  }
  return {
    viralScore: result.v,
    subscores,
    guidance: guidanceOf(result),
    contributions,
    topFeatures: result.topFeatures.map((f) => ({
      group: f.group,
      feature: f.feature,
      value: f.value,
      effect: f.effect,
    })),
  };
}

type ViralDraft = Parameters<ViralScorer['score']>[0][number];

/** The API's draft as src/viralscore takes it. */
export function toViralDraft(d: Draft): ViralDraft {
  return {
    text: d.text,
    ...(d.hashtags === undefined ? {} : { hashtags: d.hashtags }),
    ...(d.creator === undefined ? {} : { creator: d.creator }),
    ...(d.postedAt === undefined ? {} : { postedAt: new Date(d.postedAt) }),
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Runs work on the lake; the server passes its gate so that a scorer opened while serving waits its turn. */
export type UseLake = <T>(work: (lake: Lake) => Promise<T>) => Promise<T>;

/** Options of `openDraftScorer`. */
export interface OpenDraftScorerOptions {
  /** Registry version to open (default: the active one). */
  version?: string;
  /** Scoring threads, each with its own copy of the model and feature context (default 1). */
  threads?: number;
}

/** An opened estimator: the scorer, how many batches it runs at once, and how to stop its threads. */
export interface OpenedDraftScorer {
  scorer: DraftScorer;
  /** Batches the scorer can run at the same time (its threads). */
  concurrency: number;
  close: () => void;
}

/** One scoring thread: a request id per batch, answered in whatever order the thread finishes. */
class ScoreThread {
  private readonly pending = new Map<
    number,
    { resolve: (value: never) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;
  private failure: Error | undefined;
  busy = 0;
  readonly ready: Promise<string>;

  constructor(
    private readonly worker: Worker,
    useLake: UseLake,
  ) {
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (message: FromScoreWorker) => {
        if (message.type === 'ready') resolve(message.version);
        else if (message.type === 'lake') void this.answerLake(message, useLake);
        else if (message.id === -1 && message.type === 'failed') reject(errorFromWorker(message.error));
        else {
          const waiting = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.type === 'scores' || message.type === 'json') waiting?.resolve(message.scores as never);
          else if (message.type === 'twoStage') waiting?.resolve(message.result as never);
          else waiting?.reject(errorFromWorker(message.error));
        }
      });
      worker.on('error', (error) => {
        this.fail(error);
        reject(error);
      });
      worker.on('exit', (code) => {
        const error = new TkllmError('INTERNAL', `the scoring thread exited (${code})`);
        this.fail(error);
        reject(error);
      });
    });
  }

  private answerLake(message: Extract<FromScoreWorker, { type: 'lake' }>, useLake: UseLake) {
    return answerLake(this.worker, message.id, () =>
      useLake<unknown>((lake) =>
        message.method === 'all'
          ? lake.all(String(message.args[0]))
          : lake.ensureSchema(
              String(message.args[0]),
              message.args[1] as Parameters<Lake['ensureSchema']>[1],
            ),
      ),
    );
  }

  private fail(error: Error) {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  private request<T>(message: DistributiveOmit<Extract<ToScoreWorker, { id: number }>, 'id'>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.busy++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve, reject });
      this.worker.postMessage({ ...message, id });
    }).finally(() => this.busy--);
  }

  score(drafts: Draft[], explain: boolean, variant: 'float' | 'int8'): Promise<DraftScore[]> {
    return this.request({ type: 'score', drafts, explain, variant });
  }

  scoreJson(drafts: Draft[], explain: boolean, variant: 'float' | 'int8'): Promise<string[]> {
    return this.request({ type: 'score', drafts, explain, variant, json: true });
  }

  twoStage(drafts: Draft[], keep: number): Promise<TwoStageScores> {
    return this.request({ type: 'twoStage', drafts, keep });
  }

  /** Asks the thread to free its sessions and end; ends it by force if it has not within a second. */
  close() {
    this.worker.removeAllListeners('exit');
    this.worker.postMessage({ type: 'close' } satisfies ToScoreWorker);
    const force = setTimeout(() => void this.worker.terminate(), 1000);
    force.unref();
    this.worker.once('exit', () => clearTimeout(force));
  }
}

/**
 * Opens the active ViralScore model under `dataDir` in scoring threads, or returns undefined when none has
 * been trained yet (the score endpoints then say so). Any other failure (a damaged model) is thrown. Each
 * batch goes to the least busy thread; `explain` adds the features that moved V (a gradient pass), and
 * `variant: 'int8'` runs the quantised graph, the cheap first stage. The threads read the lake (its history,
 * once) directly, or through `lake` when it is a function: a running server passes its lake gate.
 */
export async function openDraftScorer(
  lake: Lake | UseLake,
  dataDir: string,
  options: OpenDraftScorerOptions = {},
): Promise<OpenedDraftScorer | undefined> {
  const useLake: UseLake = typeof lake === 'function' ? lake : (work) => work(lake);
  const data: ScoreWorkerData = {
    dataDir,
    ...(options.version === undefined ? {} : { version: options.version }),
  };
  const threads = Array.from(
    { length: Math.max(1, options.threads ?? 1) },
    () => new ScoreThread(startWorker('score-worker', data), useLake),
  );
  let version: string;
  try {
    [version] = await Promise.all(threads.map((t) => t.ready));
  } catch (error) {
    for (const t of threads) t.close();
    if (error instanceof TkllmError && error.name === NotFoundError.name) return undefined;
    throw error;
  }
  const leastBusy = () => threads.reduce((a, b) => (b.busy < a.busy ? b : a));
  const scorer: DraftScorer = {
    version: version!,
    score(drafts: readonly Draft[], { explain = false, variant = 'float' }: ScoreOptions = {}) {
      return leastBusy().score([...drafts], explain, variant);
    },
    scoreJson(drafts: readonly Draft[], { explain = false, variant = 'float' }: ScoreOptions = {}) {
      return leastBusy().scoreJson([...drafts], explain, variant);
    },
    twoStage(drafts: readonly Draft[], keep: number) {
      return leastBusy().twoStage([...drafts], keep);
    },
  };
  return { scorer, concurrency: threads.length, close: () => threads.forEach((t) => t.close()) };
}
