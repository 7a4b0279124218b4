import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import {
  GraphSession,
  matmul,
  quantizeModel,
  randn,
  tensor,
  trace,
  type DType,
  type Tensor,
} from '../tensor/index.js';
import { exportGraphs, servingGraph } from './graph.js';
import { ViralScoreModel } from './model.js';

const config = {
  groupDims: [12, 10, 8, 6],
  dModel: 32,
  heads: 4,
  hidden: 64,
  bins: 8,
  linear: true,
  members: 3,
};

function inputs(rows: number, seed: number) {
  const rng = new Random(seed);
  const width = config.groupDims.reduce((s, d) => s + d, 0);
  const g = config.groupDims.length;
  // Standardised values, a few far outside the bins, and some groups absent.
  const x = Float32Array.from({ length: rows * width }, (_, i) => (i % 17 === 0 ? 40 : 2.5 * rng.normal()));
  const present = Float32Array.from({ length: rows * g }, () => (rng.next() < 0.8 ? 1 : 0));
  return () => [tensor(x, [rows, width]), tensor(present, [rows, g])];
}

const maxDiff = (a: readonly Tensor<DType>[], b: readonly Tensor<DType>[]) => {
  let d = 0;
  a.forEach((t, o) =>
    t.data.forEach((v, i) => (d = Math.max(d, Math.abs(Number(v) - Number(b[o].data[i]))))),
  );
  return d;
};

describe('servingGraph', () => {
  it("gives the exported graph's outputs with one matmul per group block and shared member inputs", () => {
    const model = new ViralScoreModel(config, new Random(3));
    const { graph } = exportGraphs(model);
    const { model: served, report } = servingGraph(graph);
    // Each member's encoder: a 288 x 128 block-diagonal weight, four blocks of (dims x 8) x 32.
    expect(report.blockMatMuls).toBe(config.members);
    expect(report.macsBefore).toBe(config.members * 36 * 8 * 128);
    expect(report.macsAfter).toBe(config.members * 36 * 8 * 32);
    expect(report.clips).toBe(config.members);
    // The members' bins start equal, so their encoding inputs are shared.
    expect(report.sharedInitializers).toBeGreaterThan(0);
    const exported = new GraphSession(graph, 1);
    const fast = new GraphSession(served, 1);
    try {
      for (const rows of [1, 7, 64]) {
        const feed = inputs(rows, rows);
        const a = exported.run(feed());
        const b = fast.run(feed());
        expect(b.map((t) => t.shape)).toEqual(a.map((t) => t.shape));
        // Same products; only the order of additions inside the block dot products may differ.
        expect(maxDiff(a, b)).toBeLessThan(1e-5);
      }
    } finally {
      exported.dispose();
      fast.dispose();
    }
  });

  it('keeps int8 V of the rewritten graph within 0.02 of float V', () => {
    const model = new ViralScoreModel(config, new Random(4));
    const { model: served } = servingGraph(exportGraphs(model).graph);
    const q = quantizeModel(served, { bits: 8 });
    // The group blocks are plain initialisers now, so they are quantised with the smaller matrices.
    expect(q.quantizedMatrices).toBeGreaterThanOrEqual(config.members * (config.groupDims.length + 4));
    const float = new GraphSession(served, 1);
    const int8 = new GraphSession(q.model, 1);
    try {
      const feed = inputs(128, 9);
      const [vf] = float.run(feed());
      const [vq] = int8.run(feed());
      vf.data.forEach((v, i) => expect(Math.abs(Number(v) - Number(vq.data[i]))).toBeLessThan(0.02));
    } finally {
      float.dispose();
      int8.dispose();
    }
  });

  it("computes the tree member's trees as one TreeEnsembleRegressor with the same outputs, float and int8", () => {
    const trees = { count: 9, depth: 3 };
    const model = new ViralScoreModel({ ...config, treeMember: trees }, new Random(7));
    const tree = model.members.items.at(-1)!;
    const rng = new Random(8);
    const design = tree.inputWidth + config.groupDims.length;
    const rows = 64;
    const feed = inputs(rows, 10);
    const [x] = feed();
    // Columns over the features and the presence flags; some thresholds equal to a row's value, so that
    // ties (which go right) are exercised.
    tree.treeFeature!.data.forEach((_, i, a) => (a[i] = rng.int(design)));
    tree.treeThreshold!.data.forEach(
      (_, i, a) => (a[i] = i % 3 === 0 ? Number(x.data[rng.int(x.data.length)]) : 2 * rng.normal()),
    );
    tree.treeLeaf!.data.forEach((_, i, a) => (a[i] = rng.normal()));
    const { graph } = exportGraphs(model);
    const { model: served, report } = servingGraph(graph);
    expect(report.treeEnsembles).toBe(1);
    const exported = new GraphSession(graph, 1);
    const fast = new GraphSession(served, 1);
    const int8 = new GraphSession(quantizeModel(served, { bits: 8 }).model, 1);
    try {
      for (const n of [1, rows]) {
        const part = () =>
          feed().map((t) => tensor(t.data.subarray(0, (n * t.data.length) / rows), [n, t.shape[1]]));
        const a = exported.run(part());
        expect(maxDiff(a, fast.run(part()))).toBeLessThan(1e-5);
        const [vq] = int8.run(part());
        a[0].data.forEach((v, i) => expect(Math.abs(Number(v) - Number(vq.data[i]))).toBeLessThan(0.02));
      }
    } finally {
      exported.dispose();
      fast.dispose();
      int8.dispose();
    }
  });

  it('leaves a dense matmul as it is', () => {
    const w = randn([128, 160], new Random(5));
    const x = randn([3, 128], new Random(6));
    const traced = trace((a) => [matmul(a as Tensor, w)], [x], {
      inputNames: ['x'],
      outputNames: ['y'],
      dims: { x: ['rows', 128] },
    });
    const { model: served, report } = servingGraph(traced);
    expect(report.blockMatMuls).toBe(0);
    const before = new GraphSession(traced, 1);
    const after = new GraphSession(served, 1);
    try {
      const feed = [x];
      expect(maxDiff(before.run(feed), after.run(feed))).toBe(0);
    } finally {
      before.dispose();
      after.dispose();
    }
  });
});
