import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import {
  noGeneratorMessage,
  requireModel,
  type GeneratedCandidate,
  type GenerateRequest,
  type GenerationSummary,
  type LakeUse,
} from '../models.js';
import { GenerateBody, GenerateResponse, type GenerateBodyT } from '../schemas.js';
import { streamSse } from '../sse.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

const toRequest = (body: GenerateBodyT): GenerateRequest => {
  const request: GenerateRequest = {
    prompt: body.prompt,
    n: body.n,
    seconds: body.seconds,
    eta: body.eta,
  };
  if (body.creator !== undefined) request.creator = body.creator;
  if (body.seed !== undefined) request.seed = body.seed;
  if (body.keywords !== undefined) request.keywords = body.keywords;
  if (body.bannedWords !== undefined) request.bannedWords = body.bannedWords;
  if (body.region !== undefined) request.region = body.region;
  if (body.styleStrength !== undefined) request.styleStrength = body.styleStrength;
  if (body.radEta !== undefined) request.radEta = body.radEta;
  if (body.hashtags !== undefined) request.hashtags = body.hashtags;
  if (body.postedAt !== undefined) request.postedAt = body.postedAt;
  return request;
};

/** POST /v1/generate (JSON) and /v1/generate/stream (server-sent events): candidates reranked by ViralScore. */
export function generateRoutes(context: ServerContext): FastifyPluginCallbackTypebox {
  const { generator, gate } = context;
  // Every generation reads (the estimator's history) and writes (its audit rows) the lake: a write through the
  // gate, so it never interleaves with an ingest's transaction and cached reads are dropped after it.
  const useLake: LakeUse = (work) => gate.write(work);
  return (app, _options, done) => {
    app.post(
      '/v1/generate',
      {
        schema: {
          tags: ['generate'],
          summary: 'Generate candidates and return them ranked, each with its breakdown and policy verdict',
          description:
            'N candidates from TKLLM (banned terms masked), scored by the active estimator, screened by policy ' +
            '(blocked ones never returned) and ranked by logP_norm + eta * V; every candidate is audited. ' +
            `503 with code MODEL_STATE until a language model and an estimator are trained (${noGeneratorMessage}).`,
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
        let summary: GenerationSummary | undefined;
        for await (const event of model.generate(toRequest(request.body), abort.signal, useLake))
          if (event.type === 'candidate') candidates.push(event.candidate);
          else if (event.type === 'done') summary = event.summary;
        if (summary === undefined) throw new Error('the generation ended without its summary');
        return { ...summary, candidates };
      },
    );

    app.post(
      '/v1/generate/stream',
      {
        schema: {
          tags: ['generate'],
          summary: 'The same, streamed as server-sent events: text as it is decoded, then the ranking',
          description:
            'Events: `start` {prompt, n, seconds}; `token` {candidate, text}, many, while the batch decodes: ' +
            'candidate is the index in the sampled batch and text the next piece of its script after the ' +
            'prompt (whole characters; never text the seconds budget cuts; a word the banned-term mask would ' +
            'not let end is held back until it is settled), so prompt + its pieces is the candidate’s text; ' +
            '`ranked` {candidates}: the returned candidates best first, each with rank, index, V, subscores, ' +
            'contributions and policy status (blocked, keyword-less and empty ones are absent); `done`: the ' +
            'summary (model, estimator, sampled, blocked, audit id, timings) and `ranking`, the indices best ' +
            'first; `error` {code, message}. 503 with code MODEL_STATE before the stream opens when no ' +
            'language model is trained.',
          body: GenerateBody,
          produces: ['text/event-stream'],
          response: { ...errors(400, 413, 429, 503) },
        },
      },
      async (request, reply) => {
        const model = requireModel(generator, noGeneratorMessage);
        const body = toRequest(request.body);
        await streamSse(reply, async function* (signal) {
          yield { event: 'start', data: { prompt: body.prompt, n: body.n, seconds: body.seconds } };
          const candidates: GeneratedCandidate[] = [];
          for await (const event of model.generate(body, signal, useLake)) {
            if (event.type === 'tokens') yield event.pieces.map((data) => ({ event: 'token', data }));
            else if (event.type === 'candidate') candidates.push(event.candidate);
            else {
              yield { event: 'ranked', data: { candidates } };
              yield { event: 'done', data: { ...event.summary, ranking: candidates.map((c) => c.index) } };
            }
          }
        });
      },
    );
    done();
  };
}
