import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { splitTags } from './macros.js';
import { sqlString } from './sql.js';

// The macros have fast paths for the common case; each is checked against the plain definition it shortcuts.
let t: Awaited<ReturnType<typeof tempLake>>;
beforeAll(async () => {
  t = await tempLake();
  await t.lake.run(`CREATE TEMP MACRO ref_epoch(x) AS
    TRY(to_timestamp(CASE WHEN abs(x) >= 1e11 THEN x / 1000 ELSE x END)::TIMESTAMP)`);
  await t.lake.run(`CREATE TEMP MACRO ref_time(s) AS CASE
    WHEN nullif(trim(s), '') IS NULL THEN NULL
    WHEN regexp_full_match(trim(s), '-?[0-9]+(\\.[0-9]+)?') THEN ref_epoch(TRY_CAST(trim(s) AS DOUBLE))
    ELSE coalesce(TRY_CAST(trim(s) AS TIMESTAMP), TRY_CAST(TRY_CAST(trim(s) AS TIMESTAMPTZ) AS TIMESTAMP)) END`);
});
afterAll(() => t.cleanup());

const values = (texts: readonly string[]) =>
  `(VALUES ${texts.map((s) => `(${sqlString(s)})`).join(', ')}) v(s)`;
const mismatches = async (sql: string) =>
  (await t.lake.all(sql)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v])));

describe('parsing macros', () => {
  it('tk_blank strips exactly what trim() strips, for every character of the BMP at either end', async () => {
    const rows = await mismatches(`SELECT i FROM (
        SELECT i, chr(i::INTEGER) AS c FROM range(1, 65534) r(i) WHERE i NOT BETWEEN 55296 AND 57343)
      CROSS JOIN (VALUES (0), (1), (2), (3)) f(k)
      CROSS JOIN LATERAL (SELECT CASE k WHEN 0 THEN c WHEN 1 THEN c || 'a' WHEN 2 THEN 'a' || c ELSE c || 'ab c' || c END AS s)
      WHERE tk_blank(s) IS DISTINCT FROM nullif(trim(s), '') LIMIT 5`);
    expect(rows).toEqual([]);
    const [row] = await t.lake.all(
      `SELECT tk_blank('  ') AS a, tk_blank(' x ') AS b, tk_blank(chr(12288) || 'é') AS c, tk_blank(NULL) AS d`,
    );
    expect(row).toEqual({ a: null, b: 'x', c: 'é', d: null });
  });

  it('tk_time reads the same timestamps as without its integer shortcut', async () => {
    const texts = [
      '1700000000',
      '05',
      '+5',
      '-5',
      '1e3',
      '1_000',
      '0x10',
      ' 1700000000 ',
      '1700000000123',
      '1.5',
      '99999999999',
      '-0',
      '9223372036854775807',
      '99999999999999999',
      '2024-06-01 12:00:00',
      '2024-06-01T12:00:00Z',
      '',
      ' ',
      'abc',
      '1700000000.25',
    ];
    expect(
      await mismatches(`SELECT s FROM ${values(texts)} WHERE tk_time(s) IS DISTINCT FROM ref_time(s)`),
    ).toEqual([]);
    // Unix seconds and milliseconds from 1653 to 2603, to the microsecond: the shortcut, the regular
    // expression's path (a leading space skips the shortcut) and DuckDB's own conversions agree.
    expect(
      await mismatches(`SELECT i FROM range(-10000000000000, 20000000000000, 3999999937) r(i)
        WHERE tk_time(i::VARCHAR) IS DISTINCT FROM tk_time(' ' || i)
          OR tk_time(i::VARCHAR) IS DISTINCT FROM
            CASE WHEN abs(i) >= 1e11 THEN epoch_ms(i) ELSE to_timestamp(i)::TIMESTAMP END
        LIMIT 5`),
    ).toEqual([]);
  });

  it('tk_count reads plain and humanised counts', async () => {
    const texts = ['12', ' 12 ', '541.2K', '1.4M', '2B', '686000.0', '1,234', '7.5e+06', 'abc', '', '-3'];
    const rows = await t.lake.all(`SELECT s, tk_count(s)::VARCHAR AS n FROM ${values(texts)}`);
    expect(Object.fromEntries(rows.map((r) => [r.s, r.n]))).toEqual({
      '12': '12',
      ' 12 ': '12',
      '541.2K': '541200',
      '1.4M': '1400000',
      '2B': '2000000000',
      '686000.0': '686000',
      '1,234': '1234',
      '7.5e+06': '7500000',
      abc: null,
      '': null,
      '-3': '-3',
    });
  });

  it('splitTags finds the same tags as splitting and tk_tags', async () => {
    const texts = [
      ' #A, b c ,,"d",# ,a, a#b ',
      'x|y, z',
      '',
      ',,,',
      '#',
      'Ünï, ÉTÉ ,été',
      'tab\t,\tt2',
      'multi\nline, x',
      '"q"|"r"',
      'a-b,[c],^d,\\e',
      "it's, fine",
    ];
    for (const separators of [',', ',|', '|']) {
      const regex = `[${separators.replace('|', '\\|')}]`;
      const rows = await mismatches(`SELECT s, list_sort(${splitTags('s', separators)}) AS got,
          list_sort(tk_tags(string_split_regex(s, ${sqlString(regex)}))) AS want
        FROM ${values(texts)} WHERE got IS DISTINCT FROM want`);
      expect(rows, separators).toEqual([]);
    }
    const [row] = await t.lake.all(`SELECT ${splitTags('NULL::VARCHAR', ',')} AS n`);
    expect(row.n).toBeNull();
  });
});
