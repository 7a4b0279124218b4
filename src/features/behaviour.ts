import type { Snapshot } from './history.js';

// Early engagement is the one group allowed to look past the post's time, and only through an explicit early
// window: snapshots taken within the first hour and the first day after posting. A post without such a
// snapshot has no behaviour group (absent, not zeros), and drafts never have one.

/** The early windows, in hours after posting. */
export const earlyWindowsHours = [1, 24] as const;

export const behaviourFeatureNames = [
  'hasFirstHour',
  'playsFirstHour',
  'likesFirstHour',
  'sharesFirstHour',
  'commentsFirstHour',
  'hasFirstDay',
  'playsFirstDay',
  'likesFirstDay',
  'sharesFirstDay',
  'commentsFirstDay',
  'likeRateFirstDay',
  'shareRateFirstDay',
  'hasWatchThrough',
  'watchThrough',
  'hasRewatch',
  'rewatchRatio',
] as const;

/** Age of a snapshot in hours: the export's own figure, else observed minus posted time (when that is known). */
function ageHours(s: Snapshot, postedAt: number | null): number | undefined {
  if (s.hoursSincePosting !== null) return s.hoursSincePosting;
  if (postedAt === null) return undefined;
  return (s.time - postedAt) / 3_600_000;
}

/**
 * Early-engagement features of one post from its own snapshots, or undefined when no snapshot falls in the
 * first day (or the posting time is unknown and the export gives no snapshot age).
 */
export function behaviourFeatures(
  snapshots: readonly Snapshot[],
  postedAt: number | null,
  durationSeconds: number | null,
): number[] | undefined {
  // The latest snapshot inside each window: the most the post had gathered by the window's end.
  const inWindow = (hours: number) => {
    let best: Snapshot | undefined;
    let bestAge = -1;
    for (const s of snapshots) {
      const age = ageHours(s, postedAt);
      if (age === undefined || age < 0 || age > hours) continue;
      if (age >= bestAge) [best, bestAge] = [s, age];
    }
    return best;
  };
  const hour = inWindow(earlyWindowsHours[0]);
  const dayS = inWindow(earlyWindowsHours[1]);
  if (!dayS) return undefined;
  const l = (v: number | null | undefined) => Math.log1p(v ?? 0);
  const plays = dayS.plays ?? 0;
  const watch = dayS.watchThrough;
  const rewatch =
    dayS.avgWatchSeconds !== null && durationSeconds !== null && durationSeconds > 0
      ? dayS.avgWatchSeconds / durationSeconds
      : null;
  return [
    hour ? 1 : 0,
    l(hour?.plays),
    l(hour?.likes),
    l(hour?.shares),
    l(hour?.comments),
    1,
    l(dayS.plays),
    l(dayS.likes),
    l(dayS.shares),
    l(dayS.comments),
    plays > 0 ? (dayS.likes ?? 0) / plays : 0,
    plays > 0 ? (dayS.shares ?? 0) / plays : 0,
    watch !== null ? 1 : 0,
    watch ?? 0,
    rewatch !== null ? 1 : 0,
    rewatch ?? 0,
  ];
}
