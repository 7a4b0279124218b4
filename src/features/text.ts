import { emojiPolarity, lexiconFacts, syllables } from './lexicon.js';

// Everything here is a pure function of the post's own text, so it is the same for lake posts and drafts and
// needs no history. It runs for every draft a server scores (issue 8), so it is one scan of each sentence over
// character classes looked up in a table, rather than a dozen regular-expression passes over the text: the
// rules are still those of the regular expressions kept in the comments, and golden.test.ts holds the scan to
// the values they gave.

/** Names of the `text` group's columns. */
export const textFeatureNames = [
  'chars',
  'words',
  'sentences',
  'wordsPerSentence',
  'meanWordLength',
  'emoji',
  'hashtags',
  'mentions',
  'numbers',
  'urls',
  'questions',
  'exclamations',
  'secondPerson',
  'callsToAction',
  'capsShare',
  'fleschReadingEase',
] as const;

/** Names of the `emotion` group's columns: the sentiment and arousal arc over the script's sentences. */
export const emotionFeatureNames = [
  'sentimentMean',
  'sentimentStart',
  'sentimentEnd',
  'sentimentPeak',
  'sentimentSwing',
  'arousalMean',
  'arousalStart',
  'arousalPeak',
  'arousalEnd',
  'ratedWordShare',
  'positiveSentenceShare',
  'negativeSentenceShare',
] as const;

/** Hook columns that depend on the hook alone (the creator comparison is added by the history). */
export const hookOwnFeatureNames = [
  'hookWords',
  'hookChars',
  'hookIsQuestion',
  'hookHasNumber',
  'hookSecondPerson',
  'hookCuriosityGap',
  'hookImperative',
  'hookSentimentStrength',
  'hookArousal',
  'hookShareOfText',
] as const;

/** What the text analysis yields for one post or draft. */
export interface TextAnalysis {
  text: number[];
  emotion: number[];
  hook: number[];
  /** The first sentence, as read. */
  hookText: string;
  /** Lower-case words of the whole text (hashtags and mentions excluded), for templates and embeddings. */
  words: string[];
  /** The text with names, numbers, mentions, tags and links masked, for template matching. */
  template: string;
  /** The template's first five tokens, the "format opener" ("0 things you didn't know"). */
  opener: string;
  /** Hashtags written in the text, lower case without '#'. */
  hashtags: string[];
  /** `tokenize(text)`, the embedding's tokens: `words` itself unless a link escaped the sentences' rules. */
  tokens: string[];
}

const secondPerson = new Set([
  'you',
  'your',
  "you're",
  'youre',
  'yours',
  'yourself',
  "you'll",
  "you've",
  'u',
  'ya',
]);
const ctaRe =
  /\b(follow|subscribe|like and|comment|share (this|with)|tag (a|your)|link in (my )?bio|save (this|for later)|duet|stitch|turn on notifications|click|watch (till|until) the end|let me know|drop a)\b/gi;
