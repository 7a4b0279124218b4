import { countFields, type Shape, type ShapeField } from './shapes.js';
import type { Source } from './readers.js';
import { sqlString } from './sql.js';

/** Values that apply to a whole file when its rows do not say. */
export interface StageDefaults {
  /** When the export was taken, for rows without their own observation time. */
  observedAt: Date;
  /** Year of "dd.mm" dates. */
  year?: number;
}

/** Posting and observation times outside this window are errors in the export, not posts. */
const earliest = `TIMESTAMP '2004-01-01'`;
const latest = `(now()::TIMESTAMP + INTERVAL 2 DAY)`;

interface Check {
  condition: string;
  field: string;
  reason: string;
  detail: string;
  raw: string;
}

/**
 * Builds the SQL that reads `source` as `shape` into a staging table: one row per record with the typed lake
 * values and, for a row that cannot be taken, the first failing field with its reason (`rej_reason`).
 */
export function stageSql(table: string, source: Source, shape: Shape, defaults: StageDefaults): string {
  const paths = (field: ShapeField) => (shape.fields[field] ?? []).filter((p) => source.has(p));
  const raw = (field: ShapeField) => {
    const present = paths(field);
    if (present.length === 0) return 'NULL::VARCHAR';
    const values = present.map((p) => `tk_blank(${source.value(p)})`);
    return values.length === 1 ? values[0] : `coalesce(${values.join(', ')})`;
  };
  // The name of the column a value came from, for reject messages. Where a field has alternatives (plays
  // or views), the name is computed beside the raw values, as `src_<field>`, before typed columns shadow them.
  const nameColumns: string[] = [];
  const fieldName = (field: ShapeField) => {
    const present = paths(field);
    if (present.length <= 1) return sqlString(present[0] ?? shape.fields[field]?.[0] ?? field);
    const cases = present.map(
      (p) => `CASE WHEN tk_blank(${source.value(p)}) IS NOT NULL THEN ${sqlString(p)} END`,
    );
    nameColumns.push(`coalesce(${cases.join(', ')}) AS src_${field}`);
    return `src_${field}`;
  };
  const observedDefault = `TIMESTAMP ${sqlString(defaults.observedAt.toISOString().replace('T', ' ').replace('Z', ''))}`;
  const observedParse =
    shape.observedAtFormat === 'dayMonth'
      ? `tk_day_month(raw_observed_at, ${defaults.year ?? 'NULL'})`
      : 'tk_time(raw_observed_at)';

  const consumed = new Set(
    Object.values(shape.fields)
      .flat()
      .map((p) => p.split('.')[0].toLowerCase()),
  );
  if (shape.hashtags) consumed.add(shape.hashtags.path.toLowerCase());
  const extra = source.columns.filter((c) => !consumed.has(c.toLowerCase()));
  const attributes =
    extra.length === 0
      ? 'NULL::JSON'
      : `json_object(${extra.map((c) => `${sqlString(c)}, ${source.value(c)}`).join(', ')})`;
  const fieldTags = shape.hashtags
    ? source.tags(shape.hashtags.path, shape.hashtags.separators, shape.hashtags.item)
    : '[]::VARCHAR[]';

  const fallback = shape.idFallback;
  const rawId =
    fallback && source.has(fallback.path)
      ? `coalesce(${raw('id')}, nullif(regexp_extract(${source.value(fallback.path)}, ${sqlString(fallback.pattern)}, 1), ''))`
      : raw('id');
  const rawColumns = [
    `${rawId} AS raw_id`,
    ...countFields.map((f) => `${raw(f)} AS raw_${f}`),
    `${raw('postedAt')} AS raw_posted_at`,
    `${raw('observedAt')} AS raw_observed_at`,
    `${raw('duration')} AS raw_duration`,
    `${raw('watchThrough')} AS raw_watch_through`,
    `${raw('avgWatchSeconds')} AS raw_avg_watch_seconds`,
    `${raw('author')} AS author`,
    `${raw('title')} AS title`,
    `${raw('text')} AS text`,
    `${raw('transcript')} AS transcript`,
    `${raw('region')} AS region`,
    `${raw('musicId')} AS music_id`,
    `${raw('musicTitle')} AS music_title`,
    `${raw('videoUrl')} AS video_url`,
    `${raw('thumbnailUrl')} AS thumbnail_url`,
    `${fieldTags} AS field_tags`,
    `${attributes} AS attributes`,
  ];
  // A field the file lacks is a typed NULL with no checks: a CASE cascade over columns that are NULL on every
  // row cost a quarter of the staging time on a five-count export.
  const present = (field: ShapeField) => paths(field).length > 0;
  const typedOr = (field: ShapeField, type: string, sql: string) => (present(field) ? sql : `NULL::${type}`);
  const typed = [
    ...countFields.map((f) => `${typedOr(f, 'BIGINT', `tk_count(raw_${f})`)} AS ${f}`),
    `${typedOr('postedAt', 'TIMESTAMP', 'tk_time(raw_posted_at)')} AS posted_at`,
    `${typedOr('observedAt', 'TIMESTAMP', observedParse)} AS parsed_observed_at`,
    `${typedOr('duration', 'DOUBLE', 'tk_duration(raw_duration)')} AS duration_seconds`,
    `${typedOr('watchThrough', 'DOUBLE', 'TRY_CAST(raw_watch_through AS DOUBLE)')} AS watch_through`,
    `${typedOr('avgWatchSeconds', 'DOUBLE', 'TRY_CAST(raw_avg_watch_seconds AS DOUBLE)')} AS avg_watch_seconds`,
  ];

  const checks: Check[] = [];
  if (source.brokenRow)
    checks.push({ ...source.brokenRow, field: 'NULL', condition: 'broken_row', raw: 'broken_raw' });
  checks.push({
    condition: 'raw_id IS NULL',
    field: fieldName('id'),
    reason: 'missing_id',
    detail: `'the post id is empty'`,
    raw: 'NULL',
  });
  for (const f of countFields.filter(present)) {
    const name = fieldName(f);
    checks.push({
      condition: `raw_${f} IS NOT NULL AND ${f} IS NULL`,
      field: name,
      reason: 'not_a_number',
      detail: `'\`' || ${name} || '\` is "' || raw_${f} || '", expected a count such as 1234 or 1.2K'`,
      raw: `raw_${f}`,
    });
    checks.push({
      condition: `${f} < 0`,
      field: name,
      reason: 'negative_count',
      detail: `'\`' || ${name} || '\` is ' || raw_${f} || ', expected zero or more'`,
      raw: `raw_${f}`,
    });
  }
  for (const [field, value, parsed] of [
    ['postedAt', 'raw_posted_at', 'posted_at'],
    ['observedAt', 'raw_observed_at', 'parsed_observed_at'],
  ] as const) {
    if (!present(field)) continue;
    const name = fieldName(field);
    const expected =
      field === 'observedAt' && shape.observedAtFormat === 'dayMonth'
        ? 'a dd.mm date'
        : 'Unix seconds or a date and time';
    checks.push({
      condition: `${value} IS NOT NULL AND ${parsed} IS NULL`,
      field: name,
      reason: 'bad_timestamp',
      detail: `'\`' || ${name} || '\` is "' || ${value} || '", expected ${expected}'`,
      raw: value,
    });
    checks.push({
      condition: `${parsed} NOT BETWEEN ${earliest} AND ${latest}`,
      field: name,
      reason: 'timestamp_out_of_range',
      detail: `'\`' || ${name} || '\` is ' || ${parsed} || ', outside 2004-01-01 .. now'`,
      raw: value,
    });
  }
  if (present('postedAt'))
    checks.push({
      condition: `posted_at > coalesce(parsed_observed_at, ${observedDefault}) + INTERVAL 1 HOUR`,
      field: fieldName('postedAt'),
      reason: 'timestamp_out_of_range',
      detail: `'posted at ' || posted_at || ', after it was observed'`,
      raw: 'raw_posted_at',
    });
  if (present('duration'))
    checks.push({
      condition: `raw_duration IS NOT NULL AND (duration_seconds IS NULL OR duration_seconds < 0)`,
      field: fieldName('duration'),
      reason: 'bad_duration',
      detail: `'\`' || ${fieldName('duration')} || '\` is "' || raw_duration || '", expected seconds or mm:ss'`,
      raw: 'raw_duration',
    });
  rawColumns.push(...new Set(nameColumns));
  if (source.brokenRow)
    rawColumns.push(`${source.brokenRow.condition} AS broken_row`, `${source.brokenRow.raw} AS broken_raw`);
  const chain = (pick: (c: Check) => string) =>
    `CASE ${checks.map((c) => `WHEN ${c.condition} THEN ${pick(c)}`).join(' ')} END`;

  // The reason chain runs on every row; the other three only on rejected rows (CASE evaluates lazily).
  const onRejected = (pick: (c: Check) => string) =>
    `CASE WHEN rej_reason IS NULL THEN NULL ELSE ${chain(pick)} END`;
  // The raw texts and helper columns only feed the checks: leaving them out of the staging table
  // halves what it materialises. raw_id stays (it is the post's source id).
  const helpers = [
    ...countFields.map((f) => `raw_${f}`),
    'raw_posted_at',
    'raw_observed_at',
    'raw_duration',
    'raw_watch_through',
    'raw_avg_watch_seconds',
    'parsed_observed_at',
    ...new Set(nameColumns.map((c) => c.slice(c.lastIndexOf(' AS ') + 4))),
    ...(source.brokenRow ? ['broken_row', 'broken_raw'] : []),
  ];
  return `CREATE TEMP TABLE ${table} AS
    SELECT * EXCLUDE (${helpers.join(', ')}),
      ${onRejected((c) => c.field)} AS rej_field,
      ${onRejected((c) => c.detail)} AS rej_detail,
      ${onRejected((c) => c.raw)} AS rej_raw
    FROM (
      SELECT *, ${sqlString(shape.platform)} || ':' || raw_id AS post_key,
        coalesce(parsed_observed_at, ${observedDefault}) AS observed_at,
        ${chain((c) => sqlString(c.reason))} AS rej_reason
      FROM (SELECT *, ${typed.join(', ')}
            FROM (SELECT ${source.firstLine === undefined ? '_line' : 'NULL::BIGINT AS _line'}, ${rawColumns.join(',\n ')}
                  FROM ${source.relation})))`;
}
