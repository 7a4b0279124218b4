/**
 * server: the HTTP API (Fastify, OpenAPI at /openapi.json, docs at /docs), the studio's host, the gRPC
 * scorer, and the parts they share: API keys, the micro-batcher, server-sent events, Prometheus metrics.
 */
export { createServer, defaultStudioDir, errorBody } from './app.js';
export type { ServerOptions, TkllmServer } from './app.js';
export { apiKeyStore, loadApiKeys, presentedKey } from './api-keys.js';
export type { ApiKeyStore } from './api-keys.js';
export { Batcher } from './batcher.js';
export type { BatcherOptions } from './batcher.js';
export { formatSseEvent, streamSse } from './sse.js';
export type { SseEvent, StreamSseOptions } from './sse.js';
export { noGeneratorMessage, noScorerMessage } from './models.js';
export type {
  Draft,
  DraftScore,
  DraftScorer,
  GenerateRequest,
  GeneratedCandidate,
  GenerationEvent,
  GenerationSummary,
  LakeUse,
  ScriptGenerator,
  Subscores,
} from './models.js';
export { ScoreService } from './score-service.js';
export type { ScoreServiceOptions } from './score-service.js';
export { loadViralScoreProto, startGrpcScorer, viralScoreProtoPath } from './grpc.js';
export type { GrpcScorer, GrpcScorerOptions } from './grpc.js';
export { openDraftScorer } from './viralscore-scorer.js';
export type { OpenDraftScorerOptions, OpenedDraftScorer, UseLake } from './viralscore-scorer.js';
export { openScriptGenerator } from './script-generator.js';
export { recordAndLearn } from './learn-from-events.js';