// Curiosity gaps promise an answer the viewer has to stay for (Loewenstein's information-gap account).
const curiosityRe =
  /\b(you won'?t believe|wait (for it|till|until)|here'?s (why|how|what)|this is (why|how|what)|the (secret|reason|truth|trick)|nobody (tells|talks)|no one (tells|talks)|what happens|watch what|you need to|i tried|did you know|until the end|the real reason|things? (you|i) (didn'?t|never))\b/i;
const questionStartRe = /^(how|why|what|who|when|where|which|can|do|does|did|is|are|would|should)\b/i;
const numberWordRe = /\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b/i;
const imperativeVerbs = new Set([
  'stop',
  'watch',
  'try',
  'look',
  "don't",
  'dont',
  'never',
  'make',
  'let',
  'check',
  'wait',
  'listen',
  'imagine',
  'learn',
  'get',
  'do',
  'use',
  'save',
  'follow',
  'tell',
  'guess',
  'meet',
  'see',
  'read',
  'take',
  'give',
  'think',
  'keep',
]);

// Character classes of code points. Each is filled on first sight from the Unicode property the rule names
// (so the table agrees with the regular expression it stands for by construction) and is one load after.
const KNOWN = 1;
const LETTER = 2; // \p{L}
const NUMBER = 4; // \p{N}
const MARK = 8; // \p{M}
const PICTOGRAPHIC = 16; // \p{Extended_Pictographic}
const MODIFIER = 32; // \p{Emoji_Modifier}
const SPACE = 64; // \s, which is also what String.prototype.trim removes
const UPPER = 128; // \p{Lu}
const classes = new Uint8Array(0x110000);
const propertyRes: [RegExp, number][] = [
  [/\p{L}/u, LETTER],
  [/\p{N}/u, NUMBER],
  [/\p{M}/u, MARK],
  [/\p{Extended_Pictographic}/u, PICTOGRAPHIC],
  [/\p{Emoji_Modifier}/u, MODIFIER],
  [/\s/u, SPACE],
  [/\p{Lu}/u, UPPER],
];

function classOf(cp: number): number {
  const known = classes[cp];
  if (known !== 0) return known;
  const ch = String.fromCodePoint(cp);
  let c = KNOWN;
  for (const [re, bit] of propertyRes) if (re.test(ch)) c |= bit;
  classes[cp] = c;
  return c;
}

/** The code point at i: surrogate pairs decoded, a lone surrogate as itself (as a /u expression reads it). */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) return c;
  const d = s.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff ? ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000 : c;
}

// Most characters are ASCII: \s there is the space and \t-\r.
const isSpace = (c: number) => (c < 128 ? c === 32 || (c >= 9 && c <= 13) : (classOf(c) & SPACE) !== 0);
const isDigit = (c: number) => c >= 48 && c <= 57;
/** [\w.] without the u flag: ASCII letters, digits, '_' and '.'. */
const isMentionChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 46;
/** [\p{L}\p{N}\p{M}_], a hashtag's characters. */
const isTagChar = (cp: number) => cp === 95 || (classOf(cp) & (LETTER | NUMBER | MARK)) !== 0;
/** [\p{L}\p{N}\p{M}'’], a word's characters after its first. */
const isWordRest = (cp: number) =>
  cp === 39 || cp === 0x2019 || (classOf(cp) & (LETTER | NUMBER | MARK)) !== 0;

/** End of the run of \s from i. */
function spaceEnd(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/**
 * End of the link starting at i, or -1: /https?:\/\/\S+|www\.\S+/i, which folds ASCII letters only and
 * reads code units.
 */
function linkAt(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i) | 0x20;
  let j: number;
  if (c === 104) {
    if (
      (s.charCodeAt(i + 1) | 0x20) !== 116 ||
      (s.charCodeAt(i + 2) | 0x20) !== 116 ||
      (s.charCodeAt(i + 3) | 0x20) !== 112
    )
      return -1;
    j = i + 4;
    if ((s.charCodeAt(j) | 0x20) === 115) j++;
    if (s.charCodeAt(j) !== 58 || s.charCodeAt(j + 1) !== 47 || s.charCodeAt(j + 2) !== 47) return -1;
    j += 3;
  } else if (c === 119) {
    if (
      (s.charCodeAt(i + 1) | 0x20) !== 119 ||
      (s.charCodeAt(i + 2) | 0x20) !== 119 ||
      s.charCodeAt(i + 3) !== 46
    )
      return -1;
    j = i + 4;
  } else return -1;
  // `| 0x20` also maps a few non-letters onto these codes ('@' onto '`' and so on), never onto h, t, p, s, w.
  const start = j;
  while (j < end && !isSpace(s.charCodeAt(j))) j++;
  return j > start ? j : -1;
}

/** A link can only start at h, H, w or W. */
const mayStartLink = (c: number) => (c | 0x20) === 104 || (c | 0x20) === 119;

