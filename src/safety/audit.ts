import { randomUUID } from 'node:crypto';
import { ValidationError } from '../core/index.js';
import type { Lake, Migration } from '../lake/index.js';
import type { PenaltyResult } from './penalty.js';
import type { PolicyVerdict } from './policy.js';

/** The safety module's own lake tables, as ordered steps for `lake.ensureSchema('safety', auditSchema)`. */
export const auditSchema: readonly Migration[] = [
  {
    version: 1,
    description:
      'safety audit: one row per candidate of each generation or check, with V, subscores and policy hits',
    statements: [
      `CREATE TABLE safety_audit (
        audit_id VARCHAR NOT NULL,        -- one per generation or check; its candidates share it
        candidate_index INTEGER NOT NULL, -- position among the request's candidates, from 0
        kind VARCHAR NOT NULL,            -- 'generation' or 'check'
        recorded_at TIMESTAMP NOT NULL,   -- UTC
        creator VARCHAR,
        region VARCHAR,
        prompt VARCHAR,
        candidate VARCHAR NOT NULL,
        v DOUBLE,                         -- ViralScore before the policy penalty
        v_penalised DOUBLE,               -- after it (0 when blocked)
        subscores JSON,                   -- as the caller gave them (E, H, R, S, T and contributions)
        brand_safety DOUBLE NOT NULL,
        hits JSON NOT NULL,               -- the policy hits: rule, pack, kind, severity, span, text, why
        blocked BOOLEAN NOT NULL,
        returned BOOLEAN,                 -- whether the candidate reached the user
        details JSON                      -- anything else the caller records (model, eta, packs)
      )`,
    ],
  },
];

/** The table `recordAudit` writes. */
export const AUDIT_TABLE = 'safety_audit';

/** One candidate of an audited request. */
export interface AuditCandidate {
  text: string;
  verdict: PolicyVerdict;
  /** ViralScore before the penalty, in [0, 1]. */
  v?: number;
  /** The estimator's subscores (and contributions), stored as JSON. */
  subscores?: unknown;
  penalty?: PenaltyResult;
  /** Whether the candidate was returned to the user (a blocked one never is). */
  returned?: boolean;
}

/** One generation or check to audit. */
export interface AuditRecord {
  kind: 'generation' | 'check';
  prompt?: string;
  creator?: string;
  region?: string;
  candidates: readonly AuditCandidate[];
  /** Request-level facts (model, eta, packs, seed), stored as JSON on each row. */
  details?: Record<string, unknown>;
  /** When it happened (default: now). */
  at?: Date;
}

/** A row read back from the audit table. */
export interface AuditRow {
  auditId: string;
  candidateIndex: number;
  kind: string;
  recordedAt: string;
  creator: string | null;
  region: string | null;
  prompt: string | null;
  candidate: string;
  v: number | null;
  vPenalised: number | null;
  subscores: unknown;
  brandSafety: number;
  hits: unknown[];
  blocked: boolean;
  returned: boolean | null;
  details: unknown;
}

const ready = new WeakSet<Lake>();

async function ensureAuditTable(lake: Lake): Promise<void> {
  if (ready.has(lake)) return;
  await lake.ensureSchema('safety', auditSchema);
  ready.add(lake);
}

function json(value: unknown, field: string, index: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new ValidationError(
      `audit candidate ${index}: \`${field}\` cannot be stored as JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (text === undefined)
    throw new ValidationError(`audit candidate ${index}: \`${field}\` cannot be stored as JSON`);
  return text;
}

function score(value: number | undefined, field: string, index: number): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isFinite(value) && value >= 0 && value <= 1))
    throw new ValidationError(`audit candidate ${index}: \`${field}\` must be in [0, 1], got ${value}`);
  return value;
}

/**
 * Writes one generation or check to the audit table, one row per candidate, in one transaction (all rows
 * or none), and returns the audit id the rows share. Creates the table on first use. Do not call it inside
 * another `lake.transaction`.
 * @example
 * const id = await recordAudit(lake, { kind: 'generation', prompt, candidates: [{ text, verdict, v, subscores }] });
 */
