import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { noGrad, tensor } from '../tensor/index.js';
import { fitBoostedTrees, ridgeBaseline } from './baselines.js';
import { splitDataset } from './dataset.js';
import { concatRows, fitViralScoreModel, predictLogits, ridgeMember, treeMember } from './fit.js';
import { spearman } from './metrics.js';
import { ViralScoreModel, ViralScoreNet } from './model.js';
import { prepareRows, subsetRows } from './prepare.js';
import { fitFeatureSchema } from './schema.js';
import { syntheticDataset } from './synthetic.js';

function rows(seed: number) {
  const data = syntheticDataset({ rows: 300, seed });
  const split = splitDataset(data.posts, { kind: 'time' });
  const schema = fitFeatureSchema(data.matrix, split.train);
  const all = prepareRows(schema, data, split.train);
  const [train, validation, test] = [split.train, split.validation, split.test].map((r) =>
    subsetRows(all, r),
  );
  return { groupDims: schema.groups.map((g) => g.features.length), train, validation, test };
}

const net = { dModel: 16, heads: 2, hidden: 32, bins: 4, linear: true, presence: true };
// The tree member is off unless a test asks for it: these tests are about the networks and the ridge.
const quick = { epochs: 3, minEpochs: 1, patience: 2, batchSize: 64, members: 2, treeShares: [0], ...net };

describe('the ridge member', () => {
  it('ranks rows exactly as the ridge baseline does, on the logit scale around the mean label', () => {
    const { groupDims, train, validation, test } = rows(11);
    // Some rows lack a group, so the presence term matters.
    const member = ridgeMember({ groupDims, ...net }, new Random(1), train, validation);
    const ridge = ridgeBaseline(
      train.features,
      train.labels,
      validation.features,
      validation.labels,
    )(test.features);
    const z = predictLogits(member, test.features);
    expect(spearman(z, ridge)).toBeGreaterThan(0.9999);
    const mean = train.labels.reduce((s, y) => s + y, 0) / train.labels.length;
    // Near the mean the heads' sigmoids are linear: the logit is the ridge prediction rescaled.
    const near = Array.from(ridge, (y, i) => [y, z[i]]).filter(([y]) => Math.abs(4 * (y - mean)) < 0.5);
    expect(near.length).toBeGreaterThan(5);
    for (const [y, zi] of near)
      expect(Math.abs(zi - (Math.log(mean / (1 - mean)) + 4 * (y - mean)))).toBeLessThan(0.01);
  });
});

