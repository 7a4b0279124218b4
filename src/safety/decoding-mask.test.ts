import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { BannedSequenceMask, byteLevelPieces, maskingProcessor, type VocabPiece } from './decoding-mask.js';
import { bannedTermsPack } from './pack.js';
import { Policy } from './policy.js';
import { Utf8Stream } from './utf8.js';

// A toy vocabulary in which uniform sampling often spells the banned terms, across token boundaries and in
// obfuscated forms ("b4d", "b a d", "ev1l"): single letters, pieces of the terms, separators, l33t symbols
// and the two UTF-8 bytes of "é" as separate tokens (byte-level BPE splits characters like that).
const pieces: VocabPiece[] = [
  null, // 0: end of script
  'b',
  'a',
  'd',
  'ba',
  'ad',
  'bad',
  ' bad',
  'e',
  'v',
  'il',
  'evil',
  ' ev',
  'l',
  'i',
  ' ',
  '  ',
  '.',
  '!',
  '4',
  '1',
  '@',
  'x',
  'o',
  ' no',
  'no',
  ' go',
  'g',
  'ok',
  Uint8Array.of(0xc3), // first byte of "é"
  Uint8Array.of(0xa9), // second byte of "é"
  Uint8Array.of(0xff), // never valid UTF-8
  'cafe',
  null, // 33: a special token such as <|body|>
];
const SPECIAL = 33;
const EOS = 0;
const packs = [bannedTermsPack(['bad', 'evil*', 'no go', 'café'], 'toy')];
const policy = Policy.compile(packs);

/** Decodes like the LM tokenizer: a special token adds no text and ends an unfinished UTF-8 sequence. */
function decode(ids: readonly number[]): string {
  let text = '';
  let bytes: number[] = [];
  const flush = () => {
    text += new TextDecoder().decode(Uint8Array.from(bytes));
    bytes = [];
  };
  for (const id of ids) {
    const piece = pieces[id]!;
    if (piece === null) flush();
    else bytes.push(...(typeof piece === 'string' ? new TextEncoder().encode(piece) : piece));
  }
  flush();
  return text;
}

/** Samples uniformly among the tokens the mask allows, ending at EOS or after `maxTokens`. */
function sample(random: Random, mask: BannedSequenceMask | undefined, maxTokens: number): number[] {
  const cursor = mask?.start();
  const ids: number[] = [];
  for (let step = 0; step < maxTokens; step++) {
    const logits = new Float32Array(pieces.length);
    cursor?.apply(logits, { remaining: maxTokens - 1 - step });
    const allowed: number[] = [];
    logits.forEach((logit, id) => {
      if (logit !== Number.NEGATIVE_INFINITY) allowed.push(id);
    });
    if (allowed.length === 0) throw new Error(`cornered after ${JSON.stringify(decode(ids))}`);
    const id = allowed[random.int(allowed.length)];
    if (id === EOS) break;
    cursor?.advance(id);
    ids.push(id);
  }
  return ids;
}

const mask = () => new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });

