// SQL macros that turn the raw text of exports into typed values. They run inside DuckDB, set-wise, so
// ingestion never loops over rows in JavaScript. Every macro returns NULL for a value it cannot read; the
// ingest step compares raw and parsed values to tell "missing" (NULL raw) from "unreadable" (a reject).

const statements = [
  // Timestamps are stored as UTC wall time; to_timestamp() and TIMESTAMPTZ casts follow this setting.
  `SET TimeZone = 'UTC'`,
  // trim() looks up every character's Unicode category (it strips the space separators, Zs), which made
  // it the costliest step of staging; an ASCII text that neither starts nor ends with a space has nothing
  // to strip, and strlen = length (bytes = characters) is a cheap test for ASCII.
  `CREATE OR REPLACE TEMP MACRO tk_blank(s) AS CASE
     WHEN strlen(s) = length(s) AND NOT (prefix(s, ' ') OR suffix(s, ' ')) THEN nullif(s, '')
     ELSE nullif(trim(s), '')
     END`,
  // Humanised counts: "541.2K", "1.4M", "2B", "686000.0", "1,234", "7.5e+06". Thousands commas are dropped.
  `CREATE OR REPLACE TEMP MACRO tk_scaled(m) AS
     TRY_CAST(m.num AS DOUBLE) * CASE upper(m.unit) WHEN 'K' THEN 1e3 WHEN 'M' THEN 1e6 WHEN 'B' THEN 1e9 ELSE 1 END`,
  // The cast skips the trim: it ignores the spaces around a number itself.
  `CREATE OR REPLACE TEMP MACRO tk_count(s) AS coalesce(TRY_CAST(s AS BIGINT), CASE
     WHEN tk_blank(s) IS NULL THEN NULL
     ELSE coalesce(TRY_CAST(trim(s) AS BIGINT), TRY_CAST(round(tk_scaled(regexp_extract(
       replace(trim(s), ',', ''),
       '^(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\\s*([KkMmBb]?)$', ['num', 'unit']))) AS BIGINT))
     END)`,
  // Unix seconds (or milliseconds when the number is too large to be seconds) or a timestamp text.
  // make_timestamp(microseconds) is UTC wall time without a detour through TIMESTAMPTZ and its calendar;
  // milliseconds are scaled up, not divided, so that they stay exact.
  `CREATE OR REPLACE TEMP MACRO tk_epoch(x) AS
     TRY(make_timestamp(CAST(round(CASE WHEN abs(x) >= 1e11 THEN x * 1000 ELSE x * 1e6 END) AS BIGINT)))`,
  // A plain integer (it reads back as the same text) skips the regular expression: the common case.
  `CREATE OR REPLACE TEMP MACRO tk_time(s) AS CASE
     WHEN TRY_CAST(s AS BIGINT)::VARCHAR = s THEN tk_epoch(TRY_CAST(s AS BIGINT))
     WHEN tk_blank(s) IS NULL THEN NULL
     WHEN regexp_full_match(trim(s), '-?[0-9]+(\\.[0-9]+)?') THEN tk_epoch(TRY_CAST(trim(s) AS DOUBLE))
     ELSE coalesce(TRY_CAST(trim(s) AS TIMESTAMP), TRY_CAST(TRY_CAST(trim(s) AS TIMESTAMPTZ) AS TIMESTAMP))
     END`,
  // Durations: seconds ("31", "31.5") or a clock ("00:31", "1:02:03").
  `CREATE OR REPLACE TEMP MACRO tk_duration(s) AS CASE
     WHEN tk_blank(s) IS NULL THEN NULL
     WHEN regexp_full_match(trim(s), '[0-9]+(:[0-5]?[0-9]){1,2}') THEN
       list_reduce(list_transform(string_split(trim(s), ':'), lambda x: TRY_CAST(x AS DOUBLE)), lambda a, b: a * 60 + b)
     ELSE TRY_CAST(trim(s) AS DOUBLE)
     END`,
  // YouTube trending "dd.mm" dates. The source wrote them as numbers, so October lost its trailing zero
  // ("1.1" is 1 October, "13.1" is 13 October): a one-digit month d stands for d0, which only "1" survives.
  // A leading dd.mm is read even when junk follows it ("24.09xcaeyJTx4Co", a corrupted cell in the source).
  `CREATE OR REPLACE TEMP MACRO tk_day_month_of(m, y) AS
     TRY(make_timestamp(y, (CASE WHEN length(m.mm) = 1 THEN m.mm || '0' ELSE m.mm END)::BIGINT, m.dd::BIGINT, 0, 0, 0))`,
  `CREATE OR REPLACE TEMP MACRO tk_day_month(s, y) AS
     tk_day_month_of(regexp_extract(trim(s), '^([0-9]{1,2})\\.([0-9]{1,2})', ['dd', 'mm']), y)`,
  // Tag lists: lower case, without '#', quotes or blanks, each tag once.
  `CREATE OR REPLACE TEMP MACRO tk_tags(l) AS
     list_distinct(list_filter(list_transform(l, lambda t: trim(lower(t), ' #"' || chr(9))), lambda t: t IS NOT NULL AND t <> ''))`,
  // The same for a tag list written as text: one regular expression (splitTags) finds the items between
  // separators without the characters tk_tags trims, instead of a lambda and a trim() per item.
  `CREATE OR REPLACE TEMP MACRO tk_split_tags(s, pattern) AS list_distinct(regexp_extract_all(lower(s), pattern))`,
  // Hashtags written in free text: '#' then letters, digits, marks (for scripts such as Thai) or '_'.
  `CREATE OR REPLACE TEMP MACRO tk_text_tags(s) AS
     CASE WHEN s IS NULL THEN []::VARCHAR[] ELSE tk_tags(regexp_extract_all(s, '#([\\p{L}\\p{N}\\p{M}_]+)', 1)) END`,
];

/** The characters tk_tags trims from each tag. */
const tagTrim = ' #"\t';

/**
 * SQL of the tags in `text` (a SQL expression) separated by any of the characters in `separators`, as
 * tk_tags would make them from a split: lower case, trimmed of blanks, '#' and quotes, non-empty, each once.
 */
export function splitTags(text: string, separators: string): string {
  const cls = (chars: string) =>
    [...chars].map((c) => (c === '\t' ? '\\t' : /[\\\][^-]/.test(c) ? `\\${c}` : c)).join('');
  const [sep, edge] = [cls(separators), cls(separators + tagTrim)];
  // An item starts and ends with a character that is neither a separator nor trimmed.
  const pattern = `[^${edge}](?:[^${sep}]*[^${edge}])?`;
  return `tk_split_tags(${text}, '${pattern.replaceAll("'", "''")}')`;
}

/** Installs the parsing macros on a connection (they are temporary: each connection installs its own). */
export async function installMacros(db: { run(sql: string): Promise<unknown> }): Promise<void> {
  for (const sql of statements) await db.run(sql);
}
