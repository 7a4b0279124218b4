import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TkllmError } from '../../core/index.js';
import type { ServerContext } from '../context.js';
import { ActivateModelBody, ModelsResponse } from '../schemas.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/**
 * GET /v1/models (what is loaded, the estimator's registry and the LM's saved versions) and POST
 * /v1/models/active (switch the served estimator or LM through the context's `ModelSwitcher`).
 */
export function modelRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { scores, generator, models } = context;
  const state = () => {
    const lm = models?.lmVersions() ?? { versions: [], active: null };
    return {
      scorer: {
        loaded: scores.available,
        version: scores.available ? scores.version : null,
        versions: (models?.registry.list() ?? []).map((e) => ({
          version: e.version,
          active: e.active,
          createdAt: e.createdAt,
          metrics: e.metrics,
        })),
      },
      generator: {
        loaded: generator !== undefined,
        version: generator?.version ?? null,
        versions: lm.versions.map((v) => ({
          version: v.version,
          active: v.version === lm.active,
          kind: v.kind,
          parent: v.parent,
          createdAt: v.createdAt,
        })),
      },
    };
  };

  return (app, _options, done) => {
    app.get(
      '/v1/models',
      {
        schema: {
          tags: ['models'],
          summary: "The models this server has loaded, the estimator's versions and the LM's",
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
          summary:
            'Serve another version of the ViralScore estimator or of the LM (and make it the active one)',
          description:
            '404 NOT_FOUND for a version the registry (or the LM directory) lacks; 503 MODEL_STATE to switch the LM ' +
            'on a server without one; 400 UNSUPPORTED on a server without a data directory.',
          security: [{ bearer: [] }, { apiKey: [] }],
          body: ActivateModelBody,
          response: { 200: ModelsResponse, ...errors(400, 401, 404, 413, 429, 503) },
        },
      },
      async (request) => {
        const { kind, version } = request.body;
        if (models === undefined)
          throw new TkllmError(
            'UNSUPPORTED',
            'this server was started without a data directory: it cannot switch models',
          );
        await (kind === 'lm' ? models.lm(version, request.log) : models.scorer(version, request.log));
        return state();
      },
    );
    done();
  };
}
