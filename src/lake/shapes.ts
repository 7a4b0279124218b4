import { ValidationError } from '../core/index.js';

/** A field of the lake that a shape can fill, read from one or more source paths (the first present wins). */
export type ShapeField =
  | 'id'
  | 'author'
  | 'followers'
  | 'title'
  | 'text'
  | 'transcript'
  | 'postedAt'
  | 'observedAt'
  | 'duration'
  | 'region'
  | 'musicId'
  | 'musicTitle'
  | 'plays'
  | 'likes'
  | 'comments'
  | 'shares'
  | 'saves'
  | 'watchThrough'
  | 'avgWatchSeconds'
  | 'videoUrl'
  | 'thumbnailUrl';

/** The counts that must be non-negative whole numbers when present. */
export const countFields = ['plays', 'likes', 'comments', 'shares', 'saves', 'followers'] as const;

/**
 * How one kind of export maps to the lake: recognised by its columns, then read field by field. Source
 * fields that no shape field names are kept as the post's JSON `attributes`.
 */
export interface Shape {
  name: string;
  platform: string;
  description: string;
  /** Whether a file with these top-level columns (lower case) has this shape. */
  matches(columns: ReadonlySet<string>): boolean;
  fields: Partial<Record<ShapeField, readonly string[]>>;
  /** A tag list: a JSON array (of objects with `item`), or text with tags between any of the `separators`. */
  hashtags?: { path: string; separators: string; item?: string };
  /** Where the id is missing, read it from another field with a regular expression (its first group). */
  idFallback?: { path: string; pattern: string };
  /** `dayMonth`: observedAt is "dd.mm" and the year comes from the options or the file name. */
  observedAtFormat?: 'timestamp' | 'dayMonth';
}

const has = (columns: ReadonlySet<string>, ...names: string[]) =>
  names.every((n) => columns.has(n.toLowerCase()));

