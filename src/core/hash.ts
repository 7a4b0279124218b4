/**
 * MurmurHash3's 32-bit finaliser (fmix32): every input bit moves every output bit, so any residue or
 * fraction of the result is well spread even when the inputs differ only in a few low bits.
 */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
