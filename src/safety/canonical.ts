/**
 * The canonical form that policy terms and checked text are both reduced to before matching, produced by one
 * streaming machine so that the checker and the decoding-time mask agree by construction.
 *
 * Canonical text is a stream of folded letters and single spaces: case, compatibility forms (NFKD: ﬁ, Ｋ, ²),
 * accents and other marks, zero-width and other format characters, a few look-alike letters from other
 * scripts and l33t digits and symbols are folded away, and every run of separators becomes one space.
 * `l` and `i` share one letter because `1`, `|` and `!` stand for either of them. l33t digits read as
 * letters only inside a word that has letters ("k1ll", "4ss"); a number stays a number ("141", "5 ex").
 */

/** Separator in canonical text: word boundaries are spaces, one per run of separators. */
export const SEP = ' ';

// l33t digits read as the letter they imitate; 2 and 6 imitate nothing reliable and stay digits.
const LEET_DIGIT: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '9': 'g',
};

/** l33t symbols: letters only next to a word (see `Canonicalizer`), punctuation otherwise. */
const LEET_SYMBOL: Readonly<Record<string, string>> = { '@': 'a', $: 's', '!': 'i', '|': 'i' };

// Letters NFKD does not decompose, and Cyrillic/Greek look-alikes of Latin letters (the common homoglyph
// swaps; Unicode's full confusables table is far larger and mostly irrelevant to short scripts).
const EXTRA_FOLD: Readonly<Record<string, string>> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  đ: 'd',
  ð: 'd',
  ł: 'l',
  ı: 'i',
  ħ: 'h',
  þ: 'th',
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
};

const WORD = /[\p{L}\p{N}]/u;
const DROPPED = /[\p{M}\p{Cf}]/gu;
const foldCache = new Map<number, string>();

/**
 * Folds one code point to canonical characters: letters folded, digits and l33t symbols kept as themselves
 * (the canonicaliser reads them by context), anything else a space; marks and format characters vanish.
 */
export function foldCodePoint(cp: number): string {
  const cached = foldCache.get(cp);
  if (cached !== undefined) return cached;
  let out = '';
  for (const ch of String.fromCodePoint(cp).normalize('NFKD').replace(DROPPED, '').toLowerCase()) {
    if (LEET_SYMBOL[ch] !== undefined) out += ch;
    else if (!WORD.test(ch)) out += SEP;
    else for (const c of EXTRA_FOLD[ch] ?? ch) out += c === 'l' ? 'i' : c;
  }
  if (foldCache.size < 65_536) foldCache.set(cp, out);
  return out;
}

/** Receives each canonical character with the source span it came from (UTF-16 offsets). */
export type CanonicalSink = (ch: string, start: number, end: number) => void;

// A longer run of l33t characters is read as plain digits and punctuation ("!!!!!", "1337"), and the cap
// keeps the machine's states finite.
const MAX_PENDING = 4;

/** What the canonicaliser emitted last: a separator (or nothing yet), a letter, a digit. */
const enum Last {
  Separator = 0,
  Letter = 1,
  Digit = 2,
}

const NUMBER = /\p{N}/u;

function isLetter(ch: string): boolean {
  return ch >= 'a' && ch <= 'z' ? true : ch < '\u0080' ? false : !NUMBER.test(ch);
}

/**
 * The streaming canonicaliser: feed code points in order, `finish` at the end. It starts as if a separator
 * came before the text, and `finish` emits a closing separator, so that every word in canonical text,
 * including the first and the last, has a space on each side.
 *
 * l33t characters are read by context. Right after a letter, a digit or `$`/`@` is a letter at once
 * ("k1ll", "a$$"). Otherwise (and always for `!` and `|`, which end sentences: "kill!") they wait: the run
 * becomes letters if a letter follows ("4ss", "k!ll"), else digits stay digits and symbols are punctuation
 * ("141", "$ 5").
 */
export class Canonicalizer {
  private last: Last = Last.Separator;
  /** l33t digits and symbols seen but not yet read as letters or as digits and punctuation. */
  private pending = '';
  private pendingStarts: number[] = [];
  private pendingEnds: number[] = [];

  constructor(private readonly sink: CanonicalSink) {}

  /** Emits the opening separator; call once before the first `push`. */
  begin(at = 0): void {
    this.sink(SEP, at, at);
  }

  /** Feeds one code point whose source span is [start, end). */
  push(cp: number, start: number, end: number): void {
    for (const ch of foldCodePoint(cp)) this.pushFolded(ch, start, end);
  }

  /** Feeds a string of source text whose first code unit is at `offset`. */
  pushText(text: string, offset = 0): void {
    let i = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      this.push(cp, offset + i, offset + i + ch.length);
      i += ch.length;
    }
  }

  /** Ends the text: resolves pending characters and emits the closing separator. */
  finish(at: number): void {
    this.resolvePending(false);
    this.separator(at, at);
  }

  /** A compact key of the machine's state (the sink is not part of it). */
  key(): string {
    return `${this.last}${this.pending}`;
  }

  /** Restores a state from `key()`; spans of pending characters are lost, so use it only where spans are unused. */
  restore(key: string): void {
    this.last = Number(key[0]);
    this.pending = key.slice(1);
    this.pendingStarts = [...this.pending].map(() => 0);
    this.pendingEnds = [...this.pending].map(() => 0);
  }

  private pushFolded(ch: string, start: number, end: number): void {
    const leet = LEET_DIGIT[ch] ?? LEET_SYMBOL[ch];
    if (leet !== undefined) {
      if (this.last === Last.Letter && this.pending === '' && ch !== '!' && ch !== '|') {
        this.letter(leet, start, end);
        return;
      }
      if (this.pending.length >= MAX_PENDING) this.resolvePending(false);
      this.pending += ch;
      this.pendingStarts.push(start);
      this.pendingEnds.push(end);
      return;
    }
    if (ch === SEP) {
      this.resolvePending(false);
      this.separator(start, end);
      return;
    }
    const letter = isLetter(ch);
    this.resolvePending(letter);
    if (letter) this.letter(ch, start, end);
    else {
      this.sink(ch, start, end);
      this.last = Last.Digit;
    }
  }

  private letter(ch: string, start: number, end: number): void {
    this.sink(ch, start, end);
    this.last = Last.Letter;
  }

  /** Pending characters become letters when a letter follows; else digits stay digits, symbols separate. */
  private resolvePending(nextIsLetter: boolean): void {
    for (let i = 0; i < this.pending.length; i++) {
      const ch = this.pending[i];
      const start = this.pendingStarts[i];
      const end = this.pendingEnds[i];
      if (nextIsLetter) this.letter(LEET_DIGIT[ch] ?? LEET_SYMBOL[ch], start, end);
      else if (LEET_DIGIT[ch] !== undefined) {
        this.sink(ch, start, end);
        this.last = Last.Digit;
      } else this.separator(start, end);
    }
    this.pending = '';
    this.pendingStarts = [];
    this.pendingEnds = [];
  }

  private separator(start: number, end: number): void {
    if (this.last === Last.Separator) return;
    this.sink(SEP, start, end);
    this.last = Last.Separator;
  }
}

/** Canonical form of a short text without the surrounding separators (for policy terms). */
export function canonicalize(text: string): string {
  let out = '';
  const machine = new Canonicalizer((ch) => {
    out += ch;
  });
  machine.pushText(text);
  machine.finish(text.length);
  return out.trim();
}