/** The shapes ingestion recognises, most specific first (several share `video_id`). */
export const shapes: readonly Shape[] = [
  {
    name: 'tiktok-scraper',
    platform: 'tiktok',
    description: 'common scraper export: text, createTime, playCount, diggCount, nested authorMeta/musicMeta',
    matches: (c) => has(c, 'authormeta') || has(c, 'authormeta.name') || has(c, 'playcount', 'diggcount'),
    fields: {
      id: ['id'],
      text: ['text'],
      postedAt: ['createTimeISO', 'createTime'],
      plays: ['playCount'],
      likes: ['diggCount'],
      shares: ['shareCount'],
      comments: ['commentCount'],
      saves: ['collectCount'],
      author: ['authorMeta.name'],
      followers: ['authorMeta.fans'],
      musicTitle: ['musicMeta.musicName'],
      musicId: ['musicMeta.musicId'],
      duration: ['videoMeta.duration'],
      videoUrl: ['webVideoUrl'],
      thumbnailUrl: ['videoMeta.coverUrl'],
    },
    hashtags: { path: 'hashtags', item: 'name', separators: ',|' },
  },
  {
    name: 'tiktok-humanised',
    platform: 'tiktok',
    description:
      'scrape with humanised counts (541.2K), mm:ss durations and follower counts (vid_id, vid_nview)',
    matches: (c) => has(c, 'vid_id', 'vid_nview'),
    fields: {
      id: ['vid_id'],
      author: ['user_name'],
      followers: ['user_nfollower'],
      text: ['vid_caption'],
      postedAt: ['vid_postTime'],
      observedAt: ['vid_scrapeTime'],
      duration: ['vid_duration'],
      plays: ['vid_nview'],
      likes: ['vid_nlike'],
      comments: ['vid_ncomment'],
      shares: ['vid_nshare'],
      saves: ['vid_nsave'],
      musicId: ['music_id'],
      musicTitle: ['music_title'],
    },
    hashtags: { path: 'vid_hashtags', separators: ',' },
  },
  {
    name: 'tiktok-transcripts',
    platform: 'tiktok',
    description:
      'flat CSV of transcriptions and counts (video_id, video_transcription_text, video_view_count)',
    matches: (c) => has(c, 'video_id', 'video_transcription_text') || has(c, 'video_id', 'video_view_count'),
    fields: {
      id: ['video_id'],
      transcript: ['video_transcription_text'],
      duration: ['video_duration_sec'],
      plays: ['video_view_count'],
      likes: ['video_like_count'],
      shares: ['video_share_count'],
      saves: ['video_download_count'],
      comments: ['video_comment_count'],
    },
  },
  {
    name: 'youtube-trending',
    platform: 'youtube',
    description: 'YouTube trending list: one row per video per day, dd.mm dates, pipe-separated tags',
    matches: (c) => has(c, 'video_id', 'channel_title', 'views') || has(c, 'video_id', 'comment_total'),
    fields: {
      id: ['video_id'],
      title: ['title'],
      text: ['title'],
      author: ['channel_title'],
      plays: ['views'],
      likes: ['likes'],
      comments: ['comment_total'],
      observedAt: ['date'],
      thumbnailUrl: ['thumbnail_link'],
    },
    hashtags: { path: 'tags', separators: '|' },
    // 102 rows of the 2017 file have an empty video_id; their thumbnail URL still carries it.
    idFallback: { path: 'thumbnail_link', pattern: '/vi/([^/]+)/' },
    observedAtFormat: 'dayMonth',
  },
  {
    name: 'tiktok-trending',
    platform: 'tiktok',
    description:
      'one-scrape export (video_id, author, description, plays or views, create_time or posted_time)',
    matches: (c) => has(c, 'video_id', 'author') && (has(c, 'plays') || has(c, 'views')),
    fields: {
      id: ['video_id'],
      author: ['author'],
      text: ['description'],
      likes: ['likes'],
      comments: ['comments'],
      shares: ['shares'],
      // Seven rows of the 2025 EN export name these views/posted_time instead of plays/create_time.
      plays: ['plays', 'views'],
      postedAt: ['create_time', 'posted_time'],
      observedAt: ['fetch_time'],
      musicTitle: ['music'],
    },
    hashtags: { path: 'hashtags', separators: ',' },
  },
  {
    name: 'tiktok-research',
    platform: 'tiktok',
    description:
      'TikTok Research API video fields (id, video_description, create_time in Unix seconds, view_count)',
    matches: (c) =>
      has(c, 'id') && (has(c, 'view_count') || has(c, 'video_description') || has(c, 'create_time')),
    fields: {
      id: ['id'],
      author: ['username'],
      text: ['video_description'],
      transcript: ['voice_to_text'],
      postedAt: ['create_time'],
      region: ['region_code'],
      plays: ['view_count'],
      likes: ['like_count'],
      comments: ['comment_count'],
      shares: ['share_count'],
      musicId: ['music_id'],
      duration: ['video_duration'],
      watchThrough: ['full_video_watched_rate'],
      avgWatchSeconds: ['average_time_watched'],
    },
    hashtags: { path: 'hashtag_names', separators: ',' },
  },
];

/** The names `--format` accepts. */
export const shapeNames: readonly string[] = shapes.map((s) => s.name);

/** Finds the shape named `name`, or the first whose columns match; throws a ValidationError naming `file`. */
export function resolveShape(file: string, columns: readonly string[], name?: string): Shape {
  if (name !== undefined) {
    const shape = shapes.find((s) => s.name === name);
    if (!shape)
      throw new ValidationError(`unknown format "${name}"; expected one of ${shapeNames.join(', ')}`);
    return shape;
  }
  const set = new Set(columns.map((c) => c.toLowerCase()));
  const shape = shapes.find((s) => s.matches(set));
  if (!shape)
    throw new ValidationError(
      `${file}: no known export shape has the columns ${columns.slice(0, 12).join(', ')}; ` +
        `pass --format with one of ${shapeNames.join(', ')}`,
    );
  return shape;
}
