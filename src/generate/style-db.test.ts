import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lake } from '../lake/index.js';
import { loadStyleEmbeddings, saveStyleEmbeddings, similarCreators } from './style-db.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-style-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Style Embedding DB', () => {
  it('stores one vector per creator and model, replaces them on save, and finds the nearest creators', async () => {
    const lake = await Lake.open(dir);
    try {
      await saveStyleEmbeddings(lake, 'lm', [{ creator: 'old', posts: 1, vector: Float32Array.of(1, 1) }]);
      await saveStyleEmbeddings(lake, 'lm', [
        { creator: "o'neil", posts: 4, vector: Float32Array.of(1, 0, 0) },
        { creator: 'b', posts: 3, vector: Float32Array.of(0.9, 0.1, 0) },
        { creator: 'c', posts: 5, vector: Float32Array.of(0, 0, 1) },
      ]);
      await saveStyleEmbeddings(lake, 'other', [
        { creator: 'z', posts: 2, vector: Float32Array.of(1, 0, 0) },
      ]);
      const stored = await loadStyleEmbeddings(lake, 'lm');
      expect(stored.map((e) => e.creator)).toEqual(['b', 'c', "o'neil"]);
      expect(Array.from(stored[0].vector)).toEqual([Math.fround(0.9), Math.fround(0.1), 0]);
      const near = await similarCreators(lake, "o'neil", { model: 'lm', top: 2 });
      expect(near.map((s) => s.creator)).toEqual(['b', 'c']);
      expect(near[0].similarity).toBeGreaterThan(0.99);
      expect(near[1].similarity).toBeCloseTo(0, 6);
      await expect(similarCreators(lake, 'nobody', { model: 'lm' })).rejects.toThrow(/"nobody"/);
    } finally {
      lake.close();
    }
  });
});
