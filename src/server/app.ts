import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { TkllmError, type ErrorCode } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { Policy } from '../safety/index.js';
import { presentedKey, type ApiKeyStore } from './api-keys.js';
import type { ServerContext } from './context.js';
import { LakeGate } from './lake-gate.js';
import { createMetrics } from './metrics.js';
import { ModelSwitcher } from './model-switcher.js';
import type { DraftScorer, LakeUse, ScriptGenerator } from './models.js';
import { modelRoutes } from './routes/models.js';
import type { OpenedDraftScorer } from './viralscore-scorer.js';
import { packageRoot } from './paths.js';
import { ScoreService } from './score-service.js';
import { SwitchableGenerator } from './script-generator.js';
import { checkRoutes } from './routes/check.js';
import { experimentRoutes } from './routes/experiments.js';
import { generateRoutes } from './routes/generate.js';
import { lakeRoutes } from './routes/lake.js';
import { opsRoutes } from './routes/ops.js';
import { scoreRoutes } from './routes/score.js';
import { sharedSchemas } from './schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route changes state: it needs an API key. */
    write?: boolean;
  }
  interface FastifyInstance {
    /** The batched path to the ViralScore estimator, shared with the gRPC scorer. */
    scoreService: ScoreService;
  }
  interface FastifyRequest {
    /** Name of the API key the request presented, when it presented a valid one. */
    apiKeyName?: string;
  }
}

/** What `createServer` needs: the open lake, and whatever models exist so far. */
export interface ServerOptions {
  /** The lake, opened by the caller (one DuckDB file, so one server owns it). */
  lake: Lake;
  /** Keys accepted for writes; with none, every write is refused with 401. */
  apiKeys?: ApiKeyStore;
  /**
   * The ViralScore estimator; absent until one is trained, and the score endpoints then answer 503. Given as
   * an opened scorer (`openDraftScorer`), the server runs as many batches at once as it has threads, and
   * closes it (or whichever model replaced it) when the server closes.
   */
  scorer?: DraftScorer | OpenedDraftScorer;
  /**
   * The data directory of the estimator's registry: with it, `GET /v1/models` lists its versions and
   * `POST /v1/models/active` switches the served one.
   */
  dataDir?: string;
  /** The script generator (`openScriptGenerator`); absent until a language model is trained. Closed with the server. */
  generator?: ScriptGenerator;
  /**
   * Opens the generator again from the data directory (`openScriptGenerator`): with it, switching the LM or
   * the estimator through `POST /v1/models/active` serves the switched model in generation too.
   */
  openGenerator?: (useLake: LakeUse) => Promise<ScriptGenerator | undefined>;
  /** Largest JSON body in bytes (413 above it). */
  bodyLimitBytes?: number;
  /** Largest ingest body in bytes, JSON or uploaded file (413 above it). */
  uploadLimitBytes?: number;
  /** Requests per key (or per client address without a key) per window; `false` turns limiting off. */
  rateLimit?: { max: number; windowMs: number } | false;
  /** How concurrent score requests are grouped into batches for the scorer. */
  scoreBatch?: { maxBatchSize?: number; maxWaitMs?: number };
  /** Scoring threads of a model opened by `POST /v1/models/active` (default: those of `scorer`, else 1). */
  scoreThreads?: number;
  /** Policy packs drafts are checked against (default: src/safety's default packs). */
  policy?: Policy;
  /** Directory of the built studio (web/dist); `null` serves no studio. */
  studioDir?: string | null;
  /** Fastify's pino logger options; `false` (the default) logs nothing. */
  logger?: FastifyServerOptions['logger'];
}

/** The Fastify instance `createServer` returns, typed for TypeBox schemas. */
export type TkllmServer = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

const noKeysMessage =
  'this server has no API keys configured; start it with --api-keys-file or TKLLM_API_KEYS';

const statusOf: Record<ErrorCode, number> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  MODEL_STATE: 503,
  UNSUPPORTED: 400,
  CONFIG: 500,
  IO: 500,
  INTERNAL: 500,
};

