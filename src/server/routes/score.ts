import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { noScorerMessage } from '../models.js';
import {
  DraftBody,
  ScoreBatchBody,
  ScoreBatchResponse,
  ScoreResponse,
  ScreenBody,
  ScreenResponse,
} from '../schemas.js';

const explainQuery = (byDefault: boolean) =>
  Type.Object({
    explain: Type.Boolean({
      default: byDefault,
      description:
        'list the features that moved V (topFeatures) and guidance from them; costs a gradient pass per batch',
    }),
  });

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

/** POST /v1/score and /v1/score/batch: ViralScore with its five subscores and guidance, batched across requests. */
export function scoreRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { scores } = context;

  return (app, _options, done) => {
    app.post(
      '/v1/score',
      {
        schema: {
          tags: ['score'],
          summary: 'ViralScore of one draft, with subscores and guidance',
          description: `503 with code MODEL_STATE until a model is trained (${noScorerMessage}).`,
          querystring: explainQuery(true),
          body: DraftBody,
          response: { 200: ScoreResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request) => {
        const [score] = await scores.score([request.body], { explain: request.query.explain });
        return { modelVersion: scores.version, score };
      },
    );

    app.post(
      '/v1/score/batch',
      {
        schema: {
          tags: ['score'],
          summary: 'ViralScore of up to 256 drafts, in order (without explanations unless ?explain=true)',
          description: `503 with code MODEL_STATE until a model is trained (${noScorerMessage}).`,
          querystring: explainQuery(false),
          body: ScoreBatchBody,
          response: { 200: ScoreBatchResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request, reply) => {
        if (request.query.explain)
          return {
            scores: await scores.score(request.body.drafts, { explain: true }),
            modelVersion: scores.version,
          };
        // Without explanations the scoring thread answers each score as JSON text and the response is
        // joined from them: the HTTP thread neither clones nor serialises the scores (the texts are
        // JSON.stringify of the schema's own objects).
        const texts = await scores.scoreJson(request.body.drafts);
        const body = `{"scores":[${texts.join(',')}],"modelVersion":${JSON.stringify(scores.version)}}`;
        // Fastify sends a string with a JSON content type as it is (the type provider expects the object).
        return reply.type('application/json; charset=utf-8').send(body as never);
      },
    );

    app.post(
      '/v1/score/screen',
      {
        schema: {
          tags: ['score'],
          summary:
            'Two stages: the int8 graph screens up to 1024 drafts, the full model scores the best `keep`',
          description:
            'Both stages are measured (tkllm_score_stage_duration_seconds{stage}). ' +
            `503 with code MODEL_STATE until a model is trained (${noScorerMessage}).`,
          body: ScreenBody,
          response: { 200: ScreenResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request) => ({
        ...(await scores.twoStage(request.body.drafts, request.body.keep)),
        modelVersion: scores.version,
      }),
    );
    done();
  };
}
