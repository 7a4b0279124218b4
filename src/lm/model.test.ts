import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, noGrad } from '../tensor/index.js';
import { LmModel } from './model.js';

const config = { vocabSize: 40, dModel: 16, nLayers: 2, nHeads: 2, contextLength: 12, styleCount: 3 };
const dir = mkdtempSync(join(tmpdir(), 'tkllm-lm-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ids(values: number[], shape: number[]): Tensor<'int32'> {
  return new Tensor(Int32Array.from(values), shape, 'int32');
}

/** Direct-connection rows away from their zero start, so that the tests see them. */
function randomiseDirect(model: LmModel): LmModel {
  const rows = model.direct?.weight.data ?? new Float32Array(0);
  for (let i = 0; i < rows.length; i++) rows[i] = Math.sin(i * 12.9898) * 0.5;
  return model;
}

describe.each([
  { name: 'LmModel', extra: {} },
  // Few buckets, so that hashed contexts collide as they will in real tables.
  { name: 'LmModel with direct connections of order 4', extra: { directOrder: 4, directBuckets: 7 } },
])('$name', ({ extra }) => {
  const model = randomiseDirect(new LmModel({ ...config, ...extra }, { seed: 3 }));
  const tokens = ids([1, 5, 9, 2, 7, 3, 1, 8, 8, 4, 6, 0], [2, 6]);
  const styles = ids([1, 2], [2]);

  it('gives the same logits with the key/value cache, one token per step, as a full pass', () => {
    const full = noGrad(() => model.forward(tokens, styles));
    const cache = model.newCache();
    const stepped: number[] = [];
    noGrad(() => {
      // A two-token prefix, then one token per step.
      const prefix = model.forwardCached(ids([1, 5, 1, 8], [2, 2]), styles, cache);
      for (let b = 0; b < 2; b++) stepped.push(...prefix.data.slice(b * 2 * 40, (b + 1) * 2 * 40));
      for (let t = 2; t < 6; t++) {
        const out = model.forwardCached(ids([tokens.data[t], tokens.data[6 + t]], [2, 1]), styles, cache);
        stepped.push(...out.data);
      }
    });
    // Reorder the full pass [B, T, V] to the order collected: prefix per batch row, then steps.
    const expected: number[] = [];
    for (let b = 0; b < 2; b++) expected.push(...full.data.slice(b * 6 * 40, b * 6 * 40 + 2 * 40));
    for (let t = 2; t < 6; t++)
      for (let b = 0; b < 2; b++) expected.push(...full.data.slice((b * 6 + t) * 40, (b * 6 + t + 1) * 40));
    expect(stepped.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(stepped[i]).toBeCloseTo(expected[i], 4);
  });

  it('conditions on the creator style: different style rows give different logits', () => {
    const a = noGrad(() => model.forward(ids([1, 5, 9], [1, 3]), ids([1], [1])));
    const b = noGrad(() => model.forward(ids([1, 5, 9], [1, 3]), ids([2], [1])));
    expect(Array.from(a.data)).not.toEqual(Array.from(b.data));
  });

  it('saves and loads to the same outputs', () => {
    model.save(dir);
    const loaded = LmModel.load(dir);
    expect(loaded.config).toEqual(model.config);
    const a = noGrad(() => model.forward(tokens, styles));
    const b = noGrad(() => loaded.forward(tokens, styles));
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it('refuses sequences longer than the context and unknown style rows', () => {
    expect(() => model.forward(ids(new Array<number>(13).fill(1), [1, 13]), ids([0], [1]))).toThrow(
      /contextLength/,
    );
    expect(() => model.forward(ids([1], [1, 1]), ids([3], [1]))).toThrow(/style row 3/);
    expect(() => new LmModel({ ...config, dModel: 15 })).toThrow(/multiple of `nHeads`/);
    expect(() => new LmModel({ ...config, directOrder: 1 })).toThrow(/`directOrder` must be 0 or/);
    expect(() => new LmModel({ ...config, directOrder: 3, directBuckets: 0 })).toThrow(/`directBuckets`/);
  });
});

describe('direct connections', () => {
  it('start at zero: the same predictions as the model without them, whose weights they leave unchanged', () => {
    const plain = new LmModel(config, { seed: 3 });
    const direct = new LmModel({ ...config, directOrder: 5 }, { seed: 3 });
    const tokens = ids([1, 5, 9, 2, 7, 3], [1, 6]);
    const a = noGrad(() => plain.forward(tokens, ids([1], [1])));
    const b = noGrad(() => direct.forward(tokens, ids([1], [1])));
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it('make a prediction depend on the tokens before the last through their own rows', () => {
    const model = randomiseDirect(new LmModel({ ...config, nLayers: 1, directOrder: 3 }, { seed: 3 }));
    // Zero the transformer's head: the logits are then the direct rows alone.
    model.head.weight.data.fill(0);
    const a = noGrad(() => model.forward(ids([4, 9], [1, 2]), ids([0], [1])));
    const b = noGrad(() => model.forward(ids([6, 9], [1, 2]), ids([0], [1])));
    const last = (t: Tensor) => Array.from(t.data.slice(40, 80));
    const row9 = Array.from(model.direct!.weight.data.slice(9 * 40, 10 * 40));
    expect(last(a)).not.toEqual(last(b));
    // Each is the last token's row plus one hashed row of the pair (4, 9) or (6, 9).
    expect(
      last(a)
        .map((x, i) => x - row9[i])
        .some((x) => x !== 0),
    ).toBe(true);
  });
});
