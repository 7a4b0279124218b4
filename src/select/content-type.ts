/** The content types that stratified selection balances. */
export const contentTypes = ['drama', 'education', 'e-commerce', 'dance', 'other'] as const;
/** One content type. */
export type ContentType = (typeof contentTypes)[number];

// Keywords per type, matched against hashtags (lower case, without '#') and the lower-cased words of the
// text. A hashtag is the creator's own label, so it counts twice as much as a word of the text.
const KEYWORDS: Record<Exclude<ContentType, 'other'>, readonly string[]> = {
  dance: [
    'dance',
    'dancing',
    'dancer',
    'dancechallenge',
    'choreo',
    'choreography',
    'tiktokdance',
    'dancetrend',
    'kpopdance',
    'hiphop',
    'twerk',
    'ballet',
    'salsa',
    'breakdance',
    'shuffle',
  ],
  'e-commerce': [
    'tiktokshop',
    'tiktokmademebuyit',
    'amazonfinds',
    'amazon',
    'shop',
    'shopping',
    'sale',
    'discount',
    'deal',
    'deals',
    'haul',
    'unboxing',
    'review',
    'product',
    'buy',
    'order',
    'linkinbio',
    'promo',
    'coupon',
    'affiliate',
    'giveaway',
    'price',
    'ad',
    'sponsored',
    'musthave',
    'founditonamazon',
  ],
  education: [
    'learn',
    'learning',
    'learnontiktok',
    'education',
    'educational',
    'howto',
    'tutorial',
    'tips',
    'tip',
    'hack',
    'hacks',
    'lifehack',
    'science',
    'history',
    'facts',
    'fact',
    'explained',
    'study',
    'studytok',
    'booktok',
    'math',
    'english',
    'lesson',
    'didyouknow',
    'guide',
    'finance',
    'money',
    'tech',
    'teacher',
  ],
  drama: [
    'drama',
    'storytime',
    'story',
    'pov',
    'skit',
    'comedy',
    'funny',
    'prank',
    'relationship',
    'breakup',
    'cheating',
    'tea',
    'exposed',
    'reaction',
    'couple',
    'series',
    'part',
    'episode',
    'movie',
    'scene',
    'acting',
    'shortfilm',
    'plot',
    'twist',
  ],
};
// When two types score the same, the more specific one wins.
const TIE_ORDER: readonly Exclude<ContentType, 'other'>[] = ['dance', 'e-commerce', 'education', 'drama'];
const LOOKUP = new Map<string, Exclude<ContentType, 'other'>>();
for (const type of TIE_ORDER) for (const k of KEYWORDS[type]) if (!LOOKUP.has(k)) LOOKUP.set(k, type);

/**
 * Infers a post's content type by a stated rule: each hashtag that is a keyword of a type scores 2 for
 * it, each word of the text that is a keyword scores 1 (hashtags written in the text count as hashtags);
 * the highest score wins, ties go to dance, then e-commerce, education, drama; no keyword at all is `other`.
 * @example inferContentType('Day 3 of the challenge', ['dance', 'fyp']) // 'dance'
 */
export function inferContentType(text: string, hashtags: readonly string[] = []): ContentType {
  const scores = new Map<ContentType, number>();
  const tags = new Set(hashtags.map((t) => t.toLowerCase().replace(/^#/, '')));
  for (const m of text.matchAll(/#([\p{L}\p{N}_]+)/gu)) tags.add(m[1].toLowerCase());
  for (const tag of tags) {
    const type = LOOKUP.get(tag);
    if (type !== undefined) scores.set(type, (scores.get(type) ?? 0) + 2);
  }
  const words =
    text
      .replace(/#[\p{L}\p{N}_]+/gu, ' ')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) {
    const type = LOOKUP.get(word);
    if (type !== undefined) scores.set(type, (scores.get(type) ?? 0) + 1);
  }
  let best: ContentType = 'other';
  let bestScore = 0;
  for (const type of TIE_ORDER) {
    const s = scores.get(type) ?? 0;
    if (s > bestScore) {
      best = type;
      bestScore = s;
    }
  }
  return best;
}