// Scratch buffers of one call (the analysis is synchronous, so one set serves every call).
const parts: number[] = [];
const bounds: number[] = [];

/**
 * Splits `text` as `text.split(/(?<=[.!?…])\s+|\n+|\s+(?:\||\/\/|—|–|--?)\s+/u)` does, trims each part and
 * keeps those holding a letter, digit or pictograph ([\p{L}\p{N}\p{Extended_Pictographic}]): their start and
 * end pairs go to `parts`. Sentences end at . ! ? or a line break; titles also separate clauses with | // — and
 * " - ".
 */
function splitParts(text: string): void {
  parts.length = 0;
  const n = text.length;
  let p = 0;
  let q = 0;
  while (q < n) {
    const c = text.charCodeAt(q);
    let e = -1;
    if (isSpace(c)) {
      const before = q > 0 ? text.charCodeAt(q - 1) : -1;
      if (before === 46 || before === 33 || before === 63 || before === 0x2026) e = spaceEnd(text, q);
      else if (c === 10) {
        e = q + 1;
        while (e < n && text.charCodeAt(e) === 10) e++;
      } else {
        const j = spaceEnd(text, q);
        const d = text.charCodeAt(j);
        let k = -1;
        if (d === 124 || d === 0x2014 || d === 0x2013) k = j + 1;
        else if (d === 47 && text.charCodeAt(j + 1) === 47) k = j + 2;
        // --? is greedy, and backing off to one '-' leaves a '-' where \s+ needs a space.
        else if (d === 45) k = text.charCodeAt(j + 1) === 45 ? j + 2 : j + 1;
        if (k > 0 && k < n && isSpace(text.charCodeAt(k))) e = spaceEnd(text, k);
      }
    }
    if (e < 0) {
      q++;
      continue;
    }
    keepPart(text, p, q);
    p = q = e;
  }
  keepPart(text, p, n);
}

function keepPart(text: string, a: number, b: number): void {
  while (a < b && isSpace(text.charCodeAt(a))) a++;
  while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
  for (let i = a; i < b;) {
    const cp = codePointAt(text, i);
    if (classOf(cp) & (LETTER | NUMBER | PICTOGRAPHIC)) {
      parts.push(a, b);
      return;
    }
    i += cp > 0xffff ? 2 : 1;
  }
}

/**
 * The tokens of text[a, b) into `bounds` as start/end pairs (end -1 for a mention's '@'), as
 * `text.replace(urlRe, ' ').replace(hashtagRe, ' ').replace(mentionRe, ' @ ').match(tokenRe)` gives them with
 * urlRe = /https?:\/\/\S+|www\.\S+/gi, hashtagRe = /#([\p{L}\p{N}\p{M}_]+)/gu, mentionRe = /@[\w.]+/g and
 * tokenRe = /@|[\p{L}\p{N}][\p{L}\p{N}\p{M}'’]* /gu. Links go first, so a tag, a mention or a word ends where
 * a link starts; `links` false leaves links as text (the sentence rule skips the replacements for sentences
 * without # @ / or www.).
 */
