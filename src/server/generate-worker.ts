// The generation thread: owns TKLLM, the generator's estimator and the policy mask, and decodes off the HTTP
// event loop. Decoding is synchronous (src/lm's sampleScripts): in the main thread a 16-candidate request
// held the loop for hundreds of milliseconds, during which health, scoring and summaries waited. The lake
// stays owned by the main thread (one DuckDB connection): the estimator's reads and the audit write are
// forwarded to it, and it runs them through its lake gate.
import { parentPort, workerData } from 'node:worker_threads';
import {
  Generator,
  generatePaths,
  openGenerator,
  prefixRewardFor,
  type GenerateOptions,
  type OpenedGenerator,
} from '../generate/index.js';
import type { Lake, LakeRow } from '../lake/index.js';
import type { AuditRecord } from '../safety/index.js';
import type { FromGenerateWorker, GenerateWorkerData, ToGenerateWorker } from './generate-worker-protocol.js';
import type { GenerateRequest } from './models.js';
import { LakeRequests } from './worker-thread.js';

const port = parentPort!;
const { dataDir } = workerData as GenerateWorkerData;
const send = (message: FromGenerateWorker) => port.postMessage(message);
/** Milliseconds between token messages at most: smooth to watch, a few messages a request. */
const FLUSH_MS = 40;

const lakeRequests = new LakeRequests<'all' | 'ensureSchema' | 'audit'>(send);
const askLake = lakeRequests.ask.bind(lakeRequests);
// The reads the feature context and the prefix reward make of a lake; typed as `Lake`, whose connection
// lives in the main thread, hence the cast. Audit records go whole (`audit` below), not as SQL.
const all = (sql: string) => askLake('all', [sql]) as Promise<LakeRow[]>;
const lake = {
  all,
  count: async (sql: string) => Number(Object.values((await all(sql))[0] ?? {})[0] ?? 0),
  ensureSchema: (component: string, steps: unknown) =>
    askLake('ensureSchema', [component, steps]) as Promise<number>,
} as unknown as Lake;
const audit = (record: AuditRecord) => askLake('audit', [record]) as Promise<string>;

let opened: OpenedGenerator | undefined;
let withRad: Generator | undefined;
const { lmDir } = generatePaths(dataDir);

/** The generator with a prefix reward, loaded (or trained and saved) on the first request that asks for RAD. */
async function radGenerator(): Promise<Generator> {
  if (withRad === undefined) {
    const o = opened!;
    const reward = await prefixRewardFor(lake, o.scorer, o.lm, dataDir);
    withRad = new Generator({ lm: o.lm, scorer: o.scorer, reward, audit, modelName: lmDir });
  }
  return withRad;
}

const failed = (id: number, error: unknown): FromGenerateWorker => {
  const e = error as Error & { code?: string };
  return { type: 'failed', id, error: { name: e.name, code: e.code ?? 'INTERNAL', message: e.message } };
};

async function generate(id: number, request: GenerateRequest, abortBuffer: SharedArrayBuffer) {
  const flag = new Int32Array(abortBuffer);
  // Pieces go out in one message per step, at most one every FLUSH_MS (a step hands them out candidate by
  // candidate, so a candidate index not above the previous one starts the next step): a message per step
  // was about 70 a request, and posting them showed up in the thread's profile.
  let pieces: [number, string][] = [];
  let last = -1;
  let flushedAt = 0;
  const flush = () => {
    if (pieces.length > 0) send({ type: 'tokens', id, pieces });
    pieces = [];
    flushedAt = performance.now();
  };
  try {
    const generator = (request.radEta ?? 0) > 0 ? await radGenerator() : opened!.generator;
    const options: GenerateOptions = {
      n: request.n,
      eta: request.eta,
      seconds: request.seconds,
      ...(request.creator === undefined ? {} : { creator: request.creator }),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...(request.keywords === undefined ? {} : { keywords: request.keywords }),
      ...(request.bannedWords === undefined ? {} : { bannedWords: request.bannedWords }),
      ...(request.region === undefined ? {} : { region: request.region }),
      ...(request.styleStrength === undefined ? {} : { styleStrength: request.styleStrength }),
      ...(request.radEta === undefined ? {} : { radEta: request.radEta }),
      ...(request.hashtags === undefined ? {} : { hashtags: request.hashtags }),
      ...(request.postedAt === undefined ? {} : { postedAt: new Date(request.postedAt) }),
      signal: {
        get aborted() {
          return Atomics.load(flag, 0) !== 0;
        },
      },
      onToken: ({ candidate, text }) => {
        if (candidate <= last && performance.now() - flushedAt >= FLUSH_MS) flush();
        last = candidate;
        pieces.push([candidate, text]);
      },
    };
    const result = await generator.generate(request.prompt, options);
    flush();
    send({ type: 'result', id, result });
  } catch (error) {
    flush();
    send(failed(id, error));
  }
}

port.on('message', (message: ToGenerateWorker) => {
  if (message.type === 'lake') {
    lakeRequests.settle(message);
    return;
  }
  if (message.type === 'close') {
    // Sessions are freed here, in this thread; then the port closes and the thread ends on its own (a
    // terminate() while onnxruntime holds native objects aborted the process).
    opened?.close();
    opened = undefined;
    withRad = undefined;
    send({ type: 'closed' });
    port.close();
    return;
  }
  void generate(message.id, message.request, message.abort);
});

try {
  opened = await openGenerator(lake, dataDir, { audit });
  send({ type: 'ready', version: lmDir, estimator: opened.scorer.version });
} catch (error) {
  send(failed(-1, error));
}
