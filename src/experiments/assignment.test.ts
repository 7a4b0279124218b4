import { afterEach, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import {
  allocateUnits,
  armIndexFor,
  assignArm,
  createExperiment,
  getExperiment,
  unitPoint,
} from './index.js';
import { Random } from '../core/index.js';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe('hash assignment', () => {
  it('gives a unit the same arm on every call and after the lake is reopened', async () => {
    const t = await tempLake();
    cleanup = t.cleanup;
    const spec = {
      id: 'stable',
      arms: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
        { name: 'C', weight: 2 },
      ],
    };
    const units = Array.from({ length: 500 }, (_, i) => `tiktok:${7_000_000 + i}`);
    await createExperiment(t.lake, spec);
    const stored = await getExperiment(t.lake, 'stable');
    expect(units.map((u) => assignArm(stored, u))).toEqual(units.map((u) => assignArm(stored, u)));
    const reopened = await getExperiment(await t.reopen(), 'stable');
    expect(units.map((u) => assignArm(reopened, u))).toEqual(units.map((u) => assignArm(stored, u)));
    const allocated = await allocateUnits(t.lake, 'stable', units, { random: new Random(1) });
    expect(allocated.map((a) => a.arm)).toEqual(units.map((u) => assignArm(stored, u)));
  });

  it('pins known points, so a change of hash or encoding cannot pass unnoticed', () => {
    // Reference: a separate Python MurmurHash3 x86_32 (seed 0) over the UTF-8 bytes of "exp:unit-1" and
    // "exp:créateur-é", divided by 2^32, gave 0.40266339015215635 and 0.8850095611996949.
    expect(unitPoint('exp', 'unit-1')).toBe(0.40266339015215635);
    expect(unitPoint('exp', 'créateur-é')).toBe(0.8850095611996949);
    expect(unitPoint('exp2', 'unit-1')).not.toBe(unitPoint('exp', 'unit-1'));
  });

  it('splits units in the proportions of the weights, independently across salts', () => {
    const counts = [0, 0, 0];
    let same = 0;
    for (let i = 0; i < 40_000; i++) {
      const arm = armIndexFor('s1', `u${i}`, [1, 1, 2]);
      counts[arm]++;
      if (armIndexFor('s2', `u${i}`, [1, 1]) === armIndexFor('s1', `u${i}`, [1, 1])) same++;
    }
    expect(counts[0] / 40_000).toBeCloseTo(0.25, 1);
    expect(counts[2] / 40_000).toBeCloseTo(0.5, 1);
    // Independent salts agree on about half the units for two equal arms.
    expect(same / 40_000).toBeCloseTo(0.5, 1);
  });

  it('rejects bad experiment specs with the field and the value', async () => {
    const t = await tempLake();
    cleanup = t.cleanup;
    await expect(createExperiment(t.lake, { id: 'x y', arms: [] })).rejects.toThrow(
      /`id` must be .* got "x y"/,
    );
    await expect(createExperiment(t.lake, { id: 'x', arms: [{ name: 'A', weight: 1 }] })).rejects.toThrow(
      /at least 2 arms, got 1/,
    );
    const arms = [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 1 },
    ];
    await createExperiment(t.lake, { id: 'x', arms });
    await expect(createExperiment(t.lake, { id: 'x', arms })).rejects.toThrow(/"x" already exists/);
    await expect(
      createExperiment(t.lake, {
        id: 'y',
        arms,
        startsAt: new Date('2025-02-01'),
        endsAt: new Date('2025-01-01'),
      }),
    ).rejects.toThrow(/`endsAt` .* must be after `startsAt`/);
  });
});
