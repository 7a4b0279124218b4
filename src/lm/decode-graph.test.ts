import { describe, expect, it } from 'vitest';
import { Tensor, noGrad } from '../tensor/index.js';
import { GraphDecoder } from './decode-graph.js';
import { LmModel } from './model.js';

const config = { vocabSize: 40, dModel: 16, nLayers: 2, nHeads: 2, contextLength: 8, styleCount: 3 };

function ids(values: number[], shape: number[]): Tensor<'int32'> {
  return new Tensor(Int32Array.from(values), shape, 'int32');
}

/** The full pass's logits at position t of each batch row, in batch order. */
function rows(full: Tensor, t: number, length: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 2; b++) out.push(...full.data.slice((b * length + t) * 40, (b * length + t + 1) * 40));
  return out;
}

describe.each([
  { name: 'GraphDecoder', extra: {} },
  { name: 'GraphDecoder with direct connections of order 5', extra: { directOrder: 5, directBuckets: 11 } },
])('$name', ({ extra }) => {
  const model = new LmModel({ ...config, ...extra }, { seed: 5 });
  model.eval();
  const direct = model.direct?.weight.data ?? new Float32Array(0);
  for (let i = 0; i < direct.length; i++) direct[i] = Math.cos(i * 7.31) * 0.5;
  const tokens = ids([1, 5, 9, 2, 7, 3, 1, 8, 8, 4, 6, 0], [2, 6]);
  const styles = ids([1, 2], [2]);

  function check(): void {
    const full = noGrad(() => model.forward(tokens, styles));
    const decoder = new GraphDecoder(model, 2);
    const prefix = decoder.prefill(ids([1, 5, 1, 8], [2, 2]), styles);
    expect(prefix.shape).toEqual([2, 2, 40]);
    for (let t = 2; t < 6; t++) {
      const out = decoder.step(Int32Array.of(tokens.data[t], tokens.data[6 + t]));
      const expected = rows(full, t, 6);
      expect(out.length).toBe(expected.length);
      for (let i = 0; i < expected.length; i++) expect(out[i]).toBeCloseTo(expected[i], 4);
    }
  }

  it('gives the same logits, one token per step with the traced step, as a full pass', () => {
    check();
  });

  it('follows weights changed after the step was traced (weights are graph inputs)', () => {
    for (const p of model.parameters()) for (let i = 0; i < p.data.length; i += 3) p.data[i] *= -1.5;
    check();
  });

  it('refuses a step past the context length', () => {
    const decoder = new GraphDecoder(model, 2);
    decoder.prefill(ids(new Array<number>(16).fill(1), [2, 8]), styles);
    expect(() => decoder.step(Int32Array.of(1, 1))).toThrow(/contextLength 8/);
  });
});