describe('the tree member', () => {
  it('ranks rows exactly as the boosted-trees baseline does, and absent groups cannot move it', () => {
    const { groupDims, train, validation, test } = rows(15);
    const boosted = fitBoostedTrees(train.features, train.labels, validation.features, validation.labels);
    const mean = train.labels.reduce((s, y) => s + y, 0) / train.labels.length;
    const member = treeMember({ groupDims, ...net }, new Random(1), boosted.complete(), mean);
    const trees = boosted.predict(test.features);
    const z = predictLogits(member, test.features);
    // Every head's pre-activation is 4 / (5/4) times the trees' prediction less the mean: exact, not near.
    const bias = member.mixBias.data[0];
    trees.forEach((y, i) => expect(z[i]).toBeCloseTo(5 / (1 + Math.exp(-3.2 * (y - mean))) + bias, 3));
    // Rows with a group absent score the same whatever that group's values are.
    const g = groupDims.length;
    const f = test.features;
    const noisy = {
      ...f,
      x: Float32Array.from(f.x, (v, k) =>
        f.present[Math.floor(k / f.width) * g + groupOf(groupDims, k % f.width)] === 1
          ? v
          : 1e3 * Math.sin(k),
      ),
    };
    expect(predictLogits(member, noisy)).toEqual(z);
  });

  it('keeps the share whose blend ranks validation best, blends the logits by it and refits the trees', () => {
    const { groupDims, train, validation } = rows(16);
    const fit = fitViralScoreModel(groupDims, train, validation, {
      ...quick,
      ridgeShares: [0],
      treeShares: [0, 0.25, 0.5],
      refit: false,
    });
    expect(fit.treeShareSpearman.map((t) => t.share)).toEqual([0, 0.25, 0.5]);
    const top = Math.max(...fit.treeShareSpearman.map((t) => t.spearman));
    expect(fit.treeShare).toBe(fit.treeShareSpearman.filter((t) => t.spearman >= top).pop()?.share);
    expect(fit.treeRounds).toBeGreaterThan(0);
    const z = predictLogits(fit.model, validation.features);
    expect(spearman(z, validation.labels)).toBeCloseTo(top, 4);
    if (fit.treeShare > 0) {
      const members = fit.model.members.items;
      expect(members.length).toBe(3);
      expect(fit.model.config.treeMember).toEqual(members[2].config.trees);
      expect(fit.model.memberWeights()).toEqual([
        (1 - fit.treeShare) / 2,
        (1 - fit.treeShare) / 2,
        fit.treeShare,
      ]);
      const without = predictLogits(fit.withoutTrees, validation.features);
      const trees = predictLogits(members[2], validation.features);
      z.forEach((v, i) =>
        expect(v).toBeCloseTo((1 - fit.treeShare) * without[i] + fit.treeShare * trees[i], 4),
      );
    }
    // The refit grows the kept number of rounds on both splits: a different tree member, same share.
    const refitted = fitViralScoreModel(groupDims, train, validation, {
      ...quick,
      ridgeShares: [0],
      treeShares: [0.5],
    });
    expect(refitted.treeShare).toBe(0.5);
    expect(refitted.model.config.treeMember?.count).toBe(refitted.treeRounds);
    const both = concatRows(train, validation);
    const grown = fitBoostedTrees(both.features, both.labels, validation.features, validation.labels, {
      rounds: refitted.treeRounds,
      earlyStopping: false,
    }).predict(validation.features);
    expect(
      spearman(predictLogits(refitted.model.members.items[2], validation.features), grown),
    ).toBeGreaterThan(0.9999);
  });
});

/** The group of input column `j`. */
function groupOf(groupDims: number[], j: number): number {
  let end = 0;
  for (let g = 0; g < groupDims.length; g++) if (j < (end += groupDims[g])) return g;
  return groupDims.length - 1;
}

describe('the ridge share', () => {
  it('keeps the largest share within one standard error of the best and blends the logits by it', () => {
    const { groupDims, train, validation } = rows(12);
    // No refit: the estimator checked against the validation blend is the one the share was chosen on.
    const fit = fitViralScoreModel(groupDims, train, validation, {
      ...quick,
      ridgeShares: [0, 0.25, 0.5],
      ridgeShareSlack: 1,
      refit: false,
    });
    expect(fit.ridgeShareSpearman.map((t) => t.share)).toEqual([0, 0.25, 0.5]);
    const top = Math.max(...fit.ridgeShareSpearman.map((t) => t.spearman));
    const se = Math.sqrt((1 + (top * top) / 2) / (validation.features.rows - 3));
    const best = fit.ridgeShareSpearman.filter((t) => t.spearman >= top - se).pop();
    expect(fit.ridgeShare).toBe(best?.share);
    // With no slack the best blend is kept.
    const strict = fitViralScoreModel(groupDims, train, validation, {
      ...quick,
      ridgeShares: [0, 0.25, 0.5],
      ridgeShareSlack: 0,
    });
    expect(strict.ridgeShareSpearman).toEqual(fit.ridgeShareSpearman);
    expect(strict.ridgeShare).toBe(fit.ridgeShareSpearman.filter((t) => t.spearman >= top).pop()?.share);
    const members = fit.model.members.items;
    if (fit.ridgeShare === 0) expect(members.length).toBe(2);
    else {
      expect(members.length).toBe(3);
      expect(fit.model.config.memberWeights).toEqual([
        (1 - fit.ridgeShare) / 2,
        (1 - fit.ridgeShare) / 2,
        fit.ridgeShare,
      ]);
    }
    // The estimator's logit is the blend the share was chosen on.
    const z = predictLogits(fit.model, validation.features);
    const parts = members.map((m) => predictLogits(m, validation.features));
    const w = fit.model.memberWeights();
    z.forEach((v, i) =>
      expect(v).toBeCloseTo(
        parts.reduce((s, p, k) => s + w[k] * p[i], 0),
        4,
      ),
    );
    expect(spearman(z, validation.labels)).toBeCloseTo(best?.spearman ?? Number.NaN, 4);
  });

  it('leaves the ridge member out with ridgeShares [0] and refuses shares outside [0, 1)', () => {
    const { groupDims, train, validation } = rows(13);
    const fit = fitViralScoreModel(groupDims, train, validation, { ...quick, members: 1, ridgeShares: [0] });
    expect(fit.ridgeShare).toBe(0);
    expect(fit.model.members.length).toBe(1);
    expect(fit.model.config.memberWeights).toBeUndefined();
    expect(() =>
      fitViralScoreModel(groupDims, train, validation, { ...quick, members: 1, ridgeShares: [1] }),
    ).toThrow(/`ridgeShares` must hold numbers in \[0, 1\), got 1/);
  });

  it('keeps V readable with weighted members: V = sigmoid(bias + sum of contributions), monotone', () => {
    const { groupDims, train, validation } = rows(14);
    const config = { groupDims, ...net };
    const rng = new Random(3);
    const model = new ViralScoreModel({ ...config, members: 2, memberWeights: [0.75, 0.25] }, rng, [
      new ViralScoreNet(config, rng.fork()),
      ridgeMember(config, rng.fork(), train, validation),
    ]);
    model.eval();
    const f = validation.features;
    const out = noGrad(() =>
      model.forward(tensor(f.x, [f.rows, f.width]), tensor(f.present, [f.rows, groupDims.length])),
    );
    for (let i = 0; i < 5; i++) {
      const z = model.mixBias() + [0, 1, 2, 3, 4].reduce((s, k) => s + out.contributions.data[i * 5 + k], 0);
      expect(out.v.data[i]).toBeCloseTo(1 / (1 + Math.exp(-z)), 5);
    }
    expect(model.mixWeights().every((w) => w > 0)).toBe(true);
    expect(() => new ViralScoreModel({ ...config, members: 2, memberWeights: [0.5, 0.6] }, rng)).toThrow(
      /`memberWeights` must be 2 non-negative numbers summing to 1/,
    );
  });
});

