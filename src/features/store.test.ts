import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { extractorVersion, featureGroupNames, fitPpmi, PpmiTextEncoder, type PpmiModel } from './index.js';
import type { RowGroups } from './groups.js';
import { groupNamesFor, loadStoredEncoder } from './names.js';
import { ensureFeatureSchema, readFeatureMatrix, writeFeatureRows } from './store.js';

// Values whose text form is easy to get wrong: signed zero (String(-0) is "0"), subnormals, the float32
// extremes, 17-digit decimals, exponent notation, and values that float32 rounding changes.
const awkward = [
  -0,
  0,
  1.401298464324817e-45,
  -1.1754942106924411e-38,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  Math.fround(0.1),
  Math.fround(1 / 3),
  Math.fround(1e-7),
  -Math.fround(9.99999993922529e-9),
  Math.fround(123456789),
  Math.fround(Math.PI),
];

const bits = (v: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(v).buffer));

const corpus = [
  ...Array.from({ length: 20 }, (_, i) => `the cat will meow and purr on the sofa ${i % 3 ? 'softly' : ''}`),
  ...Array.from({ length: 20 }, (_, i) => `the dog will bark and woof at the door ${i % 3 ? 'loudly' : ''}`),
  // Words seen twice but never beside another word: no positive PMI, so an all-zero row that the SVD's sign
  // convention negates into -0s in every flipped component (as on tiktok_en_2025, which failed to reopen).
  'hahahaha',
  'hahahaha',
  'жиза',
  'жиза',
];

describe('stored features and encoder', () => {
  let t: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    t = await tempLake();
    await ensureFeatureSchema(t.lake);
  });
  afterEach(() => t.cleanup());

  async function roundTrip(model: PpmiModel) {
    await writeFeatureRows(t.lake, [], groupNamesFor(model.config.dimensions), extractorVersion, model);
    const loaded = await loadStoredEncoder(t.lake);
    expect(loaded).toBeDefined();
    return loaded!;
  }

  it('reopens a fitted encoder whose vectors hold -0 with the id it was stored under', async () => {
    const model = fitPpmi(corpus, { dimensions: 4 })!;
    expect([...model.vectors].some((v) => Object.is(v, -0))).toBe(true);
    const loaded = await roundTrip(model);
    expect(loaded.id).toBe(new PpmiTextEncoder(model).id);
    expect(bits(loaded.model.vectors)).toEqual(bits(model.vectors));
  });

  it('stores encoder vectors bit for bit, whatever their text form', async () => {
    const vectors = Float32Array.from([...awkward, NaN, Infinity, -Infinity, 0.5]);
    const model: PpmiModel = {
      config: { dimensions: 4, window: 4, minCount: 2, maxVocab: 8000, seed: 7 },
      vocab: ['é', 'e\u0301', "it's", '🙂🏽'],
      counts: [3, 2, 2, 1],
      vectors,
    };
    const loaded = await roundTrip(model);
    expect(loaded.id).toBe(new PpmiTextEncoder(model).id);
    expect(loaded.model.vocab).toEqual(model.vocab);
    expect(loaded.model.counts).toEqual(model.counts);
    expect(bits(loaded.model.vectors)).toEqual(bits(vectors));
  });

  it('stores feature values bit for bit', async () => {
    const names = groupNamesFor(4);
    const groups = Object.fromEntries(
      featureGroupNames.map((g) => [g, { present: false, values: [] }]),
    ) as unknown as RowGroups;
    const width = names.text.length;
    const values = Array.from({ length: width }, (_, i) => awkward[i % awkward.length]);
    groups.text = { present: true, values };
    await writeFeatureRows(t.lake, [{ key: 'p1', hash: 'h', refTime: 0, groups }], names, extractorVersion);
    const m = await readFeatureMatrix(t.lake, extractorVersion, ['p1']);
    expect(m.groups.text.present[0]).toBe(1);
    expect(bits(m.groups.text.values)).toEqual(bits(values));
  });
});