function scanTokens(text: string, a: number, b: number, links: boolean): void {
  bounds.length = 0;
  let i = a;
  while (i < b) {
    const c = text.charCodeAt(i);
    if (links && mayStartLink(c)) {
      const e = linkAt(text, i, b);
      if (e >= 0) {
        i = e;
        continue;
      }
    }
    if (c === 35) {
      // A tag is removed; a '#' with no tag characters after it is punctuation.
      let j = i + 1;
      while (j < b) {
        const d = text.charCodeAt(j);
        if (links && mayStartLink(d) && linkAt(text, j, b) >= 0) break;
        const cp = codePointAt(text, j);
        if (!isTagChar(cp)) break;
        j += cp > 0xffff ? 2 : 1;
      }
      i = j > i + 1 ? j : i + 1;
      continue;
    }
    if (c === 64) {
      // Every '@' is a token; the handle after it ([\w.]+) is not a word.
      bounds.push(i, -1);
      let j = i + 1;
      while (j < b) {
        const d = text.charCodeAt(j);
        if (!isMentionChar(d) || (links && mayStartLink(d) && linkAt(text, j, b) >= 0)) break;
        j++;
      }
      i = j;
      continue;
    }
    const cp = c < 0xd800 ? c : codePointAt(text, i);
    const width = cp > 0xffff ? 2 : 1;
    if (classOf(cp) & (LETTER | NUMBER)) {
      let j = i + width;
      while (j < b) {
        const d = text.charCodeAt(j);
        if (links && mayStartLink(d) && linkAt(text, j, b) >= 0) break;
        const cq = d < 0xd800 ? d : codePointAt(text, j);
        if (!isWordRest(cq)) break;
        j += cq > 0xffff ? 2 : 1;
      }
      bounds.push(i, j);
      i = j;
      continue;
    }
    i += width;
  }
}

/** Whether text[a, b) holds '#', '@', '/' or "www.": the sentences whose links, tags and mentions are removed. */
function holdsLinkMarks(text: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c === 35 || c === 64 || c === 47) return true;
    if (c === 119 && text.startsWith('ww.', i + 1) && i + 4 <= b) return true;
  }
  return false;
}

/** A word's lower-case form for the template (toLowerCase) and as a word (with ’ as '), and its capitals. */
interface Cased {
  lower: string;
  word: string;
  /** Longer than one character, all upper case and changed by lower-casing: shouting. */
  caps: boolean;
}
const cased: Cased = { lower: '', word: '', caps: false };

function caseOf(raw: string): Cased {
  let upper = 0;
  let lower = 0;
  let ascii = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 128) {
      ascii = false;
      break;
    }
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
  }
  if (ascii) {
    cased.lower = upper ? raw.toLowerCase() : raw;
    cased.word = cased.lower;
    cased.caps = raw.length > 1 && upper > 0 && lower === 0;
  } else {
    cased.lower = raw.toLowerCase();
    cased.word = cased.lower.includes('’') ? cased.lower.replace(/’/g, "'") : cased.lower;
    cased.caps = raw.length > 1 && raw === raw.toUpperCase() && raw !== cased.lower;
  }
  return cased;
}

/** What the analysis needs of a lower-case word, looked up once per distinct word. */
class WordFacts {
  constructor(
    /** AFINN valence, NaN when unrated. */
    readonly valence: number,
    readonly negator: boolean,
    readonly intensifier: boolean,
    readonly secondPerson: boolean,
    /** Syllables of a word with a letter (\p{L}); 0 for one without (digits only), which Flesch skips. */
    readonly syllables: number,
  ) {}
}
const wordFacts = new Map<string, WordFacts>();

function factsOf(word: string): WordFacts {
  let f = wordFacts.get(word);
  if (f === undefined) {
    let letter = false;
    for (let i = 0; i < word.length && !letter;) {
      const cp = codePointAt(word, i);
      letter = (classOf(cp) & LETTER) !== 0;
      i += cp > 0xffff ? 2 : 1;
    }
    f = new WordFacts(
      lexiconFacts.valence(word) ?? Number.NaN,
      lexiconFacts.negator(word),
      lexiconFacts.intensifier(word),
      secondPerson.has(word),
      letter ? syllables(word) : 0,
    );
    // Bounded like the syllable cache: a long extraction meets many one-off words. Numbers are the most
    // varied of them (every price and year) and the cheapest to look up again, so they are not kept.
    if (letter && wordFacts.size < 200_000) wordFacts.set(word, f);
  }
  return f;
}

/** Lower-case words of a text, without links, hashtags and mentions (the embedding's tokens). */
export function tokenize(text: string): string[] {
  scanTokens(text, 0, text.length, true);
  const out: string[] = [];
  for (let t = 0; t < bounds.length; t += 2)
    if (bounds[t + 1] >= 0) out.push(caseOf(text.slice(bounds[t], bounds[t + 1])).word);
  return out;
}

