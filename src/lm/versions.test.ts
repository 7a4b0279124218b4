import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelStateError, NotFoundError } from '../core/index.js';
import { LmModel } from './model.js';
import { loadTrainedLm } from './pipeline.js';
import { trainTokenizer } from './tokenizer.js';
import {
  activateLmVersion,
  CREATORS_FILE,
  lmVersions,
  rollbackLm,
  saveLmVersion,
  snapshotLm,
  TOKENIZER_FILE,
} from './versions.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes a whole trained LM (weights, config, tokenizer, creators) into `dir`, different per seed. */
function writeLm(dir: string, seed: number, vocabSize: number): void {
  const texts = ['wait for it', 'pov: my cat at 3am', 'the perfect pasta', 'three tips for running'];
  const tokenizer = trainTokenizer(texts, { vocabSize, minFrequency: 1 });
  tokenizer.save(join(dir, TOKENIZER_FILE));
  writeFileSync(join(dir, CREATORS_FILE), JSON.stringify({ names: ['', `creator_${seed}`], counts: [0, 3] }));
  new LmModel(
    { vocabSize: tokenizer.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, contextLength: 16, styleCount: 2 },
    { seed },
  ).save(dir);
}

function modelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-lm-versions-'));
  dirs.push(dir);
  writeLm(dir, 1, 270);
  return dir;
}

const served = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json') || f.endsWith('.safetensors'))
      .map((f) => [f, readFileSync(join(dir, f)).toString('base64')]),
  );

describe('LM versions', () => {
  it('keeps every served model whole and rolls back to the parent, tokenizer included', () => {
    const dir = modelDir();
    expect(lmVersions(dir)).toEqual({ versions: [], active: null });
    const first = served(dir);
    expect(snapshotLm(dir, 'initial')).toBe('v1');
    // A retrain with another tokenizer and other weights, saved as v2 from v1 and served.
    const v2 = saveLmVersion(dir, 'update', (d) => writeLm(d, 2, 280), { perplexityAfter: 12.5 });
    activateLmVersion(dir, v2);
    const second = served(dir);
    expect(second).not.toEqual(first);
    const listed = lmVersions(dir);
    expect(listed.active).toBe('v2');
    expect(listed.versions.map((v) => [v.version, v.kind, v.parent])).toEqual([
      ['v1', 'initial', null],
      ['v2', 'update', 'v1'],
    ]);
    expect(listed.versions[1].details).toEqual({ perplexityAfter: 12.5 });

    expect(rollbackLm(dir)).toEqual({ from: 'v2', to: 'v1' });
    expect(served(dir)).toEqual(first);
    expect(loadTrainedLm(dir).creators).toEqual(['', 'creator_1']);
    expect(() => rollbackLm(dir)).toThrow(ModelStateError);
    // Nothing was deleted: the rollback itself can be undone.
    expect(rollbackLm(dir, 'v2')).toEqual({ from: 'v1', to: 'v2' });
    expect(served(dir)).toEqual(second);
    expect(loadTrainedLm(dir).tokenizer.vocabSize).toBe(
      loadTrainedLm(join(dir, 'versions', 'v2')).tokenizer.vocabSize,
    );
  });

  it('refuses an unknown version and a directory without versions, changing nothing', () => {
    const dir = modelDir();
    const before = served(dir);
    expect(() => rollbackLm(dir)).toThrow(/no LM versions/);
    snapshotLm(dir, 'initial');
    expect(() => rollbackLm(dir, 'v7')).toThrow(NotFoundError);
    expect(() => activateLmVersion(dir, '../..')).toThrow(NotFoundError);
    expect(served(dir)).toEqual(before);
    expect(lmVersions(dir).active).toBe('v1');
  });

  it('finishes an activation that a crash interrupted when the model is next loaded', () => {
    const dir = modelDir();
    snapshotLm(dir, 'initial');
    activateLmVersion(
      dir,
      saveLmVersion(dir, 'update', (d) => writeLm(d, 3, 290)),
    );
    const target = served(dir);
    rollbackLm(dir);
    // The crash: the marker is written and only the tokenizer of v2 was copied over v1's files.
    writeFileSync(join(dir, 'versions', 'activating'), 'v2\n');
    writeFileSync(join(dir, TOKENIZER_FILE), readFileSync(join(dir, 'versions', 'v2', TOKENIZER_FILE)));
    const { creators } = loadTrainedLm(dir);
    expect(creators).toEqual(['', 'creator_3']);
    expect(served(dir)).toEqual(target);
    expect(existsSync(join(dir, 'versions', 'activating'))).toBe(false);
    expect(lmVersions(dir).active).toBe('v2');
  });
});
