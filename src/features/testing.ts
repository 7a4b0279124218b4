// Fixture helpers for the feature tests (as src/nn/testing.ts is for nn): not part of the face.
import { ingestFile, type Lake } from '../lake/index.js';

/** A post of a test fixture, in the TikTok Research API shape. */
export interface FixturePost {
  id: string;
  user: string;
  text: string;
  /** ISO time of posting. */
  at: string;
  tags?: string[];
  region?: string;
  music?: string;
  plays?: number;
  likes?: number;
  shares?: number;
  comments?: number;
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** Writes `posts` as a research-API CSV observed at `observedAt` and ingests it (one snapshot per post). */
export async function ingestPosts(
  lake: Lake,
  write: (name: string, content: string) => string,
  name: string,
  posts: readonly FixturePost[],
  observedAt: string,
): Promise<void> {
  const header =
    'id,username,video_description,create_time,region_code,view_count,like_count,comment_count,share_count,music_id,hashtag_names';
  const lines = posts.map((p) =>
    [
      p.id,
      p.user,
      quote(p.text),
      Math.round(Date.parse(p.at) / 1000),
      p.region ?? '',
      p.plays ?? 1000,
      p.likes ?? 100,
      p.comments ?? 10,
      p.shares ?? 5,
      p.music ?? '',
      quote((p.tags ?? []).join(',')),
    ].join(','),
  );
  const path = write(name, [header, ...lines].join('\n') + '\n');
  await ingestFile(lake, path, { observedAt: new Date(observedAt) });
}
