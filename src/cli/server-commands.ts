import type { Command } from 'commander';
import { ValidationError } from '../core/index.js';
import { Lake } from '../lake/index.js';
import {
  createServer,
  loadApiKeys,
  openDraftScorer,
  openScriptGenerator,
  startGrpcScorer,
  type GrpcScorer,
  type TkllmServer,
} from '../server/index.js';

/** What `startServe` needs; the CLI fills it from its flags. */
export interface ServeOptions {
  dataDir: string;
  host: string;
  port: number;
  apiKeysFile?: string;
  /** Serve the gRPC scorer on this port too. */
  grpcPort?: number;
  /** Requests per minute per key (or per client address without a key). */
  rateLimit?: number;
  /** pino log level; `silent` logs nothing. */
  logLevel?: string;
  /** Scoring threads (default 1: with the HTTP thread, two cores are busy under load). */
  scoreThreads?: number;
}

/** A running `tkllm serve`: its addresses and how to stop it. */
export interface ServeHandle {
  url: string;
  grpcPort: number | undefined;
  app: TkllmServer;
  /** Stops the servers and closes the lake; later calls wait for the first. */
  close(): Promise<void>;
  /** Settles once `close` has finished. */
  closed: Promise<void>;
}

/**
 * Opens the lake in `dataDir`, starts the API and studio (and the gRPC scorer when asked), and returns once
 * they listen. The lake is one DuckDB file, so while this runs other processes cannot open it.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const apiKeys = loadApiKeys(options.apiKeysFile === undefined ? {} : { file: options.apiKeysFile });
  const lake = await Lake.open(options.dataDir);
  let app: TkllmServer | undefined;
  let grpcScorer: GrpcScorer | undefined;
  let model: Awaited<ReturnType<typeof openDraftScorer>>;
  let generator: Awaited<ReturnType<typeof openScriptGenerator>>;
  try {
    // The active ViralScore model, when one has been trained (`tkllm viralscore train`).
    model = await openDraftScorer(lake, options.dataDir, { threads: options.scoreThreads ?? 1 });
    // TKLLM with the estimator and policy, when both an LM (`tkllm lm train`) and an estimator exist.
    generator = await openScriptGenerator(lake, options.dataDir);
    app = await createServer({
      lake,
      apiKeys,
      dataDir: options.dataDir,
      scoreThreads: options.scoreThreads ?? 1,
      // The server owns the scorer from here: it closes it, or the model that replaced it.
      ...(model ? { scorer: model } : {}),
      ...(generator ? { generator } : {}),
      openGenerator: (useLake) => openScriptGenerator(useLake, options.dataDir),
      logger: options.logLevel === 'silent' ? false : { level: options.logLevel ?? 'info' },
      ...(options.rateLimit === undefined ? {} : { rateLimit: { max: options.rateLimit, windowMs: 60_000 } }),
    });
    if (apiKeys.names.length === 0)
      app.log.warn(
        'no API keys configured: ingest and other writes are refused (--api-keys-file or TKLLM_API_KEYS)',
      );
    if (!app.scoreService.available) app.log.warn('no ViralScore model loaded: score endpoints answer 503');
    if (!generator) app.log.warn('no language model or no estimator: generate endpoints answer 503');
    const address = await app.listen({ host: options.host, port: options.port });
    if (options.grpcPort !== undefined)
      grpcScorer = await startGrpcScorer({
        service: app.scoreService,
        host: options.host,
        port: options.grpcPort,
      });
    const server = app;
    const url = `${address.replace('://[::1]', '://localhost').replace('://127.0.0.1', '://localhost')}/`;
    const grpcRunning = grpcScorer;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await grpcRunning?.close();
        await server.close();
        lake.close();
        resolveClosed();
      })());
    return { url, grpcPort: grpcScorer?.port, app: server, close, closed };
  } catch (error) {
    await grpcScorer?.close();
    await app?.close();
    model?.close();
    if (app === undefined) await generator?.close?.();
    lake.close();
    throw error;
  }
}

function port(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new ValidationError(`\`${name}\` must be a port number 0-65535, got "${value}"`);
    return n;
  };
}

function positive(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new ValidationError(`\`${name}\` must be a positive integer, got "${value}"`);
    return n;
  };
}

/** Hooks for tests: told the running server, which they may close to end the command. */
export interface ServerCommandHooks {
  onListening?: (handle: ServeHandle) => void;
}

/** Adds `serve` to the program. */
export function addServerCommands(program: Command, hooks: ServerCommandHooks = {}): void {
  program
    .command('serve')
    .description('serve the REST API, its docs (/docs) and the studio over HTTP; stops on Ctrl-C')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTP port (0 picks a free one)', port('--port'), 8080)
    .option('--api-keys-file <file>', 'keys for writes, one "name:key" or "name:sha256:<hex>" per line')
    .option('--grpc-port <port>', 'also serve the gRPC ViralScorer on this port', port('--grpc-port'))
    .option(
      '--score-threads <n>',
      'threads that score drafts off the HTTP thread',
      positive('--score-threads'),
      1,
    )
    .option('--rate-limit <n>', 'requests per minute per API key or client', positive('--rate-limit'), 600)
    .option('--log-level <level>', 'JSON log level: trace, debug, info, warn, error, silent', 'info')
    .action(
      async (
        opts: {
          host: string;
          port: number;
          apiKeysFile?: string;
          grpcPort?: number;
          rateLimit: number;
          logLevel: string;
          scoreThreads: number;
        },
        command: Command,
      ) => {
        const dataDir = String(command.optsWithGlobals<{ dataDir: string }>().dataDir);
        const handle = await startServe({
          dataDir,
          host: opts.host,
          port: opts.port,
          rateLimit: opts.rateLimit,
          logLevel: opts.logLevel,
          scoreThreads: opts.scoreThreads,
          ...(opts.apiKeysFile === undefined ? {} : { apiKeysFile: opts.apiKeysFile }),
          ...(opts.grpcPort === undefined ? {} : { grpcPort: opts.grpcPort }),
        });
        console.log(`TKLLM studio: ${handle.url}  (API docs: ${handle.url}docs)`);
        if (handle.grpcPort !== undefined) console.log(`gRPC ViralScorer on port ${handle.grpcPort}`);
        const stop = () => void handle.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        hooks.onListening?.(handle);
        await handle.closed;
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      },
    );
}
