// `npm run bench -- serve [--json] [--duration S] [--connections N] [--threads N] [--no-train]
// [--only score] [--workspace DIR]`: starts `tkllm serve`'s
// server on loopback in a child process over a fresh lake holding the bundled sample and a small ViralScore
// model trained on it, drives it with autocannon for
// a bounded time per endpoint, stops it, and reports requests/s, p50/p99 latency and errors. The server
// runs in its own process so that the load generator does not share its event loop.
// Scoring and generation are driven when the server has their models (issue 8's targets: p99 under 50 ms
// for batches of 16 drafts, no errors at 100 connections); until then their keys are null.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Random } from '../src/core/index.js';
import { endings, openers, tags, topics } from './draft-words.js';
import type { BenchOptions, BenchResult } from './run.js';

const childFlag = 'TKLLM_SERVE_BENCH_DIR';

/**
 * In the child: open a lake with the sample, train a small ViralScore model and a small TKLLM on it (unless
 * told not to),
 * serve it on a free loopback port and report the address.
 */
async function serveChild(dir: string, train: boolean): Promise<void> {
  const { Lake, ingestBundledSample } = await import('../src/lake/index.js');
  const { createServer, openDraftScorer, openScriptGenerator } = await import('../src/server/index.js');
  if (train) {
    // The sample, its features, a small estimator and a small TKLLM (2 layers, width 64, 100 steps): the
    // benchmark measures serving, not the models' quality.
    const { prepareWorkspace } = await import('../src/generate/index.js');
    await prepareWorkspace(dir, { estimator: { epochs: 3, members: 2 }, lm: { steps: 100 } });
  }
  const lake = await Lake.open(dir);
  if (!train) await ingestBundledSample(lake);
  const threads = Number(process.env.TKLLM_SERVE_BENCH_THREADS ?? '1');
  const model = await openDraftScorer(lake, dir, { threads });
  const generator = await openScriptGenerator(lake, dir);
  const app = await createServer({
    lake,
    rateLimit: false,
    studioDir: null,
    dataDir: dir,
    ...(model ? { scorer: model } : {}),
    ...(generator ? { generator } : {}),
  });
  // Requests that reached the server: the CPU per request divides by these, not by autocannon's completed
  // ones, since the server also finishes the requests still queued when autocannon stops.
  let arrivals = 0;
  app.addHook('onRequest', (_request, _reply, done) => {
    arrivals++;
    done();
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ address });
  // The parent asks for this process's CPU time (every thread's) around each run.
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuMs: (user + system) / 1000, arrivals, depth: app.scoreService.depth });
    }
  });
  process.once('disconnect', () => {
    // Exit once closed: with a generator loaded the child otherwise lingered after closing (not yet
    // diagnosed; see docs/server.md).
    void app
      .close()
      .then(() => lake.close())
      .finally(() => process.exit(0));
  });
}

if (process.env[childFlag])
  await serveChild(process.env[childFlag], process.env.TKLLM_SERVE_BENCH_TRAIN === '1');

interface Drive {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
  /**
   * The server process's CPU time (all threads) per request that reached it, in ms, from one idle moment to
   * the next (the requests autocannon left queued are finished and counted): comparable on a loaded machine.
   */
  serverCpuMsPerRequest: number;
  /** This process's CPU time (autocannon, the load generator) per request, in ms: it shares the cores. */
  loadCpuMsPerRequest: number;
}

interface ServerSample {
  cpuMs: number;
  arrivals: number;
  /** Drafts waiting for or inside a scorer batch. */
  depth: number;
}

let serverSample: () => Promise<ServerSample> = () => Promise.resolve({ cpuMs: 0, arrivals: 0, depth: 0 });

