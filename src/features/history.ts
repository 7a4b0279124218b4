import { str } from './json.js';
import type { Lake } from '../lake/index.js';
import { lowerBound, SeriesMap, TimeSeries } from './series.js';
import { analyseText, type TextAnalysis } from './text.js';

// The lake's history in memory, indexed by time, so that the history-dependent groups (trend, creator, hook
// norms, replicability) of a post or a draft at time t are a few binary searches over what happened before t.
// Lake posts and drafts go through the same code, so a draft placed where a post was gets that post's features.

const day = 86_400_000;
/** Trend window: a tag's uses in the 7 days before the post against the 7 days before those. */
export const trendWindowMs = 7 * day;
/** Creator engagement looks at up to this many of the creator's latest earlier posts. */
const creatorLookback = 50;

/** One post as the history knows it. */
export interface HistoryPost {
  key: string;
  authorKey: string;
  /** Assigned by the History from authorKey. */
  author: number;
  authorName: string;
  /** posted_at, or where unknown the first time the post was observed. */
  time: number;
  timeIsFirstSeen: boolean;
  region: string | null;
  sound: string | null;
  tags: string[];
  durationSeconds: number | null;
  mediaPath: string | null;
  /** The text analysed: transcript, else caption text, else title. */
  script: string;
  analysis: TextAnalysis;
}

/** One engagement observation. */
export interface Snapshot {
  time: number;
  plays: number | null;
  likes: number | null;
  comments: number | null;
  shares: number | null;
  watchThrough: number | null;
  avgWatchSeconds: number | null;
  hoursSincePosting: number | null;
}

/** What a history query is about: a lake post or a draft. */
export interface Subject {
  key?: string;
  time: number;
  author: number | undefined;
  region: string | null;
  sound: string | null;
  tags: readonly string[];
  analysis: TextAnalysis;
}

export const creatorFeatureNames = [
  'hourSin',
  'hourCos',
  'weekday',
  'isWeekend',
  'localTimeKnown',
  'timeIsFirstSeen',
  'creatorPostsBefore',
  'hasPreviousPost',
  'daysSincePrevious',
  'creatorEngagementKnown',
  'creatorMedianPlaysBefore',
  'creatorMedianEngagementRateBefore',
  'followersKnown',
  'followers',
] as const;

export const trendFeatureNames = [
  'tagCount',
  'seenTagShare',
  'tagRecentMax',
  'tagGrowthMax',
  'tagGrowthMean',
  'tagReachMax',
  'tagStrengthMax',
  'tagStrengthMean',
  'hasSound',
  'soundRecent',
  'soundGrowth',
  'soundReach',
  'soundStrength',
  'regionScoped',
] as const;

export const hookHistoryFeatureNames = [
  'creatorHooksBefore',
  'hookWordsVsUsual',
  'hookQuestionVsUsual',
  'hookNumberVsUsual',
  'hookSecondPersonVsUsual',
] as const;

export const replicabilityFeatureNames = [
  'templateUsesBefore',
  'templateCreatorsBefore',
  'openerUsesBefore',
  'openerCreatorsBefore',
  'creatorTemplateUsesBefore',
  'soundUsesBefore',
  'soundCreatorsBefore',
  'challengeTagUsesBefore',
  'tagUsesMax',
] as const;

// Hook columns that the creator comparison uses (indices into hookOwnFeatureNames).
const hookNormColumns = [0, 2, 3, 4];

/** Prefix sums of hook columns over a time-sorted list, for means over "everything before t". */
class HookNorms {
  readonly times: number[] = [];
  private readonly sums: number[][] = [[0, 0, 0, 0]];

  push(time: number, hook: readonly number[]): void {
    this.times.push(time);
    const last = this.sums[this.sums.length - 1];
    this.sums.push(hookNormColumns.map((c, j) => last[j] + hook[c]));
  }

  /** Count and mean hook columns of the entries before `time`. */
  before(time: number): { n: number; mean: number[] } {
    const n = lowerBound(this.times, time);
    const s = this.sums[n];
    return { n, mean: s.map((v) => (n ? v / n : 0)) };
  }
}

