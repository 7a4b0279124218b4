import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import {
  noGeneratorMessage,
  requireModel,
  type GeneratedCandidate,
  type GenerateRequest,
} from '../models.js';
import { GenerateBody, GenerateResponse, type GenerateBodyT } from '../schemas.js';
import { streamSse } from '../sse.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

const toRequest = (body: GenerateBodyT): GenerateRequest => {
  const request: GenerateRequest = {
    prompt: body.prompt,
    candidates: body.candidates,
    maxNewTokens: body.maxNewTokens,
  };
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.seed !== undefined) request.seed = body.seed;
  return request;
};

const ranked = (candidates: GeneratedCandidate[]) =>
  [...candidates].sort((a, b) => b.rerankScore - a.rerankScore);

/** POST /v1/generate (JSON) and /v1/generate/stream (server-sent events): candidates reranked by ViralScore. */
export function generateRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { generator } = context;
  return (app, _options, done) => {
    app.post(
      '/v1/generate',
      {
        schema: {
          tags: ['generate'],
          summary: 'Generate candidates and return them ranked, each with its breakdown and policy verdict',
          description: `503 with code MODEL_STATE until a language model is trained (${noGeneratorMessage}).`,
          body: GenerateBody,
          response: { 200: GenerateResponse, ...errors(400, 413, 429, 503) },
        },
      },
      async (request, reply) => {
        const model = requireModel(generator, noGeneratorMessage);
        const abort = new AbortController();
        // The response's close (not the request's, which closes once the body is read) means the client left.
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) abort.abort();
        });
        const candidates: GeneratedCandidate[] = [];
        for await (const event of model.generate(toRequest(request.body), abort.signal))
          if (event.type === 'candidate') candidates.push(event.candidate);
        return { modelVersion: model.version, candidates: ranked(candidates) };
      },
    );

    app.post(
      '/v1/generate/stream',
      {
        schema: {
          tags: ['generate'],
          summary: 'The same, streamed as server-sent events: token, candidate, then done with the ranking',
          description:
            'Events: `token` {candidate, text}; `candidate` (a finished Candidate); `done` {modelVersion, ranking: ' +
            'candidate indices best first}; `error` {code, message}. ' +
            `503 with code MODEL_STATE before the stream opens when no language model is trained.`,
          body: GenerateBody,
          produces: ['text/event-stream'],
          response: { ...errors(400, 413, 429, 503) },
        },
      },
      async (request, reply) => {
        const model = requireModel(generator, noGeneratorMessage);
        const body = toRequest(request.body);
        await streamSse(reply, async function* (signal) {
          const finished: GeneratedCandidate[] = [];
          for await (const event of model.generate(body, signal)) {
            if (event.type === 'token')
              yield { event: 'token', data: { candidate: event.candidate, text: event.text } };
            else {
              finished.push(event.candidate);
              yield { event: 'candidate', data: event.candidate };
            }
          }
          yield {
            event: 'done',
            data: { modelVersion: model.version, ranking: ranked(finished).map((c) => c.index) },
          };
        });
      },
    );
    done();
  };
}