describe('the refit on training and validation rows', () => {
  it('keeps the first fit’s choices and learns what only the validation rows show', () => {
    const { groupDims, train, validation, test } = rows(15);
    // Drift: in the newest rows (validation and test) the label follows text_0, which the training rows
    // know nothing of. Only an estimator that has seen the validation rows can rank the test rows by it.
    const drift = (r: typeof validation) => ({
      ...r,
      labels: Float32Array.from({ length: r.features.rows }, (_, i) => {
        const z = 2 * r.features.x[i * r.features.width];
        return 1 / (1 + Math.exp(-z));
      }),
    });
    const [newest, later] = [drift(validation), drift(test)];
    const options = { ...quick, ridgeShares: [0, 0.25, 0.5] };
    const first = fitViralScoreModel(groupDims, train, newest, { ...options, refit: false });
    const refitted = fitViralScoreModel(groupDims, train, newest, { ...options, refit: true });
    expect(first.refitted).toBe(false);
    expect(refitted.refitted).toBe(true);
    // The same first fit: epochs picked, share chosen and validation figures (taken before the refit).
    expect(refitted.bestEpochs).toEqual(first.bestEpochs);
    expect(refitted.ridgeShare).toBe(first.ridgeShare);
    expect(Array.from(refitted.validationPredictions)).toEqual(Array.from(first.validationPredictions));
    // Without a refit they are the served estimator's own V on the validation rows.
    const v = predictLogits(first.model, newest.features).map((z) => 1 / (1 + Math.exp(-z)));
    v.forEach((p, i) => expect(first.validationPredictions[i]).toBeCloseTo(p, 5));
    const rank = (fit: typeof first) => spearman(predictLogits(fit.model, later.features), later.labels);
    expect(rank(refitted)).toBeGreaterThan(rank(first) + 0.1);
  });

  it('joins rows in order', () => {
    const { train, validation } = rows(16);
    const both = concatRows(train, validation);
    const n = train.features.rows;
    expect(both.features.rows).toBe(n + validation.features.rows);
    expect(both.labels[n]).toBe(validation.labels[0]);
    expect(both.features.x[n * both.features.width + 2]).toBe(validation.features.x[2]);
    expect(both.weak.mask.length).toBe(both.features.rows * 5);
  });
});