/** Time zone of a region code, for the posting hour in the audience's local time. */
const regionZones: Record<string, string> = {
  US: 'America/New_York',
  CA: 'America/Toronto',
  MX: 'America/Mexico_City',
  BR: 'America/Sao_Paulo',
  AR: 'America/Argentina/Buenos_Aires',
  GB: 'Europe/London',
  UK: 'Europe/London',
  IE: 'Europe/Dublin',
  FR: 'Europe/Paris',
  DE: 'Europe/Berlin',
  ES: 'Europe/Madrid',
  IT: 'Europe/Rome',
  NL: 'Europe/Amsterdam',
  PL: 'Europe/Warsaw',
  TR: 'Europe/Istanbul',
  RU: 'Europe/Moscow',
  IN: 'Asia/Kolkata',
  ID: 'Asia/Jakarta',
  TH: 'Asia/Bangkok',
  VN: 'Asia/Ho_Chi_Minh',
  PH: 'Asia/Manila',
  MY: 'Asia/Kuala_Lumpur',
  SG: 'Asia/Singapore',
  JP: 'Asia/Tokyo',
  KR: 'Asia/Seoul',
  CN: 'Asia/Shanghai',
  TW: 'Asia/Taipei',
  AU: 'Australia/Sydney',
  NZ: 'Pacific/Auckland',
  ZA: 'Africa/Johannesburg',
  NG: 'Africa/Lagos',
  EG: 'Africa/Cairo',
  SA: 'Asia/Riyadh',
  AE: 'Asia/Dubai',
};
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Hour and weekday (0 = Sunday) at `time`, in the region's time zone where known, else UTC. */
export function localTime(
  time: number,
  region: string | null,
): { hour: number; weekday: number; local: boolean } {
  const zone = region ? regionZones[region.toUpperCase()] : undefined;
  if (!zone) {
    const d = new Date(time);
    return { hour: d.getUTCHours() + d.getUTCMinutes() / 60, weekday: d.getUTCDay(), local: false };
  }
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
      hourCycle: 'h23',
    });
    zoneFormats.set(zone, f);
  }
  const parts = f.formatToParts(new Date(time));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  return { hour: Number(get('hour')) + Number(get('minute')) / 60, weekday, local: true };
}

const challengeRe = /challenge|trend|duet|stitch|dance/;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const log1p = Math.log1p;

/** The lake's posts and engagement, indexed for history queries. */
export class History {
  readonly posts: HistoryPost[];
  readonly byKey = new Map<string, HistoryPost>();
  readonly snapshots: Map<string, Snapshot[]>;
  private readonly authorIds = new Map<string, number>();
  private readonly authorByName = new Map<string, number>();
  private readonly followers = new Map<number, { count: number; time: number }>();
  private readonly byAuthor = new Map<number, HistoryPost[]>();
  private readonly authorSeries = new SeriesMap();
  private readonly authorHooks = new Map<number, HookNorms>();
  private readonly allHooks = new HookNorms();
  private readonly tags = new SeriesMap();
  private readonly sounds = new SeriesMap();
  private readonly templates = new SeriesMap();
  private readonly openers = new SeriesMap();
  private readonly creatorTemplates = new SeriesMap();

