import { NotFoundError, ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { armIndexFor } from './assignment.js';
import { experimentSteps } from './schema.js';
import { sql, sqlTime, text, utcDate } from './sql.js';

/** What an experiment assigns to arms. */
export type ExperimentUnit = 'post' | 'creator' | 'viewer';
/** The experiment units, in the order the CLI lists them. */
export const experimentUnits: readonly ExperimentUnit[] = ['post', 'creator', 'viewer'];
/** How units reach arms: fixed weights by hash, or adaptive Thompson sampling. */
export type Allocation = 'hash' | 'bandit';

/** One arm of an experiment; the first arm is the control that lifts are measured against. */
export interface Arm {
  name: string;
  /** Share of units under hash allocation (normalised over the arms); ignored by bandit allocation. */
  weight: number;
  description?: string;
}

/** What `createExperiment` needs. */
export interface ExperimentSpec {
  id: string;
  arms: readonly Arm[];
  unit?: ExperimentUnit;
  allocation?: Allocation;
  description?: string;
  /** Hashed with each unit id (default: the experiment id). */
  salt?: string;
  startsAt?: Date;
  endsAt?: Date;
}

/** An experiment as stored in the lake. */
export interface Experiment {
  id: string;
  description: string | null;
  unit: ExperimentUnit;
  allocation: Allocation;
  arms: Arm[];
  salt: string;
  startsAt: Date;
  endsAt: Date | null;
  createdAt: Date;
}

/** Creates the experiments tables if needed; every function of this module calls it first. */
export async function ensureExperimentTables(lake: Lake): Promise<void> {
  await lake.ensureSchema('experiments', experimentSteps);
}

function validateSpec(spec: ExperimentSpec): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(spec.id))
    throw new ValidationError(
      `experiment \`id\` must be 1-100 letters, digits, '_', '.' or '-', got "${spec.id}"`,
    );
  if (spec.arms.length < 2)
    throw new ValidationError(`experiment "${spec.id}" needs at least 2 arms, got ${spec.arms.length}`);
  const names = new Set<string>();
  for (const arm of spec.arms) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$/.test(arm.name))
      throw new ValidationError(`arm name must be 1-50 letters, digits, '_', '.' or '-', got "${arm.name}"`);
    if (names.has(arm.name)) throw new ValidationError(`arm "${arm.name}" appears twice`);
    names.add(arm.name);
    if (!Number.isFinite(arm.weight) || arm.weight <= 0)
      throw new ValidationError(`arm "${arm.name}": \`weight\` must be a positive number, got ${arm.weight}`);
  }
  if (spec.unit !== undefined && !experimentUnits.includes(spec.unit))
    throw new ValidationError(
      `\`unit\` must be one of ${experimentUnits.join(', ')}, got "${String(spec.unit)}"`,
    );
  if (spec.allocation !== undefined && spec.allocation !== 'hash' && spec.allocation !== 'bandit')
    throw new ValidationError(`\`allocation\` must be "hash" or "bandit", got "${String(spec.allocation)}"`);
  for (const key of ['startsAt', 'endsAt'] as const) {
    const date = spec[key];
    if (date !== undefined && Number.isNaN(date.getTime()))
      throw new ValidationError(`\`${key}\` is not a valid date`);
  }
  if (spec.startsAt && spec.endsAt && spec.endsAt <= spec.startsAt)
    throw new ValidationError(
      `\`endsAt\` (${spec.endsAt.toISOString()}) must be after \`startsAt\` (${spec.startsAt.toISOString()})`,
    );
}

/**
 * Stores a new experiment and returns it. Throws a ValidationError for a bad spec or an id already taken.
 *
 * @example
 * await createExperiment(lake, { id: 'hook-test', arms: [{ name: 'A', weight: 1 }, { name: 'B', weight: 1 }] });
 */
export async function createExperiment(lake: Lake, spec: ExperimentSpec): Promise<Experiment> {
  validateSpec(spec);
  await ensureExperimentTables(lake);
  const taken = await lake.count(`SELECT count(*) FROM experiments WHERE experiment_id = ${sql(spec.id)}`);
  if (taken > 0) throw new ValidationError(`experiment "${spec.id}" already exists: choose another id`);
  const arms = spec.arms.map((a) => ({
    name: a.name,
    weight: a.weight,
    ...(a.description === undefined ? {} : { description: a.description }),
  }));
  const startsAt = spec.startsAt ?? new Date();
  await lake.run(
    `INSERT INTO experiments VALUES (${sql(spec.id)}, ${spec.description === undefined ? 'NULL' : sql(spec.description)},
      ${sql(spec.unit ?? 'post')}, ${sql(spec.allocation ?? 'hash')}, ${sql(JSON.stringify(arms))},
      ${sql(spec.salt ?? spec.id)}, ${sqlTime(startsAt)}, ${spec.endsAt ? sqlTime(spec.endsAt) : 'NULL'},
      now()::TIMESTAMP)`,
  );
  return getExperiment(lake, spec.id);
}

/** Reads one experiment; throws a NotFoundError naming the id when there is none. */
export async function getExperiment(lake: Lake, id: string): Promise<Experiment> {
  await ensureExperimentTables(lake);
  const [row] = await lake.all(
    `SELECT experiment_id, description, unit, allocation, arms::VARCHAR AS arms, salt,
       starts_at::VARCHAR AS starts_at, ends_at::VARCHAR AS ends_at, created_at::VARCHAR AS created_at
     FROM experiments WHERE experiment_id = ${sql(id)}`,
  );
  if (!row)
    throw new NotFoundError(`no experiment "${id}" in the lake: create it with \`tkllm experiment create\``);
  return {
    id: text(row.experiment_id),
    description: row.description === null ? null : text(row.description),
    unit: text(row.unit) as ExperimentUnit,
    allocation: text(row.allocation) as Allocation,
    arms: JSON.parse(text(row.arms)) as Arm[],
    salt: text(row.salt),
    startsAt: utcDate(row.starts_at),
    endsAt: row.ends_at === null ? null : utcDate(row.ends_at),
    createdAt: utcDate(row.created_at),
  };
}

/** Ids of all experiments, oldest first. */
export async function listExperiments(lake: Lake): Promise<string[]> {
  await ensureExperimentTables(lake);
  const rows = await lake.all('SELECT experiment_id FROM experiments ORDER BY created_at, experiment_id');
  return rows.map((r) => text(r.experiment_id));
}

/**
 * The arm a unit belongs to under the experiment's hash allocation: deterministic, so the same unit gets
 * the same arm on every call and every machine, and no assignment table is needed.
 */
export function assignArm(experiment: Experiment, unitId: string): string {
  if (unitId === '') throw new ValidationError('`unitId` must not be empty');
  const index = armIndexFor(
    experiment.salt,
    unitId,
    experiment.arms.map((a) => a.weight),
  );
  return experiment.arms[index]?.name ?? '';
}
