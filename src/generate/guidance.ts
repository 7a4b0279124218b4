import { ValidationError } from '../core/index.js';
import type { Draft } from '../features/index.js';
import type { Lake } from '../lake/index.js';
import { Policy, defaultPolicyPacks, recordAudit } from '../safety/index.js';
import type { PolicyPack, Severity } from '../safety/index.js';
import type { FeatureEffect, SubscoreName, ViralScorer } from '../viralscore/index.js';
import { sqlString } from './lake-data.js';

/** The subscores' names as the design spells them. */
export const subscoreLabels: Readonly<Record<SubscoreName, string>> = {
  E: 'EmotionIntensity',
  H: 'HookStrength',
  R: 'Replicability',
  S: 'ShareTrigger',
  T: 'TrendMatch',
};

/** One concrete suggestion. */
export interface Suggestion {
  /** What it improves: a subscore, or the script's length or posting hour. */
  target: SubscoreName | 'length' | 'hour';
  message: string;
  /** Examples drawn from the lake (hooks of the creator's best posts, trending hashtags or sounds). */
  examples: string[];
}

/** A policy warning with the rule that fired. */
export interface PolicyWarning {
  ruleId: string;
  kind: string;
  severity: Severity;
  /** The matched text as written in the draft. */
  text: string;
  why: string;
}

/** What `checkDraft` returns. */
export interface Guidance {
  text: string;
  v: number;
  subscores: Record<SubscoreName, number>;
  contributions: Record<SubscoreName, number>;
  /** The subscore with the lowest value: where the draft loses most. */
  weakest: { subscore: SubscoreName; label: string; value: number };
  /** The weakest subscore's suggestions first, then length and posting hour. */
  suggestions: Suggestion[];
  /** Features that pull V down most (negative effect). */
  pullingDown: FeatureEffect[];
  policy: { blocked: boolean; brandSafety: number; warnings: PolicyWarning[] };
  auditId?: string;
}

/** Options of `checkDraft`. */
export interface CheckDraftOptions {
  /** The creator's author key (or name) in the lake, for their own best posts and their hours. */
  creator?: string;
  hashtags?: readonly string[];
  sound?: string;
  postedAt?: Date;
  region?: string;
  packs?: readonly PolicyPack[];
  /** Examples per suggestion (default 3). */
  examples?: number;
  /** Write the check to the audit table (default true). */
  audit?: boolean;
}

// Engagement as the estimator's label reads it (viralscore labelDescription), without watch-through.
const ENGAGEMENT = `(ln(1 + coalesce(plays, 0)) + ln(1 + coalesce(shares, 0) + coalesce(saves, 0))
  + 0.5 * ln(1 + coalesce(likes, 0)) + 0.5 * ln(1 + coalesce(comments, 0)))`;

/** The first sentence of a caption, the part viewers read as its hook. */
export function firstSentence(text: string): string {
  const line = text.split('\n')[0].trim();
  const m = /^.*?[.!?](?=\s|$)/u.exec(line);
  return (m ? m[0] : line).slice(0, 140);
}

function wordsOf(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []).filter((w) => w.length >= 3));
}

/** Resolves a creator name to the lake's author key (exact key, or `platform:name`). */
async function authorKey(lake: Lake, creator: string | undefined): Promise<string | undefined> {
  if (creator === undefined) return undefined;
  const rows = await lake.all(
    `SELECT author_key FROM authors WHERE author_key = ${sqlString(creator)} OR name = ${sqlString(creator)} LIMIT 1`,
  );
  if (rows.length === 0)
    throw new ValidationError(
      `creator "${creator}" is not in the lake (an author key or name of its authors)`,
    );
  return rows[0].author_key as string;
}

async function hookExamples(lake: Lake, author: string | undefined, k: number): Promise<string[]> {
  const scope = async (where: string) =>
    (
      await lake.all(
        `SELECT text FROM posts WHERE text IS NOT NULL AND length(trim(text)) > 0 ${where}
         ORDER BY ${ENGAGEMENT} DESC, post_key LIMIT ${k * 4}`,
      )
    ).map((r) => firstSentence(r.text as string));
  let hooks = author === undefined ? [] : await scope(`AND author_key = ${sqlString(author)}`);
  if (hooks.length < k) hooks = [...hooks, ...(await scope(''))];
  return [...new Set(hooks.filter((h) => h.length > 0))].slice(0, k);
}

