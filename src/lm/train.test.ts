import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { profileKernels } from '../tensor/index.js';
import { Random } from '../core/index.js';
import { encodeSamples, epochBatches, makeBatch } from './data.js';
import { applyLayerSelection, layerGroups, probeLayers } from './gspf.js';
import { batchLoss, evaluateLm } from './loss.js';
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
/** With direct connections, so that their table is checkpointed, restored and frozen with the rest. */
const tinyDirect = { ...tiny, directOrder: 3, directBuckets: 64 };
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
    const unbroken = new LmModel(tinyDirect, { seed: 2 });
    trainLm(unbroken, samples, options);

    const checkpointDir = join(dir, 'resume');
    const first = new LmModel(tinyDirect, { seed: 2 });
    const stopped = trainLm(first, samples, { ...options, checkpointDir, onStep: (log) => log.step === 5 });
    expect(stopped.stopped).toBe(true);
    expect(existsSync(join(checkpointDir, 'latest.json'))).toBe(true);

    // A fresh process would build a fresh model: the checkpoint restores weights and moments.
    const second = new LmModel(tinyDirect, { seed: 99 });
    const resumed = trainLm(second, samples, { ...options, checkpointDir });
    expect(resumed.resumedFrom).toBe(5);
    expect(resumed.history[0].step).toBe(6);
    expect(resumed.step).toBe(8);
    const a = unbroken.parameters();
    const b = second.parameters();
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i].data)).toEqual(Array.from(a[i].data));
  });

  it('keeps the exact weights of the layers GSPF freezes and gives them no gradient and no optimiser state', () => {
    const model = new LmModel(tinyDirect, { seed: 5 });
    const groups = layerGroups(model);
    const before = new Map(model.parameters().map((p) => [p, Float32Array.from(p.data)]));
    const seen = new Set<string>();
    const result = trainLm(model, samples, {
      steps: 6,
      batchSize: 2,
      gspf: { topK: 1, probeBatches: 1 },
      onStep: () => {
        for (const g of groups) if (g.params.some((p) => p.grad !== null)) seen.add(g.name);
      },
    });
    const selected = result.selections[0].selected;
    expect(selected).toHaveLength(1);
    // The embeddings are no candidates by default: the probe leaves them frozen and does not score them.
    expect(result.selections[0].scores.map((s) => s.name)).toEqual(
      groups.filter((g) => g.name !== 'embed').map((g) => g.name),
    );
    expect(seen.size).toBe(0);
    let selectedValues = 0;
    for (const group of groups) {
      const changed = group.params.some((p) => p.data.some((x, i) => x !== before.get(p)![i]));
      expect(changed).toBe(selected.includes(group.name));
      if (selected.includes(group.name)) selectedValues += group.params.reduce((n, p) => n + p.size, 0);
      else for (const p of group.params) expect(p.grad).toBeNull();
    }
    expect(result.optimizerStateValues).toBe(2 * selectedValues);
  });

  it('takes the probe gradient of its own batch: the first GSPF step equals an ordinary step on the selected layers', () => {
    const options = { steps: 1, batchSize: 2, lr: 1e-2, warmupSteps: 0, seed: 3 };
    const probed = new LmModel(tiny, { seed: 7 });
    const result = trainLm(probed, samples, { ...options, gspf: { topK: 2, probeBatches: 2 } });
    expect(result.history[0].loss).toBeGreaterThan(0);
    const plain = new LmModel(tiny, { seed: 7 });
    applyLayerSelection(plain, result.selections[0].selected);
    const reference = trainLm(plain, samples, options);
    expect(result.history[0].loss).toBe(reference.history[0].loss);
    const a = probed.parameters();
    const b = plain.parameters();
    for (let i = 0; i < a.length; i++) expect(Array.from(a[i].data)).toEqual(Array.from(b[i].data));

    // With one probe batch the probe is the step: the run executes no kernel beyond the probe's.
    const kernels = (fn: () => unknown) => profileKernels(fn).reduce((n, k) => n + k.calls, 0);
    const first = makeBatch(epochBatches(samples, 2, new Random(3 * 1_000_003))[0].map((i) => samples[i]));
    const probeOnly = kernels(() => probeLayers(new LmModel(tiny, { seed: 7 }), [first], 0));
    const run = kernels(() =>
      trainLm(new LmModel(tiny, { seed: 7 }), samples, { ...options, gspf: { topK: 2, probeBatches: 1 } }),
    );
    expect(run).toBe(probeOnly);
  });

  it('runs backward only down to the lowest trainable layer', () => {
    const model = new LmModel({ ...tiny, nLayers: 3 }, { seed: 1 });
    const batch = makeBatch(samples.slice(0, 2));
    const backwardKernels = (selected: string[]) => {
      applyLayerSelection(model, selected);
      const { loss } = batchLoss(model, batch, 0);
      const n = profileKernels(() => loss.backward()).reduce((sum, k) => sum + k.calls, 0);
      for (const p of model.parameters()) p.zeroGrad();
      return n;
    };
    const all = backwardKernels(layerGroups(model).map((g) => g.name));
    const lowest = backwardKernels(['head', 'block.0']);
    const top = backwardKernels(['head', 'block.2']);
    const head = backwardKernels(['head']);
    expect(head).toBeLessThan(top);
    expect(top).toBeLessThan(lowest);
    expect(lowest).toBeLessThan(all);
    // With block 0 trainable backward crosses three blocks; with block 2 only one.
    expect(lowest - head).toBeGreaterThan(2 * (top - head));
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
