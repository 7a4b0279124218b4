// What every command file needs: the global data directory, a lake opened for one command, and option
// parsers that reject bad values with an error naming the option (commander passes them the raw string).
import type { Command } from 'commander';
import { ValidationError } from '../core/index.js';
import { Lake } from '../lake/index.js';

/** The global `--data-dir` as seen from any subcommand. */
export const dataDirOf = (command: Command): string =>
  String(command.optsWithGlobals<{ dataDir: string }>().dataDir);

/** Opens the lake in `dir` for `work` and closes it afterwards, whatever happens. */
export async function withLake<T>(dir: string, work: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await Lake.open(dir);
  try {
    return await work(lake);
  } finally {
    lake.close();
  }
}

/** A parser for a numeric option: `check` says what is allowed, `expected` says it in words. */
export function numberOption(name: string, check: (n: number) => boolean, expected: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !check(n))
      throw new ValidationError(`\`${name}\` must be ${expected}, got "${value}"`);
    return n;
  };
}

export const positiveInt = (name: string) =>
  numberOption(name, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
export const nonNegative = (name: string) => numberOption(name, (n) => n >= 0, 'a number >= 0');
export const positive = (name: string) => numberOption(name, (n) => n > 0, 'a number > 0');
export const share = (name: string) => numberOption(name, (n) => n > 0 && n < 1, 'a number in (0, 1)');

/** A parser for a date option (ISO 8601 or anything `Date` reads). */
export function dateOption(name: string, example = '2025-06-01T10:00:00Z') {
  return (value: string): Date => {
    const date = new Date(value);
    if (Number.isNaN(date.getTime()))
      throw new ValidationError(`\`${name}\` must be a date such as ${example}, got "${value}"`);
    return date;
  };
}