/** Hashtags with the most posts in the 14 days before `at`, those sharing words with the draft first. */
async function trendingTags(
  lake: Lake,
  at: Date,
  draft: string,
  have: Set<string>,
  k: number,
): Promise<string[]> {
  const rows = await lake.all(`
    WITH ref AS (SELECT least(max(coalesce(posted_at, observed_at)), ${sqlString(at.toISOString())}::TIMESTAMP) AS t FROM posts)
    SELECT h.tag, count(*) AS n, string_agg(p.text, ' ') AS texts
    FROM hashtags h JOIN posts p USING (post_key), ref
    WHERE coalesce(p.posted_at, p.observed_at) BETWEEN ref.t - INTERVAL 14 DAY AND ref.t
    GROUP BY h.tag ORDER BY n DESC, h.tag LIMIT 200`);
  const words = wordsOf(draft);
  const scored = rows
    .filter((r) => !have.has(r.tag as string))
    .map((r, i) => {
      const overlap = [...wordsOf((r.texts as string | null) ?? '')].filter((w) => words.has(w)).length;
      return { tag: r.tag as string, fit: overlap > 0 ? 1 : 0, i };
    })
    .sort((a, b) => b.fit - a.fit || a.i - b.i);
  return scored.slice(0, k).map((s) => `#${s.tag}`);
}

async function trendingSounds(lake: Lake, at: Date, k: number): Promise<string[]> {
  const rows = await lake.all(`
    WITH ref AS (SELECT least(max(coalesce(posted_at, observed_at)), ${sqlString(at.toISOString())}::TIMESTAMP) AS t FROM posts)
    SELECT coalesce(music_title, music_id) AS sound, count(*) AS n
    FROM posts, ref
    WHERE coalesce(music_title, music_id) IS NOT NULL
      AND coalesce(posted_at, observed_at) BETWEEN ref.t - INTERVAL 14 DAY AND ref.t
    GROUP BY sound HAVING count(*) > 1 ORDER BY n DESC, sound LIMIT ${k}`);
  return rows.map((r) => r.sound as string);
}

/** Best word-count band and posting hour by mean engagement (the creator's posts when they have 20+). */
async function lengthAndHour(
  lake: Lake,
  author: string | undefined,
): Promise<{ band: [number, number] | null; hour: number | null }> {
  let where = 'TRUE';
  if (author !== undefined) {
    const n = await lake.count(`SELECT count(*) FROM posts WHERE author_key = ${sqlString(author)}`);
    if (n >= 20) where = `author_key = ${sqlString(author)}`;
  }
  const bands = await lake.all(`
    SELECT least(floor(len(string_split(trim(text), ' ')) / 10), 6)::INTEGER AS band, avg(${ENGAGEMENT}) AS e, count(*) AS n
    FROM posts WHERE text IS NOT NULL AND ${where} GROUP BY band HAVING count(*) >= 5 ORDER BY e DESC LIMIT 1`);
  const hours = await lake.all(`
    SELECT hour(posted_at) AS h, avg(${ENGAGEMENT}) AS e FROM posts
    WHERE posted_at IS NOT NULL AND ${where} GROUP BY h HAVING count(*) >= 5 ORDER BY e DESC LIMIT 1`);
  const b = bands[0]?.band;
  return {
    band: b === undefined || b === null ? null : [Number(b) * 10, Number(b) * 10 + 9],
    hour: hours[0]?.h === undefined || hours[0]?.h === null ? null : Number(hours[0].h),
  };
}

const advice: Record<SubscoreName, string> = {
  H: 'Open with a stronger hook: a question, a number or "you" in the first sentence, the payoff promised up front. Openings of the best posts:',
  E: 'Raise the emotional stakes: a sharper contrast, a stronger feeling word, a turn near the end. Openings that carried feeling:',
  R: 'Make it easy to copy: a repeatable format or a trending sound others can reuse. Sounds trending in the lake:',
  S: 'Give viewers a reason to share or save: a surprising fact, a "send this to…" or "save this for later" line. Openings of the most shared posts:',
  T: 'Ride what is trending now: hashtags with the most posts in the lake over the last 14 days that fit the draft:',
};

/**
 * Creator guidance for a draft before publishing: V and the subscores, the weakest subscore with concrete
 * suggestions drawn from the lake (the creator's own best hooks, trending hashtags and sounds that fit, the
 * length and posting hour that did best), and policy warnings with the rule that fired. Audited as a check.
 * @example
 * const g = await checkDraft(lake, scorer, 'my pasta recipe', { creator: 'chef' });
 * console.log(g.weakest.label, g.suggestions[0].examples);
 */
