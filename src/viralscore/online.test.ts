import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { selectRows } from './dataset.js';
import { predict } from './fit.js';
import { regressionMetrics } from './metrics.js';
import { rollbackEstimator, updateEstimator } from './online.js';
import type { OnlineRows } from './online.js';
import { ViralScoreRegistry } from './registry.js';
import { packFeatures } from './schema.js';
import { syntheticDataset } from './synthetic.js';
import { trainOnDataset } from './train.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// The planted label of syntheticDataset moved up by 1.2 on the logit scale: the same posts now travel
// further than the estimator learned, the kind of drift a platform change brings.
const shifted = (label: number) => 1 / (1 + Math.exp(-(Math.log(label / (1 - label)) + 1.2)));

const base = syntheticDataset({ rows: 400, seed: 3 });
const later = syntheticDataset({ rows: 300, seed: 11 });
const rows = (from: number, to: number, relabel: (l: number) => number = (l) => l): OnlineRows => {
  const picked = Array.from({ length: to - from }, (_, i) => from + i);
  return {
    matrix: selectRows(later.matrix, picked),
    labels: picked.map((r) => relabel(later.posts[r].label)),
  };
};
const replay: OnlineRows = { matrix: base.matrix, labels: base.posts.map((p) => p.label) };

function freshRegistry(): ViralScoreRegistry {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-online-'));
  dirs.push(dir);
  const registry = new ViralScoreRegistry(dir);
  registry.save(trained.artifacts);
  return registry;
}

function mseOn(registry: ViralScoreRegistry, data: OnlineRows): number {
  const { model, schema } = registry.load();
  return regressionMetrics(predict(model, packFeatures(schema, data.matrix)), data.labels).mse;
}

let trained: ReturnType<typeof trainOnDataset>;
beforeAll(() => {
  trained = trainOnDataset(base, { epochs: 6, patience: 3, batchSize: 64, members: 1, lr: 3e-3, seed: 5 });
});

describe('online estimator updates', () => {
  it('lowers the error on a shifted stream, activates the update and records it as a new version', () => {
    const registry = freshRegistry();
    const heldOut = rows(200, 300, shifted);
    const before = mseOn(registry, heldOut);
    const result = updateEstimator(
      registry,
      { fresh: rows(0, 200, shifted), replay, heldOut },
      { steps: 40 },
    );
    expect(result).toMatchObject({ version: 'v2', parent: 'v1', activated: true, reason: null });
    expect(registry.versions()).toEqual(['v1', 'v2']);
    expect(registry.active()).toBe('v2');
    const after = mseOn(registry, heldOut);
    // The shift adds about 0.04 to the MSE of v1 on these rows; 40 small steps remove most of it.
    expect(after).toBeLessThan(0.75 * before);
    expect(result.candidate.mse).toBeCloseTo(after, 6);
    expect(registry.load('v2').training).toMatchObject({ kind: 'online', parent: 'v1' });
  });

  it('rejects an update trained on shuffled labels and keeps the active version', () => {
    const registry = freshRegistry();
    const fresh = rows(0, 200);
    const shuffled = { ...fresh, labels: new Random(1).shuffle(Array.from(fresh.labels)) };
    const heldOut = rows(200, 300);
    const before = mseOn(registry, heldOut);
    const result = updateEstimator(
      registry,
      {
        fresh: shuffled,
        replay: { ...replay, labels: new Random(2).shuffle(Array.from(replay.labels)) },
        heldOut,
      },
      { steps: 40, lr: 3e-3 },
    );
    expect(result.activated).toBe(false);
    expect(result.reason).toMatch(/held-out (MSE rose|Spearman fell)/);
    // Kept, not deleted: the rejected candidate is a version of its own, inactive.
    expect(registry.versions()).toEqual(['v1', 'v2']);
    expect(registry.active()).toBe('v1');
    expect(mseOn(registry, heldOut)).toBe(before);
    expect(registry.load('v2').metrics).toMatchObject({ guard: { activated: false } });
  });

  it('rolls back to the previous version with exactly its scores', () => {
    const registry = freshRegistry();
    const probe = rows(200, 300);
    const { model, schema } = registry.load('v1');
    const v1Scores = predict(model, packFeatures(schema, probe.matrix));
    // Margins wide open: both updates serve, whatever the guard would say.
    const open = { mseMargin: 10, spearmanMargin: 2 };
    updateEstimator(
      registry,
      { fresh: rows(0, 200, shifted), replay, heldOut: rows(200, 300, shifted) },
      open,
    );
    updateEstimator(
      registry,
      { fresh: rows(0, 100, shifted), replay, heldOut: rows(200, 300, shifted) },
      open,
    );
    expect(registry.versions()).toEqual(['v1', 'v2', 'v3']);
    expect(rollbackEstimator(registry)).toEqual({ from: 'v3', to: 'v2' });
    expect(rollbackEstimator(registry)).toEqual({ from: 'v2', to: 'v1' });
    const back = registry.load();
    expect(back.version).toBe('v1');
    expect(predict(back.model, packFeatures(back.schema, probe.matrix))).toEqual(v1Scores);
    expect(() => rollbackEstimator(registry)).toThrow(/oldest viralscore version/);
  });

  it('refuses bad options and empty data with the parameter named', () => {
    const registry = freshRegistry();
    const data = { fresh: rows(0, 10), replay, heldOut: rows(200, 220) };
    expect(() => updateEstimator(registry, data, { steps: 0 })).toThrow(
      /`steps` must be a positive integer, got 0/,
    );
    expect(() => updateEstimator(registry, data, { mseMargin: -1 })).toThrow(/`mseMargin`/);
    expect(() => updateEstimator(registry, { ...data, fresh: rows(0, 0) })).toThrow(/at least one fresh/);
    expect(registry.versions()).toEqual(['v1']);
  });
});
