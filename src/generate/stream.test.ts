import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { scriptText, trainTokenizer } from '../lm/index.js';
import { cutToWords } from './controls.js';
import { IncrementalDecoder, ScriptGrowth } from './stream.js';

// A byte-level vocabulary (no merges), as `tkllm lm train` picks for a small corpus: characters outside
// ASCII take 2-4 tokens, so a token often ends inside a character.
const tokenizer = trainTokenizer(['héllo wörld 🔥 ok'], { vocabSize: 259 });
const texts = ['héllo 🔥 wörld', 'a  b\tc\n', '🔥🔥 ñ', ' spaced  out ', 'x'];

/** Random token sequences: encoded texts, cut anywhere (inside characters too), with special tokens mixed in. */
function randomTokens(rng: Random): number[] {
  const out: number[] = [];
  for (let k = 0; k < 4; k++) {
    const ids = tokenizer.encode(texts[Math.floor(rng.next() * texts.length)]);
    out.push(...ids.slice(0, 1 + Math.floor(rng.next() * ids.length)));
    const r = rng.next();
    if (r < 0.2) out.push(tokenizer.bodyId);
    else if (r < 0.3) out.push(tokenizer.styleId);
  }
  return out;
}

describe('IncrementalDecoder', () => {
  it('decodes token by token exactly as scriptText decodes the whole sequence', () => {
    const rng = new Random(7);
    for (let trial = 0; trial < 300; trial++) {
      const tokens = randomTokens(rng);
      const d = new IncrementalDecoder(tokenizer);
      let streamed = '';
      for (const t of tokens) {
        const piece = d.push(t);
        // Never half a character: no lone surrogate, no replacement char unless the whole decode has one.
        expect(/[\uD800-\uDBFF]$/.test(piece)).toBe(false);
        streamed += piece;
      }
      streamed += d.finish();
      expect(streamed).toBe(scriptText(tokenizer, tokens));
    }
  });
});

describe('ScriptGrowth', () => {
  it('hands out a prefix of the final text at every step and, with finish, exactly its generated part', () => {
    const rng = new Random(11);
    for (let trial = 0; trial < 300; trial++) {
      const tokens = randomTokens(rng);
      const prompt = ['', 'POV: ', 'How t', 'one two three'][trial % 4];
      const words = 1 + Math.floor(rng.next() * 6);
      const expected = cutToWords(prompt + scriptText(tokenizer, tokens), words).text;
      const growth = new ScriptGrowth(tokenizer, prompt, words);
      let sent = prompt;
      for (const t of tokens) {
        sent += growth.push(t);
        if (expected.length >= prompt.length) expect(expected.startsWith(sent)).toBe(true);
      }
      sent += growth.finish();
      expect(growth.finalText).toBe(expected);
      if (expected.length >= prompt.length) expect(sent).toBe(expected);
    }
  });

  it('is complete once the last word of the budget has ended, and sends nothing after it', () => {
    const growth = new ScriptGrowth(tokenizer, 'one', 2);
    let sent = '';
    for (const t of tokenizer.encode(' two')) sent += growth.push(t);
    expect(growth.complete).toBe(false);
    expect(sent).toBe(' two');
    for (const t of tokenizer.encode(' three four')) sent += growth.push(t);
    expect(growth.complete).toBe(true);
    sent += growth.finish();
    expect(sent).toBe(' two');
    expect(growth.finalText).toBe('one two');
  });

  it('holds back a character split across byte tokens until its last byte', () => {
    const growth = new ScriptGrowth(tokenizer, '', 10);
    const ids = tokenizer.encode('🔥');
    expect(ids.length).toBe(4);
    const pieces = ids.map((t) => growth.push(t));
    expect(pieces).toEqual(['', '', '', '🔥']);
  });
});
