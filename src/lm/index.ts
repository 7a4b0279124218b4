/**
 * lm: TKLLM, the creator-style language model: byte-level BPE tokenizer, decoder-only transformer with
 * creator style embeddings and a key/value cache, weighted training, n-gram baseline, sampling and GSPF.
 * Takes its training data as plain values (texts, creator ids, weights, ViralScores): it never reads the lake.
 */
export { Tokenizer, trainTokenizer, SPECIAL_TOKENS } from './tokenizer.js';
export type { TrainTokenizerOptions } from './tokenizer.js';