/** Splits a script into non-empty sentences. */
export function splitSentences(text: string): string[] {
  splitParts(text);
  const out: string[] = [];
  for (let s = 0; s < parts.length; s += 2) out.push(text.slice(parts[s], parts[s + 1]));
  return out;
}

/**
 * Masks what varies between instances of one format: numbers, mentions, links, tags, the creator's name and
 * capitalised words inside a sentence (names), so that "5 things Anna hates" and "7 things Tom hates" meet.
 */
export function templateOf(text: string, creatorName?: string): string {
  return analyseText(text, creatorName === undefined ? {} : { creatorName }).template;
}

const nameWordSets = new Map<string, Set<string>>();
const nameWordRe = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'’]*/gu;

/** The creator's name as lower-case words (the template masks them), kept per name: names repeat. */
function nameWordsOf(name: string): Set<string> {
  let words = nameWordSets.get(name);
  if (!words) {
    words = new Set(name.toLowerCase().match(nameWordRe) ?? []);
    if (nameWordSets.size < 100_000) nameWordSets.set(name, words);
  }
  return words;
}

/** Counts over the whole text: what the text group's regular expressions counted. */
interface TextCounts {
  questions: number;
  exclamations: number;
  /** /\d+(?:[.,]\d+)* /g */
  numbers: number;
  /** /@[\w.]+/g */
  mentions: number;
  /** /https?:\/\/\S+|www\.\S+/gi */
  urls: number;
  /** /#([\p{L}\p{N}\p{M}_]+)/gu, lower case, links included. */
  hashtags: string[];
  /** No ASCII lower-case letter; whether `text === text.toUpperCase()` still needs checking beyond ASCII. */
  noAsciiLower: boolean;
  nonAscii: boolean;
}

function countText(text: string): TextCounts {
  const n = text.length;
  const counts: TextCounts = {
    questions: 0,
    exclamations: 0,
    numbers: 0,
    mentions: 0,
    urls: 0,
    hashtags: [],
    noAsciiLower: true,
    nonAscii: false,
  };
  let numberEnd = 0;
  let linkEnd = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) counts.nonAscii = true;
    else if (c >= 97 && c <= 122) counts.noAsciiLower = false;
    if (c === 63) counts.questions++;
    else if (c === 33) counts.exclamations++;
    else if (c === 64) {
      if (i + 1 < n && isMentionChar(text.charCodeAt(i + 1))) counts.mentions++;
    } else if (c === 35) {
      let j = i + 1;
      while (j < n) {
        const cp = codePointAt(text, j);
        if (!isTagChar(cp)) break;
        j += cp > 0xffff ? 2 : 1;
      }
      if (j > i + 1) counts.hashtags.push(text.slice(i + 1, j).toLowerCase());
    } else if (i >= numberEnd && isDigit(c)) {
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      for (;;) {
        const d = text.charCodeAt(j);
        if ((d !== 46 && d !== 44) || !isDigit(text.charCodeAt(j + 1))) break;
        j += 2;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
      }
      counts.numbers++;
      numberEnd = j;
    }
    if (i >= linkEnd && mayStartLink(c)) {
      const e = linkAt(text, i, n);
      if (e >= 0) {
        counts.urls++;
        linkEnd = e;
      }
    }
  }
  return counts;
}

const first = (xs: readonly number[]) => xs[0] ?? 0;
const last = (xs: readonly number[]) => xs[xs.length - 1] ?? 0;
/** The mean, summed from the first element on (the order the stored values were computed in). */
function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return xs.length ? sum / xs.length : 0;
}

