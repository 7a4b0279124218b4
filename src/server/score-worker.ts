// The scoring thread: featurises drafts and runs the estimator's ONNX graphs off the HTTP event loop. Under
// load a batch of 256 drafts held the loop for about 60 ms of CPU (featurising 48, the graph 15), during which
// the server could neither accept nor answer; here it only blocks this thread. The lake stays owned by the
// main thread (one DuckDB connection): the feature context's reads are forwarded to it.
import { parentPort, workerData } from 'node:worker_threads';
import type { Lake, LakeRow } from '../lake/index.js';
import { openFeatureContext } from '../features/index.js';
import { openViralScorer, type ViralScorer } from '../viralscore/index.js';
import type { Draft } from './models.js';
import { toDraftScore, toViralDraft } from './viralscore-scorer.js';
import type { FromScoreWorker, ScoreWorkerData, ToScoreWorker } from './worker-protocol.js';

const port = parentPort!;
const { dataDir, version } = workerData as ScoreWorkerData;

const pendingLake = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextLakeId = 0;
const askLake = (method: 'all' | 'ensureSchema', args: unknown[]) =>
  new Promise<unknown>((resolve, reject) => {
    const id = nextLakeId++;
    pendingLake.set(id, { resolve, reject });
    port.postMessage({ type: 'lake', id, method, args } satisfies FromScoreWorker);
  });
// The two reads the feature context makes of a lake; it is typed as `Lake`, whose connection lives in the
// main thread, hence the cast.
const lake = {
  all: (sql: string) => askLake('all', [sql]) as Promise<LakeRow[]>,
  ensureSchema: (component: string, steps: unknown) =>
    askLake('ensureSchema', [component, steps]) as Promise<number>,
} as unknown as Lake;

let scorers: { explained: ViralScorer; plain: ViralScorer; screen: ViralScorer } | undefined;

port.on('message', (message: ToScoreWorker) => {
  if (message.type === 'lake') {
    const waiting = pendingLake.get(message.id);
    pendingLake.delete(message.id);
    if (message.error === undefined) waiting?.resolve(message.value);
    else waiting?.reject(new Error(message.error));
    return;
  }
  void score(message.id, message.drafts, message.explain, message.variant);
});

async function score(id: number, drafts: Draft[], explain: boolean, variant: 'float' | 'int8') {
  try {
    const s = scorers!;
    const scorer = variant === 'int8' ? s.screen : explain ? s.explained : s.plain;
    const results = await scorer.score(drafts.map(toViralDraft));
    port.postMessage({ type: 'scores', id, scores: results.map(toDraftScore) } satisfies FromScoreWorker);
  } catch (error) {
    const e = error as Error & { code?: string };
    port.postMessage({
      type: 'failed',
      id,
      error: { name: e.name, code: e.code ?? 'INTERNAL', message: e.message },
    } satisfies FromScoreWorker);
  }
}

try {
  const context = await openFeatureContext(lake);
  const featurise = (d: Parameters<typeof context.featurise>[0]) => context.featurise(d);
  const options = { featurise, ...(version === undefined ? {} : { version }) };
  const explained = await openViralScorer(lake, dataDir, { ...options, topFeatures: 5 });
  const pinned = { ...options, version: explained.version, topFeatures: 0 };
  scorers = {
    explained,
    plain: await openViralScorer(lake, dataDir, pinned),
    screen: await openViralScorer(lake, dataDir, { ...pinned, variant: 'int8' }),
  };
  port.postMessage({ type: 'ready', version: explained.version } satisfies FromScoreWorker);
} catch (error) {
  const e = error as Error & { code?: string };
  port.postMessage({
    type: 'failed',
    id: -1,
    error: { name: e.name, code: e.code ?? 'INTERNAL', message: e.message },
  } satisfies FromScoreWorker);
}
