import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import type { Tensor } from './index.js';
import {
  add,
  crossEntropy,
  gelu,
  layerNorm,
  matmul,
  mean,
  noGrad,
  parameter,
  randn,
  tensor,
} from './index.js';

describe('memory', () => {
  it('stays flat across many training steps', () => {
    const rng = new Random(2);
    const w1 = randn([256, 512], rng, 0.05).asParameter();
    const w2 = randn([512, 256], rng, 0.05).asParameter();
    const gamma = parameter(new Float32Array(512).fill(1), [512]);
    const beta = parameter(new Float32Array(512), [512]);
    const x = randn([128, 256], rng);
    const targets = tensor(
      Int32Array.from({ length: 128 }, (_, i) => i % 256),
      [128],
      'int32',
    );
    const params = [w1, w2, gamma, beta];
    const step = (): void => {
      for (const p of params) p.zeroGrad();
      const h = gelu(layerNorm(matmul(x, w1), gamma, beta));
      const loss: Tensor = mean(crossEntropy(add(matmul(h, w2), 0), targets));
      loss.backward();
      noGrad(() => {
        for (const p of params) for (let i = 0; i < p.size; i++) p.data[i] -= 0.01 * p.grad!.data[i];
      });
    };
    // Each step allocates about 3 MB of activations and gradients: a leak of them, of sessions or of
    // onnxruntime's arena would add hundreds of MB over the measured steps.
    for (let i = 0; i < 30; i++) step();
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 150; i++) step();
    global.gc?.();
    const growthMb = (process.memoryUsage().rss - before) / 2 ** 20;
    expect(growthMb).toBeLessThan(64);
  });
});
