import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { noGrad, randn, tensor } from '../tensor/index.js';
import { subscoreNames, ViralScoreNet } from './model.js';

const config = { groupDims: [4, 3, 2], dModel: 16, heads: 2, hidden: 32, bins: 4, linear: true };

function rows(n: number, seed: number) {
  const rng = new Random(seed);
  return {
    x: randn([n, 9], rng),
    present: tensor(
      Array.from({ length: n * 3 }, (_, i) => (i % 3 === 2 && i % 2 === 0 ? 0 : 1)),
      [n, 3],
    ),
  };
}

describe('ViralScoreNet', () => {
  it('keeps V monotone in every subscore, even when the raw mix weights are negative', () => {
    const net = new ViralScoreNet(config, new Random(1));
    net.mixRaw.data.set([-3, -1, 0, 1, 2]);
    const { x, present } = rows(6, 2);
    noGrad(() => {
      const base = net.forward(x, present);
      for (let k = 0; k < subscoreNames.length; k++) {
        const before = net.headBias.data[k];
        net.headBias.data[k] = before + 2; // raises subscore k on every row, leaves the others
        const raised = net.forward(x, present);
        net.headBias.data[k] = before;
        for (let i = 0; i < 6; i++) {
          expect(raised.subscores.data[i * 5 + k]).toBeGreaterThan(base.subscores.data[i * 5 + k]);
          expect(raised.v.data[i]).toBeGreaterThanOrEqual(base.v.data[i]);
        }
      }
    });
    expect(net.mixWeights().every((w) => w > 0)).toBe(true);
  });

  it('reads V off the contributions: V = sigmoid(bias + sum of contributions)', () => {
    const net = new ViralScoreNet(config, new Random(3));
    const { x, present } = rows(4, 4);
    const out = noGrad(() => net.forward(x, present));
    for (let i = 0; i < 4; i++) {
      const z =
        net.mixBias.data[0] + [0, 1, 2, 3, 4].reduce((s, k) => s + out.contributions.data[i * 5 + k], 0);
      expect(out.v.data[i]).toBeCloseTo(1 / (1 + Math.exp(-z)), 5);
    }
  });

  it('ignores the values of an absent group: a missing modality moves no output', () => {
    const net = new ViralScoreNet(config, new Random(5));
    const { x, present } = rows(5, 6);
    present.data.fill(1);
    for (let i = 0; i < 5; i++) present.data[i * 3 + 2] = 0; // the third group (2 features) is absent
    // A trained linear path is non-zero: it must not read the absent group either.
    net.linearWeight?.data.forEach((_, i, w) => (w[i] = Math.sin(i + 1)));
    const changed = tensor(Float32Array.from(x.data), x.shape);
    for (let i = 0; i < 5; i++) changed.data.set([100, -50], i * 9 + 7);
    const [a, b] = noGrad(() => [net.forward(x, present), net.forward(changed, present)]);
    expect(b.v.toArray()).toEqual(a.v.toArray());
    expect(b.subscores.toArray()).toEqual(a.subscores.toArray());
  });

  it('scores each row on its own, whatever else is in the batch', () => {
    const net = new ViralScoreNet(config, new Random(7));
    const { x, present } = rows(4, 8);
    const all = noGrad(() => net.forward(x, present).v.toArray());
    const first = noGrad(() =>
      net.forward(tensor(x.data.slice(0, 9), [1, 9]), tensor(present.data.slice(0, 3), [1, 3])).v.toArray(),
    );
    expect(first[0]).toBeCloseTo(all[0], 6);
  });

  it('refuses inputs of the wrong width and bad configs', () => {
    const net = new ViralScoreNet(config, new Random(1));
    expect(() => net.forward(tensor(new Float32Array(8), [1, 8]), tensor([1, 1, 1], [1, 3]))).toThrow(
      /\[rows, 9\]/,
    );
    expect(() => new ViralScoreNet({ ...config, dModel: 10, heads: 4 }, new Random(1))).toThrow(
      /multiple of `heads`/,
    );
    expect(() => new ViralScoreNet({ ...config, groupDims: [] }, new Random(1))).toThrow(/groupDims/);
  });
});