describe('BannedSequenceMask', () => {
  it('never lets 1,000 sampled candidates contain a banned term, which plain sampling does', () => {
    const mask = new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });
    const plain = new Random(7);
    const masked = new Random(7);
    let plainHits = 0;
    const leaks: string[] = [];
    for (let n = 0; n < 1000; n++) {
      if (policy.check(decode(sample(plain, undefined, 24))).blocked) plainHits++;
      const text = decode(sample(masked, mask, 24));
      if (policy.check(text).hits.length > 0) leaks.push(text);
    }
    expect(leaks).toEqual([]);
    // Measured: 353 of 1,000 plain candidates held a banned term with this seed.
    expect(plainHits).toBeGreaterThan(200);
  });

  it('masks the token that completes a term split over several tokens, and only that one', () => {
    const mask = new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });
    const cursor = mask.start();
    for (const id of [1, 2, 3]) cursor.advance(id); // "b" "a" "d"
    const banned = cursor.banned();
    // The word ends at the next separator: " ", "  ", ".", " bad"... and the end of the text.
    for (const piece of [' ', '  ', '.', ' bad', ' no', ' go', ' ev'])
      expect(banned).toContain(pieces.indexOf(piece));
    expect(banned).toContain(EOS);
    // A letter continues the word ("badx" is not "bad"), so it stays allowed.
    expect(banned).not.toContain(pieces.indexOf('x'));
    expect(cursor.canEnd()).toBe(false);
    expect(() => cursor.clone().advance(pieces.indexOf(' '))).toThrow(/completes a banned term/);
  });

  it('sees l33t, spaced-out letters and characters split across byte tokens', () => {
    const mask = new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });
    expect(mask.bannedTokenIds('b4d')).toContain(pieces.indexOf('.'));
    expect(mask.bannedTokenIds('b a d')).toContain(pieces.indexOf(' '));
    expect(mask.bannedTokenIds('ev1')).toContain(pieces.indexOf('l'));
    expect(mask.bannedTokenIds('ev')).toContain(pieces.indexOf('il'));
    // "caf" + 0xC3 0xA9 is "café": the second byte completes the character and the word only at a separator.
    const cursor = mask.start('caf');
    cursor.advance(29).advance(30);
    expect(cursor.canEnd()).toBe(false);
    expect(cursor.banned()).toContain(pieces.indexOf(' '));
    // "cafe" (no accent) folds to the same word.
    expect(mask.bannedTokenIds('cafe')).toContain(EOS);
  });

  it('masks a special token that would end a half character right after a banned word', () => {
    // "bad" + the first byte of "é": a special token now makes that byte U+FFFD, a separator after "bad".
    const cursor = mask().start('bad');
    cursor.advance(29);
    expect(cursor.banned()).toContain(SPECIAL);
    expect(mask().start('ok').advance(29).banned()).not.toContain(SPECIAL);
  });

  it('does not mask a banned word inside a longer word, nor anything in clean text', () => {
    const mask = new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });
    expect(mask.bannedTokenIds('badx')).toEqual([]);
    // After a separator only "evil" is masked: `evil*` needs no boundary after it, "bad" still does.
    expect(mask.bannedTokenIds('ok ')).toEqual([pieces.indexOf('evil')]);
  });

  it('with `last`, masks tokens after which the text could not end', () => {
    const mask = new BannedSequenceMask(pieces, { policy, endTokenIds: [EOS] });
    const lastStep = mask.bannedTokenIds('ba', { last: true });
    expect(lastStep).toContain(pieces.indexOf('d'));
    expect(mask.bannedTokenIds('ba')).not.toContain(pieces.indexOf('d'));
  });

  it('never corners the sampler: no half character or l33t symbol right after a banned word', () => {
    const bytes = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    const byteMask = new BannedSequenceMask(bytes, { policy, endTokenIds: [] });
    const banned = byteMask.start('bad').banned();
    // A letter carries the word on ("badg..."); a lead byte or "!" would leave "bad" hanging.
    expect(banned).not.toContain('g'.charCodeAt(0));
    expect(banned).toEqual(expect.arrayContaining([0xc3, 0xed, '!'.charCodeAt(0), ' '.charCodeAt(0)]));
    // Away from a banned word, half characters are fine.
    expect(byteMask.start('ok').banned()).not.toContain(0xc3);
  });

  it('adds a request’s own terms', () => {
    const extra = new BannedSequenceMask(pieces, { policy, terms: ['ok'] });
    expect(extra.bannedTokenIds('ok')).toContain(pieces.indexOf(' '));
    expect(extra.bannedTokenIds('ok')).not.toContain(pieces.indexOf('x'));
    expect(extra.start('ok').canEnd()).toBe(false);
    expect(mask().start('ok').canEnd()).toBe(true);
    expect(() => new BannedSequenceMask(pieces, { policy, terms: ['!!'] })).toThrow(/no letters or digits/);
  });

  it('works as a batched sampler’s logits processor, one cursor per candidate', () => {
    const processor = maskingProcessor(mask(), { maxNewTokens: 4 });
    const ids = (s: string) => [...s].map((ch) => pieces.indexOf(ch));
    const shaped = (candidate: number, step: number, generated: number[]) => {
      const logits = new Float32Array(pieces.length);
      processor(logits, { candidate, step, generated });
      return logits;
    };
    expect(shaped(0, 0, [])[pieces.indexOf(' ')]).toBe(0);
    expect(shaped(1, 0, [])[pieces.indexOf(' ')]).toBe(0);
    // Candidate 0 has written "bad": a separator would complete it; candidate 1 wrote "bax", which is fine.
    expect(shaped(0, 3, ids('bad'))[pieces.indexOf(' ')]).toBe(Number.NEGATIVE_INFINITY);
    expect(shaped(1, 3, ids('bax'))[pieces.indexOf(' ')]).toBe(0);
    // The last step (maxNewTokens - 1) also masks what would leave "bad" at the end.
    expect(shaped(1, 3, ids('ba'))[pieces.indexOf('d')]).toBe(Number.NEGATIVE_INFINITY);
    // Step 0 starts a new generation.
    expect(shaped(0, 0, [])[pieces.indexOf(' ')]).toBe(0);
  });

  it('reads GPT-2 byte-level token strings as bytes', () => {
    // "Ġ" stands for the space byte and "Ã©" for the two bytes of "é" in GPT-2's byte alphabet.
    expect(byteLevelPieces(['Ġbad', 'Ã©', '<|endofscript|>'], new Set(['<|endofscript|>']))).toEqual([
      Uint8Array.of(0x20, 0x62, 0x61, 0x64),
      Uint8Array.of(0xc3, 0xa9),
      null,
    ]);
    const marked = byteLevelPieces(
      ['<|body|>', '<|endofscript|>'],
      new Map([
        ['<|body|>', '\n'],
        ['<|endofscript|>', null],
      ]),
    );
    expect(marked).toEqual([Uint8Array.of(0x0a), null]);
  });
});