  constructor(
    posts: HistoryPost[],
    snapshots: Map<string, Snapshot[]>,
    authors: { key: string; name: string; followers: number | null; followersTime: number | null }[],
  ) {
    this.posts = [...posts].sort((a, b) => a.time - b.time);
    this.snapshots = snapshots;
    for (const a of authors) {
      const id = this.authorId(a.key);
      if (!this.authorByName.has(a.name.toLowerCase())) this.authorByName.set(a.name.toLowerCase(), id);
      if (a.followers !== null && a.followersTime !== null)
        this.followers.set(id, { count: a.followers, time: a.followersTime });
    }
    for (const p of this.posts) {
      p.author = this.authorId(p.authorKey);
      this.byKey.set(p.key, p);
      const a = p.author;
      let list = this.byAuthor.get(a);
      if (!list) this.byAuthor.set(a, (list = []));
      list.push(p);
      this.authorSeries.add(String(a), p.time, a);
      let norms = this.authorHooks.get(a);
      if (!norms) this.authorHooks.set(a, (norms = new HookNorms()));
      norms.push(p.time, p.analysis.hook);
      this.allHooks.push(p.time, p.analysis.hook);
      for (const tag of p.tags) {
        this.tags.add(tag, p.time, a);
        if (p.region) this.tags.add(`${p.region}\u0000${tag}`, p.time, a);
      }
      if (p.sound) {
        this.sounds.add(p.sound, p.time, a);
        if (p.region) this.sounds.add(`${p.region}\u0000${p.sound}`, p.time, a);
      }
      if (p.analysis.template) {
        this.templates.add(p.analysis.template, p.time, a);
        this.creatorTemplates.add(`${a}\u0000${p.analysis.template}`, p.time, a);
      }
      if (p.analysis.opener) this.openers.add(p.analysis.opener, p.time, a);
    }
    for (const s of [
      this.authorSeries,
      this.tags,
      this.sounds,
      this.templates,
      this.openers,
      this.creatorTemplates,
    ])
      s.seal();
  }

  /** A stable number for an author key (authors unknown to the lake get one too). */
  authorId(key: string): number {
    let id = this.authorIds.get(key);
    if (id === undefined) this.authorIds.set(key, (id = this.authorIds.size));
    return id;
  }

  /** The author a draft names: an author key as stored, or a creator name on any platform. */
  findAuthor(nameOrKey: string): number | undefined {
    return this.authorIds.get(nameOrKey) ?? this.authorByName.get(nameOrKey.toLowerCase());
  }

  /** Time of posting and the creator's history before the subject's time. */
  creator(s: Subject, timeIsFirstSeen: boolean): number[] {
    const { hour, weekday, local } = localTime(s.time, s.region);
    const angle = (2 * Math.PI * hour) / 24;
    const earlier = s.author === undefined ? [] : (this.byAuthor.get(s.author) ?? []);
    const n = s.author === undefined ? 0 : (this.authorSeries.get(String(s.author))?.before(s.time) ?? 0);
    const previous = n ? earlier[n - 1] : undefined;
    // Engagement of earlier posts as it stood before t: each one's latest snapshot observed before t.
    const plays: number[] = [];
    const rates: number[] = [];
    for (let i = n - 1; i >= Math.max(0, n - creatorLookback); i--) {
      const snap = this.latestSnapshotBefore(earlier[i].key, s.time);
      if (!snap || snap.plays === null) continue;
      plays.push(snap.plays);
      if (snap.plays > 0)
        rates.push(((snap.likes ?? 0) + (snap.comments ?? 0) + (snap.shares ?? 0)) / snap.plays);
    }
    const f = s.author === undefined ? undefined : this.followers.get(s.author);
    // Followers are used only when they were observed before t: a later count would leak the post's success.
    const followersKnown = f !== undefined && f.time < s.time;
    return [
      Math.sin(angle),
      Math.cos(angle),
      weekday,
      weekday === 0 || weekday === 6 ? 1 : 0,
      local ? 1 : 0,
      timeIsFirstSeen ? 1 : 0,
      log1p(n),
      previous ? 1 : 0,
      previous ? log1p((s.time - previous.time) / day) : 0,
      plays.length ? 1 : 0,
      plays.length ? log1p(median(plays)) : 0,
      rates.length ? median(rates) : 0,
      followersKnown ? 1 : 0,
      followersKnown ? log1p(f.count) : 0,
    ];
  }

  /** The latest snapshot of `postKey` observed strictly before `time`. */
  latestSnapshotBefore(postKey: string, time: number): Snapshot | undefined {
    const snaps = this.snapshots.get(postKey);
    if (!snaps) return undefined;
    // Snapshots are few per post and sorted by time: a backward scan is cheaper than building an index.
    for (let i = snaps.length - 1; i >= 0; i--) if (snaps[i].time < time) return snaps[i];
    return undefined;
  }

