/** generate: script generation and reranking; here so far the Style Embedding DB (creator style vectors in the lake). */
export { styleSchema, saveStyleEmbeddings, loadStyleEmbeddings, similarCreators } from './style-db.js';
export type { StyleEmbedding, SimilarCreator } from './style-db.js';
