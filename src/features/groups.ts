import { behaviourFeatures, behaviourFeatureNames } from './behaviour.js';
import {
  creatorFeatureNames,
  hookHistoryFeatureNames,
  replicabilityFeatureNames,
  trendFeatureNames,
  type History,
  type Subject,
} from './history.js';
import { emotionFeatureNames, hookOwnFeatureNames, textFeatureNames } from './text.js';
import { featureGroupNames, type FeatureGroupName } from './types.js';

/**
 * The extractor's version: stored with every post's features, and bumped whenever a change here alters any
 * value, so that `extractFeatures` recomputes what an older extractor stored.
 */
export const extractorVersion = 1;

/** One group's values for one row, or absent. */
export interface GroupValues {
  present: boolean;
  /** A Float32Array for the embedding (copied into the matrix as it is), numbers otherwise. */
  values: ArrayLike<number>;
}

/** A row's groups, every group named. */
export type RowGroups = Record<FeatureGroupName, GroupValues>;

/** Column names of the groups whose width does not depend on an encoder or the media code. */
export const fixedGroupNames: Record<
  Exclude<FeatureGroupName, 'embedding' | 'audio' | 'video'>,
  readonly string[]
> = {
  text: textFeatureNames,
  hook: [...hookOwnFeatureNames, ...hookHistoryFeatureNames],
  emotion: emotionFeatureNames,
  trend: trendFeatureNames,
  replicability: replicabilityFeatureNames,
  creator: creatorFeatureNames,
  behaviour: behaviourFeatureNames,
};

/** An absent group. */
export const absent: GroupValues = { present: false, values: [] };

/** Everything a row needs beyond the history: the own-snapshot and media parts. */
export interface RowExtras {
  timeIsFirstSeen: boolean;
  /** Posting time when truly known (not first seen), for the early-engagement window. */
  postedAt: number | null;
  durationSeconds: number | null;
  snapshots?: Parameters<typeof behaviourFeatures>[0];
  embedding?: Float32Array;
  /** The trend group computed elsewhere (set-wise in SQL for lake posts); default: from the history. */
  trend?: GroupValues;
  audio?: readonly number[];
  video?: readonly number[];
}

/** Computes every group of one post or draft from its text analysis and the history before its time. */
export function rowGroups(history: History, subject: Subject, extras: RowExtras): RowGroups {
  const a = subject.analysis;
  const trend = extras.trend ?? history.trend(subject);
  const behaviour = extras.snapshots
    ? behaviourFeatures(extras.snapshots, extras.postedAt, extras.durationSeconds)
    : undefined;
  const groups: RowGroups = {
    text: { present: true, values: a.text },
    hook: { present: true, values: history.hookNorms(subject, a.hook.slice()) },
    emotion: { present: true, values: a.emotion },
    // A text with no word the encoder knows has no embedding (absent), rather than a zero vector.
    embedding:
      extras.embedding && !allZero(extras.embedding) ? { present: true, values: extras.embedding } : absent,
    trend,
    replicability: { present: true, values: history.replicability(subject) },
    creator: { present: true, values: history.creator(subject, extras.timeIsFirstSeen) },
    behaviour: behaviour ? { present: true, values: behaviour } : absent,
    audio: extras.audio ? { present: true, values: extras.audio } : absent,
    video: extras.video ? { present: true, values: extras.video } : absent,
  };
  return groups;
}

function allZero(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return false;
  return true;
}

/** Checks a row against the group widths; a mismatch is a bug in the extractor, not bad input. */
export function checkWidths(groups: RowGroups, widths: Record<FeatureGroupName, number>): void {
  for (const g of featureGroupNames) {
    const r = groups[g];
    if (r.present && r.values.length !== widths[g])
      throw new Error(`feature group ${g} has ${r.values.length} values, expected ${widths[g]}`);
  }
}