  private trendOf(series: TimeSeries | undefined, t: number) {
    if (!series) return { seen: false, recent: 0, growth: 0, reach: 0, strength: 0 };
    const recent = series.between(t - trendWindowMs, t);
    const prior = series.between(t - 2 * trendWindowMs, t - trendWindowMs);
    // Growth is the log ratio of this window to the one before (add-one smoothed); strength rewards both a
    // busy window and a rising one, so a tag everyone used last month but nobody now scores low.
    const growth = Math.log((recent + 1) / (prior + 1));
    return {
      seen: series.before(t) > 0,
      recent,
      growth,
      reach: series.creatorsBetween(t - trendWindowMs, t),
      strength: log1p(recent) + Math.max(0, growth),
    };
  }

  /** Hashtag and sound trend strength before the subject's time, within its region where known. */
  trend(s: Subject): { present: boolean; values: number[] } {
    const prefix = s.region ? `${s.region}\u0000` : '';
    const n = s.tags.length;
    // Maxima start at -Infinity as Math.max() does; sums run from the first tag on, as the stored values did.
    let seen = 0;
    let recentMax = -Infinity;
    let growthMax = -Infinity;
    let growthSum = 0;
    let reachMax = -Infinity;
    let strengthMax = -Infinity;
    let strengthSum = 0;
    for (const tag of s.tags) {
      const x = this.trendOf(this.tags.get(prefix + tag), s.time);
      if (x.seen) seen++;
      recentMax = Math.max(recentMax, x.recent);
      growthMax = Math.max(growthMax, x.growth);
      growthSum += x.growth;
      reachMax = Math.max(reachMax, x.reach);
      strengthMax = Math.max(strengthMax, x.strength);
      strengthSum += x.strength;
    }
    const sound = s.sound ? this.trendOf(this.sounds.get(prefix + s.sound), s.time) : undefined;
    return {
      present: n > 0 || sound !== undefined,
      values: [
        n,
        n ? seen / n : 0,
        log1p(n ? recentMax : 0),
        n ? growthMax : 0,
        n ? growthSum / n : 0,
        log1p(n ? reachMax : 0),
        n ? strengthMax : 0,
        n ? strengthSum / n : 0,
        sound ? 1 : 0,
        log1p(sound?.recent ?? 0),
        sound?.growth ?? 0,
        log1p(sound?.reach ?? 0),
        sound?.strength ?? 0,
        s.region ? 1 : 0,
      ],
    };
  }

  /**
   * The hook against the creator's usual hooks before t (the whole lake's where the creator has none),
   * appended to `out` (the hook group's own columns, which it returns).
   */
  hookNorms(s: Subject, out: number[] = []): number[] {
    const own = s.author === undefined ? undefined : this.authorHooks.get(s.author)?.before(s.time);
    const usual = own && own.n > 0 ? own : this.allHooks.before(s.time);
    const hook = s.analysis.hook;
    out.push(log1p(own?.n ?? 0));
    for (let j = 0; j < hookNormColumns.length; j++)
      out.push(usual.n ? hook[hookNormColumns[j]] - usual.mean[j] : 0);
    return out;
  }

  /** How many earlier posts share the subject's template, opener, sound or challenge tags. */
  replicability(s: Subject): number[] {
    const t = s.time;
    const template = s.analysis.template ? this.templates.get(s.analysis.template) : undefined;
    const opener = s.analysis.opener ? this.openers.get(s.analysis.opener) : undefined;
    const own =
      s.author !== undefined && s.analysis.template
        ? this.creatorTemplates.get(`${s.author}\u0000${s.analysis.template}`)
        : undefined;
    const sound = s.sound ? this.sounds.get(s.sound) : undefined;
    let tagMax = 0;
    let challengeMax = 0;
    for (const tag of s.tags) {
      const uses = this.tags.get(tag)?.before(t) ?? 0;
      tagMax = Math.max(tagMax, uses);
      if (challengeRe.test(tag)) challengeMax = Math.max(challengeMax, uses);
    }
    return [
      log1p(template?.before(t) ?? 0),
      log1p(template?.creatorsBefore(t) ?? 0),
      log1p(opener?.before(t) ?? 0),
      log1p(opener?.creatorsBefore(t) ?? 0),
      log1p(own?.before(t) ?? 0),
      log1p(sound?.before(t) ?? 0),
      log1p(sound?.creatorsBefore(t) ?? 0),
      log1p(challengeMax),
      log1p(tagMax),
    ];
  }
}

