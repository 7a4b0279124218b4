import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ServerContext } from '../app.js';
import { noScorerMessage, requireModel, type Draft } from '../models.js';
import { DraftBody, ScoreBatchBody, ScoreBatchResponse, ScoreResponse } from '../schemas.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/** POST /v1/score and /v1/score/batch: ViralScore with its five subscores and guidance, batched across requests. */
export function scoreRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { scorer, scoreBatcher } = context;
  // One path for both routes and for gRPC: drafts of concurrent requests share the scorer's batches.
  const scoreDrafts = (drafts: Draft[]) => requireModel(scoreBatcher, noScorerMessage).submitMany(drafts);

  return (app, _options, done) => {
    app.post(
      '/v1/score',
      {
        schema: {
          tags: ['score'],
          summary: 'ViralScore of one draft, with subscores and guidance',
          description: `503 with code MODEL_STATE until a model is trained (${noScorerMessage}).`,
          body: DraftBody,
          response: { 200: ScoreResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request) => {
        const [score] = await scoreDrafts([request.body]);
        return { modelVersion: requireModel(scorer, noScorerMessage).version, score: score };
      },
    );

    app.post(
      '/v1/score/batch',
      {
        schema: {
          tags: ['score'],
          summary: 'ViralScore of up to 256 drafts, in order',
          description: `503 with code MODEL_STATE until a model is trained (${noScorerMessage}).`,
          body: ScoreBatchBody,
          response: { 200: ScoreBatchResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request) => ({
        scores: await scoreDrafts(request.body.drafts),
        modelVersion: requireModel(scorer, noScorerMessage).version,
      }),
    );
    done();
  };
}