function countMatches(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

/** Computes the text, emotion and hook-own columns of one script. */
export function analyseText(
  text: string,
  options: { creatorName?: string; fieldHashtags?: number } = {},
): TextAnalysis {
  splitParts(text);
  const nSentences = parts.length >> 1;
  const counts = countText(text);
  const nameWords = options.creatorName ? nameWordsOf(options.creatorName) : undefined;
  // Whether the whole text is upper case (then capitals mark no names); beyond ASCII only toUpperCase knows.
  let allCaps: boolean | undefined = !counts.noAsciiLower ? false : counts.nonAscii ? undefined : true;

  const words: string[] = [];
  const sent: number[] = [];
  const arou: number[] = [];
  let rated = 0;
  let emojiCount = 0;
  let letters = 0;
  let syll = 0;
  let caps = 0;
  let you = 0;
  let linkOutsideRule = false;
  let hookText = '';
  let hookWords = 0;
  let hookFirst = '';
  let hookYou = false;
  let template = '';
  let templateTokens = 0;
  let opener = '';
  let lastMasked = false;

  for (let s = 0; s < nSentences; s++) {
    const a = parts[2 * s];
    const b = parts[2 * s + 1];
    let exclamations = 0;
    let nonAscii = false;
    for (let i = a; i < b; i++) {
      const c = text.charCodeAt(i);
      if (c === 33) exclamations++;
      else if (c >= 128) nonAscii = true;
    }
    const links = holdsLinkMarks(text, a, b);
    // tokenize() removes links in every sentence, so an upper-case WWW. link in a sentence the rule skips
    // leaves the embedding's tokens different from the words.
    if (!links)
      for (let i = a; i < b && !linkOutsideRule; i++)
        if (mayStartLink(text.charCodeAt(i)) && linkAt(text, i, b) >= 0) linkOutsideRule = true;
    scanTokens(text, a, b, links);

    // Affect (AFINN and VADER heuristics, see lexicon.ts): negators flip and intensifiers scale (x1.5) the
    // next rated word; arousal adds the strength of the rated words, '!', capitals and emoji.
    let sum = 0;
    let strength = 0;
    let sentenceRated = 0;
    let flip = 1;
    let boost = 1;
    let sentenceWords = 0;
    let sentenceCaps = 0;
    let index = 0;
    for (let t = 0; t < bounds.length; t += 2, index++) {
      let masked: string;
      if (bounds[t + 1] < 0) masked = '@';
      else {
        const raw = text.slice(bounds[t], bounds[t + 1]);
        const { lower, word, caps: shouting } = caseOf(raw);
        words.push(word);
        sentenceWords++;
        if (s === 0) {
          if (hookWords === 0) hookFirst = word;
          hookWords++;
        }
        if (shouting) sentenceCaps++;
        letters += word.length;
        const f = factsOf(word);
        syll += f.syllables;
        if (f.secondPerson) {
          you++;
          if (s === 0) hookYou = true;
        }
        if (f.valence === f.valence) {
          const v = f.valence * flip * boost;
          sum += v;
          strength += Math.abs(v);
          sentenceRated++;
          flip = 1;
          boost = 1;
        } else if (f.negator) flip = -1;
        else if (f.intensifier) boost = 1.5;

        const first = raw.charCodeAt(0);
        if (isDigit(first)) masked = '0';
        else if (nameWords?.has(lower)) masked = 'N';
        else if (
          index > 0 &&
          raw !== lower &&
          lower !== 'i' &&
          (classOf(codePointAt(raw, 0)) & UPPER) !== 0 &&
          !(allCaps ??= text === text.toUpperCase())
        )
          masked = 'N';
        else masked = lower;
      }
      // Runs of masks collapse, so that "Anna Smith" and "Tom" give the same template.
      if (masked === 'N' && lastMasked) continue;
      lastMasked = masked === 'N';
      template = templateTokens ? `${template} ${masked}` : masked;
      if (++templateTokens === 5) opener = template;
    }
    caps += sentenceCaps;

    let emoji = 0;
    if (nonAscii)
      for (let i = a; i < b;) {
        const cp = codePointAt(text, i);
        let j = i + (cp > 0xffff ? 2 : 1);
        if (cp < 128 || (classOf(cp) & PICTOGRAPHIC) === 0) {
          i = j;
          continue;
        }
        // /\p{Extended_Pictographic}(?:\uFE0F|\u200D\p{Extended_Pictographic}|\p{Emoji_Modifier})*/u
        for (;;) {
          if (j >= b) break;
          const d = codePointAt(text, j);
          if (d === 0xfe0f) j++;
          else if (d === 0x200d && j + 1 < b) {
            const e = codePointAt(text, j + 1);
            if ((classOf(e) & PICTOGRAPHIC) === 0) break;
            j += 1 + (e > 0xffff ? 2 : 1);
          } else if (d > 0xffff && (classOf(d) & MODIFIER) !== 0) j += 2;
          else break;
        }
        emoji++;
        const v = emojiPolarity(text.slice(i, j));
        if (v !== undefined) {
          sum += v;
          strength += Math.abs(v);
          sentenceRated++;
        }
        i = j;
      }
    emojiCount += emoji;
    rated += sentenceRated;
    const capsShare = sentenceWords ? sentenceCaps / sentenceWords : 0;
    const sentiment = sentenceRated ? sum / sentenceRated : 0;
    const arousal =
      (sentenceRated ? strength / sentenceRated : 0) +
      0.5 * Math.min(exclamations, 3) +
      2 * capsShare +
      0.5 * Math.min(emoji, 4);
    sent.push(sentiment);
    arou.push(arousal);
    if (s === 0) hookText = text.slice(a, b);
  }
  if (templateTokens < 5) opener = template;

  const nWords = words.length;
  const sentenceCount = Math.max(1, nSentences);
  // Flesch reading ease (Flesch 1948): 206.835 - 1.015 words/sentence - 84.6 syllables/word.
  const flesch = nWords ? 206.835 - 1.015 * (nWords / sentenceCount) - 84.6 * (syll / nWords) : 0;
  const textValues = [
    text.length,
    nWords,
    nSentences,
    nWords / sentenceCount,
    nWords ? letters / nWords : 0,
    emojiCount,
    Math.max(counts.hashtags.length, options.fieldHashtags ?? 0),
    counts.mentions,
    counts.numbers,
    counts.urls,
    counts.questions,
    counts.exclamations,
    you,
    countMatches(ctaRe, text),
    nWords ? caps / nWords : 0,
    flesch,
  ];

  // The peak keeps its sign: the sentence of strongest feeling, positive or negative.
  let peak = 0;
  let positive = 0;
  let negative = 0;
  for (const x of sent) {
    if (Math.abs(x) > Math.abs(peak)) peak = x;
    if (x > 0) positive++;
    else if (x < 0) negative++;
  }
  const emotion = [
    mean(sent),
    first(sent),
    last(sent),
    peak,
    sent.length ? Math.max(...sent) - Math.min(...sent) : 0,
    mean(arou),
    first(arou),
    arou.length ? Math.max(...arou) : 0,
    last(arou),
    nWords + emojiCount ? rated / (nWords + emojiCount) : 0,
    sent.length ? positive / sent.length : 0,
    sent.length ? negative / sent.length : 0,
  ];

  const hook = [
    hookWords,
    hookText.length,
    hookText.includes('?') || questionStartRe.test(hookText) ? 1 : 0,
    /\d/.test(hookText) || numberWordRe.test(hookText) ? 1 : 0,
    hookYou ? 1 : 0,
    curiosityRe.test(hookText) ? 1 : 0,
    imperativeVerbs.has(hookFirst) ? 1 : 0,
    Math.abs(sent[0] ?? 0),
    arou[0] ?? 0,
    nWords ? hookWords / nWords : 0,
  ];

  return {
    text: textValues,
    emotion,
    hook,
    hookText,
    words,
    template,
    opener,
    hashtags: counts.hashtags,
    tokens: linkOutsideRule ? tokenize(text) : words,
  };
}
