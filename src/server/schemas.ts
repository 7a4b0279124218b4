// Request and response schemas: JSON Schema built with TypeBox, so one definition validates requests (ajv),
// serialises responses, types the handlers and is published in the OpenAPI document.
import { Type, type Static, type TSchema } from 'typebox';
import { readerKinds, shapeNames } from '../lake/index.js';

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'VALIDATION, UNAUTHORIZED, MODEL_STATE, ... (stable, for programs)' }),
      message: Type.String({ description: 'What went wrong and how to fix it (for people)' }),
      field: Type.Optional(Type.String({ description: 'The request field at fault, as a dotted path' })),
    }),
  },
  { $id: 'Error', title: 'Error' },
);

export const Health = Type.Object({ status: Type.Literal('ok') });

export const Readiness = Type.Object({
  ready: Type.Boolean(),
  lake: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  scorer: Type.Boolean({ description: 'whether a ViralScore model is loaded' }),
  generator: Type.Boolean({ description: 'whether a language model is loaded' }),
});

const Distribution = Type.Object({
  count: Type.Integer(),
  mean: nullable(Type.Number()),
  p10: nullable(Type.Number()),
  p25: nullable(Type.Number()),
  p50: nullable(Type.Number()),
  p75: nullable(Type.Number()),
  p90: nullable(Type.Number()),
  p99: nullable(Type.Number()),
});

const TimeRange = Type.Object({ first: nullable(Type.String()), last: nullable(Type.String()) });

export const LakeSummary = Type.Object({
  posts: Type.Integer(),
  authors: Type.Integer(),
  snapshots: Type.Integer(),
  postsByPlatform: Type.Record(Type.String(), Type.Integer()),
  posted: TimeRange,
  observed: TimeRange,
  plays: Distribution,
  shareRate: Distribution,
  topHashtags: Type.Array(Type.Object({ tag: Type.String(), posts: Type.Integer() })),
  rejects: Type.Integer(),
  rejectsByReason: Type.Record(Type.String(), Type.Integer()),
});

export const SummaryQuery = Type.Object({
  top: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'how many hashtags to list' }),
});

export const EngagementHistogram = Type.Object({
  metric: Type.Literal('plays'),
  bins: Type.Array(
    Type.Object({
      from: Type.Number({ description: 'lower bound (inclusive)' }),
      to: Type.Number({ description: 'upper bound (exclusive)' }),
      posts: Type.Integer(),
    }),
  ),
});

export const TrendsQuery = Type.Object({
  tags: Type.Integer({ minimum: 1, maximum: 20, default: 5, description: 'how many top hashtags' }),
  bucket: Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], { default: 'week' }),
});

export const Trends = Type.Object({
  bucket: Type.String(),
  tags: Type.Array(
    Type.Object({
      tag: Type.String(),
      posts: Type.Integer(),
      series: Type.Array(Type.Object({ start: Type.String(), posts: Type.Integer() })),
    }),
  ),
});

export const IngestJsonBody = Type.Object({
  posts: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
    minItems: 1,
    maxItems: 50_000,
    description: 'post objects in one of the export shapes the lake reads',
  }),
  format: Type.Optional(
    Type.String({ enum: [...shapeNames], description: 'export shape; guessed when absent' }),
  ),
  year: Type.Optional(Type.Integer({ minimum: 1970, maximum: 2100 })),
  observedAt: Type.Optional(Type.String({ format: 'date-time' })),
});

export const IngestResultBody = Type.Object({
  file: Type.String(),
  shape: Type.String(),
  reader: Type.String({ enum: [...readerKinds] }),
  rowsRead: Type.Integer(),
  rowsAccepted: Type.Integer(),
  rowsRejected: Type.Integer(),
  rejectsByReason: Type.Record(Type.String(), Type.Integer()),
  duplicatesMerged: Type.Integer(),
  newPosts: Type.Integer(),
  newSnapshots: Type.Integer(),
  seconds: Type.Number(),
});

