import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { nucleus, pickToken } from './sampling.js';

/** The tokens the former sampler kept: a full comparator sort of the vocabulary, then top-k, then top-p. */
function referenceKept(logits: Float32Array, temperature: number, topK: number, topP: number): number[] {
  let ids = Array.from({ length: logits.length }, (_, i) => i).filter((i) => logits[i] > -Infinity);
  ids.sort((a, b) => logits[b] - logits[a]);
  if (topK > 0) ids = ids.slice(0, topK);
  const max = logits[ids[0]];
  const probs = ids.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < topP * total) acc += probs[keep++];
    ids = ids.slice(0, Math.max(1, keep));
  }
  return ids.sort((a, b) => a - b);
}

describe('sampling', () => {
  const vocab = 300;
  const scratch = { ids: new Int32Array(vocab), probs: new Float64Array(vocab) };

  it('keeps the top-k/top-p set a full sort of the vocabulary kept, ties and banned tokens included', () => {
    const data = new Random(7);
    let checked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const sharp = 1 + data.int(6);
      const logits = Float32Array.from({ length: vocab }, () =>
        data.next() < 0.05 ? -Infinity : Math.round(data.normal() * sharp * 4) / 4,
      );
      const topK = [0, 1, 5, 40][trial % 4];
      const topP = [1, 0.95, 0.5, 0.9][(trial >> 2) % 4];
      const temperature = [0.7, 1, 1.3][trial % 3];
      const n = nucleus(logits, temperature, topK, topP, scratch);
      const kept = Array.from(scratch.ids.subarray(0, n)).sort((a, b) => a - b);
      expect(kept).toEqual(referenceKept(logits, temperature, topK, topP));
      checked++;
    }
    expect(checked).toBe(400);
  });

  it('draws kept tokens in proportion to their probability', () => {
    // Softmax of [2, 1, 0, -1] at temperature 1 with top-p 0.9 keeps the first three tokens.
    const logits = Float32Array.of(2, 1, 0, -1);
    const p = [Math.exp(2), Math.exp(1), 1];
    const z = p[0] + p[1] + p[2];
    const counts = [0, 0, 0, 0];
    const rng = new Random(3);
    const s = { ids: new Int32Array(4), probs: new Float64Array(4) };
    for (let i = 0; i < 20000; i++) counts[pickToken(logits, 1, 0, 0.9, rng, s)]++;
    expect(counts[3]).toBe(0);
    for (let k = 0; k < 3; k++) expect(counts[k] / 20000).toBeCloseTo(p[k] / z, 1);
  });
});
