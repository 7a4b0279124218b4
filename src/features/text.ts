import { sentenceAffect, syllables, type Affect } from './lexicon.js';

// Everything here is a pure function of the post's own text, so it is the same for lake posts and drafts and
// needs no history. It runs once per post: regular expressions are built once, words are scanned once.

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
}

const emojiRe = /\p{Extended_Pictographic}(?:\uFE0F|\u200D\p{Extended_Pictographic}|\p{Emoji_Modifier})*/gu;
const hashtagRe = /#([\p{L}\p{N}\p{M}_]+)/gu;
const mentionRe = /@[\w.]+/g;
const urlRe = /https?:\/\/\S+|www\.\S+/gi;
const numberRe = /\d+(?:[.,]\d+)*/g;
const wordRe = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'’]*/gu;
// Sentences end at . ! ? or a line break; titles also separate clauses with | // — and " - ".
const sentenceSplitRe = /(?<=[.!?…])\s+|\n+|\s+(?:\||\/\/|—|–|--?)\s+/u;
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

/** Lower-case words of a text, without links, hashtags and mentions (the embedding's tokens). */
export function tokenize(text: string): string[] {
  const clean = text.replace(urlRe, ' ').replace(hashtagRe, ' ').replace(mentionRe, ' ');
  return (clean.match(wordRe) ?? []).map((w) => w.toLowerCase().replace(/’/g, "'"));
}

/** Splits a script into non-empty sentences. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(sentenceSplitRe)) {
    const s = part.trim();
    if (s && /[\p{L}\p{N}\p{Extended_Pictographic}]/u.test(s)) out.push(s);
  }
  return out;
}

interface SentenceStats {
  words: string[];
  raw: string[];
  /** Raw words and '@' for mentions, in order. */
  tokens: string[];
  emoji: string[];
  affect: Affect;
}

