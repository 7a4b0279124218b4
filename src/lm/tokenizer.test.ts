import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hfTokenizers from '@huggingface/tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { SPECIAL_TOKENS, Tokenizer, trainTokenizer } from './tokenizer.js';

const corpus = [
  'POV: you finally tried the viral pasta 🍝🔥 #foodtok #fyp',
  'Wait for the end... 😱 this trick changed my life',
  'Day 3 of learning the dance from @creator 💃 #dance #fyp',
  'How to save $500 a month (no budget apps needed) #money',
  'Wait for it 😂😂 #comedy',
  "I can't believe this worked!!! Tiếng Việt cũng được 🇻🇳",
];
// The package's type declarations use extensionless imports that NodeNext cannot resolve: its surface is
// typed here by hand.
interface HfTokenizerLike {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[]): string;
}
const HfTokenizer = (
  hfTokenizers as unknown as { Tokenizer: new (json: object, config: object) => HfTokenizerLike }
).Tokenizer;
const dir = mkdtempSync(join(tmpdir(), 'tkllm-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('byte-level BPE tokenizer', () => {
  const tok = trainTokenizer(corpus, { vocabSize: 320 });

  it('round-trips any UTF-8 text exactly, emoji, flags, accents and control characters included', () => {
    const texts = [
      ...corpus,
      '',
      '  leading and trailing  \n\n\ttabs ',
      '👩🏽‍🚀 zero-width joiners, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 日本語のテキスト',
      '\u0000\u0001 nul bytes \r\n',
    ];
    for (const text of texts) expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('learns merges that shorten frequent words, up to the vocabulary size', () => {
    expect(tok.vocabSize).toBeLessThanOrEqual(320);
    expect(tok.vocabSize).toBeGreaterThan(259);
    expect(tok.encode(' wait').length).toBeLessThan(utf8Length(' wait'));
  });

  it('keeps special tokens whole and can skip them when decoding', () => {
    const ids = tok.encode(
      `${SPECIAL_TOKENS.style}Wait${SPECIAL_TOKENS.body} for it${SPECIAL_TOKENS.endOfScript}`,
    );
    expect(ids[0]).toBe(tok.styleId);
    expect(ids.at(-1)).toBe(tok.endOfScriptId);
    expect(ids).toContain(tok.bodyId);
    expect(tok.decode(ids, { skipSpecial: true })).toBe('Wait for it');
  });

  it('saves and loads tokenizer.json with identical encodings', () => {
    const path = join(dir, 'tokenizer.json');
    tok.save(path);
    const loaded = Tokenizer.load(path);
    for (const text of corpus) expect(loaded.encode(text)).toEqual(tok.encode(text));
  });

  it('writes a tokenizer.json that the Hugging Face tokenizers library encodes the same way', () => {
    const hf = new HfTokenizer(tok.toJSON(), {});
    for (const text of corpus) {
      expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(tok.encode(text));
      expect(hf.decode(tok.encode(text))).toBe(text);
    }
  });

  it('rejects a vocabulary too small for the bytes and the special tokens', () => {
    expect(() => trainTokenizer(corpus, { vocabSize: 100 })).toThrow(/vocabSize/);
  });
});

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