export const DraftBody = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 5000 }),
    hashtags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
    creator: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'creator name in the lake' }),
    ),
    postedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const SubscoresBody = Type.Object({
  emotion: Type.Number(),
  hook: Type.Number(),
  replicability: Type.Number(),
  share: Type.Number(),
  trend: Type.Number(),
});

export const DraftScoreBody = Type.Object({
  viralScore: Type.Number({ description: 'V in (0, 1)' }),
  subscores: SubscoresBody,
  guidance: Type.Array(Type.String(), { description: 'what holds the draft back, largest pull first' }),
  contributions: Type.Optional(SubscoresBody),
  topFeatures: Type.Optional(
    Type.Array(
      Type.Object({
        group: Type.String(),
        feature: Type.String(),
        value: Type.Number(),
        effect: Type.Number(),
      }),
    ),
  ),
});

export const ScoreBatchBody = Type.Object(
  { drafts: Type.Array(DraftBody, { minItems: 1, maxItems: 256 }) },
  { additionalProperties: false },
);

export const ScoreResponse = Type.Object({ modelVersion: Type.String(), score: DraftScoreBody });
export const ScoreBatchResponse = Type.Object({
  modelVersion: Type.String(),
  scores: Type.Array(DraftScoreBody),
});

const Words = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 32 });
export const GenerateBody = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: 2000 }),
    creator: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'author key or name with a style row' }),
    ),
    n: Type.Integer({ minimum: 1, maximum: 64, default: 8, description: 'candidates sampled' }),
    seconds: Type.Union([Type.Literal(15), Type.Literal(30), Type.Literal(60)], {
      default: 15,
      description: 'longest script, in seconds of speech (2.5 words a second)',
    }),
    eta: Type.Number({ minimum: 0, maximum: 100, default: 1, description: 'rerank: logP_norm + eta * V' }),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    keywords: Type.Optional(Words),
    bannedWords: Type.Optional(Words),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    styleStrength: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 4,
        description: "scale of the creator's style: 0 generic, 1 as trained (default), above 1 exaggerated",
      }),
    ),
    radEta: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 20,
        description:
          'reward-augmented decoding: logits per standard deviation of the prefix reward on the top 8 next ' +
          'tokens (0, the default, is off; the first request with RAD trains the prefix reward when none is saved)',
      }),
    ),
    hashtags: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
        maxItems: 50,
        description: 'hashtags the post will carry (with or without #), for the estimator',
      }),
    ),
    postedAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'when it will be posted (ISO 8601), for the estimator; default now',
      }),
    ),
  },
  { additionalProperties: false },
);

const Subscores = Type.Record(Type.String(), Type.Number());
export const CandidateBody = Type.Object({
  rank: Type.Integer({ description: '0 is the best' }),
  index: Type.Integer({ description: 'its place in the sampled batch: the `candidate` of its token events' }),
  text: Type.String(),
  tokens: Type.Integer(),
  logProbNorm: Type.Number(),
  v: Type.Number(),
  vPenalised: Type.Number(),
  score: Type.Number({ description: 'logProbNorm + eta * vPenalised' }),
  subscores: Subscores,
  contributions: Subscores,
  policy: Type.Object({
    blocked: Type.Boolean(),
    brandSafety: Type.Number(),
    reasons: Type.Array(Type.String()),
    hits: Type.Array(
      Type.Object({
        ruleId: Type.String(),
        category: Type.String(),
        severity: Type.String(),
        text: Type.String(),
      }),
    ),
  }),
  keywordHit: Type.Boolean(),
  finishReason: Type.String(),
});

export const GenerationSummaryBody = Type.Object({
  modelVersion: Type.String(),
  estimator: Type.String(),
  sampled: Type.Integer(),
  blocked: Type.Integer(),
  withoutKeyword: Type.Integer(),
  empty: Type.Integer(),
  auditId: nullable(Type.String()),
  sampledTokens: Type.Optional(Type.Integer({ description: 'tokens decoded over all sampled candidates' })),
  timings: Type.Object({
    sampleMs: Type.Number(),
    rerankMs: Type.Number(),
    auditMs: Type.Number(),
    totalMs: Type.Number(),
  }),
});

