import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { IoError, ValidationError } from '../core/index.js';
import type { Lake } from './lake.js';
import { splitTags } from './macros.js';
import { jsonText, sqlIdent, sqlString } from './sql.js';

/** The file formats ingestion reads, each with DuckDB's own reader. */
export const readerKinds = ['csv', 'jsonl', 'json', 'parquet'] as const;
/** One of the file formats ingestion reads. */
export type ReaderKind = (typeof readerKinds)[number];

/**
 * A file opened for ingestion: a SQL relation with one row per record and `_line` (the line of the record in
 * the file, header = line 1, or the element number in a JSON array), plus accessors that turn a field path
 * (`authorMeta.name`) into a SQL expression of its text, so that shapes map fields without knowing the format.
 */
export interface Source {
  reader: ReaderKind;
  /** Top-level field names as the file spells them. */
  columns: readonly string[];
  relation: string;
  /**
   * Set when `relation` has no `_line` column: the records come in file order, and the line of the n-th
   * (0-based) is n + `firstLine`. Numbering them in the scan (WITH ORDINALITY) would make the scan single-threaded.
   */
  firstLine?: number;
  /** Whether the file has the field (for nested paths: its top-level parent). */
  has(path: string): boolean;
  /** SQL text of a field, NULL where the row lacks it. */
  value(path: string): string;
  /**
   * SQL VARCHAR[] of a tag list field: a JSON array (of objects with `item`), or text with tags between any
   * of the `separators` characters; normalised as tk_tags does (lower case, trimmed, non-empty, each once).
   */
  tags(path: string, separators: string, item?: string): string;
  /** A per-row check of the record itself (broken JSON): a SQL condition that marks a row unreadable. */
  brokenRow?: { condition: string; reason: string; detail: string; raw: string };
  /** Records the reader itself could not parse (CSV rows with the wrong number of fields), after the scan. */
  readFailures(lake: Lake): Promise<ReadFailure[]>;
}

/** A record the reader could not parse at all. */
export interface ReadFailure {
  line: number;
  reason: string;
  detail: string;
  raw: string;
}

/** Picks the reader from the file name; `.ndjson`/`.jsonl` are JSON lines, `.json` is sniffed by content. */
export function guessReader(file: string): ReaderKind {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.json') return firstNonBlankByte(file) === '[' ? 'json' : 'jsonl';
  throw new ValidationError(
    `${file}: cannot tell the format from the extension "${ext}"; pass --reader csv|jsonl|json|parquet`,
  );
}

function firstNonBlankByte(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString('utf8').trimStart().charAt(0);
  } finally {
    closeSync(fd);
  }
}

