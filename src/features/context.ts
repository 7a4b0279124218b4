import { ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import type { TextEncoder } from './embedding.js';
import { absent, checkWidths, rowGroups, type RowGroups } from './groups.js';
import { loadHistory, type History } from './history.js';
import { mediaFeatures, type MediaOptions } from './media.js';
import { groupNamesFor, loadStoredEncoder } from './names.js';
import { ensureFeatureSchema } from './store.js';
import { PpmiTextEncoder } from './ppmi.js';
import { analyseText, type TextAnalysis } from './text.js';
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
      const analyses = drafts.map((d, i) => analyseDraft(d, i, at));
      // The lake's own encoder takes the tokens the analysis already found; another encoder reads the texts.
      const embeddings =
        encoder instanceof PpmiTextEncoder
          ? analyses.map((a) => encoder.encodeWords(a.tokens))
          : encoder
            ? await encoder.encode(drafts.map((d) => d.text))
            : undefined;
      const rows: RowGroups[] = [];
      for (let i = 0; i < drafts.length; i++) {
        const groups = await draftGroups(history, drafts[i], at, analyses[i], embeddings?.[i], options.media);
        checkWidths(groups, widths);
        rows.push(groups);
      }
      const keys: string[] = [];
      for (let i = 0; i < drafts.length; i++) keys.push(drafts[i].id ?? String(i));
      return toMatrix(keys, rows, names);
    },
  };
}

/** The draft's text analysis, once its text and time are checked. */
function analyseDraft(draft: Draft, index: number, now: Date): TextAnalysis {
  if (typeof draft.text !== 'string')
    throw new ValidationError(
      `draft ${draft.id ?? index}: \`text\` must be a string, got ${typeof draft.text}`,
    );
  if (Number.isNaN((draft.postedAt ?? now).getTime()))
    throw new ValidationError(`draft ${draft.id ?? index}: \`postedAt\` is not a valid date`);
  return analyseText(draft.text, {
    ...(draft.creator === undefined ? {} : { creatorName: draft.creator }),
    fieldHashtags: draft.hashtags?.length ?? 0,
  });
}

async function draftGroups(
  history: History,
  draft: Draft,
  now: Date,
  analysis: TextAnalysis,
  embedding: Float32Array | undefined,
  media: MediaOptions | undefined,
): Promise<RowGroups> {
  const time = (draft.postedAt ?? now).getTime();
  const author = draft.creator === undefined ? undefined : history.findAuthor(draft.creator);
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
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i][g];
      if (!v.present) continue;
      present[i] = 1;
      for (let j = 0; j < width; j++) values[i * width + j] = v.values[j];
    }
    groups[g] = { names: names[g], values, present };
  }
  return { keys, groups };
}