/** The server's sample once its scoring queue is empty (at most 60 s of waiting). */
async function idleSample(): Promise<ServerSample> {
  for (let i = 0; i < 600; i++) {
    const s = await serverSample();
    if (s.depth === 0) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  return serverSample();
}

/**
 * `count` request bodies of `size` drafts each, every draft text distinct (a number in it), drawn from a
 * fixed seed: openers, topics, endings, hashtags in the text or as a field, some with a posting time.
 */
function draftBodies(count: number, size: number, seed: number): Record<string, unknown>[][] {
  const rng = new Random(seed);
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  let n = 0;
  return Array.from({ length: count }, () =>
    Array.from({ length: size }, () => {
      n++;
      const text = `${pick(openers)} ${pick(topics)} (take ${n}). ${pick(endings)} #${pick(tags)}`;
      const draft: Record<string, unknown> = { text };
      if (rng.int(2) === 0) draft.hashtags = [pick(tags), pick(tags)];
      if (rng.int(4) === 0)
        draft.postedAt = new Date(Date.UTC(2017, 10, 1 + rng.int(28), rng.int(24))).toISOString();
      return draft;
    }),
  );
}

async function drive(options: autocannon.Options): Promise<Drive> {
  // One uncounted second first: JIT, the ONNX session's first runs and DuckDB's caches warm up.
  await autocannon({ ...options, duration: 1 });
  // The server's CPU time and arrivals between two idle moments: every request counted was finished.
  const before = await idleSample();
  const loadBefore = process.cpuUsage();
  const result = await autocannon(options);
  const load = process.cpuUsage(loadBefore);
  const after = await idleSample();
  const cpuMs = after.cpuMs - before.cpuMs;
  const served = after.arrivals - before.arrivals;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    // Connection errors, timeouts and every answer that is not 2xx.
    errors: result.errors + result.timeouts + result.non2xx,
    requests: result.requests.total,
    serverCpuMsPerRequest: Number((cpuMs / Math.max(1, served)).toFixed(3)),
    loadCpuMsPerRequest: Number(
      ((load.user + load.system) / 1000 / Math.max(1, result.requests.total)).toFixed(3),
    ),
  };
}

