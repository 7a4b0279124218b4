import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { ConfigError, Random } from '../../core/index.js';
import { Tensor, crossEntropy, mean, noGrad } from '../../tensor/index.js';
import { gradientCheck } from '../testing.js';
import { AdamW, Gpt, loadModel, loadSafetensors, saveModel } from '../index.js';
import type { GptConfig } from '../index.js';

const tiny: GptConfig = { vocabSize: 11, dModel: 8, nLayers: 2, nHeads: 2, contextLength: 6 };

function tokens(values: number[], batch: number): Tensor<'int32'> {
  return new Tensor(Int32Array.from(values), [batch, values.length / batch], 'int32');
}

/** Mean next-token cross-entropy of `seq` [B, T+1]. */
function lmLoss(model: Gpt, seq: number[][]): Tensor {
  const x = seq.flatMap((row) => row.slice(0, -1));
  const y = seq.flatMap((row) => row.slice(1));
  return mean(
    crossEntropy(model.logits2d(tokens(x, seq.length)), new Tensor(Int32Array.from(y), [y.length], 'int32')),
  );
}

describe('Gpt', () => {
  it('has the parameter count and names of the PyTorch reference', () => {
    // bench/engine_pytorch.py prints "parameters": 2578560 for this configuration (torch 1.13).
    const model = new Gpt({ vocabSize: 2048, dModel: 192, nLayers: 4, nHeads: 4, contextLength: 64 });
    expect(model.parameterCount()).toBe(2578560);
    const names = model.namedParameters().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual([
      'tok.weight',
      'pos.weight',
      'blocks.0.ln1.weight',
      'blocks.0.ln1.bias',
    ]);
    expect(names).toContain('blocks.3.attn.qkv.weight');
    expect(names).toContain('blocks.3.mlp.out.bias');
    expect(names.slice(-3)).toEqual(['lnF.weight', 'lnF.bias', 'head.weight']);
  });

  it('starts with weights of std 0.02, zero biases, and the same weights for the same seed', () => {
    const a = new Gpt({ ...tiny, dModel: 64, vocabSize: 500 }, { seed: 3 });
    const w = a.tok.weight.data;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(a.blocks.items[0].attn.inProj.bias!.data.every((v) => v === 0)).toBe(true);
    const b = new Gpt({ ...tiny, dModel: 64, vocabSize: 500 }, { seed: 3 });
    expect(b.stateDict()).toEqual(a.stateDict());
    const c = new Gpt({ ...tiny, dModel: 64, vocabSize: 500 }, { seed: 4 });
    expect(c.tok.weight.data).not.toEqual(a.tok.weight.data);
  });

  it('back-propagates correct gradients end to end', () => {
    const model = new Gpt(tiny, { seed: 1 });
    // Larger weights than the 0.02 start, so that every gradient stands above float32 noise.
    for (const p of model.parameters())
      if (p.shape.length > 1) p.data.forEach((v, i) => (p.data[i] = v * 15));
    const x = tokens([1, 4, 2, 9, 3, 3], 2);
    const targets = Object.fromEntries(model.namedParameters());
    const { mismatches, checked } = gradientCheck(() => model.forward(x), targets, { samples: 4 });
    expect(checked).toBeGreaterThan(60);
    expect(mismatches).toEqual([]);
  });

  it('refuses bad configs and sequences longer than its context', () => {
    expect(() => new Gpt({ ...tiny, nHeads: 3 })).toThrow(ConfigError);
    expect(() => new Gpt({ ...tiny, vocabSize: 0 })).toThrow(
      'GPT config `vocabSize` must be a positive integer, got 0',
    );
    expect(() => new Gpt({ ...tiny, dropout: 1 })).toThrow(/`dropout` must be in \[0, 1\)/);
    const model = new Gpt(tiny);
    expect(() => model.forward(tokens([1, 2, 3, 4, 5, 6, 7], 1))).toThrow('sequence length 7 exceeds');
  });

  it('overfits a tiny token sequence', () => {
    const model = new Gpt({ ...tiny, dModel: 16, contextLength: 8 }, { seed: 2 });
    const seq = [
      [1, 5, 2, 7, 3, 9, 4, 10, 6],
      [8, 3, 9, 1, 5, 2, 7, 4, 10],
    ];
    const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    let first = 0;
    let last = 0;
    for (let step = 0; step < 120; step++) {
      const loss = lmLoss(model, seq);
      if (step === 0) first = loss.item();
      last = loss.item();
      loss.backward();
      opt.step();
      opt.zeroGrad();
    }
    // ln(11) = 2.40 at the start; memorising 16 next tokens takes the loss near zero.
    expect(first).toBeGreaterThan(2.2);
    expect(last).toBeLessThan(0.1);
  });

  it('keeps frozen parameters exact and gives them no gradient and no optimiser state', () => {
    const model = new Gpt(tiny, { seed: 5 });
    model.blocks.items[0].freeze();
    model.tok.freeze();
    const frozen = [...model.blocks.items[0].parameters(), model.tok.weight];
    const before = frozen.map((p) => Float32Array.from(p.data));
    expect(model.parameterCount({ trainableOnly: true })).toBe(
      model.parameterCount() - frozen.reduce((n, p) => n + p.size, 0),
    );
    const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 });
    for (let step = 0; step < 3; step++) {
      const loss = lmLoss(model, [[1, 2, 3, 4, 5, 6, 7]]);
      loss.backward();
      for (const p of frozen) expect(p.grad).toBeNull();
      opt.step();
      opt.zeroGrad();
    }
    frozen.forEach((p, i) => expect(p.data).toEqual(before[i]));
    for (const p of frozen) expect(opt.stateOf(p)).toBeUndefined();
    expect(opt.stateCount).toBe(model.trainableParameters().length);
    model.unfreeze();
    expect(model.parameterCount({ trainableOnly: true })).toBe(model.parameterCount());
  });

  it('saves and loads a model that gives identical outputs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-gpt-'));
    const model = new Gpt({ ...tiny, dropout: 0.1 }, { seed: 6 });
    const opt = new AdamW(model.parameters(), { lr: 1e-2 });
    lmLoss(model, [[1, 2, 3, 4, 5, 6, 7]]).backward();
    opt.step();
    saveModel(dir, model);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as unknown;
    expect(config).toEqual({ architecture: 'gpt', ...tiny, dropout: 0.1 });
    expect(JSON.parse(loadSafetensors(join(dir, 'model.safetensors')).metadata.config)).toEqual(config);

    const loaded = loadModel(dir);
    expect(loaded.config).toEqual(model.config);
    model.eval();
    loaded.eval();
    const x = tokens([3, 1, 4, 1, 5, 9, 2, 6], 2);
    const [a, b] = noGrad(() => [model.forward(x).toArray(), loaded.forward(x).toArray()]);
    expect(b).toEqual(a);
  });

  it('refuses weights that do not fit, naming the file and the tensor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-gpt-bad-'));
    saveModel(dir, new Gpt(tiny));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'gpt', ...tiny, dModel: 12 }));
    expect(() => loadModel(dir)).toThrow(
      /model\.safetensors does not fit the model: .*"tok\.weight" has shape \[11, 8\]/,
    );
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'mlp' }));
    expect(() => loadModel(dir)).toThrow(/holds a "mlp" model, expected "gpt"/);
    const model = new Gpt(tiny);
    const state = model.stateDict();
    delete state['head.weight'];
    expect(() => model.loadStateDict(state)).toThrow('weights lack parameters: head.weight');
  });

  it('keeps memory flat across many training steps', () => {
    // Expose the collector inside this process so that the measure is of live memory, not garbage.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const model = new Gpt(
      { vocabSize: 64, dModel: 32, nLayers: 2, nHeads: 2, contextLength: 16 },
      { seed: 7 },
    );
    const opt = new AdamW(model.parameters(), { lr: 1e-3 });
    const rng = new Random(1);
    const seq = Array.from({ length: 8 }, () => Array.from({ length: 17 }, () => rng.int(64)));
    const step = (): void => {
      const loss = lmLoss(model, seq);
      loss.backward();
      opt.step();
      opt.zeroGrad();
    };
    const rssAfter = (steps: number): number => {
      for (let i = 0; i < steps; i++) step();
      gc();
      return process.memoryUsage().rss;
    };
    // Measured here: resident memory rises over the first ~300 steps while the allocators warm up, then
    // stays level (154, 170, 169, 164 MB after 40, 340, 640, 940 steps). Keeping each step's logits and
    // gradients alive adds about 90 MB per 300 steps, which this bound catches.
    const warm = rssAfter(300);
    const after = rssAfter(300);
    expect((after - warm) / 2 ** 20).toBeLessThan(20);
  });
});
