import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TkllmError } from '../core/index.js';
import type { Draft, DraftScore } from './models.js';
import { packageRoot } from './paths.js';
import type { ScoreService } from './score-service.js';

/** proto/viralscore.proto, the estimator's service definition, beside src/ and dist/src/ alike. */
export const viralScoreProtoPath = join(packageRoot(), 'proto', 'viralscore.proto');

/** Loads the ViralScorer service definition (field names kept as in the .proto). */
export function loadViralScoreProto(path = viralScoreProtoPath): grpc.GrpcObject {
  const definition = protoLoader.loadSync(path, { keepCase: true, defaults: true, arrays: true });
  return grpc.loadPackageDefinition(definition);
}

interface WireDraft {
  text: string;
  hashtags: string[];
  posted_at: string;
  creator: string;
}

/** Where and what `startGrpcScorer` serves. */
export interface GrpcScorerOptions {
  /** The batched scoring path, shared with the REST API (`app.scoreService`). */
  service: ScoreService;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Most drafts per call, as REST allows. */
  maxDrafts?: number;
}

/** A running gRPC scorer. */
export interface GrpcScorer {
  port: number;
  close(): Promise<void>;
}

const maxTextLength = 5000;

function toDraft(wire: WireDraft, i: number): Draft {
  if (wire.text.length === 0 || wire.text.length > maxTextLength)
    throw new TkllmError('VALIDATION', `\`drafts[${i}].text\` must hold 1 to ${maxTextLength} characters`);
  const draft: Draft = { text: wire.text };
  if (wire.hashtags.length > 0) draft.hashtags = wire.hashtags;
  if (wire.creator !== '') draft.creator = wire.creator;
  if (wire.posted_at !== '') {
    if (Number.isNaN(Date.parse(wire.posted_at)))
      throw new TkllmError(
        'VALIDATION',
        `\`drafts[${i}].posted_at\` must be an ISO time, got "${wire.posted_at}"`,
      );
    draft.postedAt = wire.posted_at;
  }
  return draft;
}

const toWire = (s: DraftScore) => ({
  viral_score: s.viralScore,
  subscores: s.subscores,
  guidance: s.guidance,
});

function statusFor(error: unknown): grpc.status {
  if (!(error instanceof TkllmError)) return grpc.status.INTERNAL;
  if (error.code === 'VALIDATION') return grpc.status.INVALID_ARGUMENT;
  if (error.code === 'MODEL_STATE') return grpc.status.FAILED_PRECONDITION;
  if (error.code === 'NOT_FOUND') return grpc.status.NOT_FOUND;
  return grpc.status.INTERNAL;
}

/**
 * Serves `tkllm.viralscore.v1.ViralScorer` (proto/viralscore.proto) on gRPC, scoring through the same
 * batcher as POST /v1/score/batch so that both front doors share batches and the model.
 *
 * @example
 * const app = await createServer({ lake, scorer });
 * const grpcScorer = await startGrpcScorer({ service: app.scoreService, port: 50051 });
 */
export async function startGrpcScorer({
  service,
  host = '127.0.0.1',
  port = 0,
  maxDrafts = 256,
}: GrpcScorerOptions): Promise<GrpcScorer> {
  const proto = loadViralScoreProto() as unknown as {
    tkllm: { viralscore: { v1: { ViralScorer: grpc.ServiceClientConstructor } } };
  };
  const server = new grpc.Server();
  server.addService(proto.tkllm.viralscore.v1.ViralScorer.service, {
    ScoreBatch: (
      call: grpc.ServerUnaryCall<{ drafts: WireDraft[]; explain: boolean }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const run = async () => {
        const wire = call.request.drafts;
        if (wire.length === 0 || wire.length > maxDrafts)
          throw new TkllmError(
            'VALIDATION',
            `\`drafts\` must hold 1 to ${maxDrafts} drafts, got ${wire.length}`,
          );
        const scores = await service.score(wire.map(toDraft), { explain: call.request.explain });
        return { model_version: service.version, scores: scores.map(toWire) };
      };
      run().then(
        (response) => callback(null, response),
        (error: unknown) =>
          callback({
            code: statusFor(error),
            details: error instanceof Error ? error.message : String(error),
          }),
      );
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}
