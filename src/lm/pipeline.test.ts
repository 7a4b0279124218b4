import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BYTE_VOCAB_SIZE,
  DEFAULT_EPOCHS,
  DEFAULT_LM_CONFIG,
  DEFAULT_TOKEN_BUDGET,
  DROPOUT_ABOVE_EPOCHS,
  MANY_PASSES_BELOW_BYTES,
  SMALL_CORPUS_CONFIG,
  TINY_CORPUS_CONFIG,
  corpusDefaults,
  trainCaptionLm,
  trainingDefaults,
} from './pipeline.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-lm-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the corpus rule', () => {
  it('picks bytes with the tiny model for corpora seen many times, the small model under 2 MB, BPE above', () => {
    expect(corpusDefaults(['a caption'])).toEqual({ vocabSize: BYTE_VOCAB_SIZE, ...TINY_CORPUS_CONFIG });
    expect(corpusDefaults(['x'.repeat(MANY_PASSES_BELOW_BYTES - 1)])).toEqual({
      vocabSize: BYTE_VOCAB_SIZE,
      ...TINY_CORPUS_CONFIG,
    });
    expect(corpusDefaults(['x'.repeat(MANY_PASSES_BELOW_BYTES)])).toEqual({
      vocabSize: BYTE_VOCAB_SIZE,
      ...SMALL_CORPUS_CONFIG,
    });
    expect(corpusDefaults(['x'.repeat(2_000_000)])).toEqual({ ...DEFAULT_LM_CONFIG });
    // The tiny model's threshold is where the budget starts to make more than DROPOUT_ABOVE_EPOCHS passes.
    expect(MANY_PASSES_BELOW_BYTES).toBe(DEFAULT_TOKEN_BUDGET / DROPOUT_ABOVE_EPOCHS);
    expect(trainingDefaults(MANY_PASSES_BELOW_BYTES - 1000, 1000, 24).dropout).toBe(0.2);
    expect(trainingDefaults(MANY_PASSES_BELOW_BYTES + 1000, 1000, 64).dropout).toBe(0);
  });

  it('plans DEFAULT_EPOCHS passes capped at DEFAULT_TOKEN_BUDGET tokens, dropout only for many passes', () => {
    // A small corpus (the bundled sample's size): 30 passes, far under the token cap, with dropout.
    const small = trainingDefaults(17_800, 361, 64);
    expect(small.batchSize).toBe(16);
    expect(small.steps).toBe(Math.ceil((DEFAULT_EPOCHS * 17_800) / (16 * (17_800 / 361))));
    expect(small.epochs).toBeCloseTo(DEFAULT_EPOCHS, 0);
    expect(small.dropout).toBe(0.2);
    // A larger one (tiktok_en_2025's size): the token cap decides, about eight passes, no dropout.
    const large = trainingDefaults(449_612, 5_788, 64);
    const tokens = large.steps * large.batchSize * (449_612 / 5_788);
    expect(tokens).toBeGreaterThanOrEqual(DEFAULT_TOKEN_BUDGET);
    expect(tokens).toBeLessThan(DEFAULT_TOKEN_BUDGET + 16 * 80);
    expect(large.epochs).toBeGreaterThan(7.5);
    expect(large.epochs).toBeLessThan(8);
    expect(large.dropout).toBe(0);
    expect(large.lr).toBeGreaterThan(trainingDefaults(449_612, 5_788, 128).lr);
    // Never fewer than 100 steps.
    expect(trainingDefaults(50, 10, 64).steps).toBe(100);
  });

  it('trainCaptionLm reports the plan it ran: given options win, the rest come from the rule', () => {
    const records = Array.from({ length: 12 }, (_, i) => ({
      text: `caption number ${i} #fyp`,
      creator: `c${i % 2}`,
      time: i,
    }));
    const result = trainCaptionLm(records, {
      modelDir: join(dir, 'lm'),
      config: { dModel: 16, nLayers: 1, nHeads: 2, contextLength: 32 },
      steps: 2,
      batchSize: 4,
    });
    expect(result.training.step).toBe(2);
    // 2 × 4 samples are under one pass: no dropout.
    expect(result.plan).toMatchObject({ steps: 2, batchSize: 4, lr: 5e-3, weightDecay: 0.1, dropout: 0 });
    expect(result.plan.epochs).toBeCloseTo(8 / result.trainCaptions, 10);
    expect(result.config.dropout).toBe(0);
    const many = trainCaptionLm(records, {
      modelDir: join(dir, 'lm2'),
      config: { dModel: 16, nLayers: 1, nHeads: 2, contextLength: 32 },
      steps: 30,
      batchSize: 4,
    });
    expect(many.plan.epochs).toBeGreaterThan(10);
    expect(many.config.dropout).toBe(0.2);
    expect(result.config.vocabSize).toBe(BYTE_VOCAB_SIZE);
  });
});
