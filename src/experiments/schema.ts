import type { Migration } from '../lake/index.js';

/**
 * The experiments module's own tables, applied with `lake.ensureSchema('experiments', experimentSteps)`.
 * Steps are never edited once released: a change is a new step.
 */
export const experimentSteps: readonly Migration[] = [
  {
    version: 1,
    description: 'experiments with arms, engagement events at fixed horizons, rejected events',
    // No primary key on experiment_events: like the lake's own tables, the merge (events.ts) keeps
    // (experiment_id, unit_id, horizon_hours) unique itself, because ART indexes slow bulk inserts down.
    statements: [
      `CREATE TABLE experiments (
        experiment_id VARCHAR PRIMARY KEY,
        description VARCHAR,
        unit VARCHAR NOT NULL,            -- 'post', 'creator' or 'viewer': what is assigned to an arm
        allocation VARCHAR NOT NULL,      -- 'hash' (fixed weights) or 'bandit' (Thompson sampling)
        arms JSON NOT NULL,               -- [{"name": "A", "weight": 0.5, "description": "..."}], control first
        salt VARCHAR NOT NULL,            -- hashed with each unit id; a new salt reshuffles the units
        starts_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP,
        created_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE experiment_events (
        experiment_id VARCHAR NOT NULL,
        unit_id VARCHAR NOT NULL,
        arm VARCHAR NOT NULL,
        horizon_hours INTEGER NOT NULL,   -- 1 or 24: hours after publication the engagement was measured
        observed_at TIMESTAMP NOT NULL,
        plays BIGINT, likes BIGINT, comments BIGINT, shares BIGINT, rewatches BIGINT, conversions BIGINT,
        watch_through DOUBLE,             -- share of viewers who watched to the end, 0..1
        recorded_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE experiment_rejects (
        experiment_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,          -- the file, or 'api'
        line BIGINT,                      -- line in the file (header = line 1) or 1-based index in the batch
        field VARCHAR,
        reason VARCHAR NOT NULL,          -- a code: missing_unit, bad_horizon, negative_count, arm_mismatch, ...
        detail VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL
      )`,
    ],
  },
];