export async function recordAudit(lake: Lake, record: AuditRecord): Promise<string> {
  if (record.kind !== 'generation' && record.kind !== 'check')
    throw new ValidationError(`audit \`kind\` must be "generation" or "check", got "${String(record.kind)}"`);
  const at = record.at ?? new Date();
  if (Number.isNaN(at.getTime())) throw new ValidationError('audit `at` is not a valid date');
  const details = record.details === undefined ? undefined : json(record.details, 'details', 0);
  const rows = record.candidates.map((c, i) => {
    if (typeof c.text !== 'string')
      throw new ValidationError(`audit candidate ${i}: \`text\` must be a string`);
    const verdict = c.verdict as PolicyVerdict | undefined;
    if (verdict === undefined || !Array.isArray(verdict.hits))
      throw new ValidationError(
        `audit candidate ${i}: \`verdict\` must be a policy verdict (checkPolicy's result)`,
      );
    return {
      text: c.text,
      v: score(c.v, 'v', i),
      vPenalised: score(c.penalty?.v, 'penalty.v', i),
      subscores: c.subscores === undefined ? undefined : json(c.subscores, 'subscores', i),
      brandSafety: verdict.brandSafety,
      hits: json(verdict.hits, 'verdict.hits', i),
      blocked: verdict.blocked || c.penalty?.blocked === true,
      returned: c.returned,
    };
  });
  const auditId = randomUUID();
  await ensureAuditTable(lake);
  await lake.transaction(async () => {
    const appender = await lake.appender(AUDIT_TABLE);
    try {
      const text = (value: string | undefined) =>
        value === undefined ? appender.appendNull() : appender.appendVarchar(value);
      const num = (value: number | undefined) =>
        value === undefined ? appender.appendNull() : appender.appendDouble(value);
      rows.forEach((row, i) => {
        appender.appendVarchar(auditId);
        appender.appendInteger(i);
        appender.appendVarchar(record.kind);
        appender.appendVarchar(at.toISOString());
        text(record.creator);
        text(record.region);
        text(record.prompt);
        appender.appendVarchar(row.text);
        num(row.v);
        num(row.vPenalised);
        text(row.subscores);
        appender.appendDouble(row.brandSafety);
        appender.appendVarchar(row.hits);
        appender.appendBoolean(row.blocked);
        if (row.returned === undefined) appender.appendNull();
        else appender.appendBoolean(row.returned);
        text(details);
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  });
  return auditId;
}

/** Options of `readAudit`. */
export interface ReadAuditOptions {
  /** Only the rows of this generation or check. */
  auditId?: string;
  /** At most this many rows, newest first (default 100). */
  limit?: number;
}

/** Reads audit rows back, newest first (an empty list when nothing was ever audited). */
export async function readAudit(lake: Lake, options: ReadAuditOptions = {}): Promise<AuditRow[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit <= 0)
    throw new ValidationError(`\`limit\` must be a positive integer, got ${limit}`);
  await ensureAuditTable(lake);
  const where =
    options.auditId === undefined ? '' : `WHERE audit_id = '${options.auditId.replaceAll("'", "''")}'`;
  const rows = await lake.all(
    `SELECT audit_id, candidate_index, kind, strftime(recorded_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS recorded_at,
       creator, region, prompt, candidate, v, v_penalised, subscores::VARCHAR AS subscores, brand_safety,
       hits::VARCHAR AS hits, blocked, returned, details::VARCHAR AS details
     FROM ${AUDIT_TABLE} ${where}
     ORDER BY recorded_at DESC, audit_id, candidate_index LIMIT ${limit}`,
  );
  const str = (value: unknown) => (typeof value === 'string' ? value : null);
  const parse = (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : null);
  return rows.map((r) => ({
    auditId: str(r.audit_id) ?? '',
    candidateIndex: Number(r.candidate_index),
    kind: str(r.kind) ?? '',
    recordedAt: str(r.recorded_at) ?? '',
    creator: str(r.creator),
    region: str(r.region),
    prompt: str(r.prompt),
    candidate: str(r.candidate) ?? '',
    v: r.v === null ? null : Number(r.v),
    vPenalised: r.v_penalised === null ? null : Number(r.v_penalised),
    subscores: parse(r.subscores),
    brandSafety: Number(r.brand_safety),
    hits: parse(r.hits) as unknown[],
    blocked: r.blocked === true,
    returned: r.returned === null ? null : r.returned === true,
    details: parse(r.details),
  }));
}
