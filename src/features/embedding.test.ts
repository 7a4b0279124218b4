import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import {
  extractFeatures,
  fitPpmi,
  loadFeatureMatrix,
  OnnxTextEncoder,
  openFeatureContext,
  PpmiTextEncoder,
} from './index.js';
import { ingestPosts } from './testing.js';

const { onnx } = onnxProto;

const corpus = [
  ...Array.from({ length: 20 }, (_, i) => `the cat will meow and purr on the sofa ${i % 3 ? 'softly' : ''}`),
  ...Array.from({ length: 20 }, (_, i) => `the dog will bark and woof at the door ${i % 3 ? 'loudly' : ''}`),
];

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/** A word-level embedding table as an ONNX graph: ids [batch, seq] -> Gather -> [batch, seq, 3]. */
function tinyEncoder(dir: string): { modelPath: string; vocabPath: string; table: number[][] } {
  const table = [
    [0, 0, 0], // [PAD]
    [1, 1, 1], // [UNK]
    [1, 0, 0], // cat
    [0, 1, 0], // dog
    [0, 0, 2], // fish
  ];
  const graph = onnx.GraphProto.create({
    name: 'tiny-encoder',
    node: [onnx.NodeProto.create({ opType: 'Gather', input: ['table', 'input_ids'], output: ['tokens'] })],
    initializer: [
      onnx.TensorProto.create({
        name: 'table',
        dims: [5, 3],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: table.flat(),
      }),
    ],
    input: [
      onnx.ValueInfoProto.create({
        name: 'input_ids',
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.INT64,
            shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }] },
          },
        },
      }),
    ],
    output: [
      onnx.ValueInfoProto.create({
        name: 'tokens',
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.FLOAT,
            shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }, { dimValue: 3 }] },
          },
        },
      }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tkllm-test',
    opsetImport: [{ version: 17 }],
    graph,
  });
  const modelPath = join(dir, 'encoder.onnx');
  const vocabPath = join(dir, 'vocab.txt');
  writeFileSync(modelPath, onnx.ModelProto.encode(model).finish());
  writeFileSync(vocabPath, ['[PAD]', '[UNK]', 'cat', 'dog', 'fish'].join('\n'));
  return { modelPath, vocabPath, table };
}

describe('PPMI + SVD encoder', () => {
  it('puts words that share contexts closer than words that do not', async () => {
    const model = fitPpmi(corpus, { dimensions: 4, minCount: 2 });
    expect(model).toBeDefined();
    const encoder = new PpmiTextEncoder(model!);
    const [cat, purr, bark] = await encoder.encode(['cat', 'purr', 'bark']);
    expect(dot(cat, purr)).toBeGreaterThan(dot(cat, bark));
    expect(Math.hypot(...cat)).toBeCloseTo(1, 5);
  });

  it('fits the same encoder from the same corpus and seed', () => {
    const a = new PpmiTextEncoder(fitPpmi(corpus, { dimensions: 4 })!);
    const b = new PpmiTextEncoder(fitPpmi(corpus, { dimensions: 4 })!);
    expect(a.id).toBe(b.id);
    expect(new PpmiTextEncoder(fitPpmi(corpus, { dimensions: 4, seed: 8 })!).id).not.toBe(a.id);
  });

  it('has nothing to fit on a corpus without repeated words', () => {
    expect(fitPpmi(['one two three'])).toBeUndefined();
  });
});

describe('embedding group', () => {
  let t: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    t = await tempLake();
    await ingestPosts(
      t.lake,
      t.write,
      'posts.csv',
      corpus.map((text, i) => ({
        id: String(i),
        user: `u${i % 4}`,
        text,
        at: `2025-03-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
      })),
      '2025-04-01T00:00:00Z',
    );
  });
  afterEach(() => t.cleanup());

  it('fits and stores the lake encoder once, and drafts use the stored one', async () => {
    const first = await extractFeatures(t.lake, { ppmi: { dimensions: 8 } });
    expect(first.encoderId).toMatch(/^ppmi-svd:/);
    expect(first.present.embedding).toBe(40);
    const second = await extractFeatures(t.lake, { ppmi: { dimensions: 8 } });
    expect(second).toMatchObject({ computed: 0, encoderId: first.encoderId });
    const m = await loadFeatureMatrix(t.lake, { postKeys: ['tiktok:0'] });
    expect(m.groups.embedding.names).toHaveLength(8);
    const context = await openFeatureContext(t.lake);
    const d = await context.featurise([
      { text: corpus[0], postedAt: new Date('2025-03-01T10:00:00Z'), creator: 'u0' },
    ]);
    expect([...d.groups.embedding.values]).toEqual([...m.groups.embedding.values]);
    // Refitting with another size changes the encoder, so every post's embedding is recomputed.
    const refit = await extractFeatures(t.lake, { refitEncoder: true, ppmi: { dimensions: 6 } });
    expect(refit.computed).toBe(40);
    expect((await loadFeatureMatrix(t.lake)).groups.embedding.names).toHaveLength(6);
  });

  it('runs a user ONNX encoder: mean of token vectors, L2-normalised', async () => {
    const { modelPath, vocabPath } = tinyEncoder(t.dir);
    const encoder = await OnnxTextEncoder.load({ modelPath, vocabPath });
    expect(encoder.dimensions).toBe(3);
    const [v] = await encoder.encode(['cat dog fish']);
    // (1,0,0)+(0,1,0)+(0,0,2) over 3 tokens, normalised: (1,1,2)/sqrt(6).
    expect([...v].map((x) => Number(x.toFixed(5)))).toEqual(
      [1, 1, 2].map((x) => Number((x / Math.sqrt(6)).toFixed(5))),
    );
    const report = await extractFeatures(t.lake, { encoder });
    expect(report.encoderId).toBe(encoder.id);
    const m = await loadFeatureMatrix(t.lake, { postKeys: ['tiktok:0'] });
    // "the cat will meow ..." : cat is known, every other word is [UNK] (1,1,1).
    expect(m.groups.embedding.names).toEqual(['e0', 'e1', 'e2']);
    expect(m.groups.embedding.present[0]).toBe(1);
  });

  it('names the file when the ONNX encoder is missing or has no vocabulary', async () => {
    await expect(
      OnnxTextEncoder.load({ modelPath: join(t.dir, 'none.onnx'), vocabPath: 'x' }),
    ).rejects.toThrow(/none\.onnx does not exist/);
    const { modelPath } = tinyEncoder(t.dir);
    await expect(OnnxTextEncoder.load({ modelPath })).rejects.toThrow(/vocabPath/);
  });
});