const tokenRe = /@|[\p{L}\p{N}][\p{L}\p{N}\p{M}'’]*/gu;

function sentenceStats(sentence: string): SentenceStats {
  // Mentions stay as '@' tokens for the template; they are not words.
  // Most sentences hold no link, tag or mention: skip the three replacements for them.
  const clean = /[#@/]|www\./.test(sentence)
    ? sentence.replace(urlRe, ' ').replace(hashtagRe, ' ').replace(mentionRe, ' @ ')
    : sentence;
  const tokens = clean.match(tokenRe) ?? [];
  const raw = tokens.filter((t) => t !== '@');
  const words = raw.map((w) => w.toLowerCase().replace(/’/g, "'"));
  // Emoji are outside printable ASCII: a sentence of tabs, newlines and printable ASCII has none.
  const emoji = /[^\t-~]/.test(sentence) ? (sentence.match(emojiRe) ?? []) : [];
  let caps = 0;
  for (const w of raw) if (w.length > 1 && w === w.toUpperCase() && w !== w.toLowerCase()) caps++;
  const exclamations = count(sentence, '!');
  const affect = sentenceAffect(words, emoji, exclamations, raw.length ? caps / raw.length : 0);
  return { words, raw, tokens, emoji, affect };
}

function count(text: string, ch: string): number {
  let n = 0;
  for (let i = text.indexOf(ch); i >= 0; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

/**
 * Masks what varies between instances of one format: numbers, mentions, links, tags, the creator's name and
 * capitalised words inside a sentence (names), so that "5 things Anna hates" and "7 things Tom hates" meet.
 */
export function templateOf(text: string, creatorName?: string): string {
  return maskTemplate(
    splitSentences(text).map((s) => sentenceStats(s).tokens),
    text,
    creatorName,
  );
}

function maskTemplate(sentences: readonly string[][], text: string, creatorName: string | undefined): string {
  const nameWords = creatorName ? new Set(creatorName.toLowerCase().match(wordRe) ?? []) : undefined;
  const allCaps = text === text.toUpperCase();
  const tokens: string[] = [];
  for (const raw of sentences)
    raw.forEach((w, i) => {
      const lower = w.toLowerCase();
      if (w === '@') tokens.push('@');
      else if (w.charCodeAt(0) >= 48 && w.charCodeAt(0) <= 57) tokens.push('0');
      else if (nameWords?.has(lower)) tokens.push('N');
      else if (!allCaps && i > 0 && w !== lower && /^\p{Lu}/u.test(w) && lower !== 'i') tokens.push('N');
      else tokens.push(lower);
    });
  // Runs of masks collapse, so that "Anna Smith" and "Tom" give the same template.
  return tokens.filter((t, i) => !(t === 'N' && tokens[i - 1] === 'N')).join(' ');
}

/** Computes the text, emotion and hook-own columns of one script. */
export function analyseText(
  text: string,
  options: { creatorName?: string; fieldHashtags?: number } = {},
): TextAnalysis {
  const sentences = splitSentences(text);
  const stats = sentences.map(sentenceStats);
  const words = stats.flatMap((s) => s.words);
  const raw = stats.flatMap((s) => s.raw);
  const hashtags = [...text.matchAll(hashtagRe)].map((m) => (m[1] ?? '').toLowerCase());
  const emojiCount = stats.reduce((n, s) => n + s.emoji.length, 0);
  let letters = 0;
  let syll = 0;
  let caps = 0;
  let you = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    letters += w.length;
    if (/\p{L}/u.test(w)) syll += syllables(w);
    if (secondPerson.has(w)) you++;
    const r = raw[i];
    if (r.length > 1 && r === r.toUpperCase() && r !== r.toLowerCase()) caps++;
  }
  const nWords = words.length;
  const nSentences = Math.max(1, sentences.length);
  // Flesch reading ease (Flesch 1948): 206.835 - 1.015 words/sentence - 84.6 syllables/word.
  const flesch = nWords ? 206.835 - 1.015 * (nWords / nSentences) - 84.6 * (syll / nWords) : 0;
  const textValues = [
    text.length,
    nWords,
    sentences.length,
    nWords / nSentences,
    nWords ? letters / nWords : 0,
    emojiCount,
    Math.max(hashtags.length, options.fieldHashtags ?? 0),
    (text.match(mentionRe) ?? []).length,
    (text.match(numberRe) ?? []).length,
    (text.match(urlRe) ?? []).length,
    count(text, '?'),
    count(text, '!'),
    you,
    (text.match(ctaRe) ?? []).length,
    nWords ? caps / nWords : 0,
    flesch,
  ];

  const sent = stats.map((s) => s.affect.sentiment);
  const arou = stats.map((s) => s.affect.arousal);
  const rated = stats.reduce((n, s) => n + s.affect.rated, 0);
  const first = (xs: number[]) => xs[0] ?? 0;
  const last = (xs: number[]) => xs[xs.length - 1] ?? 0;
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  // The peak keeps its sign: the sentence of strongest feeling, positive or negative.
  const peak = sent.reduce((p, s) => (Math.abs(s) > Math.abs(p) ? s : p), 0);
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
    sent.length ? sent.filter((s) => s > 0).length / sent.length : 0,
    sent.length ? sent.filter((s) => s < 0).length / sent.length : 0,
  ];

  const hookText = sentences[0] ?? '';
  const h = stats[0];
  const hookWords = h?.words ?? [];
  const hook = [
    hookWords.length,
    hookText.length,
    hookText.includes('?') ||
    /^(how|why|what|who|when|where|which|can|do|does|did|is|are|would|should)\b/i.test(hookText)
      ? 1
      : 0,
    /\d/.test(hookText) ||
    /\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b/i.test(hookText)
      ? 1
      : 0,
    hookWords.some((w) => secondPerson.has(w)) ? 1 : 0,
    curiosityRe.test(hookText) ? 1 : 0,
    imperativeVerbs.has(hookWords[0] ?? '') ? 1 : 0,
    Math.abs(h?.affect.sentiment ?? 0),
    h?.affect.arousal ?? 0,
    nWords ? hookWords.length / nWords : 0,
  ];

  const template = maskTemplate(
    stats.map((st) => st.tokens),
    text,
    options.creatorName,
  );
  const opener = template.split(' ').slice(0, 5).join(' ');
  return { text: textValues, emotion, hook, hookText, words, template, opener, hashtags };
}