describe('the mask and the checker', () => {
  it('agree on whether a text completes a banned term, byte by byte, on random obfuscated texts', () => {
    // Fragments of banned terms, l33t, spacing, accents, zero-width and invalid bytes, glued at random.
    const fragments = [
      'b',
      'a',
      'd',
      'bad',
      'b4d',
      'b@d',
      'b a d',
      'ev',
      'il',
      'ev1l',
      '!',
      '$',
      '@',
      'é',
      'e\u0301',
      'cafe',
      'café',
      'CAFÉ',
      'no',
      ' go',
      'n0 g0',
      ' ',
      '.',
      'x',
      '\u200b',
      'Ｂ',
      '|',
    ];
    const bytes = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    const byteMask = new BannedSequenceMask(bytes, { policy });
    const random = new Random(5);
    let blockedTexts = 0;
    for (let n = 0; n < 400; n++) {
      let text = '';
      for (let k = 1 + random.int(8); k > 0; k--) text += fragments[random.int(fragments.length)];
      const encoded = [...new TextEncoder().encode(text)];
      if (random.next() < 0.2) encoded.splice(random.int(encoded.length + 1), 0, 0xc3); // a stray lead byte
      // `advance` refuses a byte that completes a banned term; `canEnd` tells whether ending would.
      let fired: boolean;
      try {
        const cursor = byteMask.start();
        for (const b of encoded) cursor.advance(b);
        fired = !cursor.canEnd();
      } catch {
        fired = true;
      }
      const decoded = new TextDecoder().decode(Uint8Array.from(encoded));
      const blocked = policy.check(decoded).blocked;
      if (blocked) blockedTexts++;
      expect(fired, JSON.stringify(decoded)).toBe(blocked);
    }
    expect(blockedTexts).toBeGreaterThan(50);
  });
});

describe('Utf8Stream', () => {
  it('decodes random bytes exactly as TextDecoder does, invalid sequences included', () => {
    const random = new Random(3);
    const interesting = [
      0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90,
      0x8f,
    ];
    for (let n = 0; n < 2000; n++) {
      const bytes = Array.from({ length: 1 + random.int(8) }, () =>
        random.next() < 0.7 ? interesting[random.int(interesting.length)] : random.int(256),
      );
      const decoder = new Utf8Stream();
      const cps: number[] = [];
      for (const b of bytes) decoder.push(b, (cp) => cps.push(cp));
      decoder.finish((cp) => cps.push(cp));
      expect(String.fromCodePoint(...cps)).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
    }
  });
});