export const GenerateResponse = Type.Object({
  ...GenerationSummaryBody.properties,
  candidates: Type.Array(CandidateBody, { description: 'ranked by score, best first; never a blocked one' }),
});

const LmVersion = Type.Object({
  version: Type.String(),
  active: Type.Boolean({ description: 'the version the LM directory serves' }),
  kind: nullable(Type.String({ description: 'initial, train or update' })),
  parent: nullable(Type.String()),
  createdAt: nullable(Type.String()),
});
const ScorerVersion = Type.Object({
  version: Type.String(),
  active: Type.Boolean({ description: "the registry's active version (the one a restarted server loads)" }),
  createdAt: nullable(Type.String()),
  metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'evaluation figures saved with it' }),
});
export const ModelsResponse = Type.Object({
  scorer: Type.Object({
    loaded: Type.Boolean(),
    version: nullable(Type.String()),
    versions: Type.Array(ScorerVersion, {
      description: "the registry's versions, oldest first (empty when the server has no data directory)",
    }),
  }),
  generator: Type.Object({
    loaded: Type.Boolean(),
    version: nullable(Type.String({ description: 'lm[@vN]+<estimator version>' })),
    versions: Type.Array(LmVersion, {
      description: "the LM's saved versions, oldest first (empty before the first `tkllm lm update`)",
    }),
  }),
});

export const ActivateModelBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('scorer'), Type.Literal('lm')], {
      description: 'which model: the ViralScore estimator or the language model (one of its saved versions)',
    }),
    version: Type.String({ minLength: 1, maxLength: 100, pattern: '^v[0-9]+$' }),
  },
  { additionalProperties: false },
);

export const ScreenBody = Type.Object(
  {
    drafts: Type.Array(DraftBody, { minItems: 1, maxItems: 1024 }),
    keep: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 16,
      description: 'finalists the full model scores',
    }),
  },
  { additionalProperties: false },
);

export const ScreenResponse = Type.Object({
  modelVersion: Type.String(),
  screen: Type.Array(Type.Number(), { description: 'V of every draft by the int8 first stage, in order' }),
  finalists: Type.Array(Type.Object({ index: Type.Integer(), score: DraftScoreBody }), {
    description: 'the drafts the first stage ranked highest, scored by the full model, best first',
  }),
});

/** Schemas registered with `addSchema`, so that `Type.Ref` finds them and OpenAPI lists them as components. */
export const sharedSchemas = [ErrorBody];

export type IngestJson = Static<typeof IngestJsonBody>;
export type SummaryQueryT = Static<typeof SummaryQuery>;
export type TrendsQueryT = Static<typeof TrendsQuery>;
export type GenerateBodyT = Static<typeof GenerateBody>;

/** Error responses every route may give, by status. */
export const errorResponses = {
  400: Type.Ref('Error'),
  500: Type.Ref('Error'),
} as const;

export const CheckBody = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 5000 }),
    region: Type.Optional(
      Type.String({ pattern: '^[A-Za-z]{2}$', description: 'region code such as US or DE' }),
    ),
  },
  { additionalProperties: false },
);

export const CheckResponse = Type.Object({
  blocked: Type.Boolean({ description: 'a rule of severity block fired' }),
  brandSafety: Type.Number({ description: '1 when nothing fired, 0 when blocked' }),
  hits: Type.Array(
    Type.Object({
      ruleId: Type.String(),
      category: Type.String(),
      severity: Type.String(),
      span: Type.Array(Type.Integer(), {
        minItems: 2,
        maxItems: 2,
        description: '[start, end) in UTF-16 units',
      }),
      text: Type.String(),
      why: Type.String(),
    }),
  ),
});

const ArmBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    weight: Type.Number({ exclusiveMinimum: 0, description: 'share of units under hash allocation' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const ExperimentBody = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' }),
    arms: Type.Array(ArmBody, {
      minItems: 2,
      maxItems: 20,
      description: 'the first arm is the control',
    }),
    unit: Type.Optional(Type.Union([Type.Literal('post'), Type.Literal('creator'), Type.Literal('viewer')])),
    allocation: Type.Optional(Type.Union([Type.Literal('hash'), Type.Literal('bandit')])),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    salt: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    startsAt: Type.Optional(Type.String({ format: 'date-time' })),
    endsAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const ExperimentResponse = Type.Object({
  id: Type.String(),
  description: nullable(Type.String()),
  unit: Type.String(),
  allocation: Type.String(),
  arms: Type.Array(
    Type.Object({
      name: Type.String(),
      weight: Type.Number(),
      description: Type.Optional(Type.String()),
    }),
  ),
  salt: Type.String(),
  startsAt: Type.String(),
  endsAt: nullable(Type.String()),
  createdAt: Type.String(),
});

export const ExperimentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const AssignBody = Type.Object(
  { unitId: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);

const loose = Type.Union([Type.Number(), Type.String(), Type.Null()]);
export const EventsBody = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          unitId: Type.String({ minLength: 1, maxLength: 500 }),
          horizon: Type.Union([Type.Integer(), Type.String()], { description: '1 or 24 (also "1h", "24h")' }),
          observedAt: Type.Union([Type.String(), Type.Number()], { description: 'ISO time or epoch ms' }),
          arm: Type.Optional(nullable(Type.String())),
          plays: Type.Optional(loose),
          likes: Type.Optional(loose),
          comments: Type.Optional(loose),
          shares: Type.Optional(loose),
          rewatches: Type.Optional(loose),
          conversions: Type.Optional(loose),
          watchThrough: Type.Optional(loose),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 50_000 },
    ),
    update: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'then run an online update of the active estimator on the new engagement of known posts ' +
          '(guarded; a new registry version, served at once when the guard lets it through)',
      }),
    ),
  },
  { additionalProperties: false },
);

const OnlineUpdate = Type.Object({
  version: Type.String(),
  parent: Type.String(),
  activated: Type.Boolean(),
  reason: nullable(Type.String({ description: 'why the guard kept the candidate inactive' })),
  candidate: Type.Unknown({
    description: "the candidate's held-out figures (n, mse, spearman, ndcg10, ...)",
  }),
  active: Type.Unknown({ description: "the parent's held-out figures on the same rows" }),
  freshRows: Type.Integer(),
  replayRows: Type.Integer(),
  seconds: Type.Number(),
});

export const EventsResponse = Type.Object({
  received: Type.Integer(),
  recorded: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  rejectsByReason: Type.Record(Type.String(), Type.Integer()),
  rejectExamples: Type.Array(Type.String()),
  snapshots: Type.Integer(),
  update: Type.Optional(
    Type.Union([OnlineUpdate, Type.Null()], {
      description:
        'with `update`: the online update, or null when no new engagement had a label to learn from',
    }),
  ),
});

export const ReportQuery = Type.Object({
  horizon: Type.Union([Type.Literal(1), Type.Literal(24)], { default: 24 }),
  alpha: Type.Number({ exclusiveMinimum: 0, maximum: 0.5, default: 0.05 }),
});

export const ReportResponse = Type.Object({
  experiment: ExperimentResponse,
  horizonHours: Type.Integer(),
  alpha: Type.Number(),
  units: Type.Record(Type.String(), Type.Integer()),
  sampleRatio: Type.Optional(
    Type.Unknown({ description: 'chi-square check of the split against the arm weights (hash allocation)' }),
  ),
  warnings: Type.Array(Type.String()),
  kpis: Type.Array(Type.Unknown(), {
    description: 'per KPI: arm summaries, comparisons with the control (lift, Welch, sequential), series',
  }),
  methods: Type.Record(Type.String(), Type.String()),
});
