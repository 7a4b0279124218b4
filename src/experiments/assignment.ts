import murmurhash from 'murmurhash';

const encoder = new TextEncoder();
const buffer = new Uint8Array(1024);

/**
 * A point in [0, 1) fixed by the salt and the unit id: MurmurHash3 (x86, 32 bit, seed 0) of the UTF-8 bytes of
 * `salt + ':' + unitId`, divided by 2^32. The same unit always lands on the same point, on every machine,
 * and different salts give independent points, so one unit can sit in many experiments without correlation.
 */
export function unitPoint(salt: string, unitId: string): number {
  const key = `${salt}:${unitId}`;
  // encodeInto a reused buffer avoids an allocation per unit on the bulk path; long keys fall back.
  const { read, written } = encoder.encodeInto(key, buffer);
  const bytes = read === key.length ? buffer.subarray(0, written) : encoder.encode(key);
  return murmurhash.v3(bytes, 0) / 4294967296;
}

/**
 * The index of the arm a unit belongs to under fixed `weights` (any positive numbers; they are normalised):
 * the unit's hash point falls into one arm's share of [0, 1).
 */
export function armIndexFor(salt: string, unitId: string, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let point = unitPoint(salt, unitId) * total;
  for (let i = 0; i < weights.length - 1; i++) {
    point -= weights[i] ?? 0;
    if (point < 0) return i;
  }
  return weights.length - 1;
}
