import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ServerContext } from '../context.js';
import { Health, Readiness } from '../schemas.js';

/** Health, readiness, metrics and the OpenAPI document. */
export function opsRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { gate, metrics, scores, generator } = context;
  return (app, _options, done) => {
    const unlimited = { rateLimit: false } as const;

    app.get(
      '/healthz',
      {
        config: unlimited,
        schema: { tags: ['ops'], summary: 'The process answers', response: { 200: Health } },
      },
      () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config: unlimited,
        schema: {
          tags: ['ops'],
          summary: 'Ready to serve: the lake answers a query (models may still be absent)',
          response: { 200: Readiness, 503: Readiness },
        },
      },
      async (_request, reply) => {
        const lake = await gate
          .use((l) => l.count('SELECT 1'))
          .then(
            (n) => (n === 1 ? ('ok' as const) : ('error' as const)),
            () => 'error' as const,
          );
        const body = {
          ready: lake === 'ok',
          lake,
          scorer: scores.available,
          generator: generator !== undefined,
        };
        return reply.code(body.ready ? 200 : 503).send(body);
      },
    );

    app.get('/metrics', { config: unlimited, schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );

    app.get('/openapi.json', { config: unlimited, schema: { hide: true } }, () => app.swagger());

    done();
  };
}