/** Reads the lake into a History; every post's text is analysed once here. */
export async function loadHistory(lake: Lake): Promise<History> {
  const rows = await lake.all(`
    WITH first_seen AS (SELECT post_key, min(observed_at) AS first_seen FROM snapshots GROUP BY post_key),
    tags AS (SELECT post_key, list(DISTINCT tag ORDER BY tag) AS tags FROM hashtags GROUP BY post_key),
    video AS (SELECT post_key, min(uri) AS uri FROM media WHERE kind = 'video' GROUP BY post_key)
    SELECT p.post_key, coalesce(p.author_key, '') AS author_key, coalesce(a.name, '') AS author_name,
      coalesce(p.transcript, p.text, p.title, '') AS script,
      epoch_ms(coalesce(p.posted_at, least(f.first_seen, p.observed_at)))::DOUBLE AS t,
      p.posted_at IS NULL AS first_seen, p.region, coalesce(p.music_id, p.music_title) AS sound,
      p.duration_seconds, coalesce(g.tags, []::VARCHAR[]) AS tags, v.uri AS media
    FROM posts p LEFT JOIN first_seen f USING (post_key) LEFT JOIN tags g USING (post_key)
      LEFT JOIN authors a USING (author_key) LEFT JOIN video v USING (post_key)`);
  const authors = (
    await lake.all(`SELECT author_key, name, followers::DOUBLE AS followers,
      epoch_ms(observed_at)::DOUBLE AS t FROM authors`)
  ).map((r) => ({
    key: str(r.author_key),
    name: str(r.name),
    followers: r.followers === null ? null : Number(r.followers),
    followersTime: r.t === null ? null : Number(r.t),
  }));
  const snapRows = await lake.all(`
    SELECT post_key, epoch_ms(observed_at)::DOUBLE AS t, plays::DOUBLE AS plays, likes::DOUBLE AS likes,
      comments::DOUBLE AS comments, shares::DOUBLE AS shares, watch_through, avg_watch_seconds, hours_since_posting
    FROM snapshots ORDER BY post_key, observed_at`);
  const snapshots = new Map<string, Snapshot[]>();
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  for (const r of snapRows) {
    const key = str(r.post_key);
    let list = snapshots.get(key);
    if (!list) snapshots.set(key, (list = []));
    list.push({
      time: Number(r.t),
      plays: num(r.plays),
      likes: num(r.likes),
      comments: num(r.comments),
      shares: num(r.shares),
      watchThrough: num(r.watch_through),
      avgWatchSeconds: num(r.avg_watch_seconds),
      hoursSincePosting: num(r.hours_since_posting),
    });
  }
  const posts: HistoryPost[] = rows.map((r) => {
    const tags = (r.tags as string[]) ?? [];
    const authorName = str(r.author_name);
    return {
      key: str(r.post_key),
      authorKey: str(r.author_key),
      author: -1,
      authorName,
      time: Number(r.t),
      timeIsFirstSeen: Boolean(r.first_seen),
      region: r.region === null ? null : str(r.region),
      sound: r.sound === null ? null : str(r.sound),
      tags,
      durationSeconds: num(r.duration_seconds),
      mediaPath: r.media === null ? null : str(r.media),
      script: str(r.script),
      analysis: analyseText(str(r.script), { creatorName: authorName, fieldHashtags: tags.length }),
    };
  });
  return new History(posts, snapshots, authors);
}
