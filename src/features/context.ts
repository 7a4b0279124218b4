import { ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { TextEncoder } from './embedding.js';
import { absent, checkWidths, rowGroups, type RowGroups } from './groups.js';
import { loadHistory, type History } from './history.js';
import { mediaFeatures, type MediaOptions } from './media.js';
import { groupNamesFor, loadStoredEncoder } from './names.js';
import { ensureFeatureSchema } from './store.js';
import { analyseText } from './text.js';
import {
  featureGroupNames,
  type Draft,
  type FeatureGroupMatrix,
  type FeatureGroupName,
  type FeatureMatrix,
} from './types.js';

/** Options of `openFeatureContext`. */
export interface FeatureContextOptions {
  /** Text encoder; default: the lake's stored encoder (the one `extractFeatures` used). */
  encoder?: TextEncoder;
  media?: MediaOptions;
  /** Time for drafts without `postedAt`; default: the time of each `featurise` call. */
  now?: () => Date;
}

/** Featurises drafts against a snapshot of the lake's history taken when the context was opened. */
export interface FeatureContext {
  /** The same groups as stored posts, for drafts placed at their `postedAt` with the history before it. */
  featurise(drafts: readonly Draft[]): Promise<FeatureMatrix>;
  /** Column names of every group (as `featurise` and `loadFeatureMatrix` return them). */
  readonly names: Readonly<Record<FeatureGroupName, readonly string[]>>;
  /** Posts in the history snapshot. */
  readonly posts: number;
}

/**
 * Loads the lake's history (posts, tags, sounds, templates, hook norms, engagement snapshots) and the text
 * encoder once, so that featurising a text-only draft is a text scan and a few binary searches.
 *
 * @example
 * const context = await openFeatureContext(lake);
 * const matrix = await context.featurise([{ text: 'Wait for it... you will not believe this', creator: 'anna' }]);
 */
export async function openFeatureContext(
  lake: Lake,
  options: FeatureContextOptions = {},
): Promise<FeatureContext> {
  await ensureFeatureSchema(lake);
  const history = await loadHistory(lake);
  // Drafts use the encoder the stored features were made with; a lake never extracted has none.
  const encoder = options.encoder ?? (await loadStoredEncoder(lake));
  const names = groupNamesFor(encoder?.dimensions ?? 0);
  const widths = Object.fromEntries(featureGroupNames.map((g) => [g, names[g].length])) as Record<
    FeatureGroupName,
    number
  >;
  const now = options.now ?? (() => new Date());
  return {
    names,
    posts: history.posts.length,
    async featurise(drafts) {
      const at = now();
      const embeddings = encoder ? await encoder.encode(drafts.map((d) => d.text)) : undefined;
      const rows: RowGroups[] = [];
      for (let i = 0; i < drafts.length; i++) {
        const draft = drafts[i];
        const groups = await draftGroups(history, draft, i, at, embeddings?.[i], options.media);
        checkWidths(groups, widths);
        rows.push(groups);
      }
      return toMatrix(
        drafts.map((d, i) => d.id ?? String(i)),
        rows,
        names,
      );
    },
  };
}

async function draftGroups(
  history: History,
  draft: Draft,
  index: number,
  now: Date,
  embedding: Float32Array | undefined,
  media: MediaOptions | undefined,
): Promise<RowGroups> {
  if (typeof draft.text !== 'string')
    throw new ValidationError(
      `draft ${draft.id ?? index}: \`text\` must be a string, got ${typeof draft.text}`,
    );
  const time = (draft.postedAt ?? now).getTime();
  if (Number.isNaN(time))
    throw new ValidationError(`draft ${draft.id ?? index}: \`postedAt\` is not a valid date`);
  const author = draft.creator === undefined ? undefined : history.findAuthor(draft.creator);
  const analysis = analyseText(draft.text, {
    ...(draft.creator === undefined ? {} : { creatorName: draft.creator }),
    fieldHashtags: draft.hashtags?.length ?? 0,
  });
  const tags = [
    ...new Set([
      ...(draft.hashtags ?? []).map((t) => t.toLowerCase().replace(/^#/, '')),
      ...analysis.hashtags,
    ]),
  ].sort();
  const extras: Parameters<typeof rowGroups>[2] = {
    timeIsFirstSeen: false,
    postedAt: time,
    durationSeconds: null,
  };
  if (embedding) extras.embedding = embedding;
  if (draft.mediaPath !== undefined) {
    const m = await mediaFeatures(draft.mediaPath, media);
    if (!m.ok) throw m.error;
    if (m.value.audio) extras.audio = m.value.audio;
    if (m.value.video) extras.video = m.value.video;
  }
  const groups = rowGroups(
    history,
    {
      time,
      author,
      region: draft.region ?? null,
      sound: draft.sound ?? null,
      tags,
      analysis,
    },
    extras,
  );
  // A draft has no engagement yet: the behaviour group is absent, never zeros.
  return { ...groups, behaviour: absent };
}

/** Packs rows of groups into the contract's matrices. */
export function toMatrix(
  keys: readonly string[],
  rows: readonly RowGroups[],
  names: Record<FeatureGroupName, readonly string[]>,
): FeatureMatrix {
  const groups = {} as Record<FeatureGroupName, FeatureGroupMatrix>;
  for (const g of featureGroupNames) {
    const width = names[g].length;
    const values = new Float32Array(rows.length * width);
    const present = new Uint8Array(rows.length);
    rows.forEach((r, i) => {
      const v = r[g];
      if (!v.present) return;
      present[i] = 1;
      for (let j = 0; j < width; j++) values[i * width + j] = v.values[j];
    });
    groups[g] = { names: names[g], values, present };
  }
  return { keys, groups };
}
