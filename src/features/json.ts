import type { LakeRow } from '../lake/index.js';

type JsonValue = LakeRow[string];

/** Text of a value read back from the lake: strings as they are, null as '', anything else as JSON. */
export function str(value: JsonValue | undefined): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}
