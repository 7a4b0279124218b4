import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadViralScoreProto, startGrpcScorer, type GrpcScorer } from './grpc.js';
import type { Draft, DraftScore, DraftScorer } from './models.js';
import { ScoreService } from './score-service.js';

// A test double for the estimator src/viralscore is building; its scores follow from the text, so
// mixed-up order would show.
class LengthScorer implements DraftScorer {
  readonly version = 'vs-grpc-test';
  readonly batches: number[] = [];
  score(drafts: readonly Draft[]): Promise<DraftScore[]> {
    this.batches.push(drafts.length);
    return Promise.resolve(
      drafts.map((d) => ({
        viralScore: d.text.length / 100,
        subscores: {
          emotion: 0.1,
          hook: 0.2,
          replicability: 0.3,
          share: 0.4,
          trend: d.hashtags?.length ?? 0,
        },
        guidance: d.postedAt ? [`posted ${d.postedAt}`] : [],
      })),
    );
  }
}

interface WireScore {
  viral_score: number;
  subscores: Record<string, number>;
  guidance: string[];
}
type Client = grpc.Client & {
  ScoreBatch(
    request: unknown,
    callback: (
      error: grpc.ServiceError | null,
      response: { model_version: string; scores: WireScore[] },
    ) => void,
  ): void;
};

let running: GrpcScorer | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.close();
  await running?.close();
});

async function connect(service: ScoreService): Promise<Client> {
  running = await startGrpcScorer({ service });
  const proto = loadViralScoreProto() as unknown as {
    tkllm: {
      viralscore: { v1: { ViralScorer: new (address: string, creds: grpc.ChannelCredentials) => Client } };
    };
  };
  client = new proto.tkllm.viralscore.v1.ViralScorer(
    `127.0.0.1:${running.port}`,
    grpc.credentials.createInsecure(),
  );
  return client;
}

const scoreBatch = (c: Client, request: unknown) =>
  new Promise<{ model_version: string; scores: WireScore[] }>((resolve, reject) =>
    c.ScoreBatch(request, (error, response) => (error ? reject(error) : resolve(response))),
  );

describe('gRPC ViralScorer', () => {
  it('scores a batch in order over a real gRPC connection', async () => {
    const scorer = new LengthScorer();
    const c = await connect(new ScoreService(scorer, { maxWaitMs: 1 }));
    const response = await scoreBatch(c, {
      drafts: [
        { text: 'abc', hashtags: ['x', 'y'] },
        { text: 'a'.repeat(50), posted_at: '2025-06-01T10:00:00Z' },
      ],
    });
    expect(response.model_version).toBe('vs-grpc-test');
    expect(response.scores.map((s) => s.viral_score)).toEqual([0.03, 0.5]);
    expect(response.scores[0].subscores).toEqual({
      emotion: 0.1,
      hook: 0.2,
      replicability: 0.3,
      share: 0.4,
      trend: 2,
    });
    expect(response.scores[1].guidance).toEqual(['posted 2025-06-01T10:00:00Z']);
    expect(scorer.batches).toEqual([2]);
  });

  it('answers FAILED_PRECONDITION with the train command while no model is trained', async () => {
    const c = await connect(new ScoreService(undefined));
    const error = await scoreBatch(c, { drafts: [{ text: 'hello' }] }).catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect((error as grpc.ServiceError).details).toMatch(/no model trained yet — run tkllm viralscore train/);
  });

  it('answers INVALID_ARGUMENT naming the field for bad drafts', async () => {
    const c = await connect(new ScoreService(new LengthScorer()));
    for (const [request, field] of [
      [{ drafts: [] }, '`drafts`'],
      [{ drafts: [{ text: 'ok' }, { text: '' }] }, '`drafts[1].text`'],
      [{ drafts: [{ text: 'ok', posted_at: 'tomorrow' }] }, '`drafts[0].posted_at`'],
    ] as const) {
      const error = await scoreBatch(c, request).catch((e: grpc.ServiceError) => e);
      expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect((error as grpc.ServiceError).details).toContain(field);
    }
  });
});
