// Small helpers for the SQL this module writes and the rows it reads back.

/** Quotes a string as a SQL literal. */
export const sql = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** A JavaScript date as a SQL TIMESTAMP literal (UTC wall time, as the lake stores times). */
export const sqlTime = (date: Date): string => `${sql(date.toISOString())}::TIMESTAMP`;

/** Text of a value read back from DuckDB as JSON (strings as they are, anything else as JSON). */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** A TIMESTAMP read back as VARCHAR ("2025-06-01 10:00:00"), as a UTC date. */
export const utcDate = (value: unknown): Date => new Date(`${text(value).replace(' ', 'T')}Z`);
