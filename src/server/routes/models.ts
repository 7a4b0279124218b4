import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ModelStateError, NotFoundError, TkllmError } from '../../core/index.js';
import { generatePaths } from '../../generate/index.js';
import { activateLmVersion, lmVersions } from '../../lm/index.js';
import { ViralScoreRegistry } from '../../viralscore/index.js';
import type { ServerContext } from '../context.js';
import { ActivateModelBody, ModelsResponse } from '../schemas.js';
import { openDraftScorer } from '../viralscore-scorer.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/**
 * GET /v1/models (what is loaded, the estimator's registry and the LM's saved versions) and POST
 * /v1/models/active (switch the served estimator or LM). Switching opens the new model before anything
 * changes, so a version that fails to load leaves the served one in place; then the registry's (or the LM
 * directory's) active version follows. The generator reranks with the active estimator, so it is opened
 * again after either switch; requests already running finish on the generator they started on.
 */
export function modelRoutes(
  context: ServerContext,
  registryAt: { dataDir: string; threads: number } | undefined,
): FastifyPluginCallbackTypebox {
  const { scores, generator, metrics, gate, openGenerator } = context;
  const registry = registryAt && new ViralScoreRegistry(registryAt.dataDir);
  const lmDir = registryAt && generatePaths(registryAt.dataDir).lmDir;
  const generatorState = () => {
    const { versions, active } = lmDir === undefined ? { versions: [], active: null } : lmVersions(lmDir);
    return {
      loaded: generator !== undefined,
      version: generator?.version ?? null,
      versions: versions.map((v) => ({
        version: v.version,
        active: v.version === active,
        kind: v.kind,
        parent: v.parent,
        createdAt: v.createdAt,
      })),
    };
  };
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
    generator: generatorState(),
  });
  /** Opens the generator again (the LM directory's and the registry's active models) and serves it. */
  const reopenGenerator = async (): Promise<void> => {
    if (generator === undefined || openGenerator === undefined) return;
    const next = await openGenerator();
    if (next === undefined) throw new ModelStateError('the language model or the estimator is gone');
    const previous = generator.version;
    await generator.replace(next);
    metrics.modelInfo.remove({ kind: 'generator', version: previous });
    metrics.modelInfo.set({ kind: 'generator', version: next.version }, 1);
  };
  // One switch at a time: two would race to be the last `replace`.
  let switching: Promise<unknown> = Promise.resolve();

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
        const run = switching.then(async () => {
          if (!registryAt || !registry || lmDir === undefined)
            throw new TkllmError(
              'UNSUPPORTED',
              'this server was started without a data directory: it cannot switch models',
            );
          if (kind === 'lm') {
            if (generator === undefined || openGenerator === undefined)
              throw new ModelStateError('this server has no language model loaded: there is none to switch');
            const { versions, active } = lmVersions(lmDir);
            if (!versions.some((v) => v.version === version))
              throw new NotFoundError(
                `no LM version "${version}" (versions: ${versions.map((v) => v.version).join(', ') || 'none'})`,
              );
            activateLmVersion(lmDir, version);
            try {
              await reopenGenerator();
            } catch (error) {
              // The served generator stays; so do the files it was loaded from.
              if (active !== null) activateLmVersion(lmDir, active);
              throw error;
            }
            request.log.info({ from: active, to: version }, 'switched the language model');
            return;
          }
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
          // Generation reranks with the estimator it loaded: load the switched one there too.
          await reopenGenerator().catch((error: unknown) =>
            request.log.error({ err: error }, 'generation kept the previous estimator'),
          );
        });
        switching = run.catch(() => {});
        await run;
        return state();
      },
    );
    done();
  };
}
