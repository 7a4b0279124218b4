import { ValidationError } from '../core/index.js';
import type { LmModel, LogitsProcessor, Tokenizer } from '../lm/index.js';
import { IncrementalDecoder } from './stream.js';

/**
 * Speaking rate behind `seconds`: 2.5 words per second (150 words a minute), the usual rate of a voice-over
 * read at a calm pace; a 15-second script holds about 37 words.
 */
export const DEFAULT_WORDS_PER_SECOND = 2.5;

/** Words a script of `seconds` holds at `wordsPerSecond`. */
export function wordBudget(seconds: number, wordsPerSecond = DEFAULT_WORDS_PER_SECOND): number {
  if (!(seconds > 0)) throw new ValidationError(`\`seconds\` must be a positive number, got ${seconds}`);
  if (!(wordsPerSecond > 0))
    throw new ValidationError(`\`wordsPerSecond\` must be a positive number, got ${wordsPerSecond}`);
  return Math.max(1, Math.floor(seconds * wordsPerSecond));
}

/**
 * `text` cut after its `words`-th word (whole words only: cutting inside a word could turn an allowed word
 * into another one); the second value says whether anything was cut.
 */
export function cutToWords(text: string, words: number): { text: string; cut: boolean } {
  const re = /\S+/g;
  let count = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    count++;
    if (count === words) {
      const end = m.index + m[0].length;
      return { text: text.slice(0, end), cut: text.slice(end).trim().length > 0 };
    }
  }
  return { text, cut: false };
}

/** Words of `text`, lower case, for keyword tests. */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}#@']+/gu) ?? [];
}

/** Whether `text` contains every word of at least one keyword (a keyword may be a phrase). */
export function hasKeyword(text: string, keywords: readonly string[]): boolean {
  if (keywords.length === 0) return true;
  const have = new Set(words(text));
  return keywords.some((k) => words(k).every((w) => have.has(w)));
}

/**
 * A logits processor that steers toward keywords until the candidate's text holds one: `bias` is added to
 * the first token of each keyword (with and without a leading space, as written and in lower case), and
 * once the text ends with the start of a keyword's tokens, twice `bias` to its next token, so a begun
 * keyword tends to be finished. The bias is soft, so fluency decides where the keyword fits.
 */
export function keywordProcessor(
  tokenizer: Tokenizer,
  keywords: readonly string[],
  bias: number,
): LogitsProcessor {
  if (!(bias >= 0)) throw new ValidationError(`\`keywordBias\` must be >= 0, got ${bias}`);
  const sequences: number[][] = [];
  for (const k of keywords) {
    const trimmed = k.trim();
    if (trimmed.length === 0) throw new ValidationError('a keyword must not be empty');
    for (const form of new Set([
      trimmed,
      ` ${trimmed}`,
      ` ${trimmed.toLowerCase()}`,
      trimmed.toLowerCase(),
    ])) {
      const ids = tokenizer.encode(form);
      if (ids.length > 0) sequences.push(ids);
    }
  }
  const firsts = new Set(sequences.map((s) => s[0]));
  const satisfied = new Set<number>();
  // Each candidate's text, decoded one token a step (decoding the whole text each step cost O(length²)).
  const texts = new Map<number, { decoder: IncrementalDecoder; consumed: number }>();
  return (logits, context) => {
    if (context.step === 0) {
      satisfied.delete(context.candidate);
      texts.set(context.candidate, { decoder: new IncrementalDecoder(tokenizer), consumed: 0 });
    }
    if (satisfied.has(context.candidate)) return;
    const g = context.generated;
    let state = texts.get(context.candidate);
    if (state === undefined) {
      state = { decoder: new IncrementalDecoder(tokenizer), consumed: 0 };
      texts.set(context.candidate, state);
    }
    let grew = false;
    for (; state.consumed < g.length; state.consumed++)
      grew = state.decoder.push(g[state.consumed]).length > 0 || grew;
    // A candidate that has its keyword keeps it.
    if (grew && hasKeyword(state.decoder.text, keywords)) {
      satisfied.add(context.candidate);
      return;
    }
    for (const id of firsts) logits[id] += bias;
    for (const seq of sequences)
      for (let m = Math.min(seq.length - 1, g.length); m >= 1; m--) {
        let match = true;
        for (let j = 0; j < m && match; j++) match = g[g.length - m + j] === seq[j];
        if (match) {
          logits[seq[m]] += 2 * bias;
          break;
        }
      }
  };
}

/**
 * Runs `work` with the creator's style row scaled: row 0 (generic) + strength × (creator row − row 0), so 0
 * writes generically, 1 as trained, and more than 1 exaggerates the creator's style. The LM keeps style rows
 * as an embedding table and exposes no scale, so the row is written in place and restored afterwards;
 * sampling is synchronous, so nothing else sees the scaled row.
 */
export function withStyleStrength<T>(model: LmModel, row: number, strength: number, work: () => T): T {
  if (!(strength >= 0)) throw new ValidationError(`\`styleStrength\` must be >= 0, got ${strength}`);
  if (row === 0 || strength === 1) return work();
  const width = model.config.dModel;
  const table = model.style.weight.data;
  const saved = table.slice(row * width, (row + 1) * width);
  for (let j = 0; j < width; j++) table[row * width + j] = table[j] + strength * (saved[j] - table[j]);
  try {
    return work();
  } finally {
    table.set(saved, row * width);
  }
}