export async function checkDraft(
  lake: Lake,
  scorer: Pick<ViralScorer, 'score'>,
  text: string,
  options: CheckDraftOptions = {},
): Promise<Guidance> {
  if (typeof text !== 'string' || text.trim().length === 0)
    throw new ValidationError('the draft to check is empty');
  const k = options.examples ?? 3;
  if (!Number.isInteger(k) || k <= 0)
    throw new ValidationError(`\`examples\` must be a positive integer, got ${k}`);
  const author = await authorKey(lake, options.creator);
  const at = options.postedAt ?? new Date();
  const draft: Draft = { text };
  if (author !== undefined) draft.creator = author;
  if (options.hashtags !== undefined) draft.hashtags = options.hashtags;
  if (options.sound !== undefined) draft.sound = options.sound;
  if (options.postedAt !== undefined) draft.postedAt = options.postedAt;
  if (options.region !== undefined) draft.region = options.region;
  const [score] = await scorer.score([draft]);
  const weakestName = (Object.keys(score.subscores) as SubscoreName[]).reduce((a, b) =>
    score.subscores[b] < score.subscores[a] ? b : a,
  );

  const have = new Set([
    ...(options.hashtags ?? []).map((h) => h.replace(/^#/, '').toLowerCase()),
    ...(text.match(/#[\p{L}\p{N}_]+/gu) ?? []).map((h) => h.slice(1).toLowerCase()),
  ]);
  const examplesFor = async (s: SubscoreName): Promise<string[]> => {
    if (s === 'T') return trendingTags(lake, at, text, have, k);
    if (s === 'R') {
      const sounds = await trendingSounds(lake, at, k);
      return sounds.length > 0 ? sounds : trendingTags(lake, at, text, have, k);
    }
    if (s === 'S') {
      const rows = await lake.all(
        `SELECT text FROM posts WHERE text IS NOT NULL AND coalesce(plays, 0) > 0
         ${author === undefined ? '' : `ORDER BY (author_key = ${sqlString(author)}) DESC,`}
         ${author === undefined ? 'ORDER BY' : ''} (coalesce(shares, 0) + coalesce(saves, 0)) / plays DESC, post_key LIMIT ${k}`,
      );
      return rows.map((r) => firstSentence(r.text as string));
    }
    return hookExamples(lake, author, k);
  };
  const order: SubscoreName[] = [
    weakestName,
    ...(Object.keys(score.subscores) as SubscoreName[])
      .filter((s) => s !== weakestName)
      .sort((a, b) => score.subscores[a] - score.subscores[b])
      .slice(0, 1),
  ];
  const suggestions: Suggestion[] = [];
  for (const s of order)
    suggestions.push({
      target: s,
      message: `${subscoreLabels[s]} ${score.subscores[s].toFixed(2)}: ${advice[s]}`,
      examples: await examplesFor(s),
    });

  const { band, hour } = await lengthAndHour(lake, author);
  const words = text.trim().split(/\s+/).length;
  if (band !== null)
    suggestions.push({
      target: 'length',
      message:
        words >= band[0] && words <= band[1]
          ? `Length fits: ${words} words, in the band of ${band[0]}–${band[1]} words that did best.`
          : `Aim for ${band[0]}–${band[1]} words (this draft has ${words}): posts of that length did best.`,
      examples: [],
    });
  if (hour !== null)
    suggestions.push({
      target: 'hour',
      message: `Post around ${String(hour).padStart(2, '0')}:00 (the posts' own clock): that hour did best${author === undefined ? '' : ' for this creator'}.`,
      examples: [],
    });

  const policy = Policy.compile(options.packs ?? defaultPolicyPacks());
  const verdict = policy.check(text, options.region === undefined ? {} : { region: options.region });
  const guidance: Guidance = {
    text,
    v: score.v,
    subscores: score.subscores,
    contributions: score.contributions,
    weakest: {
      subscore: weakestName,
      label: subscoreLabels[weakestName],
      value: score.subscores[weakestName],
    },
    suggestions,
    pullingDown: score.topFeatures.filter((f) => f.effect < 0),
    policy: {
      blocked: verdict.blocked,
      brandSafety: verdict.brandSafety,
      warnings: verdict.hits.map((h) => ({
        ruleId: h.ruleId,
        kind: h.kind,
        severity: h.severity,
        text: h.text,
        why: h.why,
      })),
    },
  };
  if (options.audit !== false)
    guidance.auditId = await recordAudit(lake, {
      kind: 'check',
      prompt: text,
      ...(author === undefined ? {} : { creator: author }),
      ...(options.region === undefined ? {} : { region: options.region }),
      candidates: [
        {
          text,
          verdict,
          v: score.v,
          subscores: { subscores: score.subscores, contributions: score.contributions },
        },
      ],
      details: { weakest: weakestName },
    });
  return guidance;
}