/** The built studio beside this package (web/dist), whether this file runs from src/ or from dist/src/. */
export function defaultStudioDir(): string {
  return join(packageRoot(), 'web', 'dist');
}

/**
 * Builds the HTTP API and the studio on Fastify: validated and documented routes (OpenAPI at
 * `/openapi.json`, a docs page at `/docs`), API keys for writes, per-key rate limits, body size limits,
 * Prometheus metrics at `/metrics`. Call `listen` on the result, or `inject` in tests.
 *
 * @example
 * const app = await createServer({ lake, apiKeys: loadApiKeys({ file: 'keys.txt' }), logger: true });
 * await app.listen({ host: '127.0.0.1', port: 8080 });
 */
export async function createServer(options: ServerOptions): Promise<TkllmServer> {
  const {
    lake,
    apiKeys,
    scorer,
    generator,
    openGenerator,
    bodyLimitBytes = 1 << 20,
    uploadLimitBytes = 100 << 20,
    rateLimit = { max: 600, windowMs: 60_000 },
    scoreBatch = {},
    logger = false,
  } = options;
  const studioDir = options.studioDir === undefined ? defaultStudioDir() : options.studioDir;
  const app = Fastify({ logger, bodyLimit: bodyLimitBytes }).withTypeProvider<TypeBoxTypeProvider>();
  const gate = new LakeGate(lake);
  const opened = scorer !== undefined && 'scorer' in scorer ? scorer : undefined;
  const draftScorer = opened ? opened.scorer : (scorer as DraftScorer | undefined);
  const scoreThreads = options.scoreThreads ?? opened?.concurrency ?? 1;
  const scores = new ScoreService(
    draftScorer,
    {
      ...scoreBatch,
      maxConcurrent: scoreThreads,
      onBatch: (queue, size) =>
        metrics.batchSize.observe({ queue: queue === 'screen' ? 'screen' : 'score' }, size),
      onStage: (stage, seconds, drafts) => {
        metrics.stageDuration.observe({ stage }, seconds);
        metrics.stageDrafts.inc({ stage }, drafts);
      },
    },
    opened ? opened.close : undefined,
  );
  const metrics = createMetrics({ score: () => scores.depth, lake: () => gate.depth });
  if (draftScorer) metrics.modelInfo.set({ kind: 'scorer', version: draftScorer.version }, 1);
  if (generator) metrics.modelInfo.set({ kind: 'generator', version: generator.version }, 1);
  const switchable = generator === undefined ? undefined : new SwitchableGenerator(generator);
  const models =
    options.dataDir === undefined
      ? undefined
      : new ModelSwitcher(options.dataDir, {
          gate,
          metrics,
          scores,
          generator: switchable,
          // A generator opened while serving reads the lake through the gate, like every other use.
          openGenerator: openGenerator && (() => openGenerator((work) => gate.use(work))),
          scoreThreads,
        });
  const context: ServerContext = { gate, metrics, scores, generator: switchable, models, uploadLimitBytes };
  app.decorate('scoreService', scores);
  app.addHook('onClose', async () => {
    scores.close();
    // The generator's thread ends after freeing its sessions; closing waits for it.
    await switchable?.close();
  });
  for (const schema of sharedSchemas) app.addSchema(schema);
  // Query strings arrive as text and are coerced to the schema's types; JSON bodies are taken as sent, so
  // `{"text": 1}` is a 400 naming `text` rather than the draft "1".
  const ajvFor = (coerceTypes: boolean | 'array') => {
    const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false });
    addFormats.default(ajv);
    return ajv;
  };
  const [bodyAjv, textAjv] = [ajvFor(false), ajvFor('array')];
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema),
  );
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.addHook('onRequest', async (request, reply) => {
    const key = presentedKey(request.headers);
    if (key !== undefined) {
      const name = apiKeys?.identify(key);
      if (name === undefined)
        return reply
          .code(401)
          .send(
            errorBody(
              'UNAUTHORIZED',
              apiKeys === undefined || apiKeys.names.length === 0
                ? noKeysMessage
                : 'the API key is not valid',
            ),
          );
      request.apiKeyName = name;
    }
    return undefined;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  if (rateLimit !== false)
    await app.register(fastifyRateLimit, {
      max: rateLimit.max,
      timeWindow: rateLimit.windowMs,
      keyGenerator: (request) => (request.apiKeyName ? `key:${request.apiKeyName}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, ctx) =>
        Object.assign(new Error(`rate limit of ${ctx.max} requests per key reached; retry in ${ctx.after}`), {
          statusCode: ctx.statusCode,
          code: 'RATE_LIMITED',
        }),
    });
  // Writes need a key; checked after the rate limit so that key guessing is throttled too.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.write && request.apiKeyName === undefined) {
      const message =
        apiKeys === undefined || apiKeys.names.length === 0
          ? noKeysMessage
          : 'this endpoint changes data: send an API key (Authorization: Bearer <key> or X-API-Key)';
      return reply.code(401).send(errorBody('UNAUTHORIZED', message));
    }
    return undefined;
  });
  await app.register(fastifyMultipart, { limits: { fileSize: uploadLimitBytes, files: 1 } });
  await app.register(fastifySwagger, {
    // Components keep their own names (`Error`) instead of def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'TKLLM API',
        version: '0.1.0',
        description:
          'Ingest posts, read the lake summary, score drafts with ViralScore and generate scripts.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'an API key as a bearer token' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null } });

  await app.register(opsRoutes(context));
  await app.register(lakeRoutes(context));
  await app.register(scoreRoutes(context));
  await app.register(modelRoutes(context));
  await app.register(generateRoutes(context));
  await app.register(checkRoutes(options.policy));
  await app.register(experimentRoutes(context));

  if (studioDir !== null && existsSync(join(studioDir, 'index.html')))
    await app.register(fastifyStatic, { root: studioDir, prefix: '/', index: 'index.html' });
  else
    app.get('/', { schema: { hide: true } }, (_request, reply) =>
      reply
        .code(503)
        .type('text/plain')
        .send('The studio is not built: run `npm run build:web`. The API is at /v1 and its docs at /docs.\n'),
    );
  return app;
}

/** The error body every failure uses. */
export function errorBody(code: string, message: string, field?: string) {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns an ajv error into the dotted field it is about, and a sentence naming that field. */
function describeValidation(
  errors: AjvError[],
  context: string | undefined,
): { field: string; message: string } {
  const first = errors[0];
  if (!first) return { field: context ?? 'body', message: `${context ?? 'body'} is not valid` };
  const path = first.instancePath.split('/').filter(Boolean);
  const extra =
    typeof first.params.missingProperty === 'string'
      ? first.params.missingProperty
      : typeof first.params.additionalProperty === 'string'
        ? first.params.additionalProperty
        : undefined;
  if (extra !== undefined) path.push(extra);
  const field = path.join('.') || (context ?? 'body');
  const where = context === 'querystring' ? 'query parameter' : `${context ?? 'body'} field`;
  const what =
    first.keyword === 'required'
      ? 'is required'
      : first.keyword === 'additionalProperties'
        ? 'is not a known field'
        : (first.message ?? 'is not valid');
  return { field, message: `${where} \`${field}\` ${what}` };
}

function errorHandler(
  error: FastifyError & { validation?: AjvError[] },
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error.validation) {
    const { field, message } = describeValidation(error.validation, error.validationContext);
    return reply.code(400).send(errorBody('VALIDATION', message, field));
  }
  if (error instanceof TkllmError) {
    const status = statusOf[error.code];
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send(errorBody(error.code, error.message));
  }
  const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (status < 500) {
    const code =
      status === 413
        ? 'TOO_LARGE'
        : status === 429
          ? 'RATE_LIMITED'
          : error.code?.startsWith('FST_ERR_CTP') || status === 400
            ? 'VALIDATION'
            : (error.code ?? `HTTP_${status}`);
    const field = code === 'VALIDATION' || code === 'TOO_LARGE' ? 'body' : undefined;
    return reply.code(status).send(errorBody(code, error.message, field));
  }
  request.log.error({ err: error }, 'request failed');
  return reply.code(500).send(errorBody('INTERNAL', 'internal error; the server log has the details'));
}