/** Opens `file` with the reader `kind`; throws IoError when it cannot be read, ValidationError when it is not that format. */
export async function openSource(lake: Lake, file: string, kind: ReaderKind): Promise<Source> {
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
  } catch (cause) {
    throw new IoError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (kind === 'csv') return await csvSource(lake, file);
    if (kind === 'parquet') return await parquetSource(lake, file);
    return await jsonSource(lake, file, kind);
  } catch (cause) {
    if (cause instanceof ValidationError) throw cause;
    throw new ValidationError(`${basename(file)}: cannot be read as ${kind}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

const rejectTables = "rejects_table = 'tk_reject_errors', rejects_scan = 'tk_reject_scans'";

async function csvSource(lake: Lake, file: string): Promise<Source> {
  // Every column is read as text so that a bad value becomes one rejected row instead of a failed file.
  // The delimiter is fixed by the extension: the sniffer can take a file with one malformed row for a
  // one-column file. Other extensions are sniffed.
  const ext = extname(file).toLowerCase();
  const delim = ext === '.csv' ? ", delim = ','" : ext === '.tsv' ? ", delim = '\\t'" : '';
  const args = `${sqlString(file)}, all_varchar = true, header = true${delim}`;
  const columns = (await lake.all(`DESCRIBE SELECT * FROM read_csv(${args}, ignore_errors = true)`)).map(
    (r) => jsonText(r.column_name),
  );
  const byName = caseInsensitive(columns);
  await lake.run('DROP TABLE IF EXISTS tk_reject_errors; DROP TABLE IF EXISTS tk_reject_scans');
  return {
    reader: 'csv',
    columns,
    // Rows the CSV reader drops (store_rejects) do not count in the position; readFailures() puts them back.
    relation: `read_csv(${args}, store_rejects = true, ${rejectTables})`,
    firstLine: 2,
    has: (path) => byName.has(path.toLowerCase()),
    value: (path) => {
      const name = byName.get(path.toLowerCase());
      return name === undefined ? 'NULL::VARCHAR' : sqlIdent(name);
    },
    tags: (path, separators) => {
      const name = byName.get(path.toLowerCase());
      return name === undefined ? '[]::VARCHAR[]' : splitTags(sqlIdent(name), separators);
    },
    readFailures: async (db) => {
      const rows = await db.all(
        `SELECT line::BIGINT AS line, error_type, error_message, csv_line FROM tk_reject_errors ORDER BY line`,
      );
      await db.run('DROP TABLE IF EXISTS tk_reject_errors; DROP TABLE IF EXISTS tk_reject_scans');
      return rows.map((r) => ({
        line: Number(r.line),
        reason: 'malformed_row',
        detail: `${jsonText(r.error_type).toLowerCase()}: ${jsonText(r.error_message)}`,
        raw: jsonText(r.csv_line ?? ''),
      }));
    },
  };
}

async function parquetSource(lake: Lake, file: string): Promise<Source> {
  const described = await lake.all(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  const columns = described.map((r) => jsonText(r.column_name));
  const byName = caseInsensitive(columns);
  const top = (path: string) => byName.get(path.split('.')[0].toLowerCase());
  return {
    reader: 'parquet',
    columns,
    // file_row_number, unlike WITH ORDINALITY, leaves the scan parallel.
    relation: `(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _line
      FROM read_parquet(${sqlString(file)}, file_row_number = true))`,
    has: (path) => top(path) !== undefined,
    value: (path) => {
      const name = top(path);
      if (name === undefined) return 'NULL::VARCHAR';
      const rest = path.split('.').slice(1);
      if (rest.length === 0) return `CAST(${sqlIdent(name)} AS VARCHAR)`;
      return `json_extract_string(to_json(${sqlIdent(name)}), ${sqlString(jsonPath(rest))})`;
    },
    tags: (path, separators, item) => {
      const name = top(path);
      return name === undefined
        ? '[]::VARCHAR[]'
        : jsonTags(`to_json(${sqlIdent(name)})`, [], separators, item);
    },
    readFailures: () => Promise.resolve([]),
  };
}

/** The temporary table a JSON file is read into; ingestion drops it when the file is done. */
export const jsonTable = 'tk_json_source';

async function jsonSource(lake: Lake, file: string, kind: 'json' | 'jsonl'): Promise<Source> {
  const text = `(SELECT content FROM read_text(${sqlString(file)}))`;
  // JSON lines are split by hand so that a broken line is one reject with its line number.
  const relation =
    kind === 'jsonl'
      ? `(SELECT _line, CASE WHEN json_valid(line) AND json_type(line::JSON) = 'OBJECT' THEN line::JSON END AS j, line AS _raw
          FROM (SELECT unnest(range(1, len(l) + 1)) AS _line, unnest(l) AS line
                FROM (SELECT string_split(content, chr(10)) AS l FROM ${text}))
          WHERE trim(line, ' ' || chr(13) || chr(9)) <> '')`
      : `(SELECT _line, CASE WHEN json_type(e) = 'OBJECT' THEN e END AS j, e::VARCHAR AS _raw
          FROM (SELECT unnest(range(1, len(l) + 1)) AS _line, unnest(l) AS e
                FROM (SELECT json_extract(content::JSON, '$[*]') AS l FROM ${text})))`;
  // Materialised once: the keys are read from it, then the stage; DuckDB cannot nest its unnest calls.
  await lake.run(`CREATE OR REPLACE TEMP TABLE ${jsonTable} AS ${relation}`);
  const keys = await lake.all(
    `SELECT DISTINCT k FROM (SELECT unnest(json_keys(j)) AS k FROM (SELECT j FROM ${jsonTable} WHERE j IS NOT NULL LIMIT 1000))`,
  );
  const columns = keys.map((r) => jsonText(r.k));
  const byName = caseInsensitive(columns);
  const segments = (path: string) => {
    const [head, ...rest] = path.split('.');
    const name = byName.get(head.toLowerCase());
    return name === undefined ? undefined : [name, ...rest];
  };
  return {
    reader: kind,
    columns,
    relation: jsonTable,
    has: (path) => segments(path) !== undefined,
    value: (path) => {
      const segs = segments(path);
      return segs === undefined ? 'NULL::VARCHAR' : `json_extract_string(j, ${sqlString(jsonPath(segs))})`;
    },
    tags: (path, separators, item) => {
      const segs = segments(path);
      return segs === undefined ? '[]::VARCHAR[]' : jsonTags('j', segs, separators, item);
    },
    brokenRow: {
      condition: 'j IS NULL',
      reason: kind === 'jsonl' ? 'broken_json' : 'not_an_object',
      detail:
        kind === 'jsonl' ? `'the line is not a JSON object'` : `'the array element is not a JSON object'`,
      raw: 'left(_raw, 500)',
    },
    readFailures: () => Promise.resolve([]),
  };
}

function jsonPath(segments: readonly string[]): string {
  return ['$', ...segments.map((s) => `"${s.replaceAll('"', '\\"')}"`)].join('.');
}

function jsonTags(root: string, segments: readonly string[], separators: string, item?: string): string {
  const path = jsonPath(segments);
  const items = item === undefined ? `${path}[*]` : `${path}[*].${jsonPath([item]).slice(2)}`;
  return `CASE WHEN json_type(${root}, ${sqlString(path)}) = 'ARRAY'
    THEN tk_tags(json_extract_string(${root}, ${sqlString(items)}))
    ELSE coalesce(${splitTags(`json_extract_string(${root}, ${sqlString(path)})`, separators)}, []::VARCHAR[]) END`;
}

function caseInsensitive(names: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of names) if (!map.has(name.toLowerCase())) map.set(name.toLowerCase(), name);
  return map;
}