/** Starts the server child, drives each endpoint that exists, and returns the figures. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const arg = (name: string, fallback: number) => {
    const at = options.args.indexOf(name);
    return at >= 0 ? Number(options.args[at + 1]) : fallback;
  };
  const duration = arg('--duration', 5);
  const connections = arg('--connections', 100);
  const train = !options.args.includes('--no-train');
  const threads = arg('--threads', 1);
  const onlyScore =
    options.args.includes('--only') && options.args[options.args.indexOf('--only') + 1] === 'score';
  // --ladder 1,10,25,50: the lower numbers of connections 16-draft scoring is also driven at ('' for none).
  const ladderAt = options.args.indexOf('--ladder');
  const lowerConnections = (ladderAt >= 0 ? options.args[ladderAt + 1] : '1,10,25,50')
    .split(',')
    .filter((c) => c !== '')
    .map(Number);
  // --workspace DIR keeps the lake and models between runs (trained once, then reused); default a fresh one.
  const workspaceAt = options.args.indexOf('--workspace');
  const keep = workspaceAt >= 0;
  const dir = keep ? options.args[workspaceAt + 1] : mkdtempSync(join(tmpdir(), 'tkllm-bench-serve-'));
  // TKLLM_SERVE_BENCH_PROF=DIR writes the server's CPU profiles (every thread) there.
  const profileDir = process.env.TKLLM_SERVE_BENCH_PROF;
  let child: ChildProcess | undefined;
  try {
    child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
      env: {
        ...process.env,
        [childFlag]: dir,
        TKLLM_SERVE_BENCH_TRAIN: train ? '1' : '0',
        TKLLM_SERVE_BENCH_THREADS: String(threads),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the server process exited with ${String(code)} before listening`);
      }),
    ])) as [{ address: string }];
    const base = message.address;
    const server = child;
    serverSample = async () => {
      const reply = once(server, 'message');
      server.send('cpu');
      return (await reply)[0] as ServerSample;
    };
    options.log(`server at ${base}; ${connections} connections, ${duration} s per endpoint`);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as {
      scorer: { loaded: boolean };
      generator: { loaded: boolean };
    };

    let summary: Drive | undefined;
    let health: Drive | undefined;
    if (!onlyScore) {
      summary = await drive({ url: `${base}/v1/lake/summary`, connections, duration });
      options.log(`lake summary: ${summary.requestsPerSecond} req/s, p99 ${summary.p99Ms} ms`);
      health = await drive({ url: `${base}/healthz`, connections, duration });
      options.log(`healthz: ${health.requestsPerSecond} req/s, p99 ${health.p99Ms} ms`);
    }

    let score: Drive | undefined;
    let scoreAlone: Drive | undefined;
    let screen: Drive | undefined;
    let fullOf64: Drive | undefined;
    const ladder: Record<string, Drive> = {};
    if (models.scorer.loaded) {
      // Distinct bodies, rotated request by request: no two requests in a row send the same drafts, so a
      // cache of answers by body could not flatter the figures.
      const bodies16 = draftBodies(1024, 16, 1).map((drafts) => JSON.stringify({ drafts }));
      const request = (bodies: string[], url = `${base}/v1/score/batch`) => {
        let next = 0;
        return {
          url,
          method: 'POST' as const,
          headers: { 'content-type': 'application/json' },
          duration,
          requests: [
            {
              setupRequest: (req: autocannon.Request) => ({ ...req, body: bodies[next++ % bodies.length] }),
            },
          ],
        };
      };
      // Under load (queueing included), then fewer clients: where p99 stays under 50 ms.
      score = await drive({ ...request(bodies16), connections });
      ladder[String(connections)] = score;
      options.log(
        `score batch of 16, ${connections} connections: ${score.requestsPerSecond} req/s, ` +
          `p50 ${score.p50Ms} ms, p99 ${score.p99Ms} ms, ${score.serverCpuMsPerRequest} ms server CPU a request`,
      );
      for (const c of lowerConnections.filter((c) => c < connections)) {
        const d = await drive({ ...request(bodies16), connections: c });
        ladder[String(c)] = d;
        if (c === 1) scoreAlone = d;
        options.log(
          `score batch of 16, ${c} connection(s): ${d.requestsPerSecond} req/s, p50 ${d.p50Ms} ms, ` +
            `p99 ${d.p99Ms} ms, ${d.serverCpuMsPerRequest} ms server CPU a request`,
        );
      }
      if (!onlyScore) {
        // Two stages against one: 64 drafts screened by the int8 graph with 8 finalists, and the same 64
        // drafts through the full model, on a few connections (a generator's rerank, not a crowd of clients).
        const bodies64 = draftBodies(256, 64, 2);
        const few = Math.min(connections, 4);
        screen = await drive({
          ...request(
            bodies64.map((drafts) => JSON.stringify({ drafts, keep: 8 })),
            `${base}/v1/score/screen`,
          ),
          connections: few,
        });
        fullOf64 = await drive({
          ...request(bodies64.map((drafts) => JSON.stringify({ drafts }))),
          connections: few,
        });
        options.log(
          `64 drafts, ${few} connections: two stages p99 ${screen.p99Ms} ms (${screen.serverCpuMsPerRequest} ms CPU), ` +
            `full model p99 ${fullOf64.p99Ms} ms (${fullOf64.serverCpuMsPerRequest} ms CPU)`,
        );
      }
    } else options.log('no ViralScore model in this server: scoreP99Ms is null');
    let generate: Drive | undefined;
    if (models.generator.loaded && !onlyScore) {
      generate = await drive({
        url: `${base}/v1/generate`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'What', n: 8, seconds: 15, seed: 1 }),
        connections: Math.min(connections, 8),
        duration,
      });
    } else options.log('no language model in this server: generateP99Ms is null');

    const runs = [summary, health, ...Object.values(ladder), screen, fullOf64, generate].filter(
      (d): d is Drive => d !== undefined,
    );
    return {
      scoreThreads: threads,
      scoreP99Ms: score?.p99Ms ?? null,
      scoreP50Ms: score?.p50Ms ?? null,
      scoreRequestsPerSecond: score?.requestsPerSecond ?? null,
      scoreOneConnectionP50Ms: scoreAlone?.p50Ms ?? null,
      scoreOneConnectionP99Ms: scoreAlone?.p99Ms ?? null,
      scoreCpuMsPerRequest: score?.serverCpuMsPerRequest ?? null,
      scoreOneConnectionCpuMsPerRequest: scoreAlone?.serverCpuMsPerRequest ?? null,
      // 16-draft batches by number of connections: requests/s, p50, p99, server and load-generator CPU.
      scoreByConnections: Object.fromEntries(
        Object.entries(ladder).map(([c, d]) => [
          c,
          {
            requestsPerSecond: d.requestsPerSecond,
            p50Ms: d.p50Ms,
            p99Ms: d.p99Ms,
            serverCpuMsPerRequest: d.serverCpuMsPerRequest,
            loadCpuMsPerRequest: d.loadCpuMsPerRequest,
            errors: d.errors,
          },
        ]),
      ),
      screen64P99Ms: screen?.p99Ms ?? null,
      screen64CpuMsPerRequest: screen?.serverCpuMsPerRequest ?? null,
      full64P99Ms: fullOf64?.p99Ms ?? null,
      full64CpuMsPerRequest: fullOf64?.serverCpuMsPerRequest ?? null,
      generateP99Ms: generate?.p99Ms ?? null,
      generateP50Ms: generate?.p50Ms ?? null,
      // The lake summary's rate: the endpoint every studio visit calls, and the one that exists today.
      requestsPerSecond: summary?.requestsPerSecond ?? null,
      summaryP50Ms: summary?.p50Ms ?? null,
      summaryP99Ms: summary?.p99Ms ?? null,
      healthzRequestsPerSecond: health?.requestsPerSecond ?? null,
      healthzP99Ms: health?.p99Ms ?? null,
      errors: runs.reduce((a, d) => a + d.errors, 0),
      requests: runs.reduce((a, d) => a + d.requests, 0),
      connections,
      durationSeconds: duration,
      load1: Number(loadavg()[0].toFixed(2)),
    };
  } finally {
    if (child?.connected) child.disconnect();
    if (child && child.exitCode === null) await once(child, 'exit');
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
