// The scoring thread: featurises drafts and runs the estimator's ONNX graphs off the HTTP event loop. Under
// load a batch of 256 drafts held the loop for about 60 ms of CPU (featurising 48, the graph 15), during which
// the server could neither accept nor answer; here it only blocks this thread. The lake stays owned by the
// main thread (one DuckDB connection): the feature context's reads are forwarded to it.
import { parentPort, workerData } from 'node:worker_threads';
import type { Lake, LakeRow } from '../lake/index.js';
import { openFeatureContext, type FeatureMatrix } from '../features/index.js';
import { openViralScorer, type ViralScorer } from '../viralscore/index.js';
import type { Draft, TwoStageScores } from './models.js';
import { toDraftScore, toViralDraft } from './viralscore-scorer.js';
import type { FromScoreWorker, ScoreWorkerData, ToScoreWorker } from './worker-protocol.js';
import { LakeRequests } from './worker-thread.js';

const port = parentPort!;
const { dataDir, version } = workerData as ScoreWorkerData;

const lakeRequests = new LakeRequests<'all' | 'ensureSchema'>((request) =>
  port.postMessage(request satisfies FromScoreWorker),
);
const askLake = lakeRequests.ask.bind(lakeRequests);
// The two reads the feature context makes of a lake; it is typed as `Lake`, whose connection lives in the
// main thread, hence the cast.
const lake = {
  all: (sql: string) => askLake('all', [sql]) as Promise<LakeRow[]>,
  ensureSchema: (component: string, steps: unknown) =>
    askLake('ensureSchema', [component, steps]) as Promise<number>,
} as unknown as Lake;

let featurise: (drafts: Parameters<ViralScorer['score']>[0]) => Promise<FeatureMatrix>;
let scorers: { explained: ViralScorer; plain: ViralScorer; screen: ViralScorer } | undefined;

port.on('message', (message: ToScoreWorker) => {
  if (message.type === 'lake') {
    lakeRequests.settle(message);
    return;
  }
  if (message.type === 'close') {
    // Sessions are freed here, in this thread, then the port closes and the thread ends on its own: a
    // terminate() while onnxruntime holds native objects aborted the process.
    if (scorers) for (const s of Object.values(scorers)) s.close();
    scorers = undefined;
    port.close();
    return;
  }
  if (message.type === 'twoStage') void twoStage(message.id, message.drafts, message.keep);
  else void score(message.id, message.drafts, message.explain, message.variant, message.json === true);
});

const failed = (id: number, error: unknown): FromScoreWorker => {
  const e = error as Error & { code?: string };
  return { type: 'failed', id, error: { name: e.name, code: e.code ?? 'INTERNAL', message: e.message } };
};

/** Rows `rows` of a feature matrix, copied. */
function selectRows(matrix: FeatureMatrix, rows: readonly number[]): FeatureMatrix {
  const groups = Object.fromEntries(
    Object.entries(matrix.groups).map(([name, group]) => {
      const d = group.names.length;
      const values = new Float32Array(rows.length * d);
      const present = new Uint8Array(rows.length);
      rows.forEach((r, i) => {
        values.set(group.values.subarray(r * d, (r + 1) * d), i * d);
        present[i] = group.present[r];
      });
      return [name, { names: group.names, values, present }];
    }),
  ) as unknown as FeatureMatrix['groups'];
  return { keys: rows.map((r) => matrix.keys[r]), groups };
}

// The drafts are featurised once for both stages: featurising costs more than either graph run.
async function twoStage(id: number, drafts: Draft[], keep: number) {
  try {
    const s = scorers!;
    const t0 = performance.now();
    const matrix = await featurise(drafts.map(toViralDraft));
    const t1 = performance.now();
    const screened = s.screen.scoreMatrix(matrix);
    const order = screened
      .map((r, index) => ({ index, v: r.v }))
      .sort((a, b) => b.v - a.v)
      .slice(0, Math.max(1, keep));
    const t2 = performance.now();
    const full = s.plain.scoreMatrix(
      selectRows(
        matrix,
        order.map((o) => o.index),
      ),
    );
    const t3 = performance.now();
    const result: TwoStageScores = {
      screen: screened.map((r) => r.v),
      finalists: order
        .map((o, i) => ({ index: o.index, score: toDraftScore(full[i]) }))
        .sort((a, b) => b.score.viralScore - a.score.viralScore),
      seconds: { featurise: (t1 - t0) / 1000, screen: (t2 - t1) / 1000, full: (t3 - t2) / 1000 },
    };
    port.postMessage({ type: 'twoStage', id, result } satisfies FromScoreWorker);
  } catch (error) {
    port.postMessage(failed(id, error));
  }
}

async function score(
  id: number,
  drafts: Draft[],
  explain: boolean,
  variant: 'float' | 'int8',
  json: boolean,
) {
  try {
    const s = scorers!;
    const scorer = variant === 'int8' ? s.screen : explain ? s.explained : s.plain;
    const results = await scorer.score(drafts.map(toViralDraft));
    // As JSON text, each score is serialised here, off the HTTP thread, and crosses as one string instead
    // of a structured clone of nested objects.
    port.postMessage(
      json
        ? ({
            type: 'json',
            id,
            scores: results.map((r) => JSON.stringify(toDraftScore(r))),
          } satisfies FromScoreWorker)
        : ({ type: 'scores', id, scores: results.map(toDraftScore) } satisfies FromScoreWorker),
    );
  } catch (error) {
    port.postMessage(failed(id, error));
  }
}

try {
  const context = await openFeatureContext(lake);
  featurise = (d) => context.featurise(d);
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
  port.postMessage(failed(-1, error));
}
