import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSamples } from './data.js';
import { layerGroups } from './gspf.js';
import { evaluateLm } from './loss.js';
import { LmModel } from './model.js';
import { KneserNeyTrigram } from './ngram.js';
import { sampleScripts } from './sampling.js';
import { trainTokenizer } from './tokenizer.js';
import { trainLm } from './train.js';

const texts = [
  'Wait for the end 😱 #fyp',
  'POV: you tried the viral pasta 🍝',
  'Day 3 of learning the dance 💃',
  'How to save money fast. Link in bio',
];
const tokenizer = trainTokenizer(texts, { vocabSize: 300 });
const tiny = {
  vocabSize: tokenizer.vocabSize,
  dModel: 16,
  nLayers: 2,
  nHeads: 2,
  contextLength: 32,
  styleCount: 2,
};
const samples = encodeSamples(
  tokenizer,
  texts.map((text, i) => ({ text, style: i % 2, viralScore: i / 4 })),
  tiny.contextLength,
);
const dir = mkdtempSync(join(tmpdir(), 'tkllm-lm-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trainLm', () => {
  it('overfits a tiny corpus: perplexity falls near 1 and greedy decoding recites a caption', () => {
    const model = new LmModel(tiny, { seed: 1 });
    const before = evaluateLm(model, samples).perplexity;
    const result = trainLm(model, samples, { steps: 150, batchSize: 4, lr: 1e-2, warmupSteps: 5 });
    const after = evaluateLm(model, samples).perplexity;
    expect(before).toBeGreaterThan(100);
    expect(after).toBeLessThan(1.5);
    expect(result.history.at(-1)!.loss).toBeLessThan(0.4);
    const { candidates } = sampleScripts(model, tokenizer, { prompt: 'POV:', temperature: 0, style: 1 });
    expect(candidates[0].text).toBe(' you tried the viral pasta 🍝');
    expect(candidates[0].finishReason).toBe('end');
    expect(candidates[0].logProbs.every((p) => p <= 0)).toBe(true);
  });

  it('trains the virality head with the auxiliary loss when mu > 0', () => {
    const model = new LmModel({ ...tiny, viralityHead: true }, { seed: 1 });
    const result = trainLm(model, samples, { steps: 60, batchSize: 4, lr: 1e-2, mu: 1 });
    const first = result.history[0].viralityMse!;
    const last = result.history.at(-1)!.viralityMse!;
    expect(last).toBeLessThan(first);
  });

  it('resumes from the latest checkpoint at the same step, with the same weights as an unbroken run', () => {
    const options = { steps: 8, batchSize: 2, lr: 5e-3, checkpointEvery: 2, seed: 4 };
    const unbroken = new LmModel(tiny, { seed: 2 });
    trainLm(unbroken, samples, options);

    const checkpointDir = join(dir, 'resume');
    const first = new LmModel(tiny, { seed: 2 });
    const stopped = trainLm(first, samples, { ...options, checkpointDir, onStep: (log) => log.step === 5 });
    expect(stopped.stopped).toBe(true);
    expect(existsSync(join(checkpointDir, 'latest.json'))).toBe(true);

    // A fresh process would build a fresh model: the checkpoint restores weights and moments.
    const second = new LmModel(tiny, { seed: 99 });
    const resumed = trainLm(second, samples, { ...options, checkpointDir });
    expect(resumed.resumedFrom).toBe(5);
    expect(resumed.history[0].step).toBe(6);
    expect(resumed.step).toBe(8);
    const a = unbroken.parameters();
    const b = second.parameters();
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i].data)).toEqual(Array.from(a[i].data));
  });

  it('keeps the exact weights of the layers GSPF freezes and gives them no optimiser state', () => {
    const model = new LmModel(tiny, { seed: 5 });
    const groups = layerGroups(model);
    const before = new Map(model.parameters().map((p) => [p, Float32Array.from(p.data)]));
    const result = trainLm(model, samples, { steps: 6, batchSize: 2, gspf: { topK: 1, probeBatches: 1 } });
    const selected = result.selections[0].selected;
    expect(selected).toHaveLength(1);
    expect(result.selections[0].scores.map((s) => s.name)).toEqual(groups.map((g) => g.name));
    for (const group of groups) {
      const changed = group.params.some((p) => p.data.some((x, i) => x !== before.get(p)![i]));
      expect(changed).toBe(selected.includes(group.name));
      if (!selected.includes(group.name)) for (const p of group.params) expect(p.grad).toBeNull();
    }
  });
});

describe('KneserNeyTrigram', () => {
  it('gives a proper distribution over the vocabulary in seen and unseen contexts', () => {
    const kn = KneserNeyTrigram.fit(
      [
        [1, 2, 3, 2, 3, 4],
        [1, 2, 4],
      ],
      6,
    );
    for (const [u, v] of [
      [-1, 1],
      [1, 2],
      [5, 5],
    ]) {
      let total = 0;
      for (let w = 0; w < 6; w++) total += kn.probability(u, v, w);
      expect(total).toBeCloseTo(1, 10);
    }
    expect(kn.probability(1, 2, 3)).toBeGreaterThan(kn.probability(1, 2, 0));
  });
});
