import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { LakeGate } from './lake-gate.js';

let fixture: Awaited<ReturnType<typeof tempLake>>;
beforeAll(async () => {
  fixture = await tempLake();
  await fixture.lake.run('CREATE TABLE t (x INTEGER)');
});
afterAll(() => fixture.cleanup());

describe('LakeGate', () => {
  it('runs uses one after another, so a transaction never interleaves with another request', async () => {
    const gate = new LakeGate(fixture.lake);
    const order: string[] = [];
    const slowWrite = gate.write((lake) =>
      lake.transaction(async () => {
        order.push('write start');
        await lake.run('INSERT INTO t VALUES (1)');
        await new Promise((r) => setTimeout(r, 30));
        await lake.run('INSERT INTO t VALUES (2)');
        order.push('write end');
      }),
    );
    const read = gate.use(async (lake) => {
      order.push('read');
      return lake.count('SELECT count(*) FROM t');
    });
    expect(gate.depth).toBe(2);
    await slowWrite;
    expect(await read).toBe(2);
    expect(order).toEqual(['write start', 'write end', 'read']);
    expect(gate.depth).toBe(0);
  });

  it('serves a cached read until the next write, and does not keep a failed read', async () => {
    const gate = new LakeGate(fixture.lake);
    let runs = 0;
    const count = () =>
      gate.cached('count', (lake) => {
        runs++;
        return lake.count('SELECT count(*) FROM t');
      });
    const first = await count();
    expect(await count()).toBe(first);
    expect(runs).toBe(1);
    await gate.write((lake) => lake.run('INSERT INTO t VALUES (3)'));
    expect(await count()).toBe(first + 1);
    expect(runs).toBe(2);

    await expect(gate.cached('bad', (lake) => lake.all('SELECT * FROM missing_table'))).rejects.toThrow(
      /missing_table/,
    );
    expect(await gate.cached('bad', (lake) => lake.count('SELECT 7'))).toBe(7);
  });
});
