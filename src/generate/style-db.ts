import { ValidationError } from '../core/index.js';
import type { Lake, Migration } from '../lake/index.js';

/** The Style Embedding DB's tables, applied with `lake.ensureSchema('style', styleSchema)`. */
export const styleSchema: readonly Migration[] = [
  {
    version: 1,
    description: 'style embeddings: one learned vector per creator and language model',
    statements: [
      `CREATE TABLE style_embeddings (
        model VARCHAR NOT NULL,           -- the LM the vector belongs to (its directory name)
        creator VARCHAR NOT NULL,         -- author_key of the creator
        posts INTEGER NOT NULL,           -- training posts behind the vector
        vector FLOAT[] NOT NULL,
        updated_at TIMESTAMP NOT NULL
      )`,
    ],
  },
];

/** One creator's style vector. */
export interface StyleEmbedding {
  creator: string;
  posts: number;
  vector: Float32Array;
}

/** A creator near another one, by cosine similarity of their style vectors. */
export interface SimilarCreator {
  creator: string;
  posts: number;
  similarity: number;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * Replaces the style vectors of `model` in the lake with `embeddings` (one transaction), as a training
 * run does after it updates the style table; returns the number of vectors stored.
 */
export async function saveStyleEmbeddings(
  lake: Lake,
  model: string,
  embeddings: readonly StyleEmbedding[],
): Promise<number> {
  await lake.ensureSchema('style', styleSchema);
  await lake.transaction(async () => {
    await lake.run(`DELETE FROM style_embeddings WHERE model = ${quote(model)}`);
    for (let i = 0; i < embeddings.length; i += 200) {
      const rows = embeddings.slice(i, i + 200).map((e) => {
        // Exponent notation makes DuckDB read DOUBLE literals (not DECIMAL), so float32 values round-trip exactly.
        const values = Array.from(e.vector, (x) => (Number.isFinite(x) ? x : 0).toExponential()).join(',');
        return `(${quote(model)}, ${quote(e.creator)}, ${Math.round(e.posts)}, [${values}]::FLOAT[], now()::TIMESTAMP)`;
      });
      if (rows.length > 0) await lake.run(`INSERT INTO style_embeddings VALUES ${rows.join(',\n')}`);
    }
  });
  return embeddings.length;
}

/** The style vectors of `model`, by creator. */
export async function loadStyleEmbeddings(lake: Lake, model: string): Promise<StyleEmbedding[]> {
  await lake.ensureSchema('style', styleSchema);
  const rows = await lake.all(
    `SELECT creator, posts, vector FROM style_embeddings WHERE model = ${quote(model)} ORDER BY creator`,
  );
  return rows.map((r) => ({
    creator: r.creator as string,
    posts: Number(r.posts),
    vector: Float32Array.from(r.vector as number[]),
  }));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * The `top` creators whose style vectors are nearest to `creator`'s (cosine similarity), most similar
 * first. Throws a ValidationError naming the creator when the model has no vector for it.
 * @example const near = await similarCreators(lake, 'tiktok:creator_af4db8412e', { model: 'lm' });
 */
export async function similarCreators(
  lake: Lake,
  creator: string,
  options: { model: string; top?: number },
): Promise<SimilarCreator[]> {
  const all = await loadStyleEmbeddings(lake, options.model);
  const self = all.find((e) => e.creator === creator);
  if (self === undefined)
    throw new ValidationError(
      `creator "${creator}" has no style vector in model "${options.model}"; ${all.length} creators have one (train with \`tkllm lm train\`)`,
    );
  return all
    .filter((e) => e.creator !== creator)
    .map((e) => ({ creator: e.creator, posts: e.posts, similarity: cosine(self.vector, e.vector) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, options.top ?? 5);
}
