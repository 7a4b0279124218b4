import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TkllmError } from '../../core/index.js';
import { ViralScoreRegistry } from '../../viralscore/index.js';
import type { ServerContext } from '../context.js';
import { ActivateModelBody, ModelsResponse } from '../schemas.js';
import { openDraftScorer } from '../viralscore-scorer.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/**
 * GET /v1/models (what is loaded, and the estimator's registry) and POST /v1/models/active (switch the served
 * estimator). Switching opens the new version's scoring threads before anything changes, so a version that
 * fails to load leaves the served one in place; then the registry's active version follows.
 */
export function modelRoutes(
  context: ServerContext,
  registryAt: { dataDir: string; threads: number } | undefined,
): FastifyPluginCallbackTypebox {
  const { scores, generator, metrics, gate } = context;
  const registry = registryAt && new ViralScoreRegistry(registryAt.dataDir);
  const state = () => ({
    scorer: {
      loaded: scores.available,
      version: scores.available ? scores.version : null,
      versions: (registry?.list() ?? []).map((e) => ({
        version: e.version,
        active: e.active,
        createdAt: e.createdAt,
        metrics: e.metrics,
      })),
    },
    generator: { loaded: generator !== undefined, version: generator?.version ?? null },
  });
  // One switch at a time: two would race to be the last `replace`.
  let switching: Promise<unknown> = Promise.resolve();

  return (app, _options, done) => {
    app.get(
      '/v1/models',
      {
        schema: {
          tags: ['models'],
          summary: "The models this server has loaded, and the estimator's versions",
          response: { 200: ModelsResponse },
        },
      },
      state,
    );

    app.post(
      '/v1/models/active',
      {
        config: { write: true },
        schema: {
          tags: ['models'],
          summary: 'Serve another version of the ViralScore estimator (and make it the active one)',
          description:
            '404 NOT_FOUND for a version the registry lacks; 400 UNSUPPORTED on a server without a data directory.',
          security: [{ bearer: [] }, { apiKey: [] }],
          body: ActivateModelBody,
          response: { 200: ModelsResponse, ...errors(400, 401, 404, 413, 429) },
        },
      },
      async (request) => {
        const { version } = request.body;
        const run = switching.then(async () => {
          if (!registryAt || !registry)
            throw new TkllmError(
              'UNSUPPORTED',
              'this server was started without a data directory: it cannot switch models',
            );
          registry.dirOf(version);
          const previous = scores.available ? scores.version : undefined;
          const opened = await openDraftScorer((work) => gate.use(work), registryAt.dataDir, {
            version,
            threads: registryAt.threads,
          });
          if (!opened) return;
          registry.activate(version);
          await scores.replace(opened.scorer, opened.close);
          if (previous !== undefined) metrics.modelInfo.remove({ kind: 'scorer', version: previous });
          metrics.modelInfo.set({ kind: 'scorer', version }, 1);
          request.log.info({ from: previous, to: version }, 'switched the ViralScore model');
        });
        switching = run.catch(() => {});
        await run;
        return state();
      },
    );
    done();
  };
}
