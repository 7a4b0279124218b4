import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { IoError, ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { EngagementEvent } from './events.js';
import { sql, text } from './sql.js';

// Column names an events file may use for each event field (lower case); the first is the documented one.
const aliases: Record<Exclude<keyof EngagementEvent, 'line'>, readonly string[]> = {
  unitId: ['unit_id', 'unit', 'post_key', 'post_id'],
  arm: ['arm', 'variant'],
  horizon: ['horizon', 'horizon_hours'],
  observedAt: ['observed_at', 'time', 'timestamp'],
  plays: ['plays', 'views', 'play_count', 'view_count'],
  likes: ['likes', 'like_count'],
  comments: ['comments', 'comment_count'],
  shares: ['shares', 'share_count'],
  rewatches: ['rewatches', 'rewatch_count'],
  conversions: ['conversions', 'conversion_count'],
  watchThrough: ['watch_through', 'watch_through_rate', 'completion_rate'],
};

/** The first column of `names` (an alias list) present among `columns`, matched case-insensitively. */
function pickColumn(lower: Map<string, string>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const column = lower.get(name);
    if (column !== undefined) return column;
  }
  return undefined;
}

const lowerMap = (columns: Iterable<string>) => new Map([...columns].map((c) => [c.toLowerCase(), c]));

function mapRecords(file: string, columns: string[], records: Iterable<[number, Record<string, unknown>]>) {
  const all = lowerMap(columns);
  for (const required of ['unitId', 'horizon', 'observedAt'] as const)
    if (pickColumn(all, aliases[required]) === undefined)
      throw new ValidationError(
        `${file}: no \`${aliases[required][0]}\` column (also read as ${aliases[required].slice(1).join(', ')}); ` +
          `columns found: ${columns.join(', ')}`,
      );
  const fields = Object.entries(aliases) as [keyof typeof aliases, readonly string[]][];
  const events: EngagementEvent[] = [];
  let keys = '';
  let lower = all;
  for (const [line, record] of records) {
    // JSONL records may name fields differently line by line; CSV rows share one header, so this is computed once.
    const recordKeys = Object.keys(record).join('\u0000');
    if (recordKeys !== keys) [keys, lower] = [recordKeys, lowerMap(Object.keys(record))];
    const event: EngagementEvent = { unitId: '', horizon: '', observedAt: '', line };
    for (const [field, names] of fields) {
      const column = pickColumn(lower, names);
      if (column === undefined) continue;
      const value = record[column];
      (event as unknown as Record<string, unknown>)[field] =
        value === null || value === undefined ? null : typeof value === 'number' ? value : text(value);
    }
    event.unitId = text(event.unitId);
    events.push(event);
  }
  return events;
}

/**
 * Reads engagement events from a CSV (header row; DuckDB's reader) or a JSONL file (one object per line),
 * keeping each row's line number for rejects. Columns are matched by name, case-insensitively; `unit_id`,
 * `horizon` and `observed_at` are required. Throws an IoError for a missing file and a ValidationError for
 * a file that is not CSV or JSONL, lacks a required column, or holds a line that is not JSON.
 */
export async function readEventFile(lake: Lake, file: string): Promise<EngagementEvent[]> {
  if (!existsSync(file)) throw new IoError(`cannot read events file ${file}: it does not exist`);
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') {
    const lines = readFileSync(file, 'utf8').split('\n');
    const records: [number, Record<string, unknown>][] = [];
    const columns = new Set<string>();
    lines.forEach((raw, i) => {
      if (raw.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (cause) {
        throw new ValidationError(`${file} line ${i + 1}: not JSON (${(cause as Error).message})`, { cause });
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ValidationError(`${file} line ${i + 1}: expected a JSON object, got ${raw.slice(0, 40)}`);
      Object.keys(value).forEach((k) => columns.add(k));
      records.push([i + 1, value as Record<string, unknown>]);
    });
    return mapRecords(file, [...columns], records);
  }
  if (ext !== '.csv' && ext !== '.tsv')
    throw new ValidationError(
      `${file}: events files are .csv, .tsv or .jsonl, got "${ext || 'no extension'}"`,
    );
  // The lake reads with insertion order off (faster bulk work); file order is what gives line numbers here.
  await lake.run('SET preserve_insertion_order = true');
  try {
    const rows = await lake.all(`SELECT * FROM read_csv(${sql(file)}, header = true, all_varchar = true)`);
    const columns = rows[0] ? Object.keys(rows[0]) : [];
    if (rows.length === 0) return [];
    return mapRecords(
      file,
      columns,
      rows.map((r, i) => [i + 2, r] as [number, Record<string, unknown>]),
    );
  } catch (cause) {
    if (cause instanceof ValidationError) throw cause;
    throw new ValidationError(`${file}: cannot read as CSV: ${(cause as Error).message}`, { cause });
  } finally {
    await lake.run('SET preserve_insertion_order = false');
  }
}
