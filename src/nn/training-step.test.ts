import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/index.js';
import { Tensor, crossEntropy, mean } from '../tensor/index.js';
import { AdamW, Gpt, TrainingStep } from './index.js';
import type { GptConfig } from './index.js';

const tiny: GptConfig = { vocabSize: 11, dModel: 8, nLayers: 2, nHeads: 2, contextLength: 6 };

function batch(b: number, t: number, seed: number): { x: Tensor<'int32'>; y: Tensor<'int32'> } {
  const x = Int32Array.from({ length: b * t }, (_, i) => (i * 7 + seed) % 11);
  const y = Int32Array.from({ length: b * t }, (_, i) => (i * 5 + seed * 3 + 1) % 11);
  return { x: new Tensor(x, [b, t], 'int32'), y: new Tensor(y, [b * t], 'int32') };
}

describe('TrainingStep', () => {
  it('gives the loss and gradients of eager backward, at each traced shape', () => {
    const model = new Gpt(tiny, { seed: 3 });
    const params = model.parameters();
    const lossFn = (x: Tensor<'int32'>, y: Tensor<'int32'>): Tensor =>
      mean(crossEntropy(model.logits2d(x), y));
    const step = new TrainingStep(params, lossFn);
    for (const [b, t, seed] of [
      [2, 6, 1],
      [2, 6, 2],
      [3, 4, 5],
    ]) {
      const { x, y } = batch(b, t, seed);
      const eagerLoss = lossFn(x, y);
      eagerLoss.backward();
      const eager = params.map((p) => p.grad!.data.slice());
      for (const p of params) p.zeroGrad();
      const loss = step.run(x, y);
      expect(loss).toBeCloseTo(eagerLoss.item(), 5);
      params.forEach((p, i) => {
        expect(p.grad).not.toBeNull();
        const g = p.grad!.data;
        for (let j = 0; j < g.length; j++) expect(g[j]).toBeCloseTo(eager[i][j], 5);
      });
      // A second run without zeroGrad adds, as backward() does.
      step.run(x, y);
      params.forEach((p, i) => expect(p.grad!.data[0]).toBeCloseTo(2 * eager[i][0], 5));
      for (const p of params) p.zeroGrad();
    }
    step.dispose();
  });

  it('leaves frozen parameters without a gradient', () => {
    const model = new Gpt(tiny, { seed: 4 });
    model.tok.weight.freeze();
    const step = new TrainingStep(model.parameters(), (x: Tensor<'int32'>, y: Tensor<'int32'>) =>
      mean(crossEntropy(model.logits2d(x), y)),
    );
    const { x, y } = batch(2, 5, 1);
    step.run(x, y);
    expect(model.tok.weight.grad).toBeNull();
    expect(model.pos.weight.grad).not.toBeNull();
    step.dispose();
  });

  it('refuses a loss that uses a parameter missing from the list', () => {
    const model = new Gpt(tiny, { seed: 7 });
    const step = new TrainingStep(
      model.parameters().filter((p) => p !== model.head.weight),
      (x: Tensor<'int32'>, y: Tensor<'int32'>) => mean(crossEntropy(model.logits2d(x), y)),
    );
    const { x, y } = batch(2, 5, 1);
    expect(() => step.run(x, y)).toThrow(/not in the parameter list/);
  });

  it('refuses to trace dropout, whose mask would be frozen', () => {
    const model = new Gpt({ ...tiny, dropout: 0.1 }, { seed: 5 });
    const step = new TrainingStep(model.parameters(), (x: Tensor<'int32'>, y: Tensor<'int32'>) =>
      mean(crossEntropy(model.logits2d(x), y)),
    );
    const { x, y } = batch(2, 5, 1);
    expect(() => step.run(x, y)).toThrow(ValidationError);
  });

  it('keeps memory flat over many steps', () => {
    const model = new Gpt(
      { vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 2, contextLength: 16 },
      { seed: 6 },
    );
    const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
    const step = new TrainingStep(model.parameters(), (x: Tensor<'int32'>, y: Tensor<'int32'>) =>
      mean(crossEntropy(model.logits2d(x), y)),
    );
    const x = new Tensor(
      Int32Array.from({ length: 8 * 16 }, (_, i) => (i * 13) % 256),
      [8, 16],
      'int32',
    );
    const y = new Tensor(
      Int32Array.from({ length: 8 * 16 }, (_, i) => (i * 7 + 1) % 256),
      [8 * 16],
      'int32',
    );
    const run = (): number => {
      const loss = step.run(x, y);
      optimizer.step();
      optimizer.zeroGrad();
      return loss;
    };
    const first = run();
    for (let i = 0; i < 30; i++) run();
    global.gc?.();
    const before = process.memoryUsage().rss;
    let last = first;
    for (let i = 0; i < 500; i++) last = run();
    global.gc?.();
    // Each step hands out fresh gradient arrays and reuses the session's arena: a leak of the arrays
    // alone would add `leakMb` over the measured steps, far above the allocator's own noise (tens of MB).
    const parameters = model.parameters().reduce((n, p) => n + p.size, 0);
    const leakMb = (parameters * 4 * 500) / 2 ** 20;
    expect(leakMb).toBeGreaterThan(200);
    expect((process.memoryUsage().rss - before) / 2 ** 20).toBeLessThan(leakMb / 4);
    expect(last).toBeLessThan(first);
    step.dispose();
  });
});
